package cli

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/esdb"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
)

// StoreSpec names an event store: the embedded SQLite file, or a
// KurrentDB/EventStoreDB connection. Exactly one of Path and Connection is
// set. ParseStoreSpec is the only way the command line reads one.
type StoreSpec struct {
	// Path is the SQLite file of the embedded store.
	Path string
	// Connection is an esdb:// or esdb+discover:// connection string.
	Connection string
}

// storeSpecHelp says what a store spec may be, for error messages.
const storeSpecHelp = "give sqlite:PATH, esdb://HOST:PORT?tls=... or esdb+discover://HOST:PORT,...?..."

// urlScheme matches the scheme of a URL, to tell a mistyped connection
// string from a file path.
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// schemeLike is a value that starts like a URL or a spec ("esdb:host",
// "SQLite:x.db") but is none this build knows; a one-letter prefix is a
// Windows drive ("C:\\data\\x.db").
var schemeLike = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]+:`)

// ParseStoreSpec reads the store that flag (named in every error, with its
// leading dashes) gives: sqlite:PATH, esdb://... or esdb+discover://...;
// with pathOK (the --db flag, and callers that pass a file) a plain file
// path names the embedded store too. A connection string is checked as
// the KurrentDB client reads it, without connecting; its text is never
// repeated in an error, because it may hold a password.
func ParseStoreSpec(flag, value string, pathOK bool) (StoreSpec, error) {
	bad := func(format string, args ...any) (StoreSpec, error) {
		return StoreSpec{}, usageError(flag + ": " + fmt.Sprintf(format, args...))
	}
	lower := strings.ToLower(value)
	switch {
	case strings.TrimSpace(value) == "":
		return bad("no store given: %s", storeSpecHelp)
	case strings.TrimSpace(value) != value:
		return bad("the value has spaces before or after it: %s", storeSpecHelp)
	case strings.HasPrefix(lower, "esdb://"), strings.HasPrefix(lower, "esdb+discover://"):
		if _, err := esdbclient.ParseConnectionString(value); err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // url.Error repeats the whole string
			}
			return bad("not a valid KurrentDB connection string (%v): %s", err, storeSpecHelp)
		}
		return StoreSpec{Connection: value}, nil
	case strings.HasPrefix(lower, "sqlite:"):
		path := value[len("sqlite:"):]
		if path == "" || strings.HasPrefix(path, "//") {
			return bad("sqlite: takes a file path (sqlite:/var/lib/ehc/ehcledger.db), not %q", value)
		}
		return StoreSpec{Path: path}, nil
	case urlScheme.MatchString(value):
		return bad("%s is not a store this build knows: %s", value[:strings.Index(value, "://")+3], storeSpecHelp)
	case schemeLike.MatchString(value):
		// A mistyped spec must not become an empty SQLite file of that name;
		// a file whose name has a colon is given as ./NAME or sqlite:NAME.
		return bad("%s is not a store this build knows (a file whose name has a colon: ./NAME or sqlite:NAME): %s", value[:strings.Index(value, ":")+1], storeSpecHelp)
	case !pathOK:
		return bad("%q is neither sqlite:PATH nor a KurrentDB connection string: %s", value, storeSpecHelp)
	}
	return StoreSpec{Path: value}, nil
}

// storeOf is the store a command works on: --store when given, else the
// --db file.
func storeOf(db, store string) (StoreSpec, error) {
	if store != "" {
		return ParseStoreSpec("--store", store, false)
	}
	return ParseStoreSpec("--db", db, true)
}

// String describes the store for people: the SQLite spec, or the
// connection string without its password.
func (s StoreSpec) String() string {
	if s.Path != "" {
		return "sqlite:" + s.Path
	}
	// By hand rather than with url.URL.Redacted: a cluster's list of
	// hosts (host1:2113,host2:2113) is no URL.
	scheme, rest, _ := strings.Cut(s.Connection, "://")
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return s.Connection
	}
	user, _, hasPassword := strings.Cut(rest[:at], ":")
	if hasPassword {
		user += ":xxxxx"
	}
	return scheme + "://" + user + rest[at:]
}

// DefaultViews is where the read models of the store live when --views
// does not say: beside a SQLite file, or in the working directory for a
// server on KurrentDB, whose views are local to each serve instance.
func (s StoreSpec) DefaultViews() string {
	if s.Path != "" {
		return ViewsPath(s.Path)
	}
	return DefaultESDBViews
}

// Open opens the store to write. An SQLite file is held by one writer at a
// time: while another process writes to it, Open fails naming it, with
// the flag at fault named by the caller.
func (s StoreSpec) Open() (eventstore.Store, error) {
	if s.Connection != "" {
		return esdb.Open(s.Connection)
	}
	return sqlite.Open(s.Path, sqlite.Options{})
}

// OpenReadOnly opens the store for a command that only reads: an SQLite
// file is read beside its writer (a running server), without its lock.
func (s StoreSpec) OpenReadOnly() (eventstore.Store, error) {
	if s.Connection != "" {
		return esdb.Open(s.Connection)
	}
	return sqlite.Open(s.Path, sqlite.Options{ReadOnly: true})
}
