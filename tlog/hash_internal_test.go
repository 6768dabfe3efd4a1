package tlog

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/google/uuid"
	"github.com/transparency-dev/merkle/rfc6962"
)

func TestTheHashesAreRFC6962sAsTheLibraryComputesThem(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		left, right := make([]byte, 32), make([]byte, 32)
		for j := range left {
			left[j], right[j] = byte(r.IntN(256)), byte(r.IntN(256))
		}
		if got, want := hashChildren(left, right), rfc6962.DefaultHasher.HashChildren(left, right); !bytes.Equal(got, want) {
			t.Fatalf("children %x %x: %x, the library %x", left, right, got, want)
		}
		// Streams long enough to outgrow the buffer on the stack too.
		e := eventstore.RecordedEvent{Stream: "case-" + strings.Repeat("x", r.IntN(400)), Version: r.Int64N(100) + 1, Position: r.Int64N(1 << 40),
			EventData: eventstore.EventData{ID: uuid.New(), Type: "request_received", OccurredOn: "2026-01-02", RecordedAt: time.Unix(r.Int64N(1<<31), 0),
				Payload: []byte(strings.Repeat("p", r.IntN(2000)))}}
		if got, want := leafHash(e), rfc6962.DefaultHasher.HashLeaf(LeafData(e)); !bytes.Equal(got, want) {
			t.Fatalf("leaf of %s v%d: %x, the library %x", e.Stream, e.Version, got, want)
		}
	}
}
