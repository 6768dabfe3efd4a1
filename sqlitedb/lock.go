package sqlitedb

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/ehcledger/ehcledger/domain"
)

// ErrInUse says another process holds a database for writing; errors.Is
// finds it inside the *domain.Error that Lock returns.
var ErrInUse = errors.New("the database is in use by another process")

// LockPath is the lock file of the database at path: beside it, holding
// the process ID of its holder.
func LockPath(path string) string { return path + ".lock" }

// Lock is one process's exclusive hold on a database for writing. Every
// writer of a file takes it first, so that a writer which caches what it
// wrote (the event store's stream heads) is the file's only writer.
type Lock struct {
	f    *os.File
	path string
}

// inUse is the error for a database another process holds: it names that
// process when its ID can be read from the lock file; hint ends the message.
func inUse(what, path string, f *os.File, hint string) error {
	holder := "another process"
	if f != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n]))); err == nil && pid > 0 {
			holder = "pid " + strconv.Itoa(pid)
		}
	}
	return &domain.Error{Code: domain.Conflict, Err: ErrInUse,
		Message: fmt.Sprintf("%s %s is in use by %s, which writes to it (a running ehcledger serve holds its files until it stops): "+
			"stop it first, or work through its API%s", what, path, holder, hint)}
}

// writePID records this process as the holder, for the error others get.
func (l *Lock) writePID() error {
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	_, err := l.f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}
