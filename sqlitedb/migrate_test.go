package sqlitedb_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/sqlitedb"
)

var (
	baseline = sqlitedb.Migration{Baseline: true, SQL: `CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`}
	addColor = sqlitedb.Migration{SQL: `ALTER TABLE things ADD COLUMN color TEXT NOT NULL DEFAULT 'grey'`}
	migrated = time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
)

// openTemp opens a new database file in a temporary directory.
func openTemp(t *testing.T) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "things.db")
	db, err := sqlitedb.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// version reads db's schema version or fails the test.
func version(t *testing.T, db *sql.DB) int {
	t.Helper()
	v, err := sqlitedb.Version(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mustExec runs q or fails the test.
func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	two := sqlitedb.Schema{What: "the things", Migrations: []sqlitedb.Migration{baseline, addColor}}
	t.Run("a new database is created at the latest version, with no copy", func(t *testing.T) {
		db, path := openTemp(t)
		if from, err := sqlitedb.Migrate(ctx, db, two, migrated); err != nil || from != 0 {
			t.Fatalf("Migrate: from %d, %v", from, err)
		}
		if v := version(t, db); v != 2 {
			t.Fatalf("version %d, want 2", v)
		}
		mustExec(t, db, `INSERT INTO things (name, color) VALUES ('a', 'red')`)
		if copies, _ := filepath.Glob(path + ".v*.bak"); len(copies) != 0 {
			t.Fatalf("copies of a new database: %v", copies)
		}
	})
	t.Run("a database from before versions is only stamped by the baseline", func(t *testing.T) {
		db, path := openTemp(t)
		mustExec(t, db, baseline.SQL)
		mustExec(t, db, `INSERT INTO things (name) VALUES ('kept')`)
		one := sqlitedb.Schema{What: "the things", Migrations: []sqlitedb.Migration{baseline}}
		if err := sqlitedb.CheckSchema(ctx, db, one); err != nil {
			t.Fatalf("a reader refuses a database that lacks only the baseline: %v", err)
		}
		if _, err := sqlitedb.Migrate(ctx, db, one, migrated); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM things WHERE name = 'kept'`).Scan(&n); err != nil || n != 1 || version(t, db) != 1 {
			t.Fatalf("after the baseline: %d rows, %v, version %d", n, err, version(t, db))
		}
		if copies, _ := filepath.Glob(path + ".v*.bak"); len(copies) != 0 {
			t.Fatalf("a copy was taken for the baseline alone: %v", copies)
		}
	})
	t.Run("an upgrade copies the database first and keeps its rows", func(t *testing.T) {
		db, path := openTemp(t)
		if _, err := sqlitedb.Migrate(ctx, db, sqlitedb.Schema{What: "the things", Migrations: two.Migrations[:1]}, migrated); err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, `INSERT INTO things (name) VALUES ('old')`)
		if err := sqlitedb.CheckSchema(ctx, db, two); err == nil {
			t.Fatal("a reader took a database older than it reads")
		}
		if from, err := sqlitedb.Migrate(ctx, db, two, migrated); err != nil || from != 1 {
			t.Fatalf("Migrate: from %d, %v", from, err)
		}
		var color string
		if err := db.QueryRow(`SELECT color FROM things WHERE name = 'old'`).Scan(&color); err != nil || color != "grey" {
			t.Fatalf("the old row after the upgrade: %q, %v", color, err)
		}
		backup := sqlitedb.BackupPath(path, 1, 2, migrated)
		if st, err := os.Stat(backup); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("the copy: %v, %v; want mode 0600", st.Mode(), err)
		}
		old, err := sqlitedb.Open(backup, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		if v := version(t, old); v != 1 {
			t.Fatalf("the copy has version %d, want 1", v)
		}
		if _, err := old.Exec(`SELECT color FROM things`); err == nil {
			t.Fatal("the copy was taken after the upgrade, not before")
		}
	})
	t.Run("a schema that drops its copy keeps none once upgraded", func(t *testing.T) {
		db, path := openTemp(t)
		if _, err := sqlitedb.Migrate(ctx, db, sqlitedb.Schema{What: "the keys", Migrations: two.Migrations[:1]}, migrated); err != nil {
			t.Fatal(err)
		}
		if _, err := sqlitedb.Migrate(ctx, db, sqlitedb.Schema{What: "the keys", Migrations: two.Migrations, DropCopy: true}, migrated); err != nil {
			t.Fatal(err)
		}
		if copies, _ := filepath.Glob(path + ".v*.bak"); len(copies) != 0 {
			t.Fatalf("copies kept: %v", copies)
		}
	})
	t.Run("a copy already there is left alone, and nothing is changed", func(t *testing.T) {
		db, path := openTemp(t)
		if _, err := sqlitedb.Migrate(ctx, db, sqlitedb.Schema{What: "the things", Migrations: two.Migrations[:1]}, migrated); err != nil {
			t.Fatal(err)
		}
		backup := sqlitedb.BackupPath(path, 1, 2, migrated)
		if err := os.WriteFile(backup, []byte("an earlier copy"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := sqlitedb.Migrate(ctx, db, two, migrated); err == nil || !strings.Contains(err.Error(), "nothing was changed") {
			t.Fatalf("Migrate over an existing copy: %v", err)
		}
		if b, _ := os.ReadFile(backup); string(b) != "an earlier copy" || version(t, db) != 1 {
			t.Fatalf("the earlier copy holds %q; version %d", b, version(t, db))
		}
	})
	t.Run("a failed upgrade changes nothing", func(t *testing.T) {
		db, _ := openTemp(t)
		if _, err := sqlitedb.Migrate(ctx, db, sqlitedb.Schema{What: "the things", Migrations: two.Migrations[:1]}, migrated); err != nil {
			t.Fatal(err)
		}
		broken := sqlitedb.Schema{What: "the things", Migrations: []sqlitedb.Migration{baseline, addColor, {SQL: `ALTER TABLE nothing ADD COLUMN x`}}}
		_, err := sqlitedb.Migrate(ctx, db, broken, migrated)
		if err == nil || !strings.Contains(err.Error(), "nothing was changed") {
			t.Fatalf("Migrate with a failing step: %v", err)
		}
		if v := version(t, db); v != 1 {
			t.Fatalf("version %d after a failed upgrade, want 1", v)
		}
		if _, err := db.Exec(`SELECT color FROM things`); err == nil {
			t.Fatal("the step before the failing one was kept")
		}
	})
	t.Run("a newer database is refused by writers and readers, unchanged", func(t *testing.T) {
		db, _ := openTemp(t)
		if _, err := sqlitedb.Migrate(ctx, db, two, migrated); err != nil {
			t.Fatal(err)
		}
		one := sqlitedb.Schema{What: "the things", Migrations: two.Migrations[:1]}
		_, err := sqlitedb.Migrate(ctx, db, one, migrated)
		if !errors.Is(err, sqlitedb.ErrNewerSchema) || !strings.Contains(err.Error(), "newer release") {
			t.Fatalf("Migrate of a newer database: %v", err)
		}
		if err := sqlitedb.CheckSchema(ctx, db, one); !errors.Is(err, sqlitedb.ErrNewerSchema) {
			t.Fatalf("CheckSchema of a newer database: %v", err)
		}
		if v := version(t, db); v != 2 {
			t.Fatalf("version %d, want 2", v)
		}
	})
}
