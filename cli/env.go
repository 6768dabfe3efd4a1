// Package cli implements the ehcledger command: it wires the store, the
// projections, the domain and the HTTP API together. cmd/ehcledger only calls
// Main, so tests can drive every subcommand in-process or through the binary.
package cli

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/keys"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/sqlitedb"
)

// Env is an opened store with its projections, key store (nil when the
// command opens no personal data) and ledger.
type Env struct {
	Store  eventstore.Store
	Views  *sql.DB
	Runner *projections.Runner
	Ledger *app.Ledger
	Keys   *keys.Store
	Logger *slog.Logger
}

// KeysPath is where the case keys of an event database live by default:
// beside it, never inside the event store.
func KeysPath(views string) string { return strings.TrimSuffix(views, ".views") + ".keys" }

// keysAt is the key store an environment opens and its master key; a nil
// master opens none, for commands that never seal or open personal data.
type keysAt struct {
	path   string
	master []byte
}

// OpenKeys opens the key store beside the views at views with this
// process's scratch master key, as OpenEnv does: for tests and tools that
// fill a scratch store (simulate.Run) before they open it with OpenEnv.
// Nothing sealed in it can be opened once the process ends.
func OpenKeys(views string, now func() time.Time) (*keys.Store, error) {
	master, err := scratchMaster()
	if err != nil {
		return nil, err
	}
	return keysAt{path: KeysPath(views), master: master}.open(now)
}

// open opens the key store, or nothing when k has no master key.
func (k keysAt) open(now func() time.Time) (*keys.Store, error) {
	if k.master == nil {
		return nil, nil
	}
	ks, err := keys.Open(k.path, k.master, now)
	if errors.Is(err, sqlitedb.ErrInUse) {
		return nil, fmt.Errorf("--keys: %s", domain.ErrorMessage(err))
	}
	return ks, err
}

// SnapshotPath is the file of the timeliness model's snapshot, beside the
// views at views.
func SnapshotPath(views string) string { return views + ".timeliness" }

// ViewsPath is where the read models of an event database live by default.
func ViewsPath(db string) string { return db + ".views" }

// DefaultESDBViews is the read-model file of a server on EventStoreDB when
// --views is not given: the views are local to each serve instance.
const DefaultESDBViews = "ehcledger-esdb.views.db"

// OpenStore opens an event store from its description (see
// ParseStoreSpec: a file path, sqlite:PATH, esdb:// or esdb+discover://)
// and returns it with the default views path.
func OpenStore(spec string) (eventstore.Store, string, error) {
	ss, err := ParseStoreSpec("--store", spec, true)
	if err != nil {
		return nil, "", err
	}
	s, err := ss.Open()
	return s, ss.DefaultViews(), err
}

// OpenEnv opens a scratch environment (a scenario's run, a load test, a
// benchmark, a test): the event store described by storeSpec (see
// OpenStore), its views at views (default: beside the store) and the key
// store beside the views, whose master key is made for this process and
// never written down, so that nothing sealed in it can be opened once the
// process ends. Commands on real stores open them with a master key given
// from outside (see serve).
func OpenEnv(ctx context.Context, storeSpec, views string, now func() time.Time, logger *slog.Logger) (*Env, error) {
	ss, err := ParseStoreSpec("--store", storeSpec, true)
	if err != nil {
		return nil, err
	}
	master, err := scratchMaster()
	if err != nil {
		return nil, err
	}
	if views == "" {
		views = ss.DefaultViews()
	}
	return openEnv(ctx, ss, views, keysAt{path: KeysPath(views), master: master}, now, logger)
}

// openEnv opens the store ss to write, its views at views (default: the
// store's default) and the key store k. The store is opened first: while
// another process writes to it, its lock refuses before anything is made.
func openEnv(ctx context.Context, ss StoreSpec, views string, k keysAt, now func() time.Time, logger *slog.Logger) (*Env, error) {
	base, err := ss.Open()
	if err != nil {
		return nil, err
	}
	if views == "" {
		views = ss.DefaultViews()
	}
	var store eventstore.Store = base
	vdb, err := sqlitedb.OpenRebuildable(views, 4)
	if err != nil {
		base.Close()
		return nil, err
	}
	ks, err := k.open(now)
	if err != nil {
		vdb.Close()
		base.Close()
		return nil, err
	}
	holidays := calendar.NewEnglandWales()
	// Earlier builds wrote the snapshot as gzipped JSON beside the views:
	// never read again, it is removed.
	_ = os.Remove(views + ".timeliness.gz")
	runner, err := projections.NewRunner(ctx, store, vdb, SnapshotPath(views), holidays)
	if err != nil {
		if ks != nil {
			ks.Close()
		}
		vdb.Close()
		base.Close()
		return nil, err
	}
	env := &Env{Store: store, Views: vdb, Runner: runner, Logger: logger, Keys: ks,
		Ledger: &app.Ledger{Store: store, Holidays: holidays, Now: now}}
	if ks != nil {
		// Only a store that is there: a nil *keys.Store in the interface
		// would not read as "no key store".
		env.Ledger.Keys = ks
	}
	return env, nil
}

// Close saves the projection snapshot and closes everything. A snapshot
// being written in the background is waited for first, so that none is
// still writing when the views close.
func (e *Env) Close() error {
	// A failure of that one is superseded: SaveSnapshot writes again
	// unless the file holds the model's position.
	_ = e.Runner.WaitSnapshot()
	err := e.Runner.SaveSnapshot(context.Background())
	if cerr := e.Store.Close(); err == nil {
		err = cerr
	}
	if cerr := e.Views.Close(); err == nil {
		err = cerr
	}
	if e.Keys != nil {
		if cerr := e.Keys.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
