package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ehcledger/ehcledger/domain"
)

// ErrNewerSchema says a database was written by a newer ehcledger than this
// one: its tables may mean what this build does not know. errors.Is finds it
// in the *domain.Error that Migrate and CheckSchema return.
var ErrNewerSchema = errors.New("the database was written by a newer ehcledger")

// Migration is one change of a database's tables, run in the transaction
// that records the database's new version.
type Migration struct {
	// SQL is the change; it may hold several statements.
	SQL string
	// Baseline marks the first version, which creates what the release of
	// 2026-12-03 had created, before databases had versions; its
	// statements are all "IF NOT EXISTS", so that on such a database it
	// changes nothing but the version recorded.
	Baseline bool
}

// Schema is the history of one kind of database's tables: version N is the
// tables after Migrations[N-1]. The version is kept in the file's header
// (PRAGMA user_version), so a copy of the file carries it.
type Schema struct {
	// What names the database in errors: "the event store".
	What       string
	Migrations []Migration
	// DropCopy removes the copy taken before an upgrade once the upgrade
	// has committed: a key store's copy would keep the keys of cases
	// erased afterwards, which erasure must destroy everywhere.
	DropCopy bool
}

// Latest is the version this build writes.
func (s Schema) Latest() int { return len(s.Migrations) }

// Version reads the schema version recorded in db.
func Version(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}

// newer is the error for a database of a version this build does not know.
func (s Schema) newer(path string, v int) error {
	return &domain.Error{Code: domain.Conflict, Err: ErrNewerSchema,
		Message: fmt.Sprintf("%s %s has schema version %d, and this ehcledger knows versions up to %d: "+
			"it was written by a newer release; run that release or a later one (a downgrade would misread it)", s.What, path, v, s.Latest())}
}

// FileOf is the path of db's main database file, for messages and copies.
func FileOf(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, `PRAGMA database_list`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var seq int
		var name, file string
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return "", err
		}
		if name == "main" {
			return file, nil
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return "", errors.New("sqlitedb: the connection has no main database")
}

// CheckSchema is what a reader that changes nothing does on opening db: it
// refuses a database newer than this build, and one older than it unless
// the only versions it lacks are the baseline (which changed nothing).
func CheckSchema(ctx context.Context, db *sql.DB, s Schema) error {
	path, err := FileOf(ctx, db)
	if err != nil {
		return err
	}
	v, err := Version(ctx, db)
	if err != nil {
		return fmt.Errorf("%s %s: reading its schema version: %w", s.What, path, err)
	}
	switch {
	case v > s.Latest():
		return s.newer(path, v)
	case v < s.Latest() && !(v == 0 && s.Latest() == 1 && s.Migrations[0].Baseline):
		return &domain.Error{Code: domain.Conflict, Message: fmt.Sprintf("%s %s has schema version %d and this ehcledger reads version %d: "+
			"open it once with a command that writes (such as ehcledger serve or rebuild), which upgrades it, then read it", s.What, path, v, s.Latest())}
	}
	return nil
}

// Migrate brings db to the latest
// version of s, in one transaction: either every change is made and the
// version recorded, or none is. A database newer than s is refused (a
// *domain.Error wrapping ErrNewerSchema), having changed nothing. Before
// changing a database that holds tables, unless the change is only the
// baseline, it copies the file to BackupPath(path, from, to), and fails
// when it cannot: an upgrade that goes wrong must have a way back.
//
// The caller must be the database's only writer (hold its Lock).
func Migrate(ctx context.Context, db *sql.DB, s Schema, now time.Time) (from int, err error) {
	path, err := FileOf(ctx, db)
	if err != nil {
		return 0, err
	}
	from, err = Version(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("%s %s: reading its schema version: %w", s.What, path, err)
	}
	if from > s.Latest() {
		return from, s.newer(path, from)
	}
	if from == s.Latest() {
		return from, nil
	}
	onlyBaseline := from == 0 && s.Latest() == 1 && s.Migrations[0].Baseline
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table'`).Scan(&tables); err != nil {
		return from, fmt.Errorf("%s %s: %w", s.What, path, err)
	}
	var copied string
	if tables > 0 && !onlyBaseline {
		copied = BackupPath(path, from, s.Latest(), now)
		if err := CopyInto(ctx, db, copied); err != nil {
			return from, fmt.Errorf("%s %s: copying it before upgrading it from schema version %d to %d: %w "+
				"(nothing was changed)", s.What, path, from, s.Latest(), err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return from, err
	}
	defer tx.Rollback()
	for v := from + 1; v <= s.Latest(); v++ {
		if _, err := tx.ExecContext(ctx, s.Migrations[v-1].SQL); err != nil {
			return from, fmt.Errorf("%s %s: upgrading to schema version %d: %w (nothing was changed)", s.What, path, v, err)
		}
	}
	// The header's version is written in the transaction, with the tables.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, s.Latest())); err != nil {
		return from, err
	}
	if err := tx.Commit(); err != nil {
		return from, fmt.Errorf("%s %s: upgrading to schema version %d: %w (nothing was changed)", s.What, path, s.Latest(), err)
	}
	if copied != "" && s.DropCopy {
		os.Remove(copied)
	}
	return from, nil
}

// BackupPath is where Migrate copies the database at path before upgrading
// it from one version to another: beside it, named by both versions and the
// time, so that no upgrade's copy replaces another's.
func BackupPath(path string, from, to int, at time.Time) string {
	return fmt.Sprintf("%s.v%d-before-v%d-%s.bak", path, from, to, at.UTC().Format("20060102T150405Z"))
}
