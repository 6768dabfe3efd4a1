// Package sqlitedb opens SQLite databases with the settings every part of EHC
// Ledger relies on: WAL journal, synchronous=FULL, a busy timeout, and files
// readable by their owner only from their first creation. It also holds the
// lock a database's writer takes (LockExclusive). The driver is
// mattn/go-sqlite3, chosen by measurement (docs/sqlite-driver.md).
package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Open opens the database file at path with at most maxConns connections,
// synchronous=FULL (an acknowledged commit survives a power cut), and checks
// that it runs in WAL mode. A missing file is made with mode 0600, and so
// are its WAL and shared-memory files.
func Open(path string, maxConns int) (*sql.DB, error) { return open(path, maxConns, "FULL") }

// OpenRebuildable opens a database whose contents can always be rebuilt from
// the event store (the read models) with synchronous=NORMAL: in WAL mode a
// power cut may lose the last commits but never corrupts the file, and the
// lost commits are replayed from the checkpoint, which is in the same
// transactions.
func OpenRebuildable(path string, maxConns int) (*sql.DB, error) {
	return open(path, maxConns, "NORMAL")
}

func open(path string, maxConns int, sync string) (*sql.DB, error) {
	if err := makePrivate(path); err != nil {
		return nil, err
	}
	db, err := sql.Open(driverName, dsn(path, sync))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns)
	var mode string
	if err := db.QueryRowContext(context.Background(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if mode != "wal" {
		db.Close()
		return nil, fmt.Errorf("open %s: journal mode is %q, want wal", path, mode)
	}
	return db, nil
}

// uriPath escapes the characters a file: URI gives a meaning to, so that a
// path holding '?', '#' or '%' names the file it says.
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
}
