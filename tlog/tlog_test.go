package tlog_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
	"github.com/ehcledger/ehcledger/tlog"
	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
)

// tampered is a store as an insider with write access leaves it: reads
// see what edit makes of each event, nil dropping it.
type tampered struct {
	eventstore.Store
	edit func(e eventstore.RecordedEvent) *eventstore.RecordedEvent
}

func (t tampered) ReadAll(ctx context.Context, from int64, limit int) ([]eventstore.RecordedEvent, error) {
	evs, err := t.Store.ReadAll(ctx, from, limit)
	var out []eventstore.RecordedEvent
	for _, e := range evs {
		if x := t.edit(e); x != nil {
			out = append(out, *x)
		}
	}
	return out, err
}

// logOf is a store of n events over three streams.
func logOf(t *testing.T, n int) eventstore.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "log.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	appendEvents(t, s, n)
	return s
}

// appendEvents appends n events over three streams.
func appendEvents(t *testing.T, s eventstore.Store, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		e := eventstore.EventData{ID: uuid.New(), Type: "case_assigned", SchemaVersion: 1, OccurredOn: "2025-01-06",
			RecordedAt: time.Date(2025, 1, 6, 9, 0, i, 0, time.UTC), Actor: "t", LA: "E09000001",
			Payload: []byte(`{"caseworker":"cw-` + string(rune('a'+i%26)) + `","team":"t"}`)}
		if _, err := s.Append(context.Background(), "case-c"+string(rune('1'+i%3)), eventstore.Any, []eventstore.EventData{e}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestACheckpointProvesTheLogWasOnlyAppendedTo(t *testing.T) {
	ctx := context.Background()
	skey, vkey, err := note.GenerateKey(rand.Reader, "ehcledger.test/log")
	if err != nil {
		t.Fatal(err)
	}
	s := logOf(t, 40)
	tree, err := tlog.Build(ctx, s, 0)
	if err != nil || tree.Size != 40 || len(tree.Gaps) != 0 {
		t.Fatalf("%+v %v", tree, err)
	}
	signed, err := tlog.Sign(tlog.Checkpoint{Origin: "ehcledger.test/log", Size: tree.Size, Root: tree.Root}, skey)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := tlog.Open(signed, vkey)
	if err != nil || cp.Size != 40 {
		t.Fatalf("%+v %v", cp, err)
	}
	t.Run("the log as signed verifies", func(t *testing.T) {
		if _, err := tlog.Verify(ctx, s, cp); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an event edited, its stream's chain recomputed, is found", func(t *testing.T) {
		insider := tampered{Store: s, edit: func(e eventstore.RecordedEvent) *eventstore.RecordedEvent {
			if e.Position == 17 {
				e.Payload = []byte(`{"caseworker":"someone-else","team":"t"}`)
				e.Hash = eventstore.Hash(e.PrevHash, e.Stream, e.Version, e.EventData)
			}
			return &e
		}}
		if _, err := tlog.Verify(ctx, insider, cp); err == nil || !strings.Contains(err.Error(), "do not hash to the root") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("the last events deleted are found", func(t *testing.T) {
		short := tampered{Store: s, edit: func(e eventstore.RecordedEvent) *eventstore.RecordedEvent {
			if e.Position > 38 {
				return nil
			}
			return &e
		}}
		if _, err := tlog.Verify(ctx, short, cp); err == nil || !strings.Contains(err.Error(), "fewer than the 40") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("an event deleted in the middle is a gap, and breaks the root", func(t *testing.T) {
		holed := tampered{Store: s, edit: func(e eventstore.RecordedEvent) *eventstore.RecordedEvent {
			if e.Position == 5 {
				return nil
			}
			return &e
		}}
		tr, err := tlog.Verify(ctx, holed, cp)
		if err == nil || len(tr.Gaps) != 1 || tr.Gaps[0].Want != 5 {
			t.Fatalf("%+v %v", tr.Gaps, err)
		}
	})
	t.Run("the log grown since verifies: appending is all it may do", func(t *testing.T) {
		e := eventstore.EventData{ID: uuid.New(), Type: "case_assigned", SchemaVersion: 1, OccurredOn: "2025-01-07",
			RecordedAt: time.Date(2025, 1, 7, 9, 0, 0, 0, time.UTC), Actor: "t", LA: "E09000001", Payload: []byte(`{"caseworker":"cw-z","team":"t"}`)}
		if _, err := s.Append(ctx, "case-c9", eventstore.NoStream, []eventstore.EventData{e}); err != nil {
			t.Fatal(err)
		}
		tr, err := tlog.Verify(ctx, s, cp)
		if err != nil || tr.Head != 41 || tr.Size != 40 {
			t.Fatalf("%+v %v", tr, err)
		}
	})
	t.Run("a checkpoint altered or signed by another key is refused", func(t *testing.T) {
		forged := strings.Replace(string(signed), "\n40\n", "\n41\n", 1)
		if _, err := tlog.Open([]byte(forged), vkey); err != tlog.ErrBadSignature {
			t.Fatalf("%v", err)
		}
		_, otherPub, _ := note.GenerateKey(rand.Reader, "ehcledger.test/log")
		if _, err := tlog.Open(signed, otherPub); err != tlog.ErrBadSignature {
			t.Fatalf("%v", err)
		}
	})
}

// GaplessPositions passes the SQLite store's promise through.
func (t tampered) GaplessPositions() bool { return true }
