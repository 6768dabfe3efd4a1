package tlog_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/sqlitedb"
	"github.com/ehcledger/ehcledger/tlog"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// event is the nth event of a synthetic log whose positions start at
// first and step by step (1 and 1 for SQLite's, larger for KurrentDB's
// offsets).
func event(n, first, step int64) eventstore.RecordedEvent {
	var e eventstore.RecordedEvent
	e.Position = first + (n-1)*step
	e.Stream = fmt.Sprintf("case-c%d", n%7)
	e.Version = n/7 + 1
	e.Type = "case_assigned"
	e.Payload = []byte(fmt.Sprintf(`{"n":%d}`, n))
	return e
}

// TestTheTreeGrownInBatchesIsTheTreeOfTheLog grows the tree across tile
// boundaries (256 leaves, and 65,536 for the second tile level) in
// batches of random sizes, reopening it on the way as a restart does, and
// checks every root against a compact range computed in memory, and
// inclusion and consistency proofs against the roots.
func TestTheTreeGrownInBatchesIsTheTreeOfTheLog(t *testing.T) {
	for _, c := range []struct {
		name        string
		total       int64
		first, step int64
	}{
		{"gapless positions", 66_000, 1, 1},
		{"offsets, as KurrentDB's", 700, 1000, 137},
	} {
		t.Run(c.name+" give the same tree", func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "views.db")
			db, err := sqlitedb.OpenRebuildable(path, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			l, err := tlog.OpenLog(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
			want := rf.NewEmptyRange(0)
			var leaves [][]byte
			roots := map[int64][]byte{0: rfc6962.DefaultHasher.EmptyRoot()}
			rnd := rand.New(rand.NewPCG(1, 2))
			for n := int64(1); n <= c.total; {
				k := 1 + rnd.Int64N(3000)
				if rnd.IntN(4) == 0 {
					k = 1 + rnd.Int64N(5)
				}
				var batch []eventstore.RecordedEvent
				for ; k > 0 && n <= c.total; k, n = k-1, n+1 {
					e := event(n, c.first, c.step)
					batch = append(batch, e)
					h := rfc6962.DefaultHasher.HashLeaf(tlog.LeafData(e))
					leaves = append(leaves, h)
					if err := want.Append(h, nil); err != nil {
						t.Fatal(err)
					}
				}
				// A batch that repeats the last event: catch-up after a
				// restart reads from the slowest view's position.
				if prev := n - int64(len(batch)) - 1; prev > 0 {
					batch = append([]eventstore.RecordedEvent{event(prev, c.first, c.step)}, batch...)
				}
				// One transaction in ten fails: the tree reloads what is
				// stored and the batch is applied again.
				commitBatch(t, l, db, batch, rnd.IntN(10) == 0)
				if rnd.IntN(8) == 0 {
					// A restart.
					if l, err = tlog.OpenLog(ctx, db); err != nil {
						t.Fatal(err)
					}
				}
				size, root := l.Head()
				wantRoot, _ := want.GetRootHash(nil)
				if size != int64(len(leaves)) || !bytes.Equal(root, wantRoot) {
					t.Fatalf("after %d leaves the tree has %d and root %x, want %x", len(leaves), size, root, wantRoot)
				}
				roots[size] = root
				if got := l.Position(); got != batch[len(batch)-1].Position {
					t.Fatalf("position %d, want %d", got, batch[len(batch)-1].Position)
				}
			}
			size, _ := l.Head()
			for s, root := range roots {
				got, err := l.RootAt(ctx, s)
				if err != nil || !bytes.Equal(got, root) {
					t.Fatalf("root at %d: %x %v, want %x", s, got, err, root)
				}
				if s == 0 {
					continue
				}
				for _, i := range []int64{0, s - 1, rnd.Int64N(s)} {
					p, err := l.Inclusion(ctx, i, s)
					if err != nil {
						t.Fatal(err)
					}
					if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(s), leaves[i], split(p[0]), root); err != nil {
						t.Fatalf("inclusion of %d in %d: %v", i, s, err)
					}
				}
				cons, err := l.Consistency(ctx, s, size)
				if err != nil {
					t.Fatal(err)
				}
				_, head := l.Head()
				if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(s), uint64(size), cons, root, head); err != nil {
					t.Fatalf("consistency %d..%d: %v", s, size, err)
				}
			}
			for _, n := range []int64{1, c.total / 2, c.total} {
				e := event(n, c.first, c.step)
				if got, err := l.LeafIndex(ctx, e.Position); err != nil || got != n-1 {
					t.Fatalf("leaf of position %d: %d %v, want %d", e.Position, got, err, n-1)
				}
			}
			var seen int64
			if err := l.LeafHashes(ctx, 0, func(i int64, h []byte) error {
				if i != seen || !bytes.Equal(h, leaves[i]) {
					return fmt.Errorf("leaf %d (expected %d) differs", i, seen)
				}
				seen++
				return nil
			}); err != nil || seen != size {
				t.Fatalf("%d leaves read: %v", seen, err)
			}
			if _, err := l.Inclusion(ctx, 0, size+1); err == nil {
				t.Fatal("a proof in a tree larger than the log was given")
			}
		})
	}
}

// commitBatch appends a batch to the tree in one committed transaction, as
// the projections runner does. With failFirst, a first transaction is
// rolled back and the tree reloaded, as after a failed commit.
func commitBatch(t *testing.T, l *tlog.Log, db *sql.DB, batch []eventstore.RecordedEvent, failFirst bool) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, tx, batch); err != nil {
		t.Fatal(err)
	}
	if failFirst {
		tx.Rollback()
		if err := l.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		commitBatch(t, l, db, batch, false)
		return
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := l.Committed(); err != nil {
		t.Fatal(err)
	}
}

// split cuts a proof's concatenated hashes apart.
func split(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		out = append(out, b[:32])
		b = b[32:]
	}
	return out
}

// TestATreeThatCannotBeReadIsGrownAgainOnlyByTheProjections: a tile lost
// with a views file's last writes makes the tree unreadable; verification
// reports it (OpenLog fails) and the projections empty it, to grow it
// again from the log.
func TestATreeThatCannotBeReadIsGrownAgainOnlyByTheProjections(t *testing.T) {
	ctx := context.Background()
	db, l := openTree(t)
	var batch []eventstore.RecordedEvent
	for n := int64(1); n <= 600; n++ {
		batch = append(batch, event(n, 1, 1))
	}
	commitBatch(t, l, db, batch, false)
	if _, err := db.Exec(`DELETE FROM tlog_tiles WHERE level = 0 AND idx = 2`); err != nil {
		t.Fatal(err)
	}
	if _, err := tlog.OpenLog(ctx, db); err == nil {
		t.Fatal("an unreadable tree opened")
	}
	regrown, err := tlog.OpenOrRegrow(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if size, _ := regrown.Head(); size != 0 || regrown.Position() != 0 {
		t.Fatalf("the tree was not emptied: %d events", size)
	}
	commitBatch(t, regrown, db, batch, false)
	if size, _ := regrown.Head(); size != 600 {
		t.Fatalf("grown again to %d", size)
	}
}
