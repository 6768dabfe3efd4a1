//go:build unix

package sqlitedb_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/sqlitedb"
)

// withUmask runs the test under a umask that lets others read new files,
// as a default shell does, so that only the package's own care keeps them
// private.
func withUmask(t *testing.T, mask int) {
	t.Helper()
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// modeOf is the permission bits of the file at path.
func modeOf(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestADatabaseAndItsLogsArePrivateFromTheirFirstCreation(t *testing.T) {
	withUmask(t, 0o022)
	for _, tc := range []struct {
		name string
		open func(string, int) (*sql.DB, error)
	}{
		{"a durable database", sqlitedb.Open},
		{"a rebuildable database", sqlitedb.OpenRebuildable},
	} {
		t.Run(tc.name+" is private with its WAL and index", func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			db, err := tc.open(path, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)`); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{path, path + "-wal", path + "-shm"} {
				if m := modeOf(t, f); m != 0o600 {
					t.Errorf("%s has mode %v, want 0600", filepath.Base(f), m)
				}
			}
		})
	}
	t.Run("a database an older version left readable is made private with its WAL", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "old.db")
		db, err := sqlitedb.Open(path, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		// An empty WAL is one SQLite reads as holding nothing.
		if err := os.WriteFile(path+"-wal", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{path, path + "-wal"} {
			if err := os.Chmod(f, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		db, err = sqlitedb.Open(path, 1)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, f := range []string{path, path + "-wal"} {
			if m := modeOf(t, f); m != 0o600 {
				t.Errorf("%s has mode %v, want 0600", filepath.Base(f), m)
			}
		}
	})
}

func TestOneWriterHoldsADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	first, err := sqlitedb.LockExclusive("the store", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a second writer is refused naming the holder", func(t *testing.T) {
		_, err := sqlitedb.LockExclusive("the store", path)
		want := fmt.Sprintf("the store %s is in use by pid %d", path, os.Getpid())
		if !errors.Is(err, sqlitedb.ErrInUse) || domain.ErrorCode(err) != domain.Conflict || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want a conflict saying %q", err, want)
		}
	})
	t.Run("the lock file is private", func(t *testing.T) {
		if m := modeOf(t, sqlitedb.LockPath(path)); m != 0o600 {
			t.Fatalf("mode %v", m)
		}
	})
	t.Run("once released the database may be locked again", func(t *testing.T) {
		if err := first.Release(); err != nil {
			t.Fatal(err)
		}
		again, err := sqlitedb.LockExclusive("the store", path)
		if err != nil {
			t.Fatal(err)
		}
		again.Release()
	})
	t.Run("a lock file that is a symbolic link is not followed", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "precious")
		if err := os.WriteFile(target, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		db := filepath.Join(dir, "y.db")
		if err := os.Symlink(target, sqlitedb.LockPath(db)); err != nil {
			t.Fatal(err)
		}
		if l, err := sqlitedb.LockExclusive("the store", db); err == nil {
			l.Release()
			t.Fatal("locked through a symbolic link")
		}
		if b, _ := os.ReadFile(target); string(b) != "keep me" {
			t.Fatalf("the link's target now holds %q", b)
		}
	})
}
