// Package tlog makes the event log verifiable the way certificate
// transparency logs are: a Merkle tree over every event in global order
// (RFC 6962 / RFC 9162 hashing, through github.com/transparency-dev/merkle)
// whose root and size are signed as a C2SP tlog-checkpoint note
// (golang.org/x/mod/sumdb/note, Ed25519). A checkpoint kept outside the
// store proves later that the log still begins with exactly the events it
// had: an insider who edits an event and recomputes its stream's hash chain,
// or deletes events, changes the root. docs/ledger.md gives the threat model.
package tlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// leafPrefix versions the leaves' encoding.
const leafPrefix = "ehcledger-leaf/v1\n"

// LeafData is an event's leaf: its global position, stream and version,
// and the hash of its content as its stream's chain computes it from the
// stored data (not the stored hash, which an insider could recompute).
func LeafData(e eventstore.RecordedEvent) []byte {
	return leafBytes(e.Position, e.Stream, e.Version, ContentHash(e))
}

// ContentHash is the hash of an event's content as its stream's chain
// computes it from the stored data.
func ContentHash(e eventstore.RecordedEvent) string {
	return eventstore.Hash(e.PrevHash, e.Stream, e.Version, e.EventData)
}

func leafBytes(position int64, stream string, version int64, content string) []byte {
	return appendLeaf(nil, position, stream, version, content)
}

// Gap is a global position missing from a store whose positions are
// gapless from 1 (eventstore.Gapless): an event deleted.
type Gap struct {
	Want, Found int64
}

// Tree is the Merkle tree of the log's first Size events.
type Tree struct {
	Size int64
	Root []byte
	// Head is the log's size when it was read (at least Size).
	Head int64
	// Gaps are the global positions found missing, in order.
	Gaps []Gap
}

// Build reads the log in global order and returns the tree of its first
// size events (all of them when size is 0), and the log's head.
func Build(ctx context.Context, s eventstore.Store, size int64) (Tree, error) {
	var sizes []int64
	if size > 0 {
		sizes = []int64{size}
	}
	sc, err := Scan(ctx, s, sizes, nil)
	if err != nil {
		return Tree{}, err
	}
	return sc.tree(size, size > 0), nil
}

// tree is the tree of size leaves when wanted and the log reaches it, and
// otherwise of the whole log.
func (sc Scanned) tree(size int64, wanted bool) Tree {
	t := Tree{Size: sc.Head, Root: sc.HeadRoot, Head: sc.Head, Gaps: sc.Gaps}
	if root, ok := sc.Roots[size]; ok && wanted {
		t.Size, t.Root = size, root
	}
	return t
}

// Scanned is the log read whole: its head and root, the roots at the
// sizes asked for, its gaps, and the first event that differs from what a
// recorded tree holds.
type Scanned struct {
	Head     int64
	HeadRoot []byte
	// Roots are the roots of the trees of the sizes asked for, those the
	// log reaches.
	Roots map[int64][]byte
	Gaps  []Gap
	// Differs is the first event whose leaf is not the recorded tree's,
	// or a leaf the log no longer has; nil when every leaf matches.
	Differs *Difference
}

// Difference is a leaf of the log that differs from the recorded tree's.
type Difference struct {
	Leaf int64
	// Position, Stream and Version are the event the log now has there;
	// Position is 0 when the log ends before the leaf.
	Position int64
	Stream   string
	Version  int64
}

// Scan reads the log in global order, computing the roots of the trees of
// sizes and of the whole log; with recorded, the tree the views grew as
// events were applied, it also compares each leaf with the one recorded.
func Scan(ctx context.Context, s eventstore.Store, sizes []int64, recorded *Log) (Scanned, error) {
	rf := compact.RangeFactory{Hash: hashChildren}
	r := rf.NewEmptyRange(0)
	sc := Scanned{Roots: map[int64][]byte{}}
	want := map[int64]bool{}
	for _, n := range sizes {
		want[n] = true
	}
	if want[0] {
		sc.Roots[0] = rfc6962.DefaultHasher.EmptyRoot()
	}
	var leaves *leafReader
	var recordedSize int64
	if recorded != nil {
		recordedSize, _ = recorded.Head()
		leaves = &leafReader{l: recorded}
	}
	g, ok := s.(eventstore.Gapless)
	gapless := ok && g.GaplessPositions()
	next := int64(1)
	for from := int64(1); ; {
		batch, err := s.ReadAll(ctx, from, 5000)
		if err != nil {
			return Scanned{}, err
		}
		if len(batch) == 0 {
			break
		}
		for _, e := range batch {
			if gapless && e.Position != next {
				sc.Gaps = append(sc.Gaps, Gap{Want: next, Found: e.Position})
			}
			next = e.Position + 1
			leaf := leafHash(e)
			if i := int64(r.End()); sc.Differs == nil && i < recordedSize {
				was, err := leaves.at(ctx, i)
				if err != nil {
					return Scanned{}, err
				}
				if !bytes.Equal(was, leaf) {
					sc.Differs = &Difference{Leaf: i, Position: e.Position, Stream: e.Stream, Version: e.Version}
				}
			}
			if err := r.Append(leaf, nil); err != nil {
				return Scanned{}, err
			}
			if n := int64(r.End()); want[n] {
				if sc.Roots[n], err = r.GetRootHash(nil); err != nil {
					return Scanned{}, err
				}
			}
		}
		from = batch[len(batch)-1].Position + 1
	}
	sc.Head = int64(r.End())
	if sc.Differs == nil && sc.Head < recordedSize {
		sc.Differs = &Difference{Leaf: sc.Head}
	}
	var err error
	sc.HeadRoot, err = rootOf(r)
	return sc, err
}

// Checkpoint is a C2SP tlog-checkpoint: the log's origin (its name), size
// and root hash.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   []byte
}

// Body is the checkpoint's text, as signed.
func (c Checkpoint) Body() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root))
}

// Sign signs the checkpoint with a note signer key (the text GenerateKey
// writes as the private key).
func Sign(c Checkpoint, skey string) ([]byte, error) {
	signer, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		return nil, fmt.Errorf("the signing key is not a note signer key: %w", err)
	}
	if signer.Name() != c.Origin {
		return nil, fmt.Errorf("the key is for %q, and the checkpoint's origin is %q", signer.Name(), c.Origin)
	}
	return note.Sign(&note.Note{Text: c.Body()}, signer)
}

// ErrBadSignature is a checkpoint not signed by the key given.
var ErrBadSignature = errors.New("the checkpoint's signature does not verify with the public key given: it was not signed by that key, or it was altered")

// Open verifies a signed checkpoint with a public key (the text
// GenerateKey writes as the verifier key) and parses it.
func Open(signed []byte, vkey string) (Checkpoint, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("the public key is not a note verifier key: %w", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, ErrBadSignature
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return Checkpoint{}, errors.New("the checkpoint has no origin, size and root")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return Checkpoint{}, errors.New("the checkpoint's size is not a number")
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return Checkpoint{}, errors.New("the checkpoint's root is not a base64 SHA-256 hash")
	}
	if lines[0] != v.Name() {
		return Checkpoint{}, fmt.Errorf("the checkpoint's origin %q is not the key's, %q", lines[0], v.Name())
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

// Verify checks that the log is an append-only extension of a checkpoint:
// at least as long, and its first Size events hash to the signed root.
func Verify(ctx context.Context, s eventstore.Store, c Checkpoint) (Tree, error) {
	sc, err := Scan(ctx, s, []int64{c.Size}, nil)
	if err != nil {
		return Tree{}, err
	}
	t := sc.tree(c.Size, true)
	return t, Check(t, c)
}

// Check checks the scanned log against a checkpoint whose size was among
// those asked for: it must extend it.
func (sc Scanned) Check(c Checkpoint) error {
	return Check(sc.tree(c.Size, true), c)
}

// Check checks a tree built to a checkpoint's size (Build) against it.
func Check(t Tree, c Checkpoint) error {
	switch {
	case t.Head < c.Size:
		return fmt.Errorf("the log has %d events, fewer than the %d the checkpoint signed: events were deleted", t.Head, c.Size)
	case t.Size != c.Size || !bytes.Equal(t.Root, c.Root):
		return fmt.Errorf("the log's first %d events do not hash to the root the checkpoint signed: an event among them was altered, removed or reordered", c.Size)
	}
	return nil
}
