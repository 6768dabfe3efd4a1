// Package storetest is the conformance suite every event store backend must
// pass. A backend's test calls Run with a factory that opens a fresh, empty
// store.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/google/uuid"
)

// Factory opens a fresh, empty store. The suite closes it.
type Factory func(t *testing.T) eventstore.Store

// Capabilities are the guarantees that differ between backends.
type Capabilities struct {
	// DensePositions: global positions are 1, 2, 3... with no holes (the
	// embedded store). Otherwise they only increase (EventStoreDB's commit
	// positions); every backend must still return every event, in order.
	DensePositions bool
	// GlobalIDs: an event ID is unique across all streams, not only within
	// one stream's recent events.
	GlobalIDs bool
}

// caps is the capability set of the backend under test.
var caps Capabilities

// sn starts the name of every stream a case writes, and base is the store's
// head before the case: together they let the suite run against a real,
// shared server that already holds events.
var (
	sn   = "case-"
	base int64
)

// Run runs every conformance case as a subtest.
func Run(t *testing.T, c Capabilities, open Factory) {
	caps = c
	cases := []struct {
		name string
		fn   func(t *testing.T, s eventstore.Store)
	}{
		{"append_then_read_stream_returns_events_in_order", appendThenRead},
		{"no_stream_expectation_rejects_existing_stream", noStreamRejectsExisting},
		{"exact_expectation_rejects_stale_version", exactRejectsStale},
		{"any_expectation_always_appends", anyAlwaysAppends},
		{"retry_with_same_ids_is_idempotent", retryIsIdempotent},
		{"retry_under_any_or_exact_expectation_is_idempotent", retryUnderEveryExpectation},
		{"retry_after_the_stream_moved_on_is_idempotent", retryAfterTheStreamMovedOn},
		{"same_id_different_content_is_conflict", sameIDDifferentContent},
		{"an_id_twice_in_one_append_is_invalid_and_writes_nothing", idTwiceInOneAppend},
		{"an_append_without_stream_events_id_or_type_is_invalid", incompleteAppendIsInvalid},
		{"rejected_append_writes_nothing", rejectedWritesNothing},
		{"read_all_is_gapless_in_commit_order", readAllGapless},
		{"concurrent_appenders_get_gapless_global_order", concurrentAppenders},
		{"concurrent_writers_to_one_stream_conflict_cleanly", concurrentSameStream},
		{"hash_chain_verifies_and_detects_tampering", hashChain},
		{"subscription_catches_up_then_goes_live", subscribeCatchUpThenLive},
		{"large_event_round_trips", largeEvent},
		{"an_append_at_the_size_limit_is_taken", appendAtTheLimit},
		{"a_retried_large_append_on_a_long_stream_is_a_duplicate", retriedLargeAppend},
		{"reads_from_between_or_beyond_events_give_what_follows", readsFromAnywhere},
		{"many_streams_stay_separate", manyStreams},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			sn = "case-" + uuid.NewString()[:8] + "-"
			var err error
			if base, err = s.Head(context.Background()); err != nil {
				t.Fatal(err)
			}
			c.fn(t, s)
		})
	}
}

// NewEvent returns a test event with a fresh UUID v7 and the given payload.
func NewEvent(t testing.TB, typ, payload string) eventstore.EventData {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return eventstore.EventData{ID: id, Type: typ, SchemaVersion: 1, OccurredOn: "2024-03-01",
		RecordedAt: time.Date(2024, 3, 1, 10, 0, 0, 123456789, time.UTC), Actor: "tester", LA: "E09000001",
		CorrelationID: "corr", CausationID: "cause", Payload: []byte(payload)}
}

func mustAppend(t *testing.T, s eventstore.Store, stream string, exp eventstore.ExpectedVersion, evs ...eventstore.EventData) eventstore.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), stream, exp, evs)
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	return res
}

// wantConflict checks that an append was refused as a conflict, told apart
// by its sentinel (eventstore.ErrWrongVersion or eventstore.ErrIDConflict).
func wantConflict(t *testing.T, err, sentinel error) {
	t.Helper()
	if err == nil {
		t.Fatal("append succeeded, want a conflict")
	}
	if domain.ErrorCode(err) != domain.Conflict {
		t.Fatalf("error %v has code %s, want conflict", err, domain.ErrorCode(err))
	}
	if !errors.Is(err, sentinel) {
		t.Fatalf("error %v is not %v", err, sentinel)
	}
}

// wantInvalid checks that an append was refused as invalid, naming field.
func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.Invalid || de.Field != field {
		t.Fatalf("error %v, want invalid naming %s", err, field)
	}
}

func readStream(t *testing.T, s eventstore.Store, stream string) []eventstore.RecordedEvent {
	t.Helper()
	evs, err := s.ReadStream(context.Background(), stream, 1)
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return evs
}

func readAll(t *testing.T, s eventstore.Store) []eventstore.RecordedEvent {
	t.Helper()
	var out []eventstore.RecordedEvent
	from := base + 1
	for {
		evs, err := s.ReadAll(context.Background(), from, 500)
		if err != nil {
			t.Fatalf("read all: %v", err)
		}
		if len(evs) == 0 {
			return out
		}
		for _, e := range evs {
			if strings.HasPrefix(e.Stream, sn) {
				out = append(out, e)
			}
		}
		from = evs[len(evs)-1].Position + 1
	}
}

func appendThenRead(t *testing.T, s eventstore.Store) {
	a, b := NewEvent(t, "a_happened", `{"n":1}`), NewEvent(t, "b_happened", `{"n":2}`)
	res := mustAppend(t, s, sn+"1", eventstore.NoStream, a, b)
	if res.Version != 2 || (caps.DensePositions && res.Position != base+2) {
		t.Fatalf("result %+v, want version 2 at position 2", res)
	}
	got := readStream(t, s, sn+"1")
	if len(got) != 2 {
		t.Fatalf("read %d events, want 2", len(got))
	}
	for i, want := range []eventstore.EventData{a, b} {
		g := got[i]
		if !eventstore.SameContent(g.EventData, want) || !g.RecordedAt.Equal(want.RecordedAt) {
			t.Fatalf("event %d = %+v, want %+v", i, g.EventData, want)
		}
		if g.Version != int64(i+1) || g.Stream != sn+"1" {
			t.Fatalf("event %d at version %d of %q", i, g.Version, g.Stream)
		}
	}
	if got, err := s.ReadStream(context.Background(), sn+"1", 2); err != nil || len(got) != 1 || got[0].ID != b.ID {
		t.Fatalf("read from version 2: %v %v", got, err)
	}
	if got := readStream(t, s, sn+"none"); len(got) != 0 {
		t.Fatalf("unknown stream has %d events", len(got))
	}
	if h, err := s.Head(context.Background()); err != nil || h != res.Position || h != got[1].Position {
		t.Fatalf("head = %d, %v; want the last event's position %d", h, err, res.Position)
	}
}

func noStreamRejectsExisting(t *testing.T, s eventstore.Store) {
	mustAppend(t, s, sn+"1", eventstore.NoStream, NewEvent(t, "a", `{}`))
	_, err := s.Append(context.Background(), sn+"1", eventstore.NoStream, []eventstore.EventData{NewEvent(t, "b", `{}`)})
	wantConflict(t, err, eventstore.ErrWrongVersion)
}

func exactRejectsStale(t *testing.T, s eventstore.Store) {
	mustAppend(t, s, sn+"1", eventstore.NoStream, NewEvent(t, "a", `{}`))
	mustAppend(t, s, sn+"1", eventstore.Exact(1), NewEvent(t, "b", `{}`))
	_, err := s.Append(context.Background(), sn+"1", eventstore.Exact(1), []eventstore.EventData{NewEvent(t, "c", `{}`)})
	wantConflict(t, err, eventstore.ErrWrongVersion)
	_, err = s.Append(context.Background(), sn+"2", eventstore.Exact(1), []eventstore.EventData{NewEvent(t, "c", `{}`)})
	wantConflict(t, err, eventstore.ErrWrongVersion)
	if n := len(readStream(t, s, sn+"1")); n != 2 {
		t.Fatalf("stream has %d events, want 2", n)
	}
}

func anyAlwaysAppends(t *testing.T, s eventstore.Store) {
	mustAppend(t, s, sn+"1", eventstore.Any, NewEvent(t, "a", `{}`))
	res := mustAppend(t, s, sn+"1", eventstore.Any, NewEvent(t, "b", `{}`))
	if res.Version != 2 {
		t.Fatalf("version %d, want 2", res.Version)
	}
}

func retryIsIdempotent(t *testing.T, s eventstore.Store) {
	a, b := NewEvent(t, "a", `{"x":1}`), NewEvent(t, "b", `{"x":2}`)
	first := mustAppend(t, s, sn+"1", eventstore.NoStream, a, b)
	// A retry, even with a now-stale expectation, returns the original result.
	again := mustAppend(t, s, sn+"1", eventstore.NoStream, a, b)
	if !again.Duplicate || again.Version != first.Version || again.Position != first.Position {
		t.Fatalf("retry gave %+v, first was %+v", again, first)
	}
	if n := len(readAll(t, s)); n != 2 {
		t.Fatalf("store holds %d events after a retry, want 2", n)
	}
}

func retryUnderEveryExpectation(t *testing.T, s eventstore.Store) {
	for _, c := range []struct {
		name     string
		expected eventstore.ExpectedVersion
	}{{"any", eventstore.Any}, {"exact", eventstore.Exact(1)}} {
		t.Run(c.name, func(t *testing.T) {
			stream := sn + c.name
			mustAppend(t, s, stream, eventstore.NoStream, NewEvent(t, "a", `{}`))
			b := NewEvent(t, "b", `{"x":1}`)
			first := mustAppend(t, s, stream, c.expected, b)
			again := mustAppend(t, s, stream, c.expected, b)
			if !again.Duplicate || again.Version != first.Version || again.Position != first.Position {
				t.Fatalf("retry gave %+v, first was %+v", again, first)
			}
			if n := len(readStream(t, s, stream)); n != 2 {
				t.Fatalf("stream holds %d events after a retry, want 2", n)
			}
		})
	}
}

// retryAfterTheStreamMovedOn retries appends after others have followed
// them: more than a backend's quick look at the stream's tail, fewer than
// any idempotency window it has.
func retryAfterTheStreamMovedOn(t *testing.T, s eventstore.Store) {
	a, b := NewEvent(t, "a", `{"n":0}`), NewEvent(t, "b", `{"n":1}`)
	first := mustAppend(t, s, sn+"1", eventstore.NoStream, a)
	second := mustAppend(t, s, sn+"1", eventstore.Exact(1), b)
	for i := 2; i < 40; i++ {
		mustAppend(t, s, sn+"1", eventstore.Any, NewEvent(t, "later", fmt.Sprintf(`{"n":%d}`, i)))
	}
	for _, c := range []struct {
		name     string
		expected eventstore.ExpectedVersion
		event    eventstore.EventData
		want     eventstore.AppendResult
	}{{"no_stream", eventstore.NoStream, a, first}, {"exact", eventstore.Exact(1), b, second}, {"any", eventstore.Any, b, second}} {
		again, err := s.Append(context.Background(), sn+"1", c.expected, []eventstore.EventData{c.event})
		if err != nil || !again.Duplicate || again.Version != c.want.Version || again.Position != c.want.Position {
			t.Fatalf("%s: retry gave %+v, %v; the first append gave %+v", c.name, again, err, c.want)
		}
	}
	if n := len(readStream(t, s, sn+"1")); n != 40 {
		t.Fatalf("stream holds %d events after the retries, want 40", n)
	}
}

func idTwiceInOneAppend(t *testing.T, s eventstore.Store) {
	a := NewEvent(t, "a", `{}`)
	_, err := s.Append(context.Background(), sn+"1", eventstore.NoStream, []eventstore.EventData{a, a})
	wantInvalid(t, err, "events[1]")
	if n := len(readStream(t, s, sn+"1")); n != 0 {
		t.Fatalf("a refused append wrote %d events", n)
	}
	// Stored once, the ID twice is still no retry of that append.
	mustAppend(t, s, sn+"1", eventstore.NoStream, a)
	_, err = s.Append(context.Background(), sn+"1", eventstore.Any, []eventstore.EventData{a, a})
	wantInvalid(t, err, "events[1]")
}

func incompleteAppendIsInvalid(t *testing.T, s eventstore.Store) {
	ctx := context.Background()
	noID, noType := NewEvent(t, "a", `{}`), NewEvent(t, "", `{}`)
	noID.ID = uuid.Nil
	for _, c := range []struct {
		field    string
		stream   string
		expected eventstore.ExpectedVersion
		events   []eventstore.EventData
	}{
		{"stream", "", eventstore.Any, []eventstore.EventData{NewEvent(t, "a", `{}`)}},
		{"expected", sn + "1", eventstore.ExpectedVersion(-3), []eventstore.EventData{NewEvent(t, "a", `{}`)}},
		{"events", sn + "1", eventstore.Any, nil},
		{"events[1]", sn + "1", eventstore.Any, []eventstore.EventData{NewEvent(t, "a", `{}`), noID}},
		{"events[0]", sn + "1", eventstore.Any, []eventstore.EventData{noType}},
	} {
		_, err := s.Append(ctx, c.stream, c.expected, c.events)
		wantInvalid(t, err, c.field)
	}
	if n := len(readAll(t, s)); n != 0 {
		t.Fatalf("refused appends wrote %d events", n)
	}
}

func sameIDDifferentContent(t *testing.T, s eventstore.Store) {
	a := NewEvent(t, "a", `{"x":1}`)
	mustAppend(t, s, sn+"1", eventstore.Any, a)
	changed := a
	changed.Payload = []byte(`{"x":2}`)
	_, err := s.Append(context.Background(), sn+"1", eventstore.Any, []eventstore.EventData{changed})
	wantConflict(t, err, eventstore.ErrIDConflict)
	if caps.GlobalIDs {
		_, err = s.Append(context.Background(), sn+"2", eventstore.Any, []eventstore.EventData{a})
		wantConflict(t, err, eventstore.ErrIDConflict)
	}
	partial := []eventstore.EventData{a, NewEvent(t, "b", `{}`)}
	_, err = s.Append(context.Background(), sn+"1", eventstore.Any, partial)
	wantConflict(t, err, eventstore.ErrIDConflict)
	if n := len(readStream(t, s, sn+"1")); n != 1 {
		t.Fatalf("stream holds %d events after refused appends, want 1", n)
	}
}

func rejectedWritesNothing(t *testing.T, s eventstore.Store) {
	mustAppend(t, s, sn+"1", eventstore.NoStream, NewEvent(t, "a", `{}`))
	_, err := s.Append(context.Background(), sn+"1", eventstore.Exact(5), []eventstore.EventData{NewEvent(t, "b", `{}`), NewEvent(t, "c", `{}`)})
	wantConflict(t, err, eventstore.ErrWrongVersion)
	mustAppend(t, s, sn+"2", eventstore.NoStream, NewEvent(t, "d", `{}`))
	all := readAll(t, s)
	if len(all) != 2 || all[1].Stream != sn+"2" || (caps.DensePositions && all[1].Position != base+2) {
		t.Fatalf("after a rejected append the log is %d events; last %+v", len(all), all[len(all)-1])
	}
}

func readAllGapless(t *testing.T, s eventstore.Store) {
	for i := 0; i < 30; i++ {
		stream := fmt.Sprintf(sn+"%d", i%4)
		mustAppend(t, s, stream, eventstore.Any, NewEvent(t, "e", fmt.Sprintf(`{"i":%d}`, i)))
	}
	all := readAll(t, s)
	if len(all) != 30 {
		t.Fatalf("read %d, want 30", len(all))
	}
	for i, e := range all {
		if string(e.Payload) != fmt.Sprintf(`{"i":%d}`, i) || !inOrder(all, i) {
			t.Fatalf("event %d at position %d with %s", i, e.Position, e.Payload)
		}
	}
	// Reading on from any event's position gives exactly the rest.
	from := all[10].Position
	rest, err := s.ReadAll(context.Background(), from, 100)
	if err != nil || len(rest) != 20 || rest[0].ID != all[10].ID {
		t.Fatalf("reading from position %d gave %d events (%v)", from, len(rest), err)
	}
	page, err := s.ReadAll(context.Background(), all[29].Position+1, 100)
	if err != nil || len(page) != 0 {
		t.Fatalf("reading past the end gave %d events (%v)", len(page), err)
	}
}

// inOrder checks event i's position against its predecessor: one more when
// positions are dense, greater otherwise.
func inOrder(all []eventstore.RecordedEvent, i int) bool {
	if caps.DensePositions {
		return all[i].Position == base+int64(i+1)
	}
	return i == 0 || all[i].Position > all[i-1].Position
}

func concurrentAppenders(t *testing.T, s eventstore.Store) {
	const writers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				e := NewEvent(t, "e", fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))
				if _, err := s.Append(context.Background(), fmt.Sprintf(sn+"%d", w), expectAfter(i), []eventstore.EventData{e}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := readAll(t, s)
	if len(all) != writers*each {
		t.Fatalf("read %d events, want %d", len(all), writers*each)
	}
	next := map[string]int64{}
	for i, e := range all {
		if !inOrder(all, i) {
			t.Fatalf("gap or disorder: event %d has position %d", i, e.Position)
		}
		next[e.Stream]++
		if e.Version != next[e.Stream] {
			t.Fatalf("%s: version %d out of order (want %d)", e.Stream, e.Version, next[e.Stream])
		}
	}
}

func concurrentSameStream(t *testing.T, s eventstore.Store) {
	mustAppend(t, s, sn+"1", eventstore.NoStream, NewEvent(t, "a", `{}`))
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, conflicts := 0, 0
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Append(context.Background(), sn+"1", eventstore.Exact(1), []eventstore.EventData{NewEvent(t, "b", `{}`)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case domain.ErrorCode(err) == domain.Conflict && errors.Is(err, eventstore.ErrWrongVersion):
				conflicts++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || conflicts != n-1 {
		t.Fatalf("%d succeeded and %d conflicted, want 1 and %d", ok, conflicts, n-1)
	}
}

func hashChain(t *testing.T, s eventstore.Store) {
	for i := 0; i < 5; i++ {
		mustAppend(t, s, sn+"1", eventstore.Any, NewEvent(t, "e", fmt.Sprintf(`{"i":%d}`, i)))
	}
	evs := readStream(t, s, sn+"1")
	if v, why := eventstore.Verify(evs); v != 0 {
		t.Fatalf("intact chain fails at %d: %s", v, why)
	}
	altered := append([]eventstore.RecordedEvent(nil), evs...)
	altered[2].Payload = []byte(`{"i":99}`)
	if v, _ := eventstore.Verify(altered); v != 3 {
		t.Fatalf("altered event 3 reported at %d", v)
	}
	missing := append(append([]eventstore.RecordedEvent(nil), evs[:1]...), evs[2:]...)
	if v, _ := eventstore.Verify(missing); v != 2 {
		t.Fatalf("missing event 2 reported at %d", v)
	}
}

func subscribeCatchUpThenLive(t *testing.T, s eventstore.Store) {
	for i := 0; i < 3; i++ {
		mustAppend(t, s, sn+"1", eventstore.Any, NewEvent(t, "old", `{}`))
	}
	old := readAll(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan eventstore.RecordedEvent, 16)
	done := make(chan error, 1)
	go func() {
		done <- s.Subscribe(ctx, old[1].Position, func(e eventstore.RecordedEvent) error {
			got <- e
			return nil
		})
	}()
	for _, want := range old[1:] {
		if e := <-got; e.ID != want.ID {
			t.Fatalf("caught up event %s at %d, want %s", e.ID, e.Position, want.ID)
		}
	}
	res := mustAppend(t, s, sn+"2", eventstore.Any, NewEvent(t, "new", `{}`))
	select {
	case e := <-got:
		if e.Position != res.Position || e.Type != "new" {
			t.Fatalf("live event %+v", e)
		}
	case <-ctx.Done():
		t.Fatal("live event never arrived")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("subscription ended with %v, want context.Canceled", err)
	}
}

func largeEvent(t *testing.T, s eventstore.Store) {
	big := `{"text":"` + strings.Repeat("x", 900<<10) + `"}`
	mustAppend(t, s, sn+"1", eventstore.Any, NewEvent(t, "big", big))
	if evs := readStream(t, s, sn+"1"); len(evs) != 1 || string(evs[0].Payload) != big {
		t.Fatal("a 900 KiB event did not round-trip")
	}
	// Above KurrentDB's maximum append size every backend refuses, naming
	// the field, and writes nothing.
	huge := `{"text":"` + strings.Repeat("x", 1<<20) + `"}`
	_, err := s.Append(context.Background(), sn+"2", eventstore.Any, []eventstore.EventData{NewEvent(t, "huge", huge)})
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.Invalid || de.Field != "events" {
		t.Fatalf("an append above 1 MiB: %v", err)
	}
	if evs := readStream(t, s, sn+"2"); len(evs) != 0 {
		t.Fatal("a refused append wrote events")
	}
}

// appendAtTheLimit appends an event whose size, as the guard counts it, is
// exactly the limit, after a first event (so that its envelope carries a
// previous hash): no backend may refuse what the guard lets through.
func appendAtTheLimit(t *testing.T, s eventstore.Store) {
	mustAppend(t, s, sn+"1", eventstore.Any, NewEvent(t, "first", `{}`))
	e := NewEvent(t, "at_the_limit", `{"text":""}`)
	pad := eventstore.MaxAppendBytes - eventstore.AppendSize([]eventstore.EventData{e})
	e.Payload = []byte(`{"text":"` + strings.Repeat("x", pad) + `"}`)
	if n := eventstore.AppendSize([]eventstore.EventData{e}); n != eventstore.MaxAppendBytes {
		t.Fatalf("the event is %d bytes as counted, not the limit", n)
	}
	mustAppend(t, s, sn+"1", eventstore.Any, e)
}

// retriedLargeAppend retries an append of 300 events, already stored, on a
// stream of 600: found whole, it is a duplicate, not a conflict.
func retriedLargeAppend(t *testing.T, s eventstore.Store) {
	batch := func() []eventstore.EventData {
		out := make([]eventstore.EventData, 300)
		for i := range out {
			out[i] = NewEvent(t, "read", `{}`)
		}
		return out
	}
	mustAppend(t, s, sn+"1", eventstore.Any, batch()...)
	again := batch()
	mustAppend(t, s, sn+"1", eventstore.Any, again...)
	res, err := s.Append(context.Background(), sn+"1", eventstore.Any, again)
	if err != nil || !res.Duplicate {
		t.Fatalf("the retry: %+v %v", res, err)
	}
	if evs := readStream(t, s, sn+"1"); len(evs) != 600 {
		t.Fatalf("%d events after the retry, want 600", len(evs))
	}
}

// readsFromAnywhere reads the log from a position between two events and
// from beyond the last: what follows, or nothing, as on the embedded store.
func readsFromAnywhere(t *testing.T, s eventstore.Store) {
	for i := 0; i < 4; i++ {
		mustAppend(t, s, sn+"1", eventstore.Any, NewEvent(t, "e", `{}`))
	}
	evs := readStream(t, s, sn+"1")
	if gap := evs[2].Position - evs[1].Position; gap > 1 {
		got, err := s.ReadAll(context.Background(), evs[1].Position+gap/2+1, 10)
		if err != nil || len(got) == 0 || got[0].ID != evs[2].ID {
			t.Fatalf("from between events 2 and 3: %d events, %v", len(got), err)
		}
	}
	got, err := s.ReadAll(context.Background(), evs[3].Position+1000, 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("from beyond the last event: %d events, %v", len(got), err)
	}
}

func manyStreams(t *testing.T, s eventstore.Store) {
	const n = 200
	for i := 0; i < n; i++ {
		mustAppend(t, s, fmt.Sprintf(sn+"%d", i), eventstore.NoStream, NewEvent(t, "a", fmt.Sprintf(`{"i":%d}`, i)))
	}
	for _, i := range []int{0, 77, n - 1} {
		evs := readStream(t, s, fmt.Sprintf(sn+"%d", i))
		if len(evs) != 1 || string(evs[0].Payload) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("stream %d holds %v", i, evs)
		}
	}
}

// expectAfter is the expectation for appending to a stream that holds n events.
func expectAfter(n int) eventstore.ExpectedVersion {
	if n == 0 {
		return eventstore.NoStream
	}
	return eventstore.Exact(int64(n))
}
