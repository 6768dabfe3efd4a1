//go:build unix

package sqlitedb

import (
	"io/fs"
	"os"
	"syscall"
)

// ownedByMe says whether the file belongs to this process's effective user.
func ownedByMe(st fs.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Geteuid()
}
