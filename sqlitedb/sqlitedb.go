// Package sqlitedb opens SQLite databases with the settings every part of EHC
// Ledger relies on: WAL journal, synchronous=FULL, a busy timeout. The driver
// is chosen at build time (see docs/sqlite-driver.md); mattn/go-sqlite3 is the
// default.
package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
)

// Open opens the database file at path with at most maxConns connections and
// checks that it runs in WAL mode.
func Open(path string, maxConns int) (*sql.DB, error) {
	db, err := sql.Open(driverName, dsn(path))
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
