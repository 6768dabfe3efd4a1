package app

import (
	"context"
	"github.com/ehcledger/ehcledger/internal/safecsv"

	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/ehcledger/ehcledger/domain"
)

// TimelineEntry is one event of a case as an auditor reads it: what happened,
// when it happened, when it was recorded, by whom and why, and how it relates
// to corrections.
type TimelineEntry struct {
	Version       int64           `json:"version"`
	Position      int64           `json:"position"`
	Event         string          `json:"event"`
	OccurredOn    string          `json:"occurred_on"`
	RecordedAt    time.Time       `json:"recorded_at"`
	RecordedLate  bool            `json:"recorded_late"`
	Actor         string          `json:"actor"`
	LA            string          `json:"la"`
	Reason        string          `json:"reason,omitempty"`
	CorrelationID string          `json:"correlation_id"`
	CausationID   string          `json:"causation_id"`
	Data          json.RawMessage `json:"data"`
	// Corrects is the version this event corrects (for step_corrected).
	Corrects int64 `json:"corrects,omitempty"`
	// CorrectedBy lists the versions of the corrections of this event; the
	// last one is in force.
	CorrectedBy []int64 `json:"corrected_by,omitempty"`
	Hash        string  `json:"hash"`
}

// Timeline returns every event of a case with its audit fields, corrections
// shown beside what they correct.
func (l *Ledger) Timeline(ctx context.Context, id string, gate Gate) ([]TimelineEntry, error) {
	_, now, err := l.open(ctx, id, time.Time{}, gate)
	if err != nil {
		return nil, err
	}
	return l.timeline(now), nil
}

// timeline lists a case's events as read, with their corrections; the
// reasons are opened (or shown erased).
func (l *Ledger) timeline(lc *loadedCase) []TimelineEntry {
	out := make([]TimelineEntry, len(lc.events))
	for i, e := range lc.events {
		occurred, _ := domain.ParseDate(e.OccurredOn)
		out[i] = TimelineEntry{Version: e.Version, Position: e.Position, Event: e.Type, OccurredOn: e.OccurredOn,
			RecordedAt: e.RecordedAt, RecordedLate: occurred < domain.DateOf(e.RecordedAt), Actor: e.Actor, LA: e.LA,
			Reason: l.OpenReason(lc.c.ID, e.Reason), CorrelationID: e.CorrelationID, CausationID: e.CausationID, Data: e.Payload, Hash: e.Hash}
		if fix, ok := lc.history[i].Event.(*domain.StepCorrected); ok && fix.Corrects >= 1 && int(fix.Corrects) <= len(out) {
			out[i].Corrects = fix.Corrects
			out[fix.Corrects-1].CorrectedBy = append(out[fix.Corrects-1].CorrectedBy, e.Version)
		}
	}
	return out
}

// WriteTimelineCSV writes a timeline as CSV with a header row.
func WriteTimelineCSV(w io.Writer, caseID string, entries []TimelineEntry) error {
	cw := safecsv.NewWriter(w)
	_ = cw.Write([]string{"case", "version", "position", "event", "occurred_on", "recorded_at", "recorded_late", "actor", "la",
		"reason", "corrects", "corrected_by", "correlation_id", "causation_id", "data", "hash"})
	for _, e := range entries {
		by := ""
		for i, v := range e.CorrectedBy {
			if i > 0 {
				by += " "
			}
			by += strconv.FormatInt(v, 10)
		}
		corrects := ""
		if e.Corrects > 0 {
			corrects = strconv.FormatInt(e.Corrects, 10)
		}
		if err := cw.Write([]string{caseID, strconv.FormatInt(e.Version, 10), strconv.FormatInt(e.Position, 10), e.Event, e.OccurredOn,
			e.RecordedAt.UTC().Format(time.RFC3339Nano), strconv.FormatBool(e.RecordedLate), e.Actor, e.LA, e.Reason, corrects, by,
			e.CorrelationID, e.CausationID, string(e.Data), e.Hash}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
