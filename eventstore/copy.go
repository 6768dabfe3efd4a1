package eventstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
)

// CopyResult tells what Copy did.
type CopyResult struct {
	Copied, Skipped int
	Streams         int
	// Position is the source position up to which every event is in the
	// target; Head is the source's head when the copy began.
	Position, Head int64
	// Elapsed is the time since the copy began.
	Elapsed time.Duration
}

// CopyOptions tune Copy. The zero value copies one event at a time, in the
// source's global order.
type CopyOptions struct {
	// Parallel reports whether a stream's events depend on no other stream
	// of its kind (a case's events, not an LA's rulebook adoptions), so
	// that they may be appended beside those streams' events. Events of
	// other streams stay barriers: everything read before them is in the
	// target before them, and they before everything after. Nil: every
	// stream is a barrier.
	Parallel func(stream string) bool
	// Workers is how many appends run at once (1 when zero).
	Workers int
	// Batch is how many source events are read at a time (1000 when zero).
	Batch int
	// Progress is called after each batch.
	Progress func(CopyResult)
}

// copyAppendEvents bounds one append of the copy, besides MaxAppendBytes.
const copyAppendEvents = 500

// Copy copies every event of from into to, keeping event IDs, stream
// versions and therefore hashes. Each stream's events keep their order;
// streams opts.Parallel names are appended side by side, a whole batch's
// events of one stream in one append, so a remote target is written
// without a round trip per event. It is safe to run again after an
// interruption, however many appends were in flight: each stream's events
// the target already holds are checked to be the same and skipped, and a
// target that disagrees with the source is an error, never overwritten.
func Copy(ctx context.Context, from, to Store, opts CopyOptions) (CopyResult, error) {
	start := time.Now()
	var res CopyResult
	head, err := from.Head(ctx)
	if err != nil {
		return res, err
	}
	res.Head = head
	// An empty target holds no stream: nothing to read back per stream.
	target, err := to.Head(ctx)
	if err != nil {
		return res, err
	}
	c := &copier{to: to, fresh: target == 0, workers: max(opts.Workers, 1), versions: map[string]*copiedStream{}}
	batch := opts.Batch
	if batch <= 0 {
		batch = 1000
	}
	next := int64(1)
	for {
		events, err := from.ReadAll(ctx, next, batch)
		if err != nil {
			return c.result(res, start), err
		}
		if len(events) == 0 {
			break
		}
		// Runs of parallel streams' events between barriers.
		var group []RecordedEvent
		for _, e := range events {
			if opts.Parallel != nil && opts.Parallel(e.Stream) {
				group = append(group, e)
				continue
			}
			if err := c.copyGroup(ctx, group); err != nil {
				return c.result(res, start), err
			}
			group = group[:0]
			if err := c.copyGroup(ctx, []RecordedEvent{e}); err != nil {
				return c.result(res, start), err
			}
		}
		if err := c.copyGroup(ctx, group); err != nil {
			return c.result(res, start), err
		}
		next = events[len(events)-1].Position + 1
		res.Position = next - 1
		if opts.Progress != nil {
			opts.Progress(c.result(res, start))
		}
	}
	return c.result(res, start), nil
}

// copier holds what Copy knows of the target's streams.
type copier struct {
	to      Store
	fresh   bool
	workers int

	mu       sync.Mutex
	versions map[string]*copiedStream
	copied   int
	skipped  int
}

// copiedStream is a target stream's version and, when it held events
// before the copy began, their IDs, to check what is skipped (only the
// IDs: a resumed copy of a large store must not hold its payloads).
type copiedStream struct {
	version int64
	held    []uuid.UUID
}

func (c *copier) result(res CopyResult, start time.Time) CopyResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	res.Copied, res.Skipped, res.Streams, res.Elapsed = c.copied, c.skipped, len(c.versions), time.Since(start)
	return res
}

// copyGroup copies events of several streams, each stream's in one
// append (or a few, within the stores' limits), up to workers at once.
func (c *copier) copyGroup(ctx context.Context, events []RecordedEvent) error {
	if len(events) == 0 {
		return nil
	}
	var order []string
	byStream := map[string][]RecordedEvent{}
	for _, e := range events {
		if _, ok := byStream[e.Stream]; !ok {
			order = append(order, e.Stream)
		}
		byStream[e.Stream] = append(byStream[e.Stream], e)
	}
	return eachStream(ctx, order, c.workers, func(ctx context.Context, stream string) error {
		return c.copyStream(ctx, stream, byStream[stream])
	})
}

// eachStream calls fn for every stream, up to workers at once, and returns
// the first error, after which no further stream is started.
func eachStream(ctx context.Context, streams []string, workers int, fn func(context.Context, string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan string)
	errs := make(chan error, len(streams))
	var wg sync.WaitGroup
	for range max(min(workers, len(streams)), 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for stream := range jobs {
				if err := fn(ctx, stream); err != nil {
					errs <- err
					cancel()
				}
			}
		}()
	}
feed:
	for _, stream := range streams {
		select {
		case jobs <- stream:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// copyStream appends a stream's events after those the target holds.
func (c *copier) copyStream(ctx context.Context, stream string, events []RecordedEvent) error {
	c.mu.Lock()
	st := c.versions[stream]
	c.mu.Unlock()
	if st == nil {
		st = &copiedStream{}
		if !c.fresh {
			held, err := c.to.ReadStream(ctx, stream, 1)
			if err != nil {
				return err
			}
			st.version = int64(len(held))
			for _, e := range held {
				st.held = append(st.held, e.ID)
			}
		}
		c.mu.Lock()
		c.versions[stream] = st
		c.mu.Unlock()
	}
	skipped := 0
	for len(events) > 0 && events[0].Version <= st.version {
		e := events[0]
		if e.Version > int64(len(st.held)) || st.held[e.Version-1] != e.ID {
			return fmt.Errorf("target stream %s holds another event at version %d", stream, e.Version)
		}
		events = events[1:]
		skipped++
	}
	if len(events) > 0 {
		st.held = nil // every event held before the copy is behind
	}
	if len(events) > 0 && events[0].Version != st.version+1 {
		return fmt.Errorf("target stream %s is at version %d but the next source event is version %d", stream, st.version, events[0].Version)
	}
	copied := 0
	for len(events) > 0 {
		n, size := 1, AppendSize([]EventData{events[0].EventData})
		for n < len(events) && n < copyAppendEvents {
			if size += AppendSize([]EventData{events[n].EventData}); size > MaxAppendBytes {
				break
			}
			n++
		}
		exp := NoStream
		if st.version > 0 {
			exp = Exact(st.version)
		}
		if _, err := c.to.Append(ctx, stream, exp, eventData(events[:n])); err != nil {
			return fmt.Errorf("copying %s from version %d: %w", stream, events[0].Version, err)
		}
		st.version = events[n-1].Version
		events = events[n:]
		copied += n
	}
	c.mu.Lock()
	c.copied += copied
	c.skipped += skipped
	c.mu.Unlock()
	return nil
}

func eventData(events []RecordedEvent) []EventData {
	out := make([]EventData, len(events))
	for i, e := range events {
		out[i] = e.EventData
	}
	return out
}

// VerifyCopy checks that to holds exactly from's events: the same count, and
// for every stream the same IDs and hashes, with an intact hash chain. It
// compares up to workers streams at once.
func VerifyCopy(ctx context.Context, from, to Store, workers int) error {
	count := func(s Store) (int, []string, error) {
		n, seen, streams := 0, map[string]bool{}, []string(nil)
		err := readEach(ctx, s, func(e RecordedEvent) error {
			n++
			if !seen[e.Stream] {
				seen[e.Stream] = true
				streams = append(streams, e.Stream)
			}
			return nil
		})
		return n, streams, err
	}
	n1, streams, err := count(from)
	if err != nil {
		return err
	}
	n2, _, err := count(to)
	if err != nil {
		return err
	}
	if n1 != n2 {
		return fmt.Errorf("the source holds %d events, the target %d", n1, n2)
	}
	return eachStream(ctx, streams, workers, func(ctx context.Context, stream string) error {
		return sameStream(ctx, from, to, stream)
	})
}

// sameStream checks that a stream holds the same events in both stores,
// with an intact hash chain in to.
func sameStream(ctx context.Context, from, to Store, stream string) error {
	a, err := from.ReadStream(ctx, stream, 1)
	if err != nil {
		return err
	}
	b, err := to.ReadStream(ctx, stream, 1)
	if err != nil {
		return err
	}
	if len(a) != len(b) {
		return fmt.Errorf("stream %s: %d events in the source, %d in the target", stream, len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Hash != b[i].Hash {
			return fmt.Errorf("stream %s version %d differs between source and target", stream, a[i].Version)
		}
	}
	if v, why := Verify(b); v != 0 {
		return fmt.Errorf("stream %s in the target: version %d: %s", stream, v, why)
	}
	return nil
}

// readEach calls fn for every event of s in global order.
func readEach(ctx context.Context, s Store, fn func(RecordedEvent) error) error {
	from := int64(1)
	for {
		batch, err := s.ReadAll(ctx, from, 1000)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		for _, e := range batch {
			if err := fn(e); err != nil {
				return err
			}
		}
		from = batch[len(batch)-1].Position + 1
	}
}
