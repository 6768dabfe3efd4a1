package app_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore/esdb"
	"github.com/ehcledger/ehcledger/eventstore/esdb/fakeserver"
)

// TestReadsOfDifferentCasesNeverContend: sixteen readers of an LA's cases
// at once, on the KurrentDB stand-in, each read recorded before it is
// served. With one access stream per LA every append raced the others
// (and gave up after ten races); with one per case none does.
func TestReadsOfDifferentCasesNeverContend(t *testing.T) {
	srv := fakeserver.StartTest(t)
	s, err := esdb.Open(srv.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	l := &app.Ledger{Store: s, Now: now}
	const readers, reads = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, readers*reads)
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range reads {
				c := fmt.Sprintf("E09000001-%02d-%02d", r, i)
				errs <- l.RecordAccess(context.Background(), "E09000001", c, "GET /v1/cases/:id", "caseworker", "cw-1")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.WrongExpectedVersions(); n != 0 {
		t.Fatalf("%d appends raced for a stream", n)
	}
	all, err := s.ReadAll(context.Background(), 1, 1000)
	if err != nil || len(all) != readers*reads {
		t.Fatalf("%d reads recorded of %d: %v", len(all), readers*reads, err)
	}
	for _, e := range all {
		if e.Type != domain.TypeCaseAccessed || e.Stream[:len("access-E09000001/case/")] != "access-E09000001/case/" {
			t.Fatalf("%s in %s", e.Type, e.Stream)
		}
	}
}
