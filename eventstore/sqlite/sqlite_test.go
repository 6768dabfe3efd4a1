package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/storetest"
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
