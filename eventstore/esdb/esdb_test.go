package esdb_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/esdb"
	"github.com/ehcledger/ehcledger/eventstore/esdb/fakeserver"
	"github.com/ehcledger/ehcledger/eventstore/storetest"
	"github.com/google/uuid"
)

var esdbCaps = storetest.Capabilities{DensePositions: false, GlobalIDs: false}

// TestConformance runs the store conformance suite through the real client
// library: against the in-process fake server always, and against a real
// KurrentDB when EHC_ESDB_URL names one.
func TestConformance(t *testing.T) {
	t.Run("esdb-fake", func(t *testing.T) {
		storetest.Run(t, esdbCaps, func(t *testing.T) eventstore.Store {
			srv, err := fakeserver.Start("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Stop)
			s, err := esdb.Open(srv.ConnectionString())
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
	t.Run("esdb-real", func(t *testing.T) {
		url := os.Getenv("EHC_ESDB_URL")
		if url == "" {
			t.Skip("EHC_ESDB_URL is not set: no real KurrentDB to test against")
		}
		// A real server keeps its data: the suite writes each case to streams
		// of their own and reads the log from where it stood before the case.
		storetest.Run(t, esdbCaps, func(t *testing.T) eventstore.Store {
			s, err := esdb.Open(url)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}

func TestDiscoverConnectionStringUsesGossip(t *testing.T) {
	srv, err := fakeserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	s, err := esdb.Open("esdb+discover://" + srv.Addr() + "?tls=false")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := storetest.NewEvent(t, "a", `{}`)
	if _, err := s.Append(context.Background(), "case-1", eventstore.NoStream, []eventstore.EventData{e}); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableServerIsAClearError(t *testing.T) {
	s, err := esdb.Open("esdb://127.0.0.1:1?tls=false&maxDiscoverAttempts=1&discoveryInterval=10&gossipTimeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id, _ := uuid.NewV7()
	_, err = s.Append(context.Background(), "case-1", eventstore.Any, []eventstore.EventData{{ID: id, Type: "a", Payload: []byte(`{}`)}})
	if err == nil || !strings.Contains(err.Error(), "could not be reached") {
		t.Fatalf("error %v", err)
	}
}

func TestBadConnectionStringNamesTheField(t *testing.T) {
	if _, err := esdb.Open("postgres://nowhere"); err == nil || !strings.Contains(err.Error(), "store") {
		t.Fatalf("error %v", err)
	}
}
