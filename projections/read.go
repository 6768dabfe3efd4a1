package projections

import (
	"context"

	"github.com/ehcledger/ehcledger/eventstore"
)

// ReadBatches reads every event from position from to the store's end, in
// batches of size, and hands each batch to fn. The next batch is read while fn
// works on the current one, so reading and applying overlap on two cores.
// fn must not keep the batch (its events, and their strings, it may): from
// a store that reads into slices handed back (eventstore.BatchReader), the
// batch's array is filled again once fn returns.
func ReadBatches(ctx context.Context, store eventstore.Store, from int64, size int, fn func([]eventstore.RecordedEvent) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		batch []eventstore.RecordedEvent
		err   error
	}
	next := make(chan result, 1)
	// The batches fn is done with, for the reader to fill again.
	free := make(chan []eventstore.RecordedEvent, 2)
	read := store.ReadAll
	if br, ok := store.(eventstore.BatchReader); ok {
		read = func(ctx context.Context, from int64, limit int) ([]eventstore.RecordedEvent, error) {
			var buf []eventstore.RecordedEvent
			select {
			case buf = <-free:
			default:
			}
			return br.ReadAllInto(ctx, buf, from, limit)
		}
	}
	go func() {
		defer close(next)
		for {
			batch, err := read(ctx, from, size)
			select {
			case next <- result{batch, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(batch) == 0 {
				return
			}
			from = batch[len(batch)-1].Position + 1
		}
	}()
	for r := range next {
		if r.err != nil {
			return r.err
		}
		if len(r.batch) == 0 {
			return nil
		}
		if err := fn(r.batch); err != nil {
			return err
		}
		select {
		case free <- r.batch:
		default:
		}
	}
	return ctx.Err()
}
