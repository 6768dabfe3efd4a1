//go:build !unix

package sqlitedb

import "io/fs"

// ownedByMe says whether the file belongs to this process's user; off Unix
// access is governed by access control lists and a chmod changes only the
// read-only bit, so every file counts as this process's own.
func ownedByMe(fs.FileInfo) bool { return true }
