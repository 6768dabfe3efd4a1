package projections

import (
	"sort"
	"sync"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
)

// TimelinessName is the timeliness projection's checkpoint name.
const TimelinessName = "timeliness"

// Timeliness is the concurrency-safe timeliness projection.
type Timeliness struct {
	mu sync.RWMutex
	m  *Model

	cacheMu    sync.Mutex
	statsCache map[statsKey]Stats
	// The latest overdue counts, for the metrics scrape.
	overdue    map[string]int
	overdueAt  domain.Date
	overduePos int64

	factsMu sync.Mutex
	facts   map[string]*laFacts

	// holidays fingerprints the model's bank holidays, worked out once
	// (forty thousand days) for the snapshots written and read.
	holidaysOnce sync.Once
	holidays     string
}

// holidaysFingerprint returns the fingerprint of the projection's bank
// holidays, which never change for it.
func (t *Timeliness) holidaysFingerprint() string {
	t.holidaysOnce.Do(func() { t.holidays = holidaysFingerprint(t.m.Holidays) })
	return t.holidays
}

// byLA lists the cases of one LA, or of every LA when la is "". Callers hold
// t.mu and must not change the list.
func (t *Timeliness) byLA(la string) []*CaseModel {
	if la != "" {
		return t.m.byLA[la]
	}
	out := make([]*CaseModel, 0, len(t.m.Cases))
	for _, c := range t.m.Cases {
		out = append(out, c)
	}
	return out
}

// LAs lists the LAs that have cases.
func (t *Timeliness) LAs() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]string, 0, len(t.m.byLA))
	for la, cases := range t.m.byLA {
		if len(cases) > 0 {
			out = append(out, la)
		}
	}
	sort.Strings(out)
	return out
}

// cacheStats keeps an answer; the cache is emptied when it grows past a few
// thousand answers (a national roll-up is one per LA), which also drops
// answers about positions passed.
func (t *Timeliness) cacheStats(k statsKey, s Stats) {
	t.cacheMu.Lock()
	defer t.cacheMu.Unlock()
	if t.statsCache == nil || len(t.statsCache) > 4096 {
		t.statsCache = map[statsKey]Stats{}
	}
	t.statsCache[k] = s
}

// NewTimeliness returns an empty timeliness projection.
func NewTimeliness(h domain.Holidays) *Timeliness {
	return &Timeliness{m: NewModel(h)}
}

// SetHistoryLoader gives the projection the way to read a case's earlier
// steps, which it needs when a correction arrives.
func (t *Timeliness) SetHistoryLoader(load HistoryLoader) {
	t.mu.Lock()
	t.m.LoadHistory = load
	t.mu.Unlock()
}

// Name implements Projection.
func (t *Timeliness) Name() string { return TimelinessName }

// Position returns the global position of the last applied event.
func (t *Timeliness) Position() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m.Position
}

// Apply implements Projection. Events at or below the checkpoint are skipped,
// so replaying a batch twice changes nothing.
func (t *Timeliness) Apply(batch []eventstore.RecordedEvent) error {
	// The payloads are decoded beside the model, a part of the batch ahead
	// of it: decoding is a third of applying, and needs no lock.
	const part = 256
	type decoded struct {
		ev  domain.Event
		on  domain.Date
		err error
	}
	parts := make(chan []decoded, 2)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(parts)
		for i := 0; i < len(batch); i += part {
			out := make([]decoded, min(part, len(batch)-i))
			for j := range out {
				if e := batch[i+j]; counts(e) {
					out[j].ev, out[j].on, out[j].err = Decode(e)
				}
			}
			select {
			case parts <- out:
			case <-stop:
				return
			}
		}
	}()
	t.mu.Lock()
	defer t.mu.Unlock()
	i := 0
	for out := range parts {
		for _, d := range out {
			e := batch[i]
			i++
			switch {
			case e.Position <= t.m.Position:
			case !counts(e):
				t.m.Position = max(t.m.Position, e.Position)
			case d.err != nil:
				return d.err
			default:
				if err := t.m.ApplyDecoded(e, d.ev, d.on); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// CaseClocks returns a case's clocks on asOf, and false when the case is
// unknown.
func (t *Timeliness) CaseClocks(id string, asOf domain.Date) ([]domain.ClockRow, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c, ok := t.m.Cases[id]
	if !ok {
		return nil, false
	}
	return t.m.Rows(c, asOf), true
}

// AllRows returns every clock of every case on asOf, sorted as FORMAT.md says.
func (t *Timeliness) AllRows(asOf domain.Date) []domain.ClockRow {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m.AllRows(asOf)
}

// WorklistFilter selects clocks for a worklist.
type WorklistFilter struct {
	LA         string
	Caseworker string
	Team       string
	// View narrows to what a caseworker works through: "due_this_week"
	// (running, due from as-of to the Sunday of its week), "overdue", or
	// "at_risk" (running, due within RiskDays with its step not started).
	View     string
	RiskDays int
	Statuses map[string]bool // empty means running and overdue
	DueFrom  domain.Date     // inclusive; zero means no bound
	DueTo    domain.Date     // inclusive; zero means no bound
	Clock    string
	AsOf     domain.Date
	Limit    int
}

// WorklistItem is a clock on a worklist, with the case's LA, assignment,
// whether it is at risk, and the next statutory step.
type WorklistItem struct {
	domain.ClockRow
	LA         string `json:"la"`
	Caseworker string `json:"caseworker,omitempty"`
	Team       string `json:"team,omitempty"`
	AtRisk     bool   `json:"at_risk"`
	NextStep   string `json:"next_step"`
}

// Worklist returns the clocks that match f, soonest due first.
func (t *Timeliness) Worklist(f WorklistFilter) []WorklistItem {
	if len(f.Statuses) == 0 {
		f.Statuses = map[string]bool{domain.StatusRunning: true, domain.StatusOverdue: true}
	}
	openOnly := !f.Statuses[domain.StatusMet] && !f.Statuses[domain.StatusLate] && !f.Statuses[domain.StatusEnded]
	t.mu.RLock()
	var out []WorklistItem
	if f.RiskDays <= 0 {
		f.RiskDays = 10
	}
	weekEnd := f.AsOf.AddDays((7 - int(f.AsOf.Weekday())) % 7)
	for _, c := range t.byLA(f.LA) {
		caseworker, team := t.m.Assignment(c)
		if (f.LA != "" && c.LA != f.LA) || (f.Caseworker != "" && caseworker != f.Caseworker) || (f.Team != "" && team != f.Team) {
			continue
		}
		for _, p := range c.clocks {
			if openOnly && !p.stopped.IsZero() {
				continue
			}
			if (!f.DueFrom.IsZero() && p.due < f.DueFrom) || (!f.DueTo.IsZero() && p.due > f.DueTo) {
				continue
			}
			clock := t.m.unpackClock(p)
			k := &clock
			if f.Clock != "" && k.Name != f.Clock {
				continue
			}
			row := t.m.Row(c, k, f.AsOf)
			if !f.Statuses[row.Status] {
				continue
			}
			item := WorklistItem{ClockRow: row, LA: c.LA, Caseworker: caseworker, Team: team, NextStep: t.m.NextStep(c, k)}
			// A family's window is theirs to use, never the LA's risk.
			item.AtRisk = row.Status == domain.StatusRunning && !k.Rule.LapsesAtDue && k.Due <= f.AsOf.AddDays(f.RiskDays) && !t.m.StepStarted(c, k)
			switch f.View {
			case "due_this_week":
				if row.Status != domain.StatusRunning || k.Due > weekEnd {
					continue
				}
			case "overdue":
				if row.Status != domain.StatusOverdue {
					continue
				}
			case "at_risk":
				if !item.AtRisk {
					continue
				}
			}
			out = append(out, item)
		}
	}
	t.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Due != b.Due {
			return a.Due < b.Due
		}
		if a.Case != b.Case {
			return a.Case < b.Case
		}
		if a.Clock != b.Clock {
			return a.Clock < b.Clock
		}
		return a.Key < b.Key
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out
}

// Reset empties the projection for a rebuild.
func (t *Timeliness) Reset() {
	t.factsMu.Lock()
	t.facts = nil
	t.factsMu.Unlock()
	t.mu.Lock()
	load := t.m.LoadHistory
	t.m = NewModel(t.m.Holidays)
	t.m.LoadHistory = load
	t.mu.Unlock()
}

// OverdueByLA counts each LA's overdue clocks on asOf: the figure operators
// watch. It walks the packed clocks without unpacking them, and keeps its
// answer until the projection moves on or the day changes.
func (t *Timeliness) OverdueByLA(asOf domain.Date) map[string]int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	t.cacheMu.Lock()
	if t.overdue != nil && t.overdueAt == asOf && t.overduePos == t.m.Position {
		out := t.overdue
		t.cacheMu.Unlock()
		return out
	}
	t.cacheMu.Unlock()
	out := make(map[string]int, len(t.m.byLA))
	for la, cases := range t.m.byLA {
		n := 0
		for _, c := range cases {
			for _, p := range c.clocks {
				if p.stopped.IsZero() && p.due < asOf && !t.m.rules.items[p.rule()].rule.LapsesAtDue {
					n++
				}
			}
		}
		if len(cases) > 0 {
			out[la] = n
		}
	}
	t.cacheMu.Lock()
	t.overdue, t.overdueAt, t.overduePos = out, asOf, t.m.Position
	t.cacheMu.Unlock()
	return out
}
