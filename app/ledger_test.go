package app_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/keys"
)

// startWithKeys opens a fresh store and key store, closed when the test
// ends: a ledger that can seal personal details.
func startWithKeys(t *testing.T) *app.Ledger {
	t.Helper()
	dir := t.TempDir()
	l := start(t, filepath.Join(dir, "events.db"))
	ks, err := keys.Open(filepath.Join(dir, "keys.db"), make([]byte, 32), now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	l.Keys = ks
	return l
}

// countingStore counts the reads of case streams.
type countingStore struct {
	eventstore.Store
	caseReads atomic.Int64
}

func (s *countingStore) ReadStream(ctx context.Context, stream string, from int64) ([]eventstore.RecordedEvent, error) {
	if _, ok := domain.CaseIDOf(stream); ok {
		s.caseReads.Add(1)
	}
	return s.Store.ReadStream(ctx, stream, from)
}

func TestOneReadOfTheCasePerRequest(t *testing.T) {
	ctx := context.Background()
	l := startWithKeys(t)
	cs := &countingStore{Store: l.Store}
	l.Store = cs
	on := domain.NewDate(2026, 11, 2)
	if _, err := l.Execute(ctx, app.CommandRequest{Case: "c1", LA: "E09000001", Command: "receive_request", On: on, Reason: "r",
		Data: []byte(`{"requester":"parent","birth_date":"2015-05-01"}`), Actor: "t", Expected: eventstore.Any}); err != nil {
		t.Fatal(err)
	}
	t.Run("an unknown command is refused before any read", func(t *testing.T) {
		cs.caseReads.Store(0)
		_, err := l.Execute(ctx, app.CommandRequest{Case: "c1", Command: "decide_to_asses", On: on, Actor: "t", Reason: "r", Expected: eventstore.Any})
		if e, ok := err.(*domain.Error); !ok || e.Field != "command" || cs.caseReads.Load() != 0 {
			t.Fatalf("error %v after %d reads", err, cs.caseReads.Load())
		}
	})
	t.Run("a command reads the case once", func(t *testing.T) {
		cs.caseReads.Store(0)
		if _, err := l.Execute(ctx, app.CommandRequest{Case: "c1", Command: "decide_to_assess", On: on.AddDays(1), Actor: "t", Reason: "r", Expected: eventstore.Any}); err != nil {
			t.Fatal(err)
		}
		if n := cs.caseReads.Load(); n != 1 {
			t.Fatalf("%d reads of the case", n)
		}
	})
	t.Run("a view, its gate and its timeline read the case once", func(t *testing.T) {
		cs.caseReads.Store(0)
		var gated string
		_, tl, err := l.CaseAndTimeline(ctx, "c1", on.AddDays(1), time.Time{}, func(la, _ string) error { gated = la; return nil })
		if err != nil || len(tl) != 2 || gated != "E09000001" {
			t.Fatalf("timeline %d entries, gate saw %q, %v", len(tl), gated, err)
		}
		if n := cs.caseReads.Load(); n != 1 {
			t.Fatalf("%d reads of the case", n)
		}
	})
	t.Run("a gate that refuses shows nothing", func(t *testing.T) {
		_, err := l.Case(ctx, "c1", on, time.Time{}, func(string, string) error { return domain.Errorf(domain.Forbidden, "no") })
		if domain.ErrorCode(err) != domain.Forbidden {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("a case not yet known at an instant is not found", func(t *testing.T) {
		_, err := l.Case(ctx, "c1", on, now().Add(-24*time.Hour), nil)
		if domain.ErrorCode(err) != domain.NotFound || !strings.Contains(domain.ErrorMessage(err), "was not known at") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestRacingRetriesOfOneCommandRecordItOnce(t *testing.T) {
	ctx := context.Background()
	l := startWithKeys(t)
	on := domain.NewDate(2026, 11, 2)
	for _, step := range []app.CommandRequest{
		{Case: "c1", LA: "E09000001", Command: "receive_request", Data: []byte(`{"requester":"parent","birth_date":"2015-05-01"}`)},
		{Case: "c1", Command: "decide_to_assess"},
	} {
		step.On, step.Actor, step.Reason, step.Expected = on, "t", "r", eventstore.Any
		if _, err := l.Execute(ctx, step); err != nil {
			t.Fatal(err)
		}
	}
	for round := 1; round <= 20; round++ {
		type outcome struct {
			res app.CommandResult
			err error
		}
		out := make(chan outcome, 2)
		for i := 0; i < 2; i++ {
			go func() {
				res, err := l.Execute(ctx, app.CommandRequest{Case: "c1", Command: "request_advice", On: on, Actor: "t", Reason: "r",
					Data: []byte(`{"advice":"kind` + strings.Repeat("x", round) + `"}`), IdempotencyKey: "k" + strings.Repeat("x", round), Expected: eventstore.Any})
				out <- outcome{res, err}
			}()
		}
		a, b := <-out, <-out
		if a.err != nil || b.err != nil {
			t.Fatalf("round %d: a retry failed: %v, %v", round, a.err, b.err)
		}
		if a.res.Version != b.res.Version || a.res.Duplicate == b.res.Duplicate {
			t.Fatalf("round %d: the retries gave %+v and %+v, want one record and one duplicate", round, a.res, b.res)
		}
	}
}

func TestKnownAtStopsAtTheFirstStepRecordedLater(t *testing.T) {
	ctx := context.Background()
	l := startWithKeys(t)
	at := func(day int) time.Time { return time.Date(2026, 1, day, 9, 0, 0, 0, time.UTC) }
	for _, s := range []struct {
		command, data string
		recorded      time.Time
	}{
		{"receive_request", `{"requester":"parent","birth_date":"2015-05-01"}`, at(2)},
		{"decide_to_assess", "", at(30)},
		{"request_advice", `{"advice":"health"}`, at(10)}, // recorded with an earlier instant: an import
	} {
		if _, err := l.Execute(ctx, app.CommandRequest{Case: "c1", LA: "E09000001", Command: s.command, On: domain.NewDate(2026, 1, 2),
			Data: []byte(s.data), Actor: "t", Reason: "r", Expected: eventstore.Any, RecordedAt: s.recorded}); err != nil {
			t.Fatal(err)
		}
	}
	v, err := l.Case(ctx, "c1", domain.NewDate(2026, 1, 2), at(15), nil)
	if err != nil || v.Version != 1 {
		t.Fatalf("known at 15 January: version %d (%v), want 1: the decision was recorded on the 30th", v.Version, err)
	}
}

// TestAnExportOfALargeLAIsRecordedInAppendsTheStoresTake: the reads of an
// export of 5,000 cases are recorded, every one, in appends each under the
// maximum append size every event store enforces.
func TestAnExportOfALargeLAIsRecordedInAppendsTheStoresTake(t *testing.T) {
	l := start(t, filepath.Join(t.TempDir(), "events.db"))
	ids := make([]string, 5000)
	for i := range ids {
		ids[i] = fmt.Sprintf("E09000001-%06d", i)
	}
	if err := l.RecordAccesses(context.Background(), "E09000001", ids, "GET /v1/las/:la/sen2", "manager", "mgr-1"); err != nil {
		t.Fatal(err)
	}
	all, err := l.Store.ReadAll(context.Background(), 1, 10000)
	if err != nil || len(all) != len(ids) {
		t.Fatalf("%d reads recorded of %d: %v", len(all), len(ids), err)
	}
	evs, err := l.Store.ReadStream(context.Background(), domain.ExportAccessStream("E09000001", all[0].CorrelationID), 1)
	if err != nil || len(evs) != len(ids) {
		t.Fatalf("%d reads in the export's stream of %d: %v", len(evs), len(ids), err)
	}
	if evs[0].CorrelationID != evs[len(evs)-1].CorrelationID {
		t.Fatal("the appends of one export do not share its correlation ID")
	}
}

func TestAnLAsSettingsAreReadOnceAndFollowItsStream(t *testing.T) {
	ctx := context.Background()
	l := start(t, filepath.Join(t.TempDir(), "events.db"))
	var read []int64
	l.Store = &laReads{Store: l.Store, from: &read}
	adopt := func(rulebook, from string) {
		t.Helper()
		if err := l.ExecuteLA(ctx, "E09000001", domain.CommandAdoptRulebook, domain.NewDate(2025, 1, 1), []byte(`{"rulebook":"`+rulebook+`","from":"`+from+`"}`), "test"); err != nil {
			t.Fatal(err)
		}
	}
	adopt("reform-2023", "2025-01-01")
	first, err := l.Adoptions(ctx, "E09000001", time.Time{})
	if err != nil || len(first) != 1 || first[0].Rulebook != "reform-2023" {
		t.Fatalf("%v %v", first, err)
	}
	adopt("green-paper-2022", "2025-06-01")
	got, err := l.Adoptions(ctx, "E09000001", time.Time{})
	if err != nil || len(got) != 2 || got[1].Rulebook != "green-paper-2022" {
		t.Fatalf("after a second adoption: %v %v", got, err)
	}
	if _, err := l.Adoptions(ctx, "E09000001", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if want := []int64{1, 2, 3}; fmt.Sprint(read) != fmt.Sprint(want) {
		t.Fatalf("the LA's stream was read from versions %v, want %v: each event once", read, want)
	}
	if then, _ := l.Adoptions(ctx, "E09000001", now().Add(-time.Hour)); len(then) != 0 {
		t.Fatalf("as known an hour ago: %v", then)
	}
}

// laReads notes the version each read of an LA's stream starts from.
type laReads struct {
	eventstore.Store
	from *[]int64
}

func (s *laReads) ReadStream(ctx context.Context, stream string, from int64) ([]eventstore.RecordedEvent, error) {
	if strings.HasPrefix(stream, "la-") {
		*s.from = append(*s.from, from)
	}
	return s.Store.ReadStream(ctx, stream, from)
}
