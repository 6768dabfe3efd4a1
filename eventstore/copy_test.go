package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/esdb"
	"github.com/ehcledger/ehcledger/eventstore/esdb/fakeserver"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
	"github.com/ehcledger/ehcledger/eventstore/storetest"
	"github.com/google/uuid"
)

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "e.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// standIn opens the KurrentDB adapter on a stand-in of its own.
func standIn(t *testing.T) *esdb.Store {
	t.Helper()
	dst, err := esdb.Open(fakeserver.StartTest(t).ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	return dst
}

func fill(t *testing.T, s eventstore.Store, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		stream := fmt.Sprintf("case-%d", i%7)
		if _, err := s.Append(context.Background(), stream, eventstore.Any, []eventstore.EventData{storetest.NewEvent(t, "e", fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCopyToEventStoreDBResumesAndVerifies(t *testing.T) {
	src := openSQLite(t)
	fill(t, src, 120)
	dst := standIn(t)
	ctx := context.Background()

	// An interrupted first run: the target holds the first 50 events.
	partial := openSQLite(t)
	first, _ := src.ReadAll(ctx, 1, 50)
	for _, e := range first {
		if _, err := partial.Append(ctx, e.Stream, eventstore.Any, []eventstore.EventData{e.EventData}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := eventstore.Copy(ctx, partial, dst, eventstore.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := eventstore.Copy(ctx, src, dst, eventstore.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 70 || res.Skipped != 50 {
		t.Fatalf("resumed copy %+v, want 70 copied and 50 skipped", res)
	}
	if err := eventstore.VerifyCopy(ctx, src, dst, 4); err != nil {
		t.Fatal(err)
	}
	t.Run("a target that disagrees is reported", func(t *testing.T) {
		other := openSQLite(t)
		fill(t, other, 10)
		if err := eventstore.VerifyCopy(ctx, src, other, 4); err == nil {
			t.Fatal("verification passed on a different store")
		}
		if _, err := eventstore.Copy(ctx, other, dst, eventstore.CopyOptions{}); err == nil || !strings.Contains(err.Error(), "case-") {
			t.Fatalf("copying conflicting events into a filled target gave %v", err)
		}
	})
}

// failingAfter is a target that fails every append after its first n.
type failingAfter struct {
	eventstore.Store
	mu sync.Mutex
	n  int
}

func (f *failingAfter) Append(ctx context.Context, stream string, exp eventstore.ExpectedVersion, evs []eventstore.EventData) (eventstore.AppendResult, error) {
	f.mu.Lock()
	f.n--
	left := f.n
	f.mu.Unlock()
	if left < 0 {
		return eventstore.AppendResult{}, errors.New("the connection dropped")
	}
	return f.Store.Append(ctx, stream, exp, evs)
}

// TestAParallelCopyKeepsTheOrderThatMattersAndResumes copies a store whose
// case and access streams are written side by side, while an LA's and a
// school's events stay barriers, into the KurrentDB stand-in: interrupted
// with appends in flight, then run again.
func TestAParallelCopyKeepsTheOrderThatMattersAndResumes(t *testing.T) {
	ctx := context.Background()
	src := openSQLite(t)
	for i := range 3000 {
		stream := fmt.Sprintf("case-%d", i%40)
		switch {
		case i%97 == 0:
			stream = "la-E09000001"
		case i%131 == 0:
			stream = "school-E09000001/s1"
		case i%11 == 0:
			stream = fmt.Sprintf("access-E09000001/case/case-%d", i%13)
		}
		if _, err := src.Append(ctx, stream, eventstore.Any, []eventstore.EventData{storetest.NewEvent(t, "e", fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	dst := standIn(t)
	opts := eventstore.CopyOptions{Parallel: domain.StandsAlone, Workers: 8, Batch: 373}
	if _, err := eventstore.Copy(ctx, src, &failingAfter{Store: dst, n: 150}, opts); err == nil || !strings.Contains(err.Error(), "dropped") {
		t.Fatalf("the interrupted copy ended with %v", err)
	}
	var reports int
	opts.Progress = func(eventstore.CopyResult) { reports++ }
	res, err := eventstore.Copy(ctx, src, dst, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied+res.Skipped != 3000 || res.Skipped == 0 || res.Position != res.Head || reports != 9 {
		t.Fatalf("resumed copy %+v after %d reports", res, reports)
	}
	if err := eventstore.VerifyCopy(ctx, src, dst, 4); err != nil {
		t.Fatal(err)
	}
	source, err := src.ReadAll(ctx, 1, 10000)
	if err != nil {
		t.Fatal(err)
	}
	target, err := dst.ReadAll(ctx, 1, 10000)
	if err != nil {
		t.Fatal(err)
	}
	at := map[uuid.UUID]int{}
	for i, e := range target {
		at[e.ID] = i
	}
	parallel := 0
	for i, e := range source {
		if domain.StandsAlone(e.Stream) {
			if i > 0 && at[e.ID] < at[source[i-1].ID] {
				parallel++
			}
			continue
		}
		// A barrier: everything before it in the source is before it in
		// the target, and everything after it after it.
		for j, o := range source {
			if (j < i) != (at[o.ID] < at[e.ID]) && j != i {
				t.Fatalf("%s (source %d) and %s (source %d) changed order across a barrier", e.Stream, i, o.Stream, j)
			}
		}
	}
	if parallel == 0 {
		t.Fatal("no two streams were written side by side")
	}
}
