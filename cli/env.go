// Package cli implements the ehcledger command: it wires the store, the
// projections, the domain and the HTTP API together. cmd/ehcledger only calls
// Main, so tests can drive every subcommand in-process or through the binary.
package cli

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/sqlitedb"
)

// Env is an opened store with its projections and ledger.
type Env struct {
	Store  eventstore.Store
	Views  *sql.DB
	Runner *projections.Runner
	Ledger *app.Ledger
	Logger *slog.Logger
}

// ViewsPath is where the read models of an event database live by default.
func ViewsPath(db string) string { return db + ".views" }

// OpenEnv opens the event store at db and its views at views.
func OpenEnv(ctx context.Context, db, views string, now func() time.Time, logger *slog.Logger) (*Env, error) {
	if db == "" {
		return nil, fmt.Errorf("--db: a database path is required")
	}
	if views == "" {
		views = ViewsPath(db)
	}
	base, err := sqlite.Open(db, sqlite.Options{})
	if err != nil {
		return nil, err
	}
	var store eventstore.Store = base
	vdb, err := sqlitedb.Open(views, 4)
	if err != nil {
		base.Close()
		return nil, err
	}
	holidays := calendar.NewEnglandWales()
	runner, err := projections.NewRunner(ctx, store, vdb, holidays)
	if err != nil {
		vdb.Close()
		base.Close()
		return nil, err
	}
	return &Env{Store: store, Views: vdb, Runner: runner, Logger: logger,
		Ledger: &app.Ledger{Store: store, Holidays: holidays, Now: now}}, nil
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
	return err
}
