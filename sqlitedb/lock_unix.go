//go:build unix

package sqlitedb

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// LockExclusive takes the write lock of the database at path (what names
// it in errors: "the event store"), or fails at once with a *domain.Error
// wrapping ErrInUse that names the process holding it. The lock is an
// flock(2) on LockPath(path): the kernel releases it when its holder exits,
// however it exits, so a killed server leaves no stale lock behind. The lock
// file is never followed through a symbolic link.
func LockExclusive(what, path string) (*Lock, error) {
	lp := LockPath(path)
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lp, err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("lock %s: not a regular file", lp)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		defer f.Close()
		return nil, inUse(what, path, f, "")
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", lp, err)
	}
	l := &Lock{f: f, path: lp}
	if err := l.writePID(); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", lp, err)
	}
	return l, nil
}

// Release gives the lock up. Its file stays, to be locked again.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
