//go:build sqlite_modernc

package sqlitedb

import (
	_ "modernc.org/sqlite" // measured alternative: see docs/sqlite-driver.md
)

// DriverName names the SQLite driver compiled in.
const DriverName = "modernc.org/sqlite"

const driverName = "sqlite"

func dsn(path, sync string) string {
	return "file:" + uriPath(path) + "?_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync + ")&_pragma=busy_timeout(10000)"
}
