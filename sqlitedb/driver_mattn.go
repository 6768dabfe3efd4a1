//go:build !sqlite_modernc && !sqlite_ncruces

package sqlitedb

import (
	_ "github.com/mattn/go-sqlite3" // the chosen driver: see docs/sqlite-driver.md
)

// DriverName names the SQLite driver compiled in.
const DriverName = "mattn/go-sqlite3"

const driverName = "sqlite3"

func dsn(path, sync string) string {
	return "file:" + uriPath(path) + "?_journal_mode=WAL&_synchronous=" + sync + "&_busy_timeout=10000&_foreign_keys=on"
}
