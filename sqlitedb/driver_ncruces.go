//go:build sqlite_ncruces

package sqlitedb

import (
	_ "github.com/ncruces/go-sqlite3/driver" // measured alternative: see docs/sqlite-driver.md
	_ "github.com/ncruces/go-sqlite3/embed"
)

// DriverName names the SQLite driver compiled in.
const DriverName = "ncruces/go-sqlite3"

const driverName = "sqlite3"

func dsn(path, sync string) string {
	return "file:" + uriPath(path) + "?_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")&_pragma=busy_timeout(10000)"
}
