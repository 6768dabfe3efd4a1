package sqlitedb_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ehcledger/ehcledger/sqlitedb"
)

func TestAPathWithURICharactersNamesItsOwnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run#1?x=%41.db")
	db, err := sqlitedb.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at %s: %v", path, err)
	}
}
