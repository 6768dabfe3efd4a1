package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/ehcledger/ehcledger/eventstore"
)

// pointerName is a small object naming the last segment stored, so that a
// replicator resuming lists only the segments after it rather than every
// segment of years. It is a hint: segments stored after it are found by
// listing.
const pointerName = "segments.json"

// Shipped describes a segment the replicator stored.
type Shipped struct {
	Name        string
	First, Last int64
	Bytes       int
	// Lag is how long the oldest event of the segment may have waited,
	// committed but not shipped, when the segment was stored: the most
	// acknowledged time at risk.
	Lag time.Duration
}

// ErrOtherHistory says a location's segments are not this store's log: a
// store restored from an older backup, or pointed at another store's
// location. The replicator stops rather than mix two histories.
var ErrOtherHistory = errors.New("backup: the location's segments hold another history than the store")

// Replicator ships the events committed to a store to a location, in
// segments, within Every of their commit. Its state is the location
// itself: after a crash or an outage it resumes after the last segment
// stored, so no event is stored twice under different names.
type Replicator struct {
	Store eventstore.Store
	To    Location
	// Every is how often committed events are shipped (5 s when zero).
	Every time.Duration
	// MaxEvents bounds a segment (50,000 when zero).
	MaxEvents int
	// FlushFor bounds the last shipping after a stop (30 s when zero).
	FlushFor time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// OnShipped and OnError, when set, are told of each segment stored
	// and of each failure (after which the replicator resumes and retries).
	OnShipped func(Shipped)
	OnError   func(error)

	next int64  // the first position not yet shipped
	prev string // the digest of the last segment stored
	// safeSince is the instant (Unix nanoseconds) up to which every event
	// committed is known to be shipped: the start of the last read of the
	// store after which everything read was stored. Lag is measured from
	// it, so it grows while shipping fails.
	safeSince atomic.Int64
	stopped   atomic.Bool
}

// ErrGaps says a store's positions are not gapless (a KurrentDB store's
// are not): the segments name the positions they hold and must follow each
// other, so such a store is not replicated this way; KurrentDB replicates
// itself.
var ErrGaps = errors.New("backup: the store's positions are not gapless, so it cannot be replicated in segments (a KurrentDB cluster replicates itself)")

// Lag is how long the events committed most recently may have waited
// unshipped: the acknowledged time at risk, growing while shipping fails.
func (r *Replicator) Lag() time.Duration {
	since := r.safeSince.Load()
	if since == 0 {
		return 0
	}
	return r.now().Sub(time.Unix(0, since))
}

// Stopped reports whether the replicator has stopped for good (another
// history at the location).
func (r *Replicator) Stopped() bool { return r.stopped.Load() }

func (r *Replicator) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Run ships committed events until ctx ends, then ships what was committed
// by then (for at most FlushFor) and returns. It returns early only when the
// location holds another history (ErrOtherHistory).
func (r *Replicator) Run(ctx context.Context) error {
	every := r.Every
	if every <= 0 {
		every = 5 * time.Second
	}
	if g, ok := r.Store.(eventstore.Gapless); !ok || !g.GaplessPositions() {
		r.stopped.Store(true)
		return ErrGaps
	}
	resumed := false
	backoff := every
	r.safeSince.CompareAndSwap(0, r.now().UnixNano())
	for {
		var err error
		if !resumed {
			if err = r.resume(ctx); err == nil {
				resumed = true
			}
		}
		if err == nil {
			err = r.ship(ctx)
		}
		if errors.Is(err, ErrOtherHistory) {
			r.stopped.Store(true)
			r.report(err)
			return err
		}
		wait := every
		if err != nil {
			// The location may hold what the failed call stored, even when
			// it failed for the stop: read it again before shipping more.
			resumed = false
			if ctx.Err() == nil {
				r.report(err)
				wait, backoff = backoff, min(2*backoff, time.Minute)
			}
		} else {
			backoff = every
		}
		select {
		case <-ctx.Done():
			return r.flush(ctx, resumed)
		case <-time.After(wait):
		}
	}
}

// flush ships what was committed before the stop, retrying for at most
// FlushFor: an upload that fails then is read back and retried like any
// other.
func (r *Replicator) flush(ctx context.Context, resumed bool) error {
	limit := r.FlushFor
	if limit <= 0 {
		limit = 30 * time.Second
	}
	final, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
	defer cancel()
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		var err error
		if !resumed {
			err = r.resume(final)
		}
		if err == nil {
			if err = r.ship(final); err == nil {
				return nil
			}
		}
		r.report(err)
		if errors.Is(err, ErrOtherHistory) {
			r.stopped.Store(true)
			return err
		}
		if final.Err() != nil {
			return err
		}
		resumed = false
		select {
		case <-final.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (r *Replicator) report(err error) {
	if r.OnError != nil {
		r.OnError(err)
	}
}

// pointer is what pointerName holds.
type pointer struct {
	Last string `json:"last"`
}

// resume finds the last segment stored and checks that it is this store's.
func (r *Replicator) resume(ctx context.Context) error {
	after := ""
	if rc, err := r.To.Get(ctx, pointerName); err == nil {
		var p pointer
		err := json.NewDecoder(io.LimitReader(rc, 4096)).Decode(&p)
		rc.Close()
		if _, _, ok := parseSegmentName(p.Last); err == nil && ok {
			after = p.Last
		}
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	names, err := segmentNames(ctx, r.To, after)
	if err != nil {
		return err
	}
	last := after
	if len(names) > 0 {
		last = names[len(names)-1]
	}
	if last == "" {
		r.next, r.prev = 1, ""
		return nil
	}
	s, err := readSegment(ctx, r.To, last)
	if err != nil {
		return err
	}
	// The store must hold the same event where the segments end.
	tail := s.Recorded[len(s.Recorded)-1]
	got, err := r.Store.ReadAll(ctx, tail.Position, 1)
	if err != nil {
		return err
	}
	if len(got) == 0 || got[0].Hash != tail.Hash || got[0].ID != tail.ID {
		return fmt.Errorf("%w: %s ends at position %d, which the store does not hold as it is there; replicate to a new location",
			ErrOtherHistory, r.To, tail.Position)
	}
	r.next, r.prev = s.Last+1, s.Digest
	return nil
}

// ship stores every event committed since the last segment.
func (r *Replicator) ship(ctx context.Context) error {
	max := r.MaxEvents
	switch {
	case max <= 0:
		max = 50000
	case max > maxSegmentEvents:
		max = maxSegmentEvents
	}
	for {
		read := r.now()
		head, err := r.Store.Head(ctx)
		if err != nil {
			return err
		}
		if head < r.next {
			r.safeSince.Store(read.UnixNano())
			return nil
		}
		var events []eventstore.RecordedEvent
		for from := r.next; from <= head && len(events) < max; {
			batch, err := r.Store.ReadAll(ctx, from, min(5000, max-len(events)))
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				break
			}
			events = append(events, batch...)
			from = batch[len(batch)-1].Position + 1
		}
		for i, e := range events {
			if e.Position != r.next+int64(i) {
				return fmt.Errorf("backup: the store's log has no event at position %d: %w", r.next+int64(i), ErrGaps)
			}
		}
		if len(events) == 0 {
			return fmt.Errorf("backup: the store's log does not continue at position %d", r.next)
		}
		data, digest, err := encodeSegment(events, r.prev, r.now())
		if err != nil {
			return err
		}
		name := segmentName(events[0].Position, events[len(events)-1].Position)
		if err := r.To.Put(ctx, name, bytes.NewReader(data)); err != nil {
			return err
		}
		r.next, r.prev = events[len(events)-1].Position+1, digest
		if b, err := json.Marshal(pointer{Last: name}); err == nil {
			// A hint only: a failure here costs a longer listing.
			_ = r.To.Put(ctx, pointerName, bytes.NewReader(b))
		}
		// Every event committed before this read is now stored, unless
		// the read stopped at MaxEvents short of the head.
		lag := r.Lag()
		if events[len(events)-1].Position >= head {
			r.safeSince.Store(read.UnixNano())
		}
		if r.OnShipped != nil {
			r.OnShipped(Shipped{Name: name, First: events[0].Position, Last: events[len(events)-1].Position, Bytes: len(data), Lag: lag})
		}
	}
}
