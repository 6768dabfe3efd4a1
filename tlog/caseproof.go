package tlog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// CaseProofFormat names the layout of a CaseProof.
const CaseProofFormat = "ehcledger-case-proof/v1"

// CaseProof lets an auditor check one stream's events against a signed
// checkpoint without the rest of the log: each event's leaf and its
// inclusion proof in the tree of the checkpoint's size.
type CaseProof struct {
	Format     string          `json:"format"`
	Stream     string          `json:"stream"`
	Checkpoint ProofCheckpoint `json:"checkpoint"`
	Events     []EventProof    `json:"events"`
	// Later counts the stream's events recorded after the checkpoint,
	// which the next one will cover.
	Later int `json:"events_after_checkpoint"`
}

// ProofCheckpoint is the tree a CaseProof is against, with the signed
// checkpoint of that size when the server signed one.
type ProofCheckpoint struct {
	Size   int64  `json:"size"`
	Root   []byte `json:"root"`
	Signed string `json:"signed,omitempty"`
}

// EventProof is one event as stored (its personal details and reasons
// sealed), its leaf, as the tree hashes it, and its inclusion proof (RFC
// 9162 section 2.1.3). The content hash is computed again from the event,
// so the proof binds the event's data and its link to the one before.
type EventProof struct {
	Position    int64                `json:"position"`
	Version     int64                `json:"version"`
	Event       eventstore.EventData `json:"event"`
	PrevHash    string               `json:"prev_hash"`
	ContentHash string               `json:"content_hash"`
	LeafIndex   int64                `json:"leaf_index"`
	Inclusion   [][]byte             `json:"inclusion"`
}

// ProveStream returns the inclusion proofs of a stream's events, as the
// store holds them now, in the tree of size leaves.
func (l *Log) ProveStream(ctx context.Context, s eventstore.Store, stream string, size int64) (CaseProof, error) {
	events, err := s.ReadStream(ctx, stream, 1)
	if err != nil {
		return CaseProof{}, err
	}
	return l.ProveEvents(ctx, stream, events, size)
}

// ProveEvents returns the inclusion proofs of a stream's events, read from
// the store by the caller, in the tree of size leaves.
func (l *Log) ProveEvents(ctx context.Context, stream string, events []eventstore.RecordedEvent, size int64) (CaseProof, error) {
	root, err := l.RootAt(ctx, size)
	if err != nil {
		return CaseProof{}, err
	}
	p := CaseProof{Format: CaseProofFormat, Stream: stream, Checkpoint: ProofCheckpoint{Size: size, Root: root}, Events: []EventProof{}}
	if signed, ok, err := l.SignedOfSize(ctx, size); err != nil {
		return CaseProof{}, err
	} else if ok {
		p.Checkpoint.Signed = string(signed.Note)
	}
	var indexes []int64
	for _, e := range events {
		leaf, err := l.LeafIndex(ctx, e.Position)
		if err != nil {
			return CaseProof{}, err
		}
		if leaf >= size {
			p.Later++
			continue
		}
		indexes = append(indexes, leaf)
		p.Events = append(p.Events, EventProof{Position: e.Position, Version: e.Version, Event: e.EventData,
			PrevHash: e.PrevHash, ContentHash: ContentHash(e), LeafIndex: leaf})
	}
	proofs, err := l.Proofs(ctx, indexes, size)
	if err != nil {
		return CaseProof{}, err
	}
	for i, b := range proofs {
		for ; len(b) > 0; b = b[hashSize:] {
			p.Events[i].Inclusion = append(p.Events[i].Inclusion, b[:hashSize])
		}
	}
	return p, nil
}

// VerifyCaseProof checks a CaseProof of stream against a checkpoint
// already opened with its public key (Open): the proof is of that stream
// and against the checkpoint's tree, it holds at least one event, the
// events run from version 1 without a gap, each event's content hashes to
// its content hash, each links to the one before by its hash, and each is
// included in the tree. It returns the number of events verified.
func VerifyCaseProof(p CaseProof, stream string, cp Checkpoint) (int, error) {
	switch {
	case p.Format != CaseProofFormat:
		return 0, fmt.Errorf("the proof's format is %q, not %s", p.Format, CaseProofFormat)
	case p.Stream != stream:
		return 0, fmt.Errorf("the proof is of %s, not %s", p.Stream, stream)
	case len(p.Events) == 0:
		return 0, errors.New("the proof holds no event before the checkpoint: there is nothing to verify")
	}
	if p.Checkpoint.Size != cp.Size || !bytes.Equal(p.Checkpoint.Root, cp.Root) {
		return 0, fmt.Errorf("the proof is against a tree of %d events with another root than the checkpoint's (%d events)", p.Checkpoint.Size, cp.Size)
	}
	prev, lastLeaf := "", int64(-1)
	for i, e := range p.Events {
		switch {
		case e.Version != int64(i+1):
			return i, fmt.Errorf("version %d is missing from the proof: the events must run from version 1", i+1)
		case e.PrevHash != prev:
			return i, fmt.Errorf("version %d does not link to version %d's hash: an event between them was removed or altered", e.Version, e.Version-1)
		case e.LeafIndex <= lastLeaf:
			return i, fmt.Errorf("version %d's leaf %d is not after version %d's", e.Version, e.LeafIndex, e.Version-1)
		case eventstore.Hash(e.PrevHash, p.Stream, e.Version, e.Event) != e.ContentHash:
			return i, fmt.Errorf("version %d's content does not hash to its content hash: the event given is not the one hashed", e.Version)
		}
		leaf := rfc6962.DefaultHasher.HashLeaf(leafBytes(e.Position, p.Stream, e.Version, e.ContentHash))
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(e.LeafIndex), uint64(cp.Size), leaf, e.Inclusion, cp.Root); err != nil {
			return i, fmt.Errorf("version %d (position %d) is not in the checkpoint's tree as given: %v", e.Version, e.Position, err)
		}
		prev, lastLeaf = e.ContentHash, e.LeafIndex
	}
	return len(p.Events), nil
}

// VerifierKey derives a signing key's public half, in the text form
// keygen writes to PREFIX.pub, so that a server given only the signing key
// can check what it signed.
func VerifierKey(skey string) (string, error) {
	f := strings.SplitN(strings.TrimSpace(skey), "+", 5) // the base64 key may hold "+"
	if len(f) != 5 || f[0] != "PRIVATE" || f[1] != "KEY" {
		return "", errors.New("not a signing key written by checkpoint keygen")
	}
	k, err := base64.StdEncoding.DecodeString(f[4])
	if err != nil || len(k) != 1+ed25519.SeedSize || k[0] != 1 {
		return "", errors.New("not an Ed25519 signing key written by checkpoint keygen")
	}
	return note.NewEd25519VerifierKey(f[2], ed25519.NewKeyFromSeed(k[1:]).Public().(ed25519.PublicKey))
}
