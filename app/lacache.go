package app

import (
	"context"
	"slices"
	"sync"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
)

// laCache keeps each LA's settings as its stream had them at a version:
// every command needs the rulebook its LA adopted, and reading and decoding
// the whole LA stream (its school closures too) for each took a sixth of a
// command's time. The stream only grows, so the cache reads only the events
// past the version it holds, usually none, at the cost of one indexed query.
type laCache struct {
	mu   sync.Mutex
	byLA map[string]*cachedLA
}

// maxCachedLAs bounds the cache: England has 153 LAs.
const maxCachedLAs = 4096

type cachedLA struct {
	mu       sync.Mutex
	version  int64
	settings laSettings
}

// entry returns the cache entry of an LA, made empty when new.
func (c *laCache) entry(la string) *cachedLA {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byLA == nil || len(c.byLA) >= maxCachedLAs {
		c.byLA = map[string]*cachedLA{}
	}
	e := c.byLA[la]
	if e == nil {
		e = &cachedLA{}
		c.byLA[la] = e
	}
	return e
}

// currentLASettings returns an LA's settings as its stream has them now.
func (l *Ledger) currentLASettings(ctx context.Context, la string) (laSettings, error) {
	e := l.laCache.entry(la)
	e.mu.Lock()
	defer e.mu.Unlock()
	evs, err := l.Store.ReadStream(ctx, domain.LAStream(la), e.version+1)
	if err != nil {
		return laSettings{}, &domain.Error{Code: domain.Internal, Message: "could not read the LA", Err: err}
	}
	next := e.settings
	for _, ev := range evs {
		if err := next.add(ev); err != nil {
			return laSettings{}, err
		}
	}
	if len(evs) > 0 {
		e.settings, e.version = next, evs[len(evs)-1].Version
	}
	// Clipped, so that a caller appending to a list cannot write into the
	// cache's array.
	out := e.settings
	out.adoptions, out.apInterval = slices.Clip(out.adoptions), slices.Clip(out.apInterval)
	return out, nil
}

// add folds one event of the LA's stream into its settings.
func (s *laSettings) add(e eventstore.RecordedEvent) error {
	ev, _, err := projections.Decode(e)
	if err != nil {
		return &domain.Error{Code: domain.Internal, Message: "a stored event could not be read", Err: err}
	}
	switch v := ev.(type) {
	case *domain.RulebookAdopted:
		s.adoptions = append(slices.Clip(s.adoptions), *v)
	case *domain.APReviewIntervalSet:
		s.apInterval = append(slices.Clip(s.apInterval), *v)
	case *domain.DfENumberSet:
		s.dfeNumber = v.Number
	}
	return nil
}
