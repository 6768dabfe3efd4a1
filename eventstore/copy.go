package eventstore

import (
	"context"
	"fmt"
)

// CopyResult tells what Copy did.
type CopyResult struct {
	Copied, Skipped int
	Streams         int
}

// Copy copies every event of from into to, in from's global order, keeping
// event IDs, stream versions and therefore hashes. It is safe to run again
// after an interruption: events the target already holds are skipped, and a
// target that disagrees with the source is an error, never overwritten.
func Copy(ctx context.Context, from, to Store, progress func(CopyResult)) (CopyResult, error) {
	var res CopyResult
	versions := map[string]int64{}
	// present holds, for streams the target already had, the IDs it holds by
	// version, so a skipped event is checked to be the same event.
	present := map[string][]RecordedEvent{}
	err := readEach(ctx, from, func(e RecordedEvent) error {
		tv, ok := versions[e.Stream]
		if !ok {
			existing, err := to.ReadStream(ctx, e.Stream, 1)
			if err != nil {
				return err
			}
			tv = int64(len(existing))
			versions[e.Stream] = tv
			if tv > 0 {
				present[e.Stream] = existing
			}
			res.Streams++
		}
		switch {
		case e.Version <= tv:
			if held := present[e.Stream]; e.Version > int64(len(held)) || held[e.Version-1].ID != e.ID {
				return fmt.Errorf("target stream %s holds another event at version %d", e.Stream, e.Version)
			}
			res.Skipped++
			return nil
		case e.Version != tv+1:
			return fmt.Errorf("target stream %s is at version %d but the next source event is version %d", e.Stream, tv, e.Version)
		}
		exp := NoStream
		if tv > 0 {
			exp = Exact(tv)
		}
		if _, err := to.Append(ctx, e.Stream, exp, []EventData{e.EventData}); err != nil {
			return fmt.Errorf("copying %s version %d: %w", e.Stream, e.Version, err)
		}
		versions[e.Stream] = e.Version
		res.Copied++
		if progress != nil && res.Copied%1000 == 0 {
			progress(res)
		}
		return nil
	})
	return res, err
}

// VerifyCopy checks that to holds exactly from's events: the same count, and
// for every stream the same IDs and hashes, with an intact hash chain.
func VerifyCopy(ctx context.Context, from, to Store) error {
	count := func(s Store) (int, map[string]bool, error) {
		n, streams := 0, map[string]bool{}
		err := readEach(ctx, s, func(e RecordedEvent) error {
			n++
			streams[e.Stream] = true
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
	for stream := range streams {
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
