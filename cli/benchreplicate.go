package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ehcledger/ehcledger/backup"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
	"github.com/google/uuid"
)

// benchReplication measures replication on the store in the file db (a
// scratch copy: it appends to it): the first shipping of its whole history
// to dir, then the lag while rate appends a second are made for length,
// the replicator shipping every every.
func benchReplication(ctx context.Context, stdout io.Writer, db, dir string, rate int, length, every time.Duration) error {
	if _, err := os.Stat(db); err != nil {
		return usageError("--replication: " + err.Error())
	}
	if rate < 1 || rate > 100000 || length <= 0 || every <= 0 {
		return usageError("--replication-rate must be 1 to 100000, and --replication-for and --replicate-every positive")
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ehcledger-replication-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	s, err := sqlite.Open(db, sqlite.Options{})
	if err != nil {
		return err
	}
	defer s.Close()
	head, err := s.Head(ctx)
	if err != nil {
		return err
	}
	var shipped atomic.Int64
	var loaded atomic.Bool
	var longest atomic.Int64
	r := &backup.Replicator{Store: s, To: backup.Dir{Root: dir}, Every: every,
		OnShipped: func(sh backup.Shipped) {
			shipped.Store(sh.Last)
			if loaded.Load() && int64(sh.Lag) > longest.Load() {
				longest.Store(int64(sh.Lag))
			}
		},
		OnError: func(err error) { fmt.Fprintln(stdout, "  replication failed, retrying:", err) }}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	// The replicator has stopped before the store closes, whatever the
	// way out.
	stopped := false
	defer func() {
		if !stopped {
			cancel()
			<-done
		}
	}()
	start := time.Now()
	go func() { done <- r.Run(rctx) }()
	for shipped.Load() < head {
		select {
		case err := <-done:
			stopped = true
			return fmt.Errorf("the replicator stopped: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	el := time.Since(start)
	host, _ := os.Hostname()
	fmt.Fprintf(stdout, "replication of %s (%s, %d CPUs, %s)\n", db, host, runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(stdout, "  first shipping of %d events: %.1fs (%.0f events/s)\n", head, el.Seconds(), float64(head)/el.Seconds())
	// A steady load of reads recorded, each in a stream of its own, while
	// the lag is sampled too (it grows between two shippings).
	loaded.Store(true)
	var sampled atomic.Int64
	stopSampling := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if l := int64(r.Lag()); l > sampled.Load() {
				sampled.Store(l)
			}
		}
	}()
	var wg sync.WaitGroup
	var failed atomic.Int64
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.After(length)
	n := 0
load:
	for {
		select {
		case <-end:
			break load
		case <-ctx.Done():
			break load
		case <-tick.C:
			n++
			wg.Add(1)
			go func(n int) {
				defer wg.Done()
				id := fmt.Sprintf("bench-replication-%d", n)
				e := eventstore.EventData{ID: uuid.New(), Type: domain.TypeCaseAccessed, SchemaVersion: 1, OccurredOn: domain.DateOf(time.Now()).String(),
					RecordedAt: time.Now().UTC(), Actor: "bench", LA: "E09999999", CorrelationID: id, CausationID: id,
					Payload: []byte(`{"case":"` + id + `","route":"/v1/cases/:id","role":"caseworker"}`)}
				if _, err := s.Append(ctx, domain.AccessStream("E09999999", id), eventstore.NoStream, []eventstore.EventData{e}); err != nil {
					failed.Add(1)
				}
			}(n)
		}
	}
	wg.Wait()
	close(stopSampling)
	cancel()
	stopped = true
	if err := <-done; err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  load: %d appends (%d failed) at %d/s for %s, shipping every %s: longest lag %s at a segment, %s sampled (target: at most 10s)\n",
		n, failed.Load(), rate, length, every, time.Duration(longest.Load()).Round(time.Millisecond), time.Duration(sampled.Load()).Round(time.Millisecond))
	return nil
}
