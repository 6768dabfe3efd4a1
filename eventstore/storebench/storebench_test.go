package storebench_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ehcledger/ehcledger/eventstore/storebench"
	"github.com/ehcledger/ehcledger/sqlitedb"
)

// TestTheNaiveBaselineStoresEveryEventOnceInOrder: the baseline the store
// is compared with does the same work: every event stored, each stream's
// versions 1, 2, 3... without a gap.
func TestTheNaiveBaselineStoresEveryEventOnceInOrder(t *testing.T) {
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "naive.db"), 8)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r, err := storebench.NaiveSQLite(context.Background(), db, 8, 400)
	if err != nil || r.Events != 400 {
		t.Fatalf("%+v %v", r, err)
	}
	var rows, streams, gaps int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT stream), (SELECT count(*) FROM (SELECT stream FROM naive_events
		GROUP BY stream HAVING max(version) != count(*)))  FROM naive_events`).Scan(&rows, &streams, &gaps); err != nil {
		t.Fatal(err)
	}
	if rows != 400 || streams != 8 || gaps != 0 {
		t.Fatalf("%d rows in %d streams, %d with gaps", rows, streams, gaps)
	}
}
