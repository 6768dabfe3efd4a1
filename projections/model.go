// Package projections builds read models from the event stream: timeliness
// (the statutory clocks of every case) and audit (every case's history). Each
// keeps a checkpoint and can be rebuilt from scratch to the same result.
package projections

import (
	"fmt"
	"sort"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
)

// Decode turns a stored event into its domain event and occurred-on date.
func Decode(e eventstore.RecordedEvent) (domain.Event, domain.Date, error) {
	ev, err := domain.DecodeEvent(e.Type, e.SchemaVersion, e.Payload)
	if err != nil {
		return nil, 0, fmt.Errorf("event %d (%s): %w", e.Position, e.Stream, err)
	}
	on, err := domain.ParseDate(e.OccurredOn)
	if err != nil {
		return nil, 0, fmt.Errorf("event %d (%s): occurred-on: %w", e.Position, e.Stream, err)
	}
	return ev, on, nil
}

// CaseModel is the timeliness state of one case.
type CaseModel struct {
	ID      string
	LA      string
	Version int64
	// LastPosition is the global position of the case's latest event.
	LastPosition int64
	Clocks       domain.CaseClocks
	// History is the case's stored steps, kept so that a correction can
	// recompute the clocks from the corrected history.
	History   []domain.Step
	corrected bool
	// Caseworker and Team are the latest assignment.
	Caseworker, Team string
}

// Model is the timeliness read model: the clocks of every case and the
// school calendars that derive exceptions. It is not safe for concurrent use;
// Timeliness guards it.
type Model struct {
	Holidays domain.Holidays
	Cases    map[string]*CaseModel
	// Closures holds each school's closures, by LA then school.
	Closures map[string]map[string][]domain.ClosureWindow
	// Adoptions holds each LA's rulebook adoptions in the order recorded.
	Adoptions map[string][]domain.RulebookAdopted
	Position  int64
	// byLA indexes cases by their current LA, for per-LA views.
	byLA map[string]map[string]*CaseModel
	// laPosition is the position of the latest event that changed each LA's
	// figures, so a cached answer about one LA outlives writes to others.
	laPosition map[string]int64
}

func (m *Model) touch(la string, pos int64) {
	if m.laPosition == nil {
		m.laPosition = map[string]int64{}
	}
	m.laPosition[la] = pos
}

// index files case c under its current LA, moving it if it changed LA.
func (m *Model) index(c *CaseModel, oldLA string) {
	if m.byLA == nil {
		m.byLA = map[string]map[string]*CaseModel{}
	}
	if oldLA != "" && oldLA != c.LA {
		delete(m.byLA[oldLA], c.ID)
	}
	if m.byLA[c.LA] == nil {
		m.byLA[c.LA] = map[string]*CaseModel{}
	}
	m.byLA[c.LA][c.ID] = c
}

// NewModel returns an empty model.
func NewModel(h domain.Holidays) *Model {
	return &Model{Holidays: h, Cases: map[string]*CaseModel{}, Closures: map[string]map[string][]domain.ClosureWindow{},
		Adoptions: map[string][]domain.RulebookAdopted{}}
}

// Apply adds one stored event to the model.
func (m *Model) Apply(e eventstore.RecordedEvent) error {
	ev, on, err := Decode(e)
	if err != nil {
		return err
	}
	m.ApplyDecoded(e, ev, on)
	return nil
}

// ApplyDecoded adds an already decoded event.
func (m *Model) ApplyDecoded(e eventstore.RecordedEvent, ev domain.Event, on domain.Date) {
	if e.Position > m.Position {
		m.Position = e.Position
	}
	m.touch(e.LA, e.Position)
	switch v := ev.(type) {
	case *domain.SchoolClosureRecorded:
		la := m.Closures[e.LA]
		if la == nil {
			la = map[string][]domain.ClosureWindow{}
			m.Closures[e.LA] = la
		}
		la[v.School] = append(la[v.School], domain.ClosureWindow{FirstDay: v.FirstDay, Reopens: v.Reopens})
		return
	case *domain.RulebookAdopted:
		m.Adoptions[e.LA] = append(m.Adoptions[e.LA], *v)
		return
	}
	id, ok := domain.CaseIDOf(e.Stream)
	if !ok {
		return
	}
	c := m.Cases[id]
	if c == nil {
		if _, ok := ev.(*domain.RequestReceived); !ok {
			return // a case starts with its request; the store never holds otherwise
		}
		c = &CaseModel{ID: id, LA: e.LA}
		m.Cases[id] = c
	}
	c.Version = e.Version
	c.LastPosition = e.Position
	if old := c.LA; old != e.LA || m.byLA[e.LA][c.ID] == nil {
		c.LA = e.LA // a case follows its plan when it moves LA
		m.index(c, old)
		if old != "" {
			m.touch(old, e.Position)
		}
	}
	c.History = append(c.History, domain.Step{Version: e.Version, On: on, Event: ev})
	if a, ok := ev.(*domain.CaseAssigned); ok {
		c.Caseworker, c.Team = a.Caseworker, a.Team
	}
	if _, corrects := ev.(*domain.StepCorrected); corrects || c.corrected {
		c.corrected = true
		m.recompute(c)
		return
	}
	c.Clocks.Apply(m.RulebookAt(c.LA, on), ev, on, m.Holidays)
}

// recompute rebuilds a corrected case's clocks from its corrected history.
func (m *Model) recompute(c *CaseModel) {
	rulesAt := func(d domain.Date) *domain.Rulebook { return m.RulebookAt(c.LA, d) }
	eff, err := domain.Effective(c.History, rulesAt)
	if err != nil {
		// The command path refuses corrections that break the history, so
		// this only happens with a store written by other means: show the
		// steps as recorded rather than nothing.
		eff = nil
		for _, s := range c.History {
			if _, ok := s.Event.(*domain.StepCorrected); !ok {
				eff = append(eff, s)
			}
		}
	}
	c.Clocks = domain.CaseClocks{}
	for _, s := range eff {
		c.Clocks.Apply(rulesAt(s.On), s.Event, s.On, m.Holidays)
	}
}

// RulebookAt returns the rulebook an LA had in force on a date, as far as the
// adoptions applied so far say: the latest recorded adoption effective on or
// before the date, else the current law. Because a clock takes its rules when
// it starts, an adoption recorded later never changes a clock already started.
func (m *Model) RulebookAt(la string, on domain.Date) *domain.Rulebook {
	return domain.RulebookInForce(m.Adoptions[la], on)
}

// laCalendar gives the school closures of one LA.
type laCalendar map[string][]domain.ClosureWindow

func (l laCalendar) Closures(school string) []domain.ClosureWindow { return l[school] }

// Rows returns the case's clocks as they stand on asOf.
func (m *Model) Rows(c *CaseModel, asOf domain.Date) []domain.ClockRow {
	return c.Clocks.Rows(c.ID, asOf, laCalendar(m.Closures[c.LA]))
}

// Row returns one clock of a case as it stands on asOf.
func (m *Model) Row(c *CaseModel, k *domain.Clock, asOf domain.Date) domain.ClockRow {
	return c.Clocks.Row(c.ID, k, asOf, laCalendar(m.Closures[c.LA]))
}

// Exceptions lists the exceptions that cover a clock of a case.
func (m *Model) Exceptions(c *CaseModel, k *domain.Clock) []domain.Exception {
	return c.Clocks.ExceptionsFor(k, laCalendar(m.Closures[c.LA]))
}

// AllRows returns every case's clocks on asOf, sorted.
func (m *Model) AllRows(asOf domain.Date) []domain.ClockRow {
	ids := make([]string, 0, len(m.Cases))
	for id := range m.Cases {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var rows []domain.ClockRow
	for _, id := range ids {
		rows = append(rows, m.Rows(m.Cases[id], asOf)...)
	}
	return rows
}
