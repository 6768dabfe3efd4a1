package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/internal/safecsv"
	"github.com/ehcledger/ehcledger/projections"
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
	// Summary says in words what the step records (its command's summary;
	// "" for what the application records itself), and Details lists the
	// event's fields in words, free text opened or shown erased, never
	// sealed bytes.
	Summary string   `json:"summary,omitempty"`
	Details []Detail `json:"details"`
	// By names who recorded it for people: the actor, or for a person
	// invited to the case their name and kind; Sentence says the whole in
	// one line ("Advice asked for arrives (reg 8), 3 October 2026,
	// recorded by Dr R Lee (educational psychology, invited)").
	By       string `json:"by"`
	Sentence string `json:"sentence"`
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
		if spec := domain.LookupCommand(domain.CommandForEvent(e.Type)); spec != nil {
			out[i].Summary = spec.Summary
		}
		out[i].Details = l.details(lc.c.ID, e)
		out[i].By = l.actorName(lc, e.Actor)
		out[i].Sentence = sentence(out[i])
		if fix, ok := lc.history[i].Event.(*domain.StepCorrected); ok && fix.Corrects >= 1 && int(fix.Corrects) <= len(out) {
			out[i].Corrects = fix.Corrects
			out[fix.Corrects-1].CorrectedBy = append(out[fix.Corrects-1].CorrectedBy, e.Version)
		}
	}
	return out
}

// actorName names an actor for people: a person invited to the case by
// the name and kind their invitation gave (the name opened with the case's
// key, "a person invited" once erased); anyone else as recorded.
func (l *Ledger) actorName(lc *loadedCase, actor string) string {
	rest, ok := strings.CutPrefix(actor, "participant:"+lc.c.ID+"/")
	if !ok {
		return actor
	}
	inv, found := lc.c.Invitation(rest)
	if !found || inv.Version < 1 || int(inv.Version) > len(lc.history) {
		return actor
	}
	kind := strings.ReplaceAll(inv.Participant, "_", " ")
	if name := l.invitedName(lc.c.ID, lc.history[inv.Version-1].Event); name != "" {
		return name + " (" + kind + ", invited)"
	}
	return "a person invited (" + kind + ")"
}

// sentence says a timeline entry in one line.
func sentence(e TimelineEntry) string {
	what := strings.TrimSuffix(e.Summary, ".")
	if what == "" {
		what = strings.ReplaceAll(e.Event, "_", " ")
		what = strings.ToUpper(what[:1]) + what[1:]
	}
	day := e.OccurredOn
	if d, err := domain.ParseDate(e.OccurredOn); err == nil {
		y, m, dd := d.YMD()
		day = time.Date(y, m, dd, 0, 0, 0, 0, time.UTC).Format("2 January 2006")
	}
	return what + ", " + day + ", recorded by " + e.By
}

// Detail is one field of an event, in words.
type Detail struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// details lists an event's fields in words: its own copy decoded from the
// store, free text opened with the case's key ("(erased)" once erased), and
// sealed personal details left to the case's person panel.
func (l *Ledger) details(caseID string, e eventstore.RecordedEvent) []Detail {
	ev, _, err := projections.Decode(e)
	if err != nil {
		return []Detail{{Name: "data", Value: "(could not be read)"}}
	}
	if err := openTexts(l.Keys, caseID, ev); err != nil {
		return []Detail{{Name: "data", Value: "(sealed)"}}
	}
	var out []Detail
	describeFields(reflect.ValueOf(ev), "", &out)
	return out
}

// describeFields adds a struct's set fields to out, by JSON name in words.
func describeFields(v reflect.Value, prefix string, out *[]Detail) {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fv := v.Field(i)
		if f.Anonymous && name == "" && fv.Kind() == reflect.Struct {
			describeFields(fv, prefix, out)
			continue
		}
		if !f.IsExported() || name == "-" || fv.IsZero() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		label := prefix + strings.ReplaceAll(name, "_", " ")
		switch x := fv.Interface().(type) {
		case domain.Text:
			val := x.Plain
			if x.Erased {
				val = "(erased)"
			}
			*out = append(*out, Detail{Name: label, Value: val})
			continue
		case domain.Date:
			*out = append(*out, Detail{Name: label, Value: x.String()})
			continue
		case []byte:
			continue // sealed personal details: the case's person panel shows them
		}
		switch fv.Kind() {
		case reflect.Bool:
			*out = append(*out, Detail{Name: label, Value: "yes"})
		case reflect.Struct:
			describeFields(fv, label+": ", out)
		case reflect.Slice:
			if fv.Type().Elem().Kind() == reflect.Struct {
				for j := 0; j < fv.Len(); j++ {
					describeFields(fv.Index(j), label+" "+strconv.Itoa(j+1)+": ", out)
				}
				continue
			}
			parts := make([]string, fv.Len())
			for j := range parts {
				parts[j] = fmt.Sprint(fv.Index(j).Interface())
			}
			*out = append(*out, Detail{Name: label, Value: strings.Join(parts, ", ")})
		case reflect.Map:
			continue // derived data (a rulebook's attributes), not what was recorded
		default:
			*out = append(*out, Detail{Name: label, Value: fmt.Sprint(fv.Interface())})
		}
	}
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
