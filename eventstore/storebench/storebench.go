// Package storebench measures an event store: durable single-event appends
// from concurrent writers. Both `go test -bench` and `ehcledger bench` use it,
// so the figures in the docs come from one piece of code.
package storebench

import (
	"context"
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

// Appends has writers goroutines append total single events, each to its own
// stream with an exact expected version, and reports the rate.
func Appends(ctx context.Context, s eventstore.Store, writers, total int, prefix string) (Result, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	lat := make([][]time.Duration, writers)
	errs := make(chan error, writers)
	payload := []byte(`{"advice":"educational_psychology","school":"S1"}`)
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			stream := fmt.Sprintf("%s-%d", prefix, w)
			version := int64(0)
			for next.Add(1) <= int64(total) {
				id, err := uuid.NewV7()
				if err != nil {
					errs <- err
					return
				}
				exp := eventstore.NoStream
				if version > 0 {
					exp = eventstore.Exact(version)
				}
				t0 := time.Now()
				res, err := s.Append(ctx, stream, exp, []eventstore.EventData{{
					ID: id, Type: "advice_requested", SchemaVersion: 1, OccurredOn: "2024-04-08",
					RecordedAt: t0.UTC(), Actor: "bench", LA: "E09000001", CorrelationID: id.String(), Payload: payload,
				}})
				if err != nil {
					errs <- err
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
				version = res.Version
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
