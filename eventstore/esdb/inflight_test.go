//go:build !race

package esdb_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/esdb"
	"github.com/ehcledger/ehcledger/eventstore/esdb/fakeserver"
	"github.com/ehcledger/ehcledger/eventstore/storetest"
)

// This file is left out of -race builds: the client library closes its
// request channel while its own calls may be sending on it (that is how a
// blocked call is released, with a panic the adapter recovers), which the
// race detector reports although the runtime orders the two under the
// channel's lock. make test runs it without -race.

// TestCallsInFlightWhenTheClientIsReplacedSucceed: sixteen reads during an
// election that outlasts the client's discovery. The client library
// leaves calls blocked on its closed-down connection loop, and closing it
// to replace it makes them panic: the adapter must turn that into a retry
// on the new client, not crash the process.
func TestCallsInFlightWhenTheClientIsReplacedSucceed(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.StartTest(t)
	follower, err := srv.AddNode("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := esdb.Open("esdb://" + srv.Addr() + "," + follower + "?tls=false&maxDiscoverAttempts=3&discoveryInterval=20&retryFor=20s")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append(ctx, "case-inflight", eventstore.NoStream, []eventstore.EventData{storetest.NewEvent(t, "a", `{}`)}); err != nil {
		t.Fatal(err)
	}
	srv.Elect(-1)
	go func() {
		time.Sleep(3 * time.Second)
		srv.Elect(1)
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs, err := s.ReadStream(ctx, "case-inflight", 1)
			if err == nil && len(evs) != 1 {
				err = errors.New("read " + strconv.Itoa(len(evs)) + " events, want 1")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
