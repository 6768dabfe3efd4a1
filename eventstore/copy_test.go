package eventstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/esdb"
	"github.com/ehcledger/ehcledger/eventstore/esdb/fakeserver"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
	"github.com/ehcledger/ehcledger/eventstore/storetest"
)

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "e.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fill(t *testing.T, s eventstore.Store, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		stream := fmt.Sprintf("case-%d", i%7)
		if _, err := s.Append(context.Background(), stream, eventstore.Any, []eventstore.EventData{storetest.NewEvent(t, "e", fmt.Sprintf(`{"i":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCopyToEventStoreDBResumesAndVerifies(t *testing.T) {
	src := openSQLite(t)
	fill(t, src, 120)
	srv, err := fakeserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	dst, err := esdb.Open(srv.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	ctx := context.Background()

	// An interrupted first run: the target holds the first 50 events.
	partial := openSQLite(t)
	first, _ := src.ReadAll(ctx, 1, 50)
	for _, e := range first {
		if _, err := partial.Append(ctx, e.Stream, eventstore.Any, []eventstore.EventData{e.EventData}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := eventstore.Copy(ctx, partial, dst, nil); err != nil {
		t.Fatal(err)
	}
	res, err := eventstore.Copy(ctx, src, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 70 || res.Skipped != 50 {
		t.Fatalf("resumed copy %+v, want 70 copied and 50 skipped", res)
	}
	if err := eventstore.VerifyCopy(ctx, src, dst); err != nil {
		t.Fatal(err)
	}
	t.Run("a target that disagrees is reported", func(t *testing.T) {
		other := openSQLite(t)
		fill(t, other, 10)
		if err := eventstore.VerifyCopy(ctx, src, other); err == nil {
			t.Fatal("verification passed on a different store")
		}
		if _, err := eventstore.Copy(ctx, other, dst, nil); err == nil || !strings.Contains(err.Error(), "case-") {
			t.Fatalf("copying conflicting events into a filled target gave %v", err)
		}
	})
}
