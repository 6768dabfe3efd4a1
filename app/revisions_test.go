package app_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
	"github.com/ehcledger/ehcledger/internal/rulebooktest"
)

func now() time.Time { return time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC) }

// start opens the store at path as a starting server does, closed when the
// test ends.
func start(t *testing.T, path string) *app.Ledger {
	t.Helper()
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &app.Ledger{Store: s, Now: now}
}

// restart closes the store a ledger holds, as a stopping server does, and
// opens it again: one writer holds a store at a time.
func restart(t *testing.T, l *app.Ledger, path string) *app.Ledger {
	t.Helper()
	if err := l.Store.Close(); err != nil {
		t.Fatal(err)
	}
	return start(t, path)
}

func TestRulebookRevisionsAreRecordedOnce(t *testing.T) {
	ctx := context.Background()
	t.Run("the first start records every rulebook and the second nothing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.db")
		l := start(t, path)
		first, err := l.RecordRulebookRevisions(ctx, "system:test")
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != len(domain.RulebookIDs()) {
			t.Fatalf("first start recorded %d revisions, want one for each of %v", len(first), domain.RulebookIDs())
		}
		again := restart(t, l, path)
		second, err := again.RecordRulebookRevisions(ctx, "system:test")
		if err != nil || len(second) != 0 {
			t.Fatalf("second start recorded %v (%v)", second, err)
		}
		recs, version, err := again.RulebookRevisions(ctx)
		if err != nil || version != int64(len(first)) || len(recs) != len(first) {
			t.Fatalf("the stream holds %d revisions at version %d (%v)", len(recs), version, err)
		}
		for _, r := range recs {
			rb, _ := domain.LookupRulebook(r.Rulebook)
			if r.Version != rb.Version || r.ContentHash != rb.ContentHash() || r.PreviousVersion != 0 || r.RecordedAt.IsZero() {
				t.Errorf("recorded %+v", r.RulebookRevised)
			}
		}
	})
	t.Run("servers starting at once record each revision once", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.db")
		// One store holds one writer: the starts share it, as servers on
		// KurrentDB share theirs, and race on the stream's version.
		one := start(t, path)
		ledgers := []*app.Ledger{one, {Store: one.Store, Now: now}, {Store: one.Store, Now: now}}
		var wg sync.WaitGroup
		counts := make([]int, len(ledgers))
		errs := make([]error, len(ledgers))
		for i, l := range ledgers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := l.RecordRulebookRevisions(ctx, "system:test")
				counts[i], errs[i] = len(r), err
			}()
		}
		wg.Wait()
		total := 0
		for i := range counts {
			if errs[i] != nil {
				t.Fatalf("start %d: %v", i, errs[i])
			}
			total += counts[i]
		}
		recs, _, err := ledgers[0].RulebookRevisions(ctx)
		if err != nil || total != len(domain.RulebookIDs()) || len(recs) != total {
			t.Fatalf("the starts recorded %v, and the stream holds %d (%v)", counts, len(recs), err)
		}
	})
	t.Run("a newer build records the revision with the version before it", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "events.db")
		l := start(t, path)
		earlier := rulebooktest.Earlier(t, domain.DefaultRulebook, 2, "final_plan", 18)
		rulebooktest.Record(t, l.Store, earlier, now().Add(-time.Hour))
		revised, err := l.RecordRulebookRevisions(ctx, "system:test")
		if err != nil {
			t.Fatal(err)
		}
		current, _ := domain.LookupRulebook(domain.DefaultRulebook)
		for _, r := range revised {
			if r.Rulebook != domain.DefaultRulebook {
				continue
			}
			if r.PreviousVersion != 2 || r.PreviousHash != earlier.ContentHash() || len(r.Revisions) != current.Version-2 {
				t.Fatalf("revision %+v", r)
			}
			return
		}
		t.Fatalf("no revision of %s was recorded: %+v", domain.DefaultRulebook, revised)
	})
}
