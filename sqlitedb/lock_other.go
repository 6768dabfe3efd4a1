//go:build !unix

package sqlitedb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// LockExclusive takes the write lock of the database at path (what names
// it in errors), or fails at once with a *domain.Error wrapping ErrInUse
// that names the process holding it. Off Unix there is no flock(2): the lock
// is the lock file's existence, made with O_EXCL and removed on Release. A
// process that dies holding it leaves it behind; the error names the file
// to remove once no such process runs.
func LockExclusive(what, path string) (*Lock, error) {
	lp := LockPath(path)
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		held, _ := os.Open(lp)
		if held != nil {
			defer held.Close()
		}
		return nil, inUse(what, path, held, "; if no such process runs, remove "+lp)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lp, err)
	}
	l := &Lock{f: f, path: lp}
	if err := l.writePID(); err != nil {
		f.Close()
		os.Remove(lp)
		return nil, fmt.Errorf("lock %s: %w", lp, err)
	}
	return l, nil
}

// Release gives the lock up by removing its file.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if rerr := os.Remove(l.path); err == nil {
		err = rerr
	}
	return err
}
