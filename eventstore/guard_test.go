package eventstore_test

import (
	"errors"
	"testing"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/storetest"
	"github.com/google/uuid"
)

// held is what a store holds for the guard: stored events by ID and the
// stream's version, counting how often the version was asked for.
type held struct {
	byID    map[uuid.UUID]eventstore.RecordedEvent
	version int64
	asked   int
}

func (h *held) stored(id uuid.UUID) (eventstore.RecordedEvent, bool) {
	e, ok := h.byID[id]
	return e, ok
}

func (h *held) current() (int64, error) {
	h.asked++
	return h.version, nil
}

func TestCheckAppendAppliesTheRulesInOrder(t *testing.T) {
	a, b, c := storetest.NewEvent(t, "a", `{"n":1}`), storetest.NewEvent(t, "b", `{"n":2}`), storetest.NewEvent(t, "c", `{}`)
	// The stream "s" holds a and b at versions 1 and 2.
	h := func() *held {
		return &held{version: 2, byID: map[uuid.UUID]eventstore.RecordedEvent{
			a.ID: {EventData: a, Stream: "s", Version: 1, Position: 10},
			b.ID: {EventData: b, Stream: "s", Version: 2, Position: 11},
		}}
	}
	changed := b
	changed.Payload = []byte(`{"n":3}`)
	for _, tc := range []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		events   []eventstore.EventData
		want     eventstore.AppendResult
		err      error // the sentinel, or nil
		asked    bool  // whether the stream's version was needed
	}{
		{"a retry with a stale expectation returns the first result", "s", eventstore.NoStream, []eventstore.EventData{a, b},
			eventstore.AppendResult{Version: 2, Position: 11, Duplicate: true}, nil, false},
		{"a retry of the first of two appends returns its own result", "s", eventstore.Exact(5), []eventstore.EventData{a},
			eventstore.AppendResult{Version: 1, Position: 10, Duplicate: true}, nil, false},
		{"an ID stored with other content is an ID conflict", "s", eventstore.Any, []eventstore.EventData{changed},
			eventstore.AppendResult{}, eventstore.ErrIDConflict, false},
		{"an ID stored in another stream is an ID conflict", "t", eventstore.Any, []eventstore.EventData{a},
			eventstore.AppendResult{}, eventstore.ErrIDConflict, false},
		{"some IDs stored is an ID conflict, not a retry", "s", eventstore.Exact(2), []eventstore.EventData{b, c},
			eventstore.AppendResult{}, eventstore.ErrIDConflict, false},
		{"a new event at the expected version may be written", "s", eventstore.Exact(2), []eventstore.EventData{c},
			eventstore.AppendResult{}, nil, true},
		{"a new event under any expectation may be written", "s", eventstore.Any, []eventstore.EventData{c},
			eventstore.AppendResult{}, nil, true},
		{"a new event at a stale version is a wrong version", "s", eventstore.Exact(1), []eventstore.EventData{c},
			eventstore.AppendResult{}, eventstore.ErrWrongVersion, true},
		{"a new event expecting no stream on an existing one is a wrong version", "s", eventstore.NoStream, []eventstore.EventData{c},
			eventstore.AppendResult{}, eventstore.ErrWrongVersion, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := h()
			got, err := eventstore.CheckAppend(tc.stream, tc.expected, tc.events, st.stored, st.current)
			if got != tc.want {
				t.Fatalf("result %+v, want %+v", got, tc.want)
			}
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.err != nil && (!errors.Is(err, tc.err) || domain.ErrorCode(err) != domain.Conflict):
				t.Fatalf("error %v (code %s), want a conflict that is %v", err, domain.ErrorCode(err), tc.err)
			}
			if (st.asked > 0) != tc.asked {
				t.Fatalf("the stream's version was asked for %d times", st.asked)
			}
		})
	}
}

func TestExpectedVersionIsMetOnlyByItsVersions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		expected eventstore.ExpectedVersion
		met      []int64
		unmet    []int64
	}{
		{"any is met by every version", eventstore.Any, []int64{0, 1, 7}, nil},
		{"no stream is met only by an empty stream", eventstore.NoStream, []int64{0}, []int64{1, 7}},
		{"exact is met only by its version", eventstore.Exact(7), []int64{7}, []int64{0, 6, 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range tc.met {
				if !tc.expected.MetBy(v) || eventstore.CheckExpected("s", tc.expected, v) != nil {
					t.Errorf("version %d does not meet it", v)
				}
			}
			for _, v := range tc.unmet {
				if err := eventstore.CheckExpected("s", tc.expected, v); tc.expected.MetBy(v) || !errors.Is(err, eventstore.ErrWrongVersion) {
					t.Errorf("version %d meets it (%v)", v, err)
				}
			}
		})
	}
}

func TestValidateAppendNamesTheFieldAtFault(t *testing.T) {
	a := storetest.NewEvent(t, "a", `{}`)
	noType := storetest.NewEvent(t, "", `{}`)
	for _, tc := range []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		events   []eventstore.EventData
		field    string
	}{
		{"a complete append is valid", "s", eventstore.Exact(3), []eventstore.EventData{a}, ""},
		{"no stream is refused", "", eventstore.Any, []eventstore.EventData{a}, "stream"},
		{"an unknown expectation is refused", "s", eventstore.ExpectedVersion(-5), []eventstore.EventData{a}, "expected"},
		{"no events are refused", "s", eventstore.Any, nil, "events"},
		{"an event without a type is refused", "s", eventstore.Any, []eventstore.EventData{a, noType}, "events[1]"},
		{"an ID twice is refused", "s", eventstore.Any, []eventstore.EventData{a, a}, "events[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := eventstore.ValidateAppend(tc.stream, tc.expected, tc.events)
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.Invalid || de.Field != tc.field {
				t.Fatalf("error %v, want invalid naming %s", err, tc.field)
			}
		})
	}
}
