package backup_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/backup"
	"github.com/ehcledger/ehcledger/cli"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
)

// record appends n reads of cases to the store, as a server records them.
func record(t *testing.T, env *cli.Env, n int) {
	t.Helper()
	for i := range n {
		id := fmt.Sprintf("E09000021-%06d", i%40)
		if err := env.Ledger.RecordAccesses(context.Background(), "E09000021", []string{id}, "/v1/cases/:id", "caseworker", "cw-1"); err != nil {
			t.Fatal(err)
		}
	}
}

// replicate runs a replicator of env's store into loc while fn runs, and
// returns what it shipped once it has stopped.
func replicate(t *testing.T, env *cli.Env, loc backup.Location, fn func()) []backup.Shipped {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var shipped []backup.Shipped
	r := &backup.Replicator{Store: env.Store, To: loc, Every: 20 * time.Millisecond, MaxEvents: 700, Now: time.Now,
		OnShipped: func(s backup.Shipped) { mu.Lock(); shipped = append(shipped, s); mu.Unlock() },
		OnError:   func(err error) { t.Errorf("replication: %v", err) }}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	fn()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	return shipped
}

func TestReplicationShipsEveryEventOnceAndRestoresToAPointInTime(t *testing.T) {
	ctx := context.Background()
	env, db := liveStore(t)
	loc := backup.Dir{Root: filepath.Join(t.TempDir(), "offsite")}
	first := replicate(t, env, loc, func() { record(t, env, 50) })
	m, err := backup.Events(ctx, db, "", options(t, loc))
	if err != nil {
		t.Fatal(err)
	}
	// A second run, as after a restart, goes on where the first stopped.
	second := replicate(t, env, loc, func() { record(t, env, 120) })
	head, err := env.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := int64(1)
	for _, s := range append(first, second...) {
		if s.First != next || s.Last < s.First {
			t.Fatalf("segment %s after position %d: an event shipped twice or left out", s.Name, next-1)
		}
		next = s.Last + 1
	}
	if next != head+1 {
		t.Fatalf("the segments end at %d; the store at %d", next-1, head)
	}
	if len(second) == 0 || second[len(second)-1].Lag > time.Minute {
		t.Fatalf("the second run shipped %v", second)
	}

	t.Run("a restore follows the backup with the segments after it", func(t *testing.T) {
		restored := filepath.Join(t.TempDir(), "events.db")
		r, err := backup.Restore(ctx, loc, &m, backup.Until{}, restored, options(t, loc))
		if err != nil {
			t.Fatal(err)
		}
		if r.Head != head || r.Replayed != head-m.Head || r.Stopped != "" {
			t.Fatalf("restored: head %d, replayed %d, stopped %q; want head %d", r.Head, r.Replayed, r.Stopped, head)
		}
	})
	t.Run("a restore to a position after the backup stops there", func(t *testing.T) {
		restored := filepath.Join(t.TempDir(), "events.db")
		until := m.Head + (head-m.Head)/2
		r, err := backup.Restore(ctx, loc, &m, backup.Until{Position: until}, restored, options(t, loc))
		if err != nil || r.Head != until || r.Cut {
			t.Fatalf("restored to %d: %+v, %v", until, r, err)
		}
	})
	t.Run("segments alone restore the whole log", func(t *testing.T) {
		restored := filepath.Join(t.TempDir(), "events.db")
		r, err := backup.Restore(ctx, loc, nil, backup.Until{}, restored, options(t, loc))
		if err != nil || r.Head != head || r.Replayed != head {
			t.Fatalf("restored from segments: %+v, %v", r, err)
		}
	})
	t.Run("a missing segment ends the replay, and says where", func(t *testing.T) {
		gone := second[len(second)/2]
		file := filepath.Join(loc.Root, filepath.FromSlash(gone.Name))
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(file)
		defer os.WriteFile(file, data, 0o600)
		restored := filepath.Join(t.TempDir(), "events.db")
		r, err := backup.Restore(ctx, loc, &m, backup.Until{}, restored, options(t, loc))
		if err != nil || r.Head != gone.First-1 || !strings.Contains(r.Stopped, fmt.Sprintf("no segment holds position %d", gone.First)) {
			t.Fatalf("restored past a missing segment: %+v, %v", r, err)
		}
	})
	t.Run("a replaced segment breaks the chain there", func(t *testing.T) {
		// The segment is replaced by one of the same events written
		// anew: its events and hashes are right, its link is not.
		other := backup.Dir{Root: filepath.Join(t.TempDir(), "other")}
		s := second[len(second)-1]
		restoredOnce := filepath.Join(t.TempDir(), "once.db")
		if _, err := backup.Restore(ctx, loc, nil, backup.Until{}, restoredOnce, options(t, loc)); err != nil {
			t.Fatal(err)
		}
		st, err := sqlite.Open(restoredOnce, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Segments of s.First-1 events: the second one holds exactly the
		// events of s, the last segment, chained to another first one.
		if s.First-1 < s.Last-s.First+1 {
			t.Fatalf("the last segment (%d to %d) is longer than those before it", s.First, s.Last)
		}
		rr := &backup.Replicator{Store: st, To: other, MaxEvents: int(s.First - 1), Now: time.Now}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_ = rr.Run(cctx)
		st.Close()
		names, _ := other.List(ctx, "segments/", "")
		var forged string
		for _, n := range names {
			if strings.HasPrefix(n, fmt.Sprintf("segments/%016d-", s.First)) {
				forged = n
			}
		}
		if forged == "" {
			t.Fatalf("the other replica's segments do not start at %d: %v", s.First, names)
		}
		b, err := os.ReadFile(filepath.Join(other.Root, filepath.FromSlash(forged)))
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(loc.Root, filepath.FromSlash(s.Name))
		orig, _ := os.ReadFile(file)
		defer os.WriteFile(file, orig, 0o600)
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		restored := filepath.Join(t.TempDir(), "events.db")
		r, err := backup.Restore(ctx, loc, &m, backup.Until{}, restored, options(t, loc))
		if err != nil || r.Head != s.First-1 || !strings.Contains(r.Stopped, "chain is broken") {
			t.Fatalf("restored past a replaced segment: head %d, stopped %q, %v", r.Head, r.Stopped, err)
		}
	})
}

func TestReplicationRefusesAnotherStoresHistory(t *testing.T) {
	env, _ := liveStore(t)
	loc := backup.Dir{Root: filepath.Join(t.TempDir(), "offsite")}
	replicate(t, env, loc, func() {})
	other, _ := liveStore(t)
	record(t, other, 3) // the same simulation, then other reads: another history
	r := &backup.Replicator{Store: other.Store, To: loc, Every: time.Millisecond, Now: time.Now}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Run(ctx); !errors.Is(err, backup.ErrOtherHistory) {
		t.Fatalf("replicating another store into a location: %v", err)
	}
}

// flakyPut stores what it is given, then says it failed, once: an upload
// whose answer was lost.
type flakyPut struct {
	backup.Location
	failed atomic.Bool
}

func (f *flakyPut) Put(ctx context.Context, name string, r io.Reader) error {
	err := f.Location.Put(ctx, name, r)
	if err == nil && strings.HasPrefix(name, "segments/") && !f.failed.Swap(true) {
		return errors.New("the answer was lost")
	}
	return err
}

// brokenPut fails every upload.
type brokenPut struct{ backup.Location }

func (brokenPut) Put(context.Context, string, io.Reader) error {
	return errors.New("the bucket cannot be reached")
}

// notGapless hides that the store's positions are gapless.
type notGapless struct{ eventstore.Store }

func TestReplicationKeepsOneChainThroughFailures(t *testing.T) {
	ctx := context.Background()
	env, _ := liveStore(t)
	t.Run("an upload stored though it seemed to fail is found, not shipped again", func(t *testing.T) {
		dir := backup.Dir{Root: filepath.Join(t.TempDir(), "offsite")}
		loc := &flakyPut{Location: dir}
		r := &backup.Replicator{Store: env.Store, To: loc, Every: 10 * time.Millisecond, MaxEvents: 500}
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- r.Run(cctx) }()
		record(t, env, 30)
		time.Sleep(100 * time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !loc.failed.Load() {
			t.Fatal("no upload failed: the test proves nothing")
		}
		head, _ := env.Store.Head(ctx)
		names, _ := dir.List(ctx, "segments/", "")
		next := int64(1)
		for _, n := range names {
			var first, last int64
			if _, err := fmt.Sscanf(n, "segments/%016d-%016d.jsonl.zst", &first, &last); err != nil {
				continue
			}
			if first != next {
				t.Fatalf("segments %v overlap or leave a gap at %d", names, next)
			}
			next = last + 1
		}
		if next != head+1 {
			t.Fatalf("the segments end at %d, the store at %d", next-1, head)
		}
	})
	t.Run("of two segments from one place, the restore follows the chain", func(t *testing.T) {
		dir := backup.Dir{Root: filepath.Join(t.TempDir(), "offsite")}
		replicate(t, env, dir, func() {})
		short := backup.Dir{Root: filepath.Join(t.TempDir(), "short")}
		r := &backup.Replicator{Store: env.Store, To: short, MaxEvents: 300}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := r.Run(cctx); err != nil {
			t.Fatal(err)
		}
		// The short replica's first segment lands beside the long one.
		names, _ := short.List(ctx, "segments/", "")
		b, err := os.ReadFile(filepath.Join(short.Root, filepath.FromSlash(names[0])))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir.Root, filepath.FromSlash(names[0])), b, 0o600); err != nil {
			t.Fatal(err)
		}
		head, _ := env.Store.Head(ctx)
		res, err := backup.Restore(ctx, dir, nil, backup.Until{}, filepath.Join(t.TempDir(), "events.db"), options(t, dir))
		if err != nil || res.Head != head || res.Stopped != "" {
			t.Fatalf("restored %+v, %v; want head %d", res, err, head)
		}
	})
	t.Run("while uploads fail the lag grows", func(t *testing.T) {
		r := &backup.Replicator{Store: env.Store, To: brokenPut{backup.Dir{Root: t.TempDir()}}, Every: 5 * time.Millisecond,
			FlushFor: 50 * time.Millisecond}
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if err := r.Run(cctx); err == nil {
			t.Fatal("Run shipped through a broken bucket")
		}
		if lag := r.Lag(); lag < 150*time.Millisecond {
			t.Fatalf("lag %s after 200ms of failures", lag)
		}
	})
	t.Run("a store with gaps is not replicated", func(t *testing.T) {
		r := &backup.Replicator{Store: notGapless{env.Store}, To: backup.Dir{Root: t.TempDir()}}
		if err := r.Run(ctx); !errors.Is(err, backup.ErrGaps) || !r.Stopped() {
			t.Fatalf("Run over a store with gaps: %v", err)
		}
	})
	t.Run("segments removed from the end are seen", func(t *testing.T) {
		dir := backup.Dir{Root: filepath.Join(t.TempDir(), "offsite")}
		shipped := replicate(t, env, dir, func() { record(t, env, 5) })
		lastSeg := shipped[len(shipped)-1]
		if err := os.Remove(filepath.Join(dir.Root, filepath.FromSlash(lastSeg.Name))); err != nil {
			t.Fatal(err)
		}
		_, stopped, err := backup.CheckSegments(ctx, dir, 0, options(t, dir))
		if err != nil || !strings.Contains(stopped, "were removed") {
			t.Fatalf("CheckSegments after the last segment was removed: %q, %v", stopped, err)
		}
	})
}
