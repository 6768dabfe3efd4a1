package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/storetest"
	"github.com/ehcledger/ehcledger/sqlitedb"
)

func TestConformance(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		storetest.Run(t, storetest.Capabilities{DensePositions: true, GlobalIDs: true}, func(t *testing.T) eventstore.Store {
			s, err := Open(filepath.Join(t.TempDir(), "events.db"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}

func TestReopenKeepsEventsAndHead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := storetest.NewEvent(t, "a", `{}`)
	if _, err := s.Append(context.Background(), "case-1", eventstore.NoStream, []eventstore.EventData{e}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if h, _ := s.Head(context.Background()); h != 1 {
		t.Fatalf("head after reopen = %d, want 1", h)
	}
	if _, err := s.Append(context.Background(), "case-1", eventstore.NoStream, []eventstore.EventData{storetest.NewEvent(t, "b", `{}`)}); err == nil {
		t.Fatal("NoStream append to an existing stream succeeded after reopen")
	}
}

func TestStoredEventsCannotBeRewritten(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "events.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append(context.Background(), "case-1", eventstore.NoStream, []eventstore.EventData{storetest.NewEvent(t, "a", `{}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.read.Exec(`UPDATE events SET payload = '{"x":1}'`); err == nil {
		t.Fatal("UPDATE of a stored event succeeded")
	}
	if _, err := s.read.Exec(`DELETE FROM events`); err == nil {
		t.Fatal("DELETE of a stored event succeeded")
	}
}

// foreignAppend writes the next event of a stream straight into the file,
// as a writer that ignores the store's lock (the sqlite3 shell) would, with
// its hash chained like the store's own.
func foreignAppend(t *testing.T, path, stream string) {
	t.Helper()
	conn, err := sqlitedb.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var version int64
	var prev string
	if err := conn.QueryRow(`SELECT version, hash FROM events WHERE stream = ? ORDER BY version DESC LIMIT 1`, stream).Scan(&version, &prev); err != nil {
		t.Fatal(err)
	}
	e := storetest.NewEvent(t, "foreign", `{}`)
	hash := eventstore.Hash(prev, stream, version+1, e)
	if _, err := conn.Exec(`INSERT INTO events (event_id, stream, version, type, schema_version, occurred_on, recorded_at, actor, la,
		correlation_id, causation_id, reason, payload, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		e.ID.String(), stream, version+1, e.Type, e.SchemaVersion, e.OccurredOn, e.RecordedAt.UTC().Format(time.RFC3339Nano),
		e.Actor, e.LA, e.CorrelationID, e.CausationID, e.Reason, e.Payload, prev, hash); err != nil {
		t.Fatal(err)
	}
}

func TestAnAppendBehindTheWritersBackDoesNotStopItsAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Append(ctx, "case-1", eventstore.NoStream, []eventstore.EventData{storetest.NewEvent(t, "a", `{}`)}); err != nil {
		t.Fatal(err)
	}
	foreignAppend(t, path, "case-1")
	t.Run("an append at the version the writer last wrote is a wrong version", func(t *testing.T) {
		_, err := s.Append(ctx, "case-1", eventstore.Exact(1), []eventstore.EventData{storetest.NewEvent(t, "b", `{}`)})
		if !errors.Is(err, eventstore.ErrWrongVersion) {
			t.Fatalf("got %v, want a wrong version", err)
		}
	})
	t.Run("an append at any version follows the foreign event", func(t *testing.T) {
		res, err := s.Append(ctx, "case-1", eventstore.Any, []eventstore.EventData{storetest.NewEvent(t, "c", `{}`)})
		if err != nil || res.Version != 3 {
			t.Fatalf("got version %d, %v; want 3", res.Version, err)
		}
		rep, err := eventstore.VerifyAll(ctx, s)
		if err != nil || len(rep.Problems) > 0 {
			t.Fatalf("the chain does not verify: %v %v", rep.Problems, err)
		}
	})
}

func TestOneWriterAtATimeAndReadersBesideIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Append(ctx, "case-1", eventstore.NoStream, []eventstore.EventData{storetest.NewEvent(t, "a", `{}`)}); err != nil {
		t.Fatal(err)
	}
	t.Run("a second writer is refused naming this process", func(t *testing.T) {
		_, err := Open(path, Options{})
		if !errors.Is(err, sqlitedb.ErrInUse) || !strings.Contains(err.Error(), fmt.Sprintf("in use by pid %d", os.Getpid())) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a reader reads what the writer wrote and appends nothing", func(t *testing.T) {
		r, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := s.Append(ctx, "case-1", eventstore.Any, []eventstore.EventData{storetest.NewEvent(t, "b", `{}`)}); err != nil {
			t.Fatal(err)
		}
		evs, err := r.ReadStream(ctx, "case-1", 1)
		if err != nil || len(evs) != 2 {
			t.Fatalf("read %d events, %v", len(evs), err)
		}
		if h, err := r.Head(ctx); err != nil || h != 2 {
			t.Fatalf("head %d, %v", h, err)
		}
		if _, err := r.Append(ctx, "case-2", eventstore.Any, []eventstore.EventData{storetest.NewEvent(t, "c", `{}`)}); err == nil {
			t.Fatal("a read-only store appended")
		}
	})
	t.Run("a reader of a file that is not there makes none", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing.db")
		if r, err := Open(missing, Options{ReadOnly: true}); err == nil {
			r.Close()
			t.Fatal("opened a store that is not there")
		}
		if _, err := os.Stat(missing); err == nil {
			t.Fatal("the reader made the file")
		}
	})
	t.Run("once the writer closes another may write", func(t *testing.T) {
		s.Close()
		again, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		again.Close()
	})
}

func TestABatchReadIntoAReusedSliceIsTheSameAsANewOne(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "events.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 30; i++ {
		e := storetest.NewEvent(t, fmt.Sprintf("t%d", i), fmt.Sprintf(`{"n":%d}`, i))
		if _, err := s.Append(ctx, fmt.Sprintf("case-%d", i%4), eventstore.Any, []eventstore.EventData{e}); err != nil {
			t.Fatal(err)
		}
	}
	var buf []eventstore.RecordedEvent
	for from := int64(1); from <= 30; from += 7 {
		want, err := s.ReadAll(ctx, from, 7)
		if err != nil {
			t.Fatal(err)
		}
		prev := buf
		if buf, err = s.ReadAllInto(ctx, buf[:0], from, 7); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(buf) != fmt.Sprint(want) {
			t.Fatalf("from %d: into a reused slice %v, into a new one %v", from, buf, want)
		}
		if cap(prev) >= 7 && &prev[:1][0] != &buf[:1][0] {
			t.Fatalf("from %d: the slice given back was not reused", from)
		}
	}
}
