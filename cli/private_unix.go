//go:build unix

package cli

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// readPrivateFile reads a file that must be the caller's own: not a
// symbolic link (opened without following one), owned by this process's
// user, and readable by nobody else. The checks are made on the open file,
// so the file cannot be swapped between them and the read.
func readPrivateFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("is not a regular file")
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("may be read by others (mode %v): chmod 600 it", st.Mode().Perm())
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("belongs to user %d, not to this process's user %d", sys.Uid, os.Geteuid())
	}
	return io.ReadAll(f)
}
