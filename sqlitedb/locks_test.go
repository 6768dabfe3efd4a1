//go:build unix

package sqlitedb_test

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/sqlitedb"
	_ "github.com/mattn/go-sqlite3" // the child writer opens the file without this package
)

// writerEnv names the database a child process of this test binary tries
// to write to, at once or not at all.
const writerEnv = "SQLITEDB_TEST_WRITE_TO"

// TestMain lets the test binary be the other process of
// TestOpeningADatabaseAgainKeepsItsConnectionsLocks.
func TestMain(m *testing.M) {
	if path := os.Getenv(writerEnv); path != "" {
		db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=0")
		if err == nil {
			_, err = db.Exec(`BEGIN IMMEDIATE`)
		}
		if err != nil {
			os.Stdout.WriteString("refused: " + err.Error())
			os.Exit(0)
		}
		os.Stdout.WriteString("wrote")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestOpeningADatabaseAgainKeepsItsConnectionsLocks holds a write
// transaction open, opens the same file again in this process (as the event
// store opens its writer, then its readers), and has another process try
// to write: SQLite's locks are POSIX locks, which a process loses on a
// file when it closes any descriptor of it, so an Open that opened and
// closed the file or its WAL index would let the other process in.
func TestOpeningADatabaseAgainKeepsItsConnectionsLocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	first, err := sqlitedb.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := first.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	tx, err := first.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	second, err := sqlitedb.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.Ping(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), writerEnv+"="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "refused: ") || !strings.Contains(string(out), "locked") {
		t.Fatalf("another process could write while a transaction was open: %s", out)
	}
}
