package tlog

import (
	"crypto/sha256"
	"strconv"

	"github.com/ehcledger/ehcledger/eventstore"
)

// RFC 6962 hashes (section 2.1): a leaf is hashed behind a 0 byte, two
// children behind a 1. They are the hashes of transparency-dev/merkle's
// rfc6962.DefaultHasher, which the proofs are checked with, computed in a
// buffer on the stack: a rebuild hashes a leaf and about one interior node
// an event, and the library's hasher allocates a SHA-256 state for each.
const (
	leafHashPrefix = 0
	nodeHashPrefix = 1
)

// hashChildren is rfc6962.DefaultHasher.HashChildren.
func hashChildren(left, right []byte) []byte {
	var buf [1 + 2*sha256.Size]byte
	b := append(append(append(buf[:0], nodeHashPrefix), left...), right...)
	sum := sha256.Sum256(b)
	return sum[:]
}

// leafHash is rfc6962.DefaultHasher.HashLeaf(LeafData(e)).
func leafHash(e eventstore.RecordedEvent) []byte {
	var buf [256]byte
	b := append(buf[:0], leafHashPrefix)
	b = appendLeaf(b, e.Position, e.Stream, e.Version, ContentHash(e))
	sum := sha256.Sum256(b)
	return sum[:]
}

// appendLeaf appends an event's leaf data (see LeafData).
func appendLeaf(b []byte, position int64, stream string, version int64, content string) []byte {
	b = append(b, leafPrefix...)
	b = strconv.AppendInt(b, position, 10)
	b = append(append(b, '\n'), stream...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, version, 10)
	b = append(append(b, '\n'), content...)
	return append(b, '\n')
}
