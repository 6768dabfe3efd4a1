package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/sqlitedb"
	"github.com/ehcledger/ehcledger/tlog"
)

// ViewsSchema is the views database's tables, version by version, the
// tree's among them: NewRunner upgrades the views to the latest
// (sqlitedb.Migrate). They are rebuilt from the store, but the signed
// checkpoints and each case's last recorded version are not, and are kept.
var ViewsSchema = sqlitedb.Schema{What: "the views", Migrations: []sqlitedb.Migration{
	{Baseline: true, SQL: baselineViews + tlog.Schema},
}}

// baselineViews is version 1, with the tree's tables: the views of the
// release of 2026-12-03.
const baselineViews = `
CREATE TABLE IF NOT EXISTS checkpoints (
	name     TEXT PRIMARY KEY,
	position INTEGER NOT NULL
);
-- The audit table of earlier builds copied every event of every case, so
-- that a rebuild wrote the whole log again; a case's history is now read
-- from its stream in the store.
DROP TABLE IF EXISTS audit;
-- The last version of each case the views have recorded, written in the
-- tree's transaction: the case page finds events removed from the store
-- against it. A rebuild keeps it (a version only grows), so events removed
-- and then rebuilt over are still found.
CREATE TABLE IF NOT EXISTS case_versions (
	case_id TEXT    PRIMARY KEY,
	version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS access_log (
	position    INTEGER PRIMARY KEY,
	la          TEXT NOT NULL,
	case_id     TEXT NOT NULL,
	actor       TEXT NOT NULL,
	role        TEXT NOT NULL,
	route       TEXT NOT NULL,
	recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS access_log_case ON access_log(la, case_id, position);
CREATE INDEX IF NOT EXISTS access_log_actor ON access_log(la, actor, position);
`

// AuditName is the checkpoint name of the audit projection: the access log
// and the log's tree.
const AuditName = "audit"

// Runner keeps the projections up to date with the store: it restores their
// checkpoints, catches up, follows new events, and rebuilds from scratch. The
// views live in their own SQLite file so that writing them never competes
// with appends for the event store's single writer.
type Runner struct {
	Store      eventstore.Store
	Views      *sql.DB
	Timeliness *Timeliness
	// Tree is the Merkle tree of the log (package tlog), grown in the audit
	// projection's transaction, so that what a checkpoint signs is what the
	// views were built from.
	Tree *tlog.Log
	// SnapshotEvery is how many events may be applied, and SnapshotInterval
	// how long may pass, before the timeliness snapshot is saved again; both
	// must be exceeded, so a rebuild or a long catch-up does not rewrite a
	// growing snapshot over and over (it is always saved on Close and after a
	// rebuild).
	SnapshotEvery    int64
	SnapshotInterval time.Duration
	lastSnapshot     time.Time
	// SnapshotPath is the file of the timeliness snapshot: written to a
	// temporary file and renamed, so a crash leaves the old one whole.
	SnapshotPath string
	// Recomputed is the number of cases the snapshot held that were
	// counted again on opening, because a rulebook they were counted under
	// had changed since.
	Recomputed int

	mu          sync.Mutex
	auditPos    int64
	snapshotPos atomic.Int64 // of the snapshot file
	advanced    chan struct{}

	// A snapshot is written beside the runner, which goes on applying:
	// snapMu is held while one is written. Guarded by mu: snapRunning says
	// one is being written in the background, snapAgain that another was
	// asked for meanwhile, snapIdle is signalled when none is, and snapErr
	// keeps a failure for the next apply.
	snapMu      sync.Mutex
	snapRunning bool
	snapAgain   bool
	snapIdle    sync.Cond
	snapErr     error
}

// NewRunner prepares the views database and restores the checkpoints; the
// timeliness snapshot lives in the file snapshotPath.
func NewRunner(ctx context.Context, store eventstore.Store, views *sql.DB, snapshotPath string, h domain.Holidays) (*Runner, error) {
	if _, err := sqlitedb.Migrate(ctx, views, ViewsSchema, time.Now()); err != nil {
		return nil, err
	}
	r := &Runner{Store: store, Views: views, SnapshotPath: snapshotPath, Timeliness: NewTimeliness(h), SnapshotEvery: 250000,
		SnapshotInterval: 5 * time.Minute, advanced: make(chan struct{}), lastSnapshot: time.Now()}
	r.snapIdle.L = &r.mu
	r.Timeliness.SetHistoryLoader(StoreHistory(context.WithoutCancel(ctx), store))
	tree, err := tlog.OpenOrRegrow(ctx, views)
	if err != nil {
		return nil, err
	}
	r.Tree = tree
	if err := r.restore(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Runner) restore(ctx context.Context) error {
	if err := r.Views.QueryRowContext(ctx, `SELECT position FROM checkpoints WHERE name = ?`, AuditName).Scan(&r.auditPos); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	f, err := os.Open(r.SnapshotPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no snapshot yet: the timeliness projection starts from the first event
	}
	if err != nil {
		return err
	}
	defer f.Close()
	stale, err := r.Timeliness.ReadSnapshot(f) // which buffers its reads
	if errors.Is(err, ErrSnapshotFormat) {
		return nil // an older layout or other rules: replay the timeliness projection from the first event
	}
	if err != nil {
		return err
	}
	if len(stale) == 0 {
		r.snapshotPos.Store(r.Timeliness.Position())
		return nil
	}
	// Some cases were counted under rulebooks changed since: they alone
	// are counted again, and the snapshot written anew without waiting
	// for the next one due.
	if err := r.Timeliness.Recompute(stale, func(id string) ([]eventstore.RecordedEvent, error) {
		return r.Store.ReadStream(ctx, domain.CaseStream(id), 1)
	}); err != nil {
		return err
	}
	r.Recomputed = len(stale)
	r.snapshotInBackground(ctx)
	return nil
}

// Positions returns the checkpoints of the audit and timeliness projections.
func (r *Runner) Positions() (audit, timeliness int64) {
	r.mu.Lock()
	audit = r.auditPos
	r.mu.Unlock()
	return audit, r.Timeliness.Position()
}

// Position is the position every projection, and the tree, has reached.
func (r *Runner) Position() int64 {
	a, t := r.Positions()
	return min(a, t, r.Tree.Position())
}

// apply brings both projections past one batch, the access-log rows, the
// tree and the audit checkpoint in one transaction.
func (r *Runner) apply(ctx context.Context, batch []eventstore.RecordedEvent) error {
	if len(batch) == 0 {
		return nil
	}
	r.mu.Lock()
	failed := r.snapErr
	r.snapErr = nil
	r.mu.Unlock()
	if failed != nil {
		return failed
	}
	// The timeliness model (in memory, Go) and the access log and tree (in
	// SQLite, through cgo) share nothing but the batch, which neither
	// changes: on two cores they are applied side by side. A failure of
	// either stops the runner; each view's checkpoint says where it
	// stands, and catching up starts from the least of them.
	timeliness := make(chan error, 1)
	go func() { timeliness <- r.Timeliness.Apply(batch) }()
	if err := r.applyAudit(ctx, batch); err != nil {
		return errors.Join(err, <-timeliness)
	}
	if err := <-timeliness; err != nil {
		return err
	}
	r.mu.Lock()
	close(r.advanced) // wakes WaitFor: every view has the batch
	r.advanced = make(chan struct{})
	due := time.Since(r.lastSnapshot) >= r.SnapshotInterval
	r.mu.Unlock()
	if due && r.Timeliness.Position()-r.snapshotPos.Load() >= r.SnapshotEvery {
		r.snapshotInBackground(ctx)
	}
	return nil
}

// snapshotInBackground saves the timeliness snapshot while the runner goes
// on applying events; asked while one is being saved, it saves again once
// that one is done, so the last state asked for is written. Writing a
// national model takes seconds, in which the views would otherwise stand
// still; the model is read a few thousand cases at a time, between batches
// (a snapshot can hold events past its position, which applying them again
// skips). A failure is returned by the next apply, or WaitSnapshot.
func (r *Runner) snapshotInBackground(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Counted from when it is asked for: the batches applied while it is
	// written do not each ask for another.
	r.lastSnapshot = time.Now()
	if r.snapRunning {
		r.snapAgain = true
		return
	}
	r.snapRunning = true
	go func() {
		for {
			err := r.SaveSnapshot(context.WithoutCancel(ctx))
			r.mu.Lock()
			if err != nil {
				r.snapErr = err
			}
			if !r.snapAgain {
				r.snapRunning = false
				r.snapIdle.Broadcast()
				r.mu.Unlock()
				return
			}
			r.snapAgain = false
			r.mu.Unlock()
		}
	}()
}

// WaitSnapshot waits until no snapshot is being saved in the background and
// returns the failure of one, if any failed since the last apply.
func (r *Runner) WaitSnapshot() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.snapRunning {
		r.snapIdle.Wait()
	}
	err := r.snapErr
	r.snapErr = nil
	return err
}

// applyAudit writes a batch's access-log rows and grows the log's tree, in
// one transaction with the audit checkpoint.
func (r *Runner) applyAudit(ctx context.Context, batch []eventstore.RecordedEvent) error {
	r.mu.Lock()
	from := r.auditPos
	r.mu.Unlock()
	tx, err := r.Views.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var access *sql.Stmt
	last := from
	// Each case's latest version in the batch, written once.
	versions := map[string]int64{}
	for _, e := range batch {
		if e.Position <= from {
			continue
		}
		last = e.Position
		if id, ok := domain.CaseIDOf(e.Stream); ok {
			versions[id] = max(versions[id], e.Version)
		}
		if e.Type == domain.TypeCaseAccessed {
			if access == nil {
				if access, err = tx.PrepareContext(ctx, `INSERT INTO access_log (position, la, case_id, actor, role, route, recorded_at)
					VALUES (?,?,?,?,?,?,?)`); err != nil {
					return err
				}
				defer access.Close()
			}
			ev, _, err := Decode(e)
			if err != nil {
				return err
			}
			a := ev.(*domain.CaseAccessed)
			if _, err := access.ExecContext(ctx, e.Position, e.LA, a.Case, e.Actor, a.Role, a.Route, e.RecordedAt.UTC().Format(AccessTimeLayout)); err != nil {
				return err
			}
		}
	}
	if len(versions) > 0 {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO case_versions (case_id, version) VALUES (?, ?)
			ON CONFLICT(case_id) DO UPDATE SET version = max(version, excluded.version)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, v := range versions {
			if _, err := stmt.ExecContext(ctx, id, v); err != nil {
				return err
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (name, position) VALUES (?, ?)
		ON CONFLICT(name) DO UPDATE SET position = excluded.position`, AuditName, last); err != nil {
		return err
	}
	if err := r.Tree.Append(ctx, tx, batch); err != nil {
		return errors.Join(err, r.Tree.Reload(ctx))
	}
	if err := tx.Commit(); err != nil {
		return errors.Join(err, r.Tree.Reload(ctx))
	}
	if err := r.Tree.Committed(); err != nil {
		return err
	}
	r.mu.Lock()
	r.auditPos = last
	r.mu.Unlock()
	return nil
}

// SaveSnapshot stores the timeliness model, with the position it stands at,
// in its file, and notes the position among the checkpoints. One snapshot
// is written at a time, and none when the file holds the position already.
func (r *Runner) SaveSnapshot(ctx context.Context) error {
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	if r.Timeliness.Position() == r.snapshotPos.Load() {
		return nil
	}
	tmp := r.SnapshotPath + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600) // the snapshot holds case data: private whatever the umask
	if err != nil {
		return fmt.Errorf("save timeliness snapshot: %w", err)
	}
	pos, err := r.Timeliness.WriteSnapshot(f) // which buffers its writes
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, r.SnapshotPath)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save timeliness snapshot: %w", err)
	}
	if _, err := r.Views.ExecContext(ctx, `INSERT INTO checkpoints (name, position) VALUES (?, ?)
		ON CONFLICT(name) DO UPDATE SET position = excluded.position`, TimelinessName, pos); err != nil {
		return fmt.Errorf("save timeliness checkpoint: %w", err)
	}
	r.snapshotPos.Store(pos)
	r.mu.Lock()
	r.lastSnapshot = time.Now()
	r.mu.Unlock()
	return nil
}

// CatchUp applies every stored event past the checkpoints and returns the
// number applied.
func (r *Runner) CatchUp(ctx context.Context) (int64, error) {
	var n int64
	err := ReadBatches(ctx, r.Store, r.Position()+1, 5000, func(batch []eventstore.RecordedEvent) error {
		if err := r.apply(ctx, batch); err != nil {
			return err
		}
		n += int64(len(batch))
		return nil
	})
	return n, err
}

// Run follows the store until ctx ends: it catches up, then applies new events
// as they are committed, in batches.
func (r *Runner) Run(ctx context.Context) error {
	var buf []eventstore.RecordedEvent
	var head int64
	err := r.Store.Subscribe(ctx, r.Position()+1, func(e eventstore.RecordedEvent) error {
		buf = append(buf, e)
		// Ask for the head only on reaching the last one known: on a remote
		// store it is a round trip.
		if e.Position >= head {
			var err error
			if head, err = r.Store.Head(ctx); err != nil {
				return err
			}
		}
		if len(buf) >= 2000 || e.Position >= head {
			err := r.apply(ctx, buf)
			buf = buf[:0]
			return err
		}
		return nil
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// WaitFor blocks until every projection has reached position pos, or ctx ends.
func (r *Runner) WaitFor(ctx context.Context, pos int64) error {
	for {
		r.mu.Lock()
		ch := r.advanced
		r.mu.Unlock()
		if r.Position() >= pos {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// Rebuild discards every projection and rebuilds it from the first event.
// The views answer as soon as it returns; the timeliness snapshot of the
// rebuilt model is then written in the background (WaitSnapshot waits for
// it, and SaveSnapshot, which Close calls, waits for it first).
func (r *Runner) Rebuild(ctx context.Context) (int64, error) {
	if err := r.reset(ctx); err != nil {
		return 0, err
	}
	n, err := r.CatchUp(ctx)
	if err != nil {
		return n, err
	}
	r.Timeliness.Warm()
	r.snapshotInBackground(ctx)
	return n, nil
}

// reset empties every view and removes the snapshot. A snapshot of the old
// model being written is waited for, so it cannot land after the reset.
func (r *Runner) reset(ctx context.Context) error {
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	// One transaction: a kill half-way must not leave checkpoints or a
	// tree state over emptied tables.
	tx, err := r.Views.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM checkpoints; DELETE FROM access_log; `+tlog.ResetSQL); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if err := r.Tree.Reload(ctx); err != nil {
		return err
	}
	if err := os.Remove(r.SnapshotPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	r.snapshotPos.Store(0)
	r.mu.Lock()
	r.auditPos = 0
	r.snapErr = nil // of the model emptied
	r.mu.Unlock()
	r.Timeliness.Reset()
	return nil
}

// RecordedVersion returns the last version of a case the views have
// recorded, 0 for a case they never saw.
func (r *Runner) RecordedVersion(ctx context.Context, caseID string) (int64, error) {
	var v int64
	err := r.Views.QueryRowContext(ctx, `SELECT version FROM case_versions WHERE case_id = ?`, caseID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// AuditEntry is one line of a case's history.
type AuditEntry struct {
	Position      int64  `json:"position"`
	Version       int64  `json:"version"`
	Event         string `json:"event"`
	Actor         string `json:"actor"`
	LA            string `json:"la"`
	OccurredOn    string `json:"occurred_on"`
	RecordedAt    string `json:"recorded_at"`
	CorrelationID string `json:"correlation_id"`
	CausationID   string `json:"causation_id"`
	Reason        string `json:"reason,omitempty"`
}

// History returns a case's audit history in order: its stream as the store
// holds it, every event with who recorded it, when, why and in answer to
// what.
func (r *Runner) History(ctx context.Context, caseID string) ([]AuditEntry, error) {
	events, err := r.Store.ReadStream(ctx, domain.CaseStream(caseID), 1)
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, len(events))
	for i, e := range events {
		out[i] = AuditEntry{Position: e.Position, Version: e.Version, Event: e.Type, Actor: e.Actor, LA: e.LA, OccurredOn: e.OccurredOn,
			RecordedAt: e.RecordedAt.UTC().Format(time.RFC3339Nano), CorrelationID: e.CorrelationID, CausationID: e.CausationID, Reason: e.Reason}
	}
	return out, nil
}

// Access is one recorded read of a case.
type Access struct {
	Position   int64  `json:"position"`
	Case       string `json:"case"`
	Actor      string `json:"actor"`
	Role       string `json:"role"`
	Route      string `json:"route"`
	RecordedAt string `json:"recorded_at"`
}

// AccessTimeLayout writes the instants of the access log at a fixed width,
// so that they sort and compare as text.
const AccessTimeLayout = "2006-01-02T15:04:05.000000000Z"

// AccessFilter narrows an LA's access log.
type AccessFilter struct {
	LA, Case, Actor string
	// From and To bound the instant of the read, inclusive; zero means no
	// bound.
	From, To time.Time
	Limit    int
}

// AccessLog returns an LA's recorded reads of cases, newest first.
func (r *Runner) AccessLog(ctx context.Context, f AccessFilter) ([]Access, error) {
	q := `SELECT position, case_id, actor, role, route, recorded_at FROM access_log WHERE la = ?`
	args := []any{f.LA}
	instant := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(AccessTimeLayout)
	}
	for _, c := range []struct{ cond, v string }{{" AND case_id = ?", f.Case}, {" AND actor = ?", f.Actor},
		{" AND recorded_at >= ?", instant(f.From)}, {" AND recorded_at <= ?", instant(f.To)}} {
		if c.v != "" {
			q += c.cond
			args = append(args, c.v)
		}
	}
	q += ` ORDER BY position DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := r.Views.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Access{}
	for rows.Next() {
		var a Access
		if err := rows.Scan(&a.Position, &a.Case, &a.Actor, &a.Role, &a.Route, &a.RecordedAt); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
