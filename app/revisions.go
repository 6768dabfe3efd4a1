package app

import (
	"context"
	"errors"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/google/uuid"
)

// RecordedRevision is a rulebook revision as the store holds it.
type RecordedRevision struct {
	domain.RulebookRevised
	// Position is the event's place in the store's global order, and
	// RecordedAt the instant it was recorded.
	Position   int64
	RecordedAt time.Time
}

// RulebookRevisions reads every recorded rulebook revision, oldest first,
// and the version of the rulebooks stream they make up.
func (l *Ledger) RulebookRevisions(ctx context.Context) ([]RecordedRevision, int64, error) {
	evs, err := l.Store.ReadStream(ctx, domain.RulebooksStream(), 1)
	if err != nil {
		return nil, 0, &domain.Error{Code: domain.Internal, Message: "could not read the rulebook revisions", Err: err}
	}
	out := make([]RecordedRevision, 0, len(evs))
	for _, e := range evs {
		ev, _, err := projections.Decode(e)
		if err != nil {
			return nil, 0, errUnreadable(err)
		}
		r, ok := ev.(*domain.RulebookRevised)
		if !ok {
			return nil, 0, &domain.Error{Code: domain.Internal, Message: "the rulebooks stream holds an event that is not a revision: " + e.Type}
		}
		out = append(out, RecordedRevision{RulebookRevised: *r, Position: e.Position, RecordedAt: e.RecordedAt})
	}
	return out, int64(len(evs)), nil
}

// revisionReason is kept on every recorded revision: why it was recorded.
const revisionReason = "the rulebooks of this build differ from those the ledger last recorded"

// RecordRulebookRevisions records, in the rulebooks stream, a revision of
// each rulebook of this build whose version or content is not what the store
// recorded last for its id, and returns what it recorded (nothing when the
// store is up to date, as it is on every start after the first of a build).
// The append expects the stream as it was read, so two ledgers starting at
// once on one store record each revision once: the one that loses the race
// reads the stream again and finds nothing left to record.
func (l *Ledger) RecordRulebookRevisions(ctx context.Context, actor string) ([]domain.RulebookRevised, error) {
	for attempt := 0; ; attempt++ {
		recorded, version, err := l.RulebookRevisions(ctx)
		if err != nil {
			return nil, err
		}
		latest := map[string]*domain.RulebookRevised{}
		for i := range recorded {
			latest[recorded[i].Rulebook] = &recorded[i].RulebookRevised
		}
		var revised []domain.RulebookRevised
		var events []domain.Event
		for _, id := range domain.RulebookIDs() {
			rb, err := domain.LookupRulebook(id)
			if err != nil {
				return nil, err
			}
			if e := domain.ReviseRulebook(rb, latest[id]); e != nil {
				revised = append(revised, *e)
				events = append(events, e)
			}
		}
		if len(events) == 0 {
			return nil, nil
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, &domain.Error{Code: domain.Internal, Message: "could not make an ID", Err: err}
		}
		now := l.Now()
		data, err := Envelope(events, Meta{On: domain.DateOf(now), RecordedAt: now, Actor: actor,
			Correlation: id.String(), Causation: id.String(), Reason: revisionReason})
		if err != nil {
			return nil, err
		}
		expected := eventstore.NoStream
		if version > 0 {
			expected = eventstore.Exact(version)
		}
		_, err = l.Store.Append(ctx, domain.RulebooksStream(), expected, data)
		if err != nil && errors.Is(err, eventstore.ErrWrongVersion) && attempt < 3 {
			continue // another start recorded first: look again
		}
		if err != nil {
			return nil, &domain.Error{Code: domain.Internal, Message: "could not record the rulebook revisions", Err: err}
		}
		return revised, nil
	}
}
