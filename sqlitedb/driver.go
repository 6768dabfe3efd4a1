package sqlitedb

import (
	_ "github.com/mattn/go-sqlite3" // the driver docs/sqlite-driver.md chose
)

// DriverName names the SQLite driver compiled in, for the reports of
// ehcledger bench.
const DriverName = "mattn/go-sqlite3"

const driverName = "sqlite3"

func dsn(path, sync string) string {
	return "file:" + uriPath(path) + "?_journal_mode=WAL&_synchronous=" + sync + "&_busy_timeout=10000&_foreign_keys=on"
}
