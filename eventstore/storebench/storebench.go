// Package storebench measures an event store: durable single-event appends
// from concurrent writers, and the same through a naive SQLite table to
// compare with. Both `go test -bench` and `ehcledger bench` use it, so the
// figures in the docs come from one piece of code.
package storebench

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/google/uuid"
)

// Result is the outcome of an append run.
type Result struct {
	Writers  int
	Events   int
	Elapsed  time.Duration
	PerSec   float64
	P50, P99 time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("%3d writers: %8d events in %7.3fs = %9.0f events/s (append latency p50 %v, p99 %v)",
		r.Writers, r.Events, r.Elapsed.Seconds(), r.PerSec, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond))
}

// payload is what each measured event carries: a typical step's data.
var payload = []byte(`{"advice":"educational_psychology","school":"S1"}`)

// Appends has writers goroutines append total single events, each to its own
// stream with an exact expected version, and reports the rate.
func Appends(ctx context.Context, s eventstore.Store, writers, total int, prefix string) (Result, error) {
	streams := streamNames(prefix, writers)
	return measure(writers, total, func(w int, version int64) (int64, error) {
		id, err := uuid.NewV7()
		if err != nil {
			return 0, err
		}
		exp := eventstore.NoStream
		if version > 0 {
			exp = eventstore.Exact(version)
		}
		res, err := s.Append(ctx, streams[w], exp, []eventstore.EventData{{
			ID: id, Type: "advice_requested", SchemaVersion: 1, OccurredOn: "2024-04-08",
			RecordedAt: time.Now().UTC(), Actor: "bench", LA: "E09000001", CorrelationID: id.String(), Payload: payload,
		}})
		return res.Version, err
	})
}

// NaiveSQLite is the baseline an event store is compared with: the same
// appends as Appends, each one SQLite transaction of its own (an INSERT
// whose version is the stream's last plus one, under UNIQUE(stream,
// version)) in db, which should be opened as the store opens its file
// (WAL, synchronous FULL, a busy timeout), with as many connections as
// writers.
func NaiveSQLite(ctx context.Context, db *sql.DB, writers, total int) (Result, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS naive_events (
		stream TEXT NOT NULL, version INTEGER NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL,
		recorded_at TEXT NOT NULL, data BLOB NOT NULL, UNIQUE (stream, version))`); err != nil {
		return Result{}, err
	}
	streams := streamNames("naive", writers)
	return measure(writers, total, func(w int, version int64) (int64, error) {
		stream := streams[w]
		_, err := db.ExecContext(ctx, `INSERT INTO naive_events (stream, version, id, type, recorded_at, data)
			VALUES (?, (SELECT coalesce(max(version), 0) + 1 FROM naive_events WHERE stream = ?), ?, 'advice_requested', ?, ?)`,
			stream, stream, uuid.NewString(), time.Now().UTC().Format(time.RFC3339Nano), payload)
		return version + 1, err
	})
}

// streamNames names each writer's stream once, outside the measured loop.
func streamNames(prefix string, writers int) []string {
	out := make([]string, writers)
	for w := range out {
		out[w] = fmt.Sprintf("%s-%d", prefix, w)
	}
	return out
}

// measure has writers goroutines call appendOne until total calls are made,
// each writer passing the version its last call returned, and reports the
// rate and latencies.
func measure(writers, total int, appendOne func(w int, version int64) (int64, error)) (Result, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	lat := make([][]time.Duration, writers)
	errs := make(chan error, writers)
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			version := int64(0)
			for next.Add(1) <= int64(total) {
				t0 := time.Now()
				v, err := appendOne(w, version)
				if err != nil {
					errs <- err
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
				version = v
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return Result{}, err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := Result{Writers: writers, Events: len(all), Elapsed: elapsed, PerSec: float64(len(all)) / elapsed.Seconds()}
	if len(all) > 0 {
		r.P50 = all[len(all)/2]
		r.P99 = all[len(all)*99/100]
	}
	return r, nil
}
