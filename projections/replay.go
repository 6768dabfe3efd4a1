package projections

import (
	"sort"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
)

// An LA's history can be counted again, apart from the live read model,
// under other rules: the rules as they stood before a rulebook revision, or
// another rulebook on every date. History holds the stored events once,
// decoded; each Model built from it counts them under the rules it is given,
// and CompareClocks and Figures say what the other rules changed.

// History is a set of stored events, decoded once and kept in the order
// they were recorded, to be counted into models under different rules.
type History struct {
	events  []eventstore.RecordedEvent
	decoded []domain.Event
	on      []domain.Date
	// byCase lists, for each case, the places of its events.
	byCase map[string][]int
}

// NewHistory decodes events (of any streams, in any order) into a History
// ordered by their global position. An event that cannot be decoded is an
// error: a history counted without it would be wrong.
func NewHistory(events []eventstore.RecordedEvent) (*History, error) {
	evs := append([]eventstore.RecordedEvent(nil), events...)
	sort.Slice(evs, func(i, j int) bool { return evs[i].Position < evs[j].Position })
	h := &History{events: evs, decoded: make([]domain.Event, len(evs)), on: make([]domain.Date, len(evs)), byCase: map[string][]int{}}
	for i, e := range evs {
		ev, on, err := Decode(e)
		if err != nil {
			return nil, err
		}
		h.decoded[i], h.on[i] = ev, on
		if id, ok := domain.CaseIDOf(e.Stream); ok {
			h.byCase[id] = append(h.byCase[id], i)
		}
	}
	return h, nil
}

// First is the date of the earliest step in the history, zero when it is
// empty.
func (h *History) First() domain.Date {
	var first domain.Date
	for _, on := range h.on {
		if first.IsZero() || on < first {
			first = on
		}
	}
	return first
}

// Model counts the history into a new model under rules (nil: the LA's
// adoptions of this build's rulebooks, as the live model counts). A
// correction's earlier steps come from the history itself, so the model
// reads no store.
func (h *History) Model(holidays domain.Holidays, rules Rules) (*Model, error) {
	m := NewModel(holidays)
	m.Rules = rules
	m.LoadHistory = func(caseID string, below int64) ([]domain.Step, error) {
		var steps []domain.Step
		for _, i := range h.byCase[caseID] {
			if h.events[i].Version < below {
				steps = append(steps, domain.Step{Version: h.events[i].Version, On: h.on[i], Event: h.decoded[i]})
			}
		}
		return steps, nil
	}
	for i, e := range h.events {
		if err := m.ApplyDecoded(e, h.decoded[i], h.on[i]); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ClockChange is a clock whose due date or status differs between two
// countings of the same history. A clock that only one of them has is
// listed with the other's due date and status empty.
type ClockChange struct {
	Case         string      `json:"case"`
	Clock        string      `json:"clock"`
	Key          string      `json:"key"`
	Started      domain.Date `json:"started"`
	DueBefore    domain.Date `json:"due_before"`
	DueAfter     domain.Date `json:"due_after"`
	StatusBefore string      `json:"status_before"`
	StatusAfter  string      `json:"status_after"`
}

// CompareClocks lists the clocks of an LA's cases whose due date or status
// on asOf differs between two models of the same history, case by case in
// the order of the clocks. A case's clocks are paired by name, key and
// their order among the clocks of that name and key.
func CompareClocks(before, after *Model, la string, asOf domain.Date) []ClockChange {
	ids := map[string]bool{}
	for _, m := range []*Model{before, after} {
		for _, c := range m.byLA[la] {
			ids[c.ID] = true
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	type slot struct {
		clock, key string
		n          int
	}
	slots := func(m *Model, id string) (map[slot]domain.ClockRow, []slot) {
		c := m.Cases[id]
		if c == nil || c.LA != la {
			return nil, nil
		}
		rows := map[slot]domain.ClockRow{}
		var order []slot
		seen := map[[2]string]int{}
		for _, r := range m.Rows(c, asOf) {
			k := [2]string{r.Clock, r.Key}
			s := slot{r.Clock, r.Key, seen[k]}
			seen[k]++
			rows[s] = r
			order = append(order, s)
		}
		return rows, order
	}
	var out []ClockChange
	for _, id := range sorted {
		b, order := slots(before, id)
		a, afterOrder := slots(after, id)
		for _, s := range afterOrder {
			if _, ok := b[s]; !ok {
				order = append(order, s)
			}
		}
		for _, s := range order {
			rb, inBefore := b[s]
			ra, inAfter := a[s]
			if inBefore && inAfter && rb.Due == ra.Due && rb.Status == ra.Status {
				continue
			}
			ch := ClockChange{Case: id, Clock: s.clock, Key: s.key, Started: rb.Started,
				DueBefore: rb.Due, DueAfter: ra.Due, StatusBefore: rb.Status, StatusAfter: ra.Status}
			if !inBefore {
				ch.Started = ra.Started
			}
			out = append(out, ch)
		}
	}
	return out
}

// Figures are one LA's inspector figures in a model, drawn once from its
// cases: ask them about any period.
type Figures struct {
	la    string
	facts *laFacts
}

// Figures draws an LA's figures from the model. The model must not change
// while they are drawn (a model built from a History never does).
func (m *Model) Figures(la string) *Figures {
	return &Figures{la: la, facts: m.buildFacts(m.byLA[la], m.Position)}
}

// Stats returns the figures for period p, as they stand on asOf, counted
// as Timeliness.LAStats counts them.
func (f *Figures) Stats(p Period, asOf domain.Date) Stats {
	s := newStats(f.la, p, asOf)
	f.facts.statsFrom(s, p, asOf)
	s.finish()
	return *s
}

// CaseIDs lists the cases an LA's figures count (those whose latest event
// is the LA's), sorted.
func (t *Timeliness) CaseIDs(la string) []string {
	t.mu.RLock()
	ids := make([]string, 0, len(t.m.byLA[la]))
	for _, c := range t.m.byLA[la] {
		ids = append(ids, c.ID)
	}
	t.mu.RUnlock()
	sort.Strings(ids)
	return ids
}
