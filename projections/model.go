// Package projections builds read models from the event stream: timeliness
// (the statutory clocks of every case) and audit (the access log and the
// log's Merkle tree; a case's history is read from its stream). Each keeps a
// checkpoint and can be rebuilt from scratch to the same result.
package projections

import (
	"context"
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

// CaseModel is the timeliness state of one case, kept compact (see
// compact.go): read its clocks through Model.CaseClocks.
type CaseModel struct {
	ID      string
	LA      string
	Version int64
	// caseworker and team are the latest assignment, in Model.strs.
	caseworker, team uint32

	slot int32 // in its LA's list
	// books has a bit for each rulebook (numbered in Model.books) any of
	// the case's events was applied under: when one of them changes, the
	// case is counted again from its stream (Timeliness.Recompute).
	books  uint32
	clocks []packedClock
	marks  []mark
	extra  *caseExtra
}

// HistoryLoader reads the steps of a case's stream below a version, for the
// rare case whose clocks must be worked out again after a correction.
type HistoryLoader func(caseID string, below int64) ([]domain.Step, error)

// StoreHistory returns a HistoryLoader that reads the event store.
func StoreHistory(ctx context.Context, s eventstore.Store) HistoryLoader {
	return func(caseID string, below int64) ([]domain.Step, error) {
		evs, err := s.ReadStream(ctx, domain.CaseStream(caseID), 1)
		if err != nil {
			return nil, err
		}
		var steps []domain.Step
		for _, e := range evs {
			if e.Version >= below {
				break
			}
			ev, on, err := Decode(e)
			if err != nil {
				return nil, err
			}
			steps = append(steps, domain.Step{Version: e.Version, On: on, Event: ev})
		}
		return steps, nil
	}
}

// Model is the timeliness read model: the clocks of every case and the
// school calendars that derive exceptions. It is not safe for concurrent use;
// Timeliness guards it.
type Model struct {
	Holidays domain.Holidays
	Cases    map[string]*CaseModel
	// Closures holds each school's closures, by LA then school.
	Closures map[string]map[string][]domain.ClosureWindow
	// Adoptions holds each LA's rulebook adoptions in the order recorded,
	// and adoptedAt their positions, so that a case counted again alone
	// sees only the adoptions recorded before each of its events.
	Adoptions map[string][]domain.RulebookAdopted
	adoptedAt map[string][]int64
	Position  int64
	// LoadHistory reads a case's earlier steps when a correction arrives;
	// without it a correction cannot be applied.
	LoadHistory HistoryLoader
	// Rules, when set, chooses the rulebook a clock starts under instead of
	// the LA's adoptions of this build's rulebooks: other versions of the
	// rules (what a revision changed) or one rulebook on every date (a
	// what-if). Only models built for such a question set it; the live
	// read model never does.
	Rules Rules
	// byLA lists cases by their current LA, for per-LA views; each case
	// knows its place in its LA's list (a list costs a pointer a case, a map
	// several times that).
	byLA map[string][]*CaseModel
	// laPosition is the position of the latest event that changed each LA's
	// figures, so a cached answer about one LA outlives writes to others.
	laPosition map[string]int64

	// The tables packed clocks, marks and cases number into; they only
	// grow.
	strs  table[string]
	rules table[ruleRef]
	books table[string]
	// horizon, while a case is counted again alone, is the position of the
	// event being applied: adoptions recorded at or after it are not yet
	// in force.
	horizon int64
	// Scratch space for applying one event to one case.
	scratch     []domain.Clock
	scratchPtrs []*domain.Clock
	work        domain.CaseClocks
}

func (m *Model) touch(la string, pos int64) {
	if m.laPosition == nil {
		m.laPosition = map[string]int64{}
	}
	m.laPosition[la] = pos
}

// index files case c under its current LA, taking it out of oldLA's list
// when it was filed there.
func (m *Model) index(c *CaseModel, oldLA string) {
	if m.byLA == nil {
		m.byLA = map[string][]*CaseModel{}
	}
	if oldLA != "" {
		m.unfile(c, oldLA)
	}
	c.slot = int32(len(m.byLA[c.LA]))
	m.byLA[c.LA] = append(m.byLA[c.LA], c)
}

// unfile takes case c out of la's list.
func (m *Model) unfile(c *CaseModel, la string) {
	list := m.byLA[la]
	last := list[len(list)-1]
	list[c.slot], last.slot = last, c.slot
	list[len(list)-1] = nil
	m.byLA[la] = list[:len(list)-1]
}

// NewModel returns an empty model.
func NewModel(h domain.Holidays) *Model {
	m := &Model{Holidays: h, Cases: map[string]*CaseModel{}, Closures: map[string]map[string][]domain.ClosureWindow{},
		Adoptions: map[string][]domain.RulebookAdopted{}, adoptedAt: map[string][]int64{}}
	m.intern("") // number 0, what an unassigned case's names and an unlabelled mark read
	return m
}

// counts says whether an event can change the model: outside cases only
// closures and adoptions do (ApplyDecoded). The rest, reads of cases above
// all, are passed without decoding.
func counts(e eventstore.RecordedEvent) bool {
	_, ok := domain.CaseIDOf(e.Stream)
	return ok || e.Type == domain.TypeSchoolClosureRecorded || e.Type == domain.TypeRulebookAdopted
}

// Apply adds one stored event to the model.
func (m *Model) Apply(e eventstore.RecordedEvent) error {
	if !counts(e) {
		m.Position = max(m.Position, e.Position)
		return nil
	}
	ev, on, err := Decode(e)
	if err != nil {
		return err
	}
	return m.ApplyDecoded(e, ev, on)
}

// ApplyDecoded adds an already decoded event. It fails only when a
// correction arrives and the case's history cannot be read.
func (m *Model) ApplyDecoded(e eventstore.RecordedEvent, ev domain.Event, on domain.Date) error {
	if err := m.roomForStrings(); err != nil {
		return fmt.Errorf("event %d (%s): %w", e.Position, e.Stream, err)
	}
	la := m.internString(e.LA)
	switch v := ev.(type) {
	case *domain.SchoolClosureRecorded:
		cal := m.Closures[la]
		if cal == nil {
			cal = map[string][]domain.ClosureWindow{}
			m.Closures[la] = cal
		}
		cal[v.School] = append(cal[v.School], domain.ClosureWindow{FirstDay: v.FirstDay, Reopens: v.Reopens})
		m.advance(la, e.Position)
		return nil
	case *domain.RulebookAdopted:
		m.Adoptions[la] = append(m.Adoptions[la], *v)
		m.adoptedAt[la] = append(m.adoptedAt[la], e.Position)
		m.advance(la, e.Position)
		return nil
	}
	id, ok := domain.CaseIDOf(e.Stream)
	if !ok {
		// Reads of cases and other events outside cases change no clock and
		// no figure: the LA's cached figures stay good.
		m.Position = max(m.Position, e.Position)
		return nil
	}
	c := m.Cases[id]
	if c != nil && e.Version <= c.Version {
		// Already in the model: a snapshot written while events were being
		// applied can hold events past its position.
		m.advance(la, e.Position)
		return nil
	}
	if c == nil {
		if _, ok := ev.(domain.Opener); !ok {
			m.advance(la, e.Position)
			return nil // a case starts with its request; the store never holds otherwise
		}
		c = &CaseModel{ID: id}
	}
	_, corrects := ev.(*domain.StepCorrected)
	if corrects && (c.extra == nil || !c.extra.corrected) {
		// From now on the case's clocks come from its corrected history, so
		// read the steps before this one once.
		if m.LoadHistory == nil {
			return fmt.Errorf("event %d (%s): a correction needs the case's history and no store was given to read it", e.Position, e.Stream)
		}
		h, err := m.LoadHistory(id, e.Version)
		if err != nil {
			return fmt.Errorf("event %d (%s): read the history to correct: %w", e.Position, e.Stream, err)
		}
		if c.extra == nil {
			c.extra = &caseExtra{}
		}
		c.extra.history, c.extra.corrected = h, true
	}
	m.advance(la, e.Position)
	if m.Cases[id] == nil {
		m.Cases[id] = c
	}
	c.Version = e.Version
	if old := c.LA; old != la {
		c.LA = la // a case follows its plan when it moves LA
		m.index(c, old)
		if old != "" {
			m.touch(old, e.Position)
		}
	}
	if a, ok := ev.(*domain.CaseAssigned); ok {
		c.caseworker, c.team = m.intern(a.Caseworker), m.intern(a.Team)
	}
	if c.extra != nil && c.extra.corrected {
		c.extra.history = append(c.extra.history, domain.Step{Version: e.Version, On: on, Event: ev})
		m.recompute(c)
		return nil
	}
	m.remember(c, ev, on)
	cc := m.working(c)
	cc.Apply(m.caseRulebook(c, on), ev, on, m.Holidays)
	m.store(c, cc)
	return nil
}

// caseRulebook returns the rulebook in force for a case's LA on a date,
// noting it among the rulebooks the case was counted under.
func (m *Model) caseRulebook(c *CaseModel, on domain.Date) *domain.Rulebook {
	rb := m.RulebookAt(c.LA, on)
	if n := m.books.number(rb.ID); n < 32 {
		c.books |= 1 << n
	} else {
		c.books = ^uint32(0) // more rulebooks than bits: counted again whichever changes
	}
	return rb
}

// roomForStrings checks the string table can take what one more event may
// add (an LA, names, a label, a few clock keys) within what packed clocks
// can number.
func (m *Model) roomForStrings() error {
	if len(m.strs.items) > maxStrings-64 {
		return fmt.Errorf("the timeliness model holds at most %d distinct clock keys, labels and names, and is full", maxStrings)
	}
	return nil
}

// Assignment returns the caseworker and team a case is assigned to.
func (m *Model) Assignment(c *CaseModel) (caseworker, team string) {
	return m.strs.items[c.caseworker], m.strs.items[c.team]
}

// advance moves the model's position and the LA's on past an event.
func (m *Model) advance(la string, pos int64) {
	if pos > m.Position {
		m.Position = pos
	}
	m.touch(la, pos)
}

// recompute rebuilds a corrected case's clocks and marks from its corrected
// history.
func (m *Model) recompute(c *CaseModel) {
	rulesAt := func(d domain.Date) *domain.Rulebook { return m.caseRulebook(c, d) }
	eff, err := domain.Effective(c.extra.history, rulesAt)
	if err != nil {
		// The command path refuses corrections that break the history, so
		// this only happens with a store written by other means: show the
		// steps as recorded rather than nothing.
		eff = nil
		for _, s := range c.extra.history {
			if _, ok := s.Event.(*domain.StepCorrected); !ok {
				eff = append(eff, s)
			}
		}
	}
	cc := domain.CaseClocks{}
	c.marks = c.marks[:0]
	for _, s := range eff {
		m.remember(c, s.Event, s.On)
		cc.Apply(rulesAt(s.On), s.Event, s.On, m.Holidays)
	}
	m.store(c, &cc)
}

// RulebookAt returns the rulebook an LA had in force on a date, as far as the
// adoptions applied so far say: the latest recorded adoption effective on or
// before the date, else the current law. Because a clock takes its rules when
// it starts, an adoption recorded later never changes a clock already started.
func (m *Model) RulebookAt(la string, on domain.Date) *domain.Rulebook {
	adoptions := m.Adoptions[la]
	if m.horizon > 0 {
		at := m.adoptedAt[la]
		n := sort.Search(len(at), func(i int) bool { return at[i] >= m.horizon })
		adoptions = adoptions[:min(n, len(adoptions))]
	}
	if m.Rules != nil {
		return m.Rules(la, adoptions, on)
	}
	return domain.RulebookInForce(adoptions, on)
}

// Rules chooses the rulebook in force for an LA on a date, given the LA's
// adoptions recorded so far.
type Rules func(la string, adoptions []domain.RulebookAdopted, on domain.Date) *domain.Rulebook

// laCalendar gives the school closures of one LA.
type laCalendar map[string][]domain.ClosureWindow

func (l laCalendar) Closures(school string) []domain.ClosureWindow { return l[school] }

// Calendar returns the school closures an LA has recorded, for the derived
// school-closure exception.
func (m *Model) Calendar(la string) domain.SchoolCalendars {
	return laCalendar(m.Closures[la])
}

// Rows returns the case's clocks as they stand on asOf.
func (m *Model) Rows(c *CaseModel, asOf domain.Date) []domain.ClockRow {
	cc := m.CaseClocks(c)
	return cc.Rows(c.ID, asOf, m.Calendar(c.LA))
}

// Row returns one clock of a case as it stands on asOf.
func (m *Model) Row(c *CaseModel, k *domain.Clock, asOf domain.Date) domain.ClockRow {
	cc := c.shell()
	return cc.Row(c.ID, k, asOf, m.Calendar(c.LA))
}

// Exceptions lists the exceptions that cover a clock of a case.
func (m *Model) Exceptions(c *CaseModel, k *domain.Clock) []domain.Exception {
	cc := c.shell()
	return cc.ExceptionsFor(k, m.Calendar(c.LA))
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
