// Package cli implements the ehcledger command: it wires the store, the
// projections, the domain and the HTTP API together. cmd/ehcledger only calls
// Main, so tests can drive every subcommand in-process or through the binary.
package cli

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/keys"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/sqlitedb"
)

// Env is an opened store with its projections, key store and ledger.
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

// OpenKeys opens the case-key store: the file EHC_KEYS names, else the one
// beside the views at views. The master key comes from
// EHC_KEYS_MASTER_KEY_FILE, or from KEYS.master beside the key store, made
// on first use (development: production gives the file from its secret
// store).
func OpenKeys(views string, now func() time.Time) (*keys.Store, error) {
	return openKeysAt(os.Getenv("EHC_KEYS"), views, now)
}

func openKeysAt(path, views string, now func() time.Time) (*keys.Store, error) {
	if path == "" {
		path = KeysPath(views)
	}
	masterPath, create := os.Getenv("EHC_KEYS_MASTER_KEY_FILE"), false
	if masterPath == "" {
		masterPath, create = path+".master", true
	}
	master, err := keys.LoadOrCreateMaster(masterPath, create)
	if err != nil {
		return nil, err
	}
	return keys.Open(path, master, now)
}

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

// OpenEnv opens the event store described by storeSpec (see OpenStore) and
// its views at views (default: beside the store).
func OpenEnv(ctx context.Context, storeSpec, views string, now func() time.Time, logger *slog.Logger) (*Env, error) {
	ss, err := ParseStoreSpec("--store", storeSpec, true)
	if err != nil {
		return nil, err
	}
	return openEnv(ctx, ss, views, os.Getenv("EHC_KEYS"), now, logger)
}

// openEnv opens the store ss, its views at views (default: the store's
// default) and the case-key store at keysPath ("" for the default beside
// the views).
func openEnv(ctx context.Context, ss StoreSpec, views, keysPath string, now func() time.Time, logger *slog.Logger) (*Env, error) {
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
	ks, err := openKeysAt(keysPath, views, now)
	if err != nil {
		vdb.Close()
		base.Close()
		return nil, err
	}
	holidays := calendar.NewEnglandWales()
	runner, err := projections.NewRunner(ctx, store, vdb, views+".timeliness.gz", holidays)
	if err != nil {
		ks.Close()
		vdb.Close()
		base.Close()
		return nil, err
	}
	return &Env{Store: store, Views: vdb, Runner: runner, Logger: logger, Keys: ks,
		Ledger: &app.Ledger{Store: store, Holidays: holidays, Now: now, Keys: ks}}, nil
}

// Close saves the projection snapshot and closes everything.
func (e *Env) Close() error {
	err := e.Runner.SaveSnapshot(context.Background())
	if cerr := e.Store.Close(); err == nil {
		err = cerr
	}
	if cerr := e.Views.Close(); err == nil {
		err = cerr
	}
	if cerr := e.Keys.Close(); err == nil {
		err = cerr
	}
	return err
}
