package sqlitedb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// companions are the files SQLite keeps beside a database: its write-ahead
// log, the WAL's shared-memory index and a rollback journal.
var companions = []string{"-wal", "-shm", "-journal"}

// makePrivate makes the database file at path, when it is missing, readable
// and writable by its owner only, before SQLite first opens it. SQLite
// creates the WAL and shared-memory files with the mode of the database
// file, so they are private from their first creation too, whatever the
// process's umask. A file an earlier version left readable by others is
// made private when this process owns it; one it does not own is left to
// its owner, whose own start makes it private.
//
// An existing file is never opened here, only changed by its path: closing
// a descriptor of a file releases every POSIX lock the process holds on
// it, the locks of SQLite's own connections to it included.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		// Made now: no connection of this process has it open.
		if err := f.Close(); err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("open %s: %w", path, err)
	}
	for _, p := range append([]string{path}, companionsOf(path)...) {
		if err := tighten(p); err != nil {
			return fmt.Errorf("open %s: %w", p, err)
		}
	}
	return nil
}

// companionsOf are the files SQLite may keep beside the database at path.
func companionsOf(path string) []string {
	out := make([]string, len(companions))
	for i, suffix := range companions {
		out[i] = path + suffix
	}
	return out
}

// tighten takes away every permission of the group and others from a file
// this process owns, by its path; a missing file is left missing.
func tighten(path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 == 0 || !ownedByMe(st) {
		return nil
	}
	return os.Chmod(path, st.Mode().Perm()&^0o077)
}
