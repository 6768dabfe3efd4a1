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
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	err = tighten(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	for _, suffix := range companions {
		f, err := os.OpenFile(path+suffix, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open %s: %w", path+suffix, err)
		}
		err = tighten(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("open %s: %w", path+suffix, err)
		}
	}
	return nil
}

// tighten takes away every permission of the group and others from an open
// file this process owns.
func tighten(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 == 0 || !ownedByMe(st) {
		return nil
	}
	return f.Chmod(st.Mode().Perm() &^ 0o077)
}
