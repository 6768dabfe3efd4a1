// Package blobtest is the conformance suite every documents.Blobs backend
// must pass. A backend's test calls Run with a function that opens a fresh,
// empty backend for each case:
//
//	func TestConformance(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) documents.Blobs {
//			d, err := documents.NewDir(t.TempDir())
//			if err != nil {
//				t.Fatal(err)
//			}
//			return d
//		})
//	}
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ehcledger/ehcledger/documents"
)

// Open opens a fresh, empty backend for one case of the suite; it may
// register its own clean-up with t.Cleanup.
type Open func(t *testing.T) documents.Blobs

// LargeSize is the size of the suite's largest blob: more than
// documents.DefaultMaxSize, as a sealed document at the limit is, and more
// than the 16 MiB past which S3 clients upload in parts.
const LargeSize = documents.DefaultMaxSize + 1<<20

// Run runs every conformance case as a subtest, each on a backend of its own.
func Run(t *testing.T, open Open) {
	t.Helper()
	cases := []struct {
		name string
		fn   func(t *testing.T, b documents.Blobs)
	}{
		{"a blob put is got back whole", roundTrip},
		{"an empty blob is got back empty", emptyBlob},
		{"a large blob is got back whole", largeBlob},
		{"a key never put is not found", missingKey},
		{"a key naming a prefix of a blob's key or a path below it is not found", prefixNotFound},
		{"a second put under a key replaces the first", putReplaces},
		{"keys differing in one segment hold separate blobs", keysSeparate},
		{"a key that could escape the store is refused and stores nothing", escapingKeys},
		{"a blob is not changed by changing the bytes put or got", blobsAreCopies},
		{"concurrent puts under one key leave one of them whole", concurrentPuts},
		{"a put with a cancelled context fails and stores nothing", cancelledPut},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(t, open(t))
		})
	}
}

// put stores data under key or fails the test.
func put(t *testing.T, b documents.Blobs, key string, data []byte) {
	t.Helper()
	if err := b.Put(context.Background(), key, data); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// want checks that key holds exactly data.
func want(t *testing.T, b documents.Blobs, key string, data []byte) {
	t.Helper()
	got, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("get %s: got %d bytes %.16q..., want %d bytes %.16q...", key, len(got), got, len(data), data)
	}
}

// wantNotFound checks that key holds nothing.
func wantNotFound(t *testing.T, b documents.Blobs, key string) {
	t.Helper()
	got, err := b.Get(context.Background(), key)
	if !errors.Is(err, documents.ErrNotFound) {
		t.Fatalf("get %s: got %d bytes and error %v, want documents.ErrNotFound", key, len(got), err)
	}
}

// pattern is n bytes that differ with seed, so blobs can be told apart.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func roundTrip(t *testing.T, b documents.Blobs) {
	data := pattern(100_000, 1)
	put(t, b, "cases/c1/abc", data)
	want(t, b, "cases/c1/abc", data)
}

func emptyBlob(t *testing.T, b documents.Blobs) {
	put(t, b, "cases/c1/empty", []byte{})
	want(t, b, "cases/c1/empty", []byte{})
}

func largeBlob(t *testing.T, b documents.Blobs) {
	data := pattern(LargeSize, 3)
	put(t, b, "cases/c1/large", data)
	want(t, b, "cases/c1/large", data)
}

func missingKey(t *testing.T, b documents.Blobs) {
	wantNotFound(t, b, "cases/c1/never")
	put(t, b, "cases/c1/other", []byte("x"))
	wantNotFound(t, b, "cases/c1/never")
}

func prefixNotFound(t *testing.T, b documents.Blobs) {
	put(t, b, "cases/c1/doc", []byte("x"))
	wantNotFound(t, b, "cases/c1")
	wantNotFound(t, b, "cases")
	wantNotFound(t, b, "cases/c1/doc/below")
}

func putReplaces(t *testing.T, b documents.Blobs) {
	put(t, b, "cases/c1/doc", pattern(5000, 1))
	put(t, b, "cases/c1/doc", pattern(300, 2))
	want(t, b, "cases/c1/doc", pattern(300, 2))
}

func keysSeparate(t *testing.T, b documents.Blobs) {
	keys := []string{"cases/c1/doc", "cases/c2/doc", "cases/c1/doc2", "other/c1/doc"}
	for i, k := range keys {
		put(t, b, k, pattern(1000, byte(i)))
	}
	for i, k := range keys {
		want(t, b, k, pattern(1000, byte(i)))
	}
}

func escapingKeys(t *testing.T, b documents.Blobs) {
	bad := []string{
		"", "/", "/etc/passwd", "../outside", "cases/../../outside", "cases/..", "..",
		"cases/./doc", ".", "./doc", "cases//doc", "cases/doc/", "cases\\..\\doc",
		"cases/c1/.hidden", "cases/c 1/doc", "cases/c1/doc\x00", "cases/c1/dóc",
		string(bytes.Repeat([]byte("a"), 1000)),
	}
	for _, key := range bad {
		if err := b.Put(context.Background(), key, []byte("x")); !errors.Is(err, documents.ErrInvalidID) {
			t.Errorf("put %q: got %v, want documents.ErrInvalidID", key, err)
		}
		if _, err := b.Get(context.Background(), key); !errors.Is(err, documents.ErrInvalidID) {
			t.Errorf("get %q: got %v, want documents.ErrInvalidID", key, err)
		}
	}
	// Where the refused keys would have led, had they been cleaned up.
	for _, key := range []string{"outside", "doc", "cases/doc", "cases/c1/doc", "etc/passwd"} {
		wantNotFound(t, b, key)
	}
}

func blobsAreCopies(t *testing.T, b documents.Blobs) {
	data := pattern(1000, 1)
	put(t, b, "cases/c1/doc", data)
	data[0] ^= 0xff
	got, err := b.Get(context.Background(), "cases/c1/doc")
	if err != nil {
		t.Fatal(err)
	}
	got[1] ^= 0xff
	want(t, b, "cases/c1/doc", pattern(1000, 1))
}

func concurrentPuts(t *testing.T, b documents.Blobs) {
	const writers = 8
	blobs := make([][]byte, writers)
	for i := range blobs {
		blobs[i] = pattern(256<<10, byte(i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for i := range writers {
		wg.Go(func() {
			if err := b.Put(context.Background(), "cases/c1/doc", blobs[i]); err != nil {
				errs <- fmt.Errorf("put %d: %w", i, err)
			}
		})
		// A reader meanwhile sees nothing or one whole blob, never a part.
		wg.Go(func() {
			got, err := b.Get(context.Background(), "cases/c1/doc")
			switch {
			case errors.Is(err, documents.ErrNotFound):
			case err != nil:
				errs <- fmt.Errorf("get during puts: %w", err)
			case !isOneOf(got, blobs):
				errs <- fmt.Errorf("get during puts: %d bytes that are none of the blobs put", len(got))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := b.Get(context.Background(), "cases/c1/doc")
	if err != nil {
		t.Fatal(err)
	}
	if !isOneOf(got, blobs) {
		t.Fatalf("after concurrent puts: %d bytes that are none of the blobs put", len(got))
	}
}

func isOneOf(got []byte, blobs [][]byte) bool {
	for _, b := range blobs {
		if bytes.Equal(got, b) {
			return true
		}
	}
	return false
}

func cancelledPut(t *testing.T, b documents.Blobs) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Put(ctx, "cases/c1/doc", []byte("x")); err == nil {
		t.Fatal("put with a cancelled context succeeded")
	}
	wantNotFound(t, b, "cases/c1/doc")
}
