package projections

import (
	"sort"
	"sync"

	"github.com/ehcledger/ehcledger/domain"
)

// A national store holds over a million cases and tens of millions of events,
// so the model keeps each case in a compact form: clocks packed into twenty
// bytes (rules and keys as small numbers into tables the model shares), only
// the events the views look at again remembered as marks, and a case's full
// history held only once a correction makes it needed.

// packedClock is a domain.Clock in sixteen bytes: its dates, and in meta
// its key (into Model.strs), its rule (into Model.rules) and whether it ended.
type packedClock struct {
	started, due, stopped domain.Date
	meta                  uint32
}

// Limits of the packed numbers. The rulebooks are compiled in and hold a few
// dozen rules; the string table holds keys, labels and names, a few thousand
// in a national store, and Model.Apply refuses to go past its limit.
const (
	keyBits    = 22
	maxStrings = 1 << keyBits
	maxRules   = 1 << 9
)

func (p packedClock) key() uint32  { return p.meta & (maxStrings - 1) }
func (p packedClock) rule() uint16 { return uint16(p.meta>>keyBits) & (maxRules - 1) }
func (p packedClock) ended() bool  { return p.meta>>31 != 0 }

// ruleRef is a clock rule with the rulebook it belongs to.
type ruleRef struct {
	rule *domain.ClockRule
	book *domain.Rulebook
}

// mark is an event the views read again: one the inspector figures count, or
// one that shows a step has begun (for the worklist's at-risk test). meta
// holds its kind (into markKinds) and its label (into Model.strs: the
// attribute markKinds names).
type mark struct {
	on   domain.Date
	meta uint32
}

func newMark(on domain.Date, kind uint8, label uint32) mark {
	return mark{on: on, meta: uint32(kind)<<24 | label}
}

func (mk mark) kind() uint8   { return uint8(mk.meta >> 24) }
func (mk mark) label() uint32 { return mk.meta & (1<<24 - 1) }

// markKind is a kind of event kept as a mark.
type markKind struct {
	typ       string
	fact      int // the counted fact it is, or -1
	labelAttr string
}

// markTable is the kinds of marks and their index by event type.
type markTable struct {
	kinds []markKind
	of    map[string]uint8
}

// marks returns the mark kinds, built once: the counted events, in a fixed
// order, then the events any rulebook names as showing work has begun.
var marks = sync.OnceValue(func() *markTable {
	t := &markTable{of: map[string]uint8{}}
	add := func(typ string, fact int, attr string) {
		if _, ok := t.of[typ]; ok {
			return
		}
		t.of[typ] = uint8(len(t.kinds))
		t.kinds = append(t.kinds, markKind{typ: typ, fact: fact, labelAttr: attr})
	}
	events := countedEvents()
	counted := make([]string, 0, len(events))
	for typ := range events {
		counted = append(counted, typ)
	}
	sort.Strings(counted)
	for _, typ := range counted {
		add(typ, int(events[typ].kind), events[typ].labelAttr)
	}
	for _, id := range domain.RulebookIDs() {
		rb, _ := domain.LookupRulebook(id)
		for _, c := range rb.Clocks {
			if c.StartedBy != "" {
				add(c.StartedBy, -1, "review")
			}
		}
	}
	return t
})

// caseExtra holds what few cases have, so the rest do not pay for it.
type caseExtra struct {
	exceptions  []domain.ExceptionRecorded
	schoolAsked []domain.AdviceAsked
	// history is the case's stored steps, kept once the case has a
	// correction so that its clocks can be worked out again.
	history   []domain.Step
	corrected bool
}

// table numbers values in the order they are first seen; the numbers never
// change and entries are never removed.
type table[T comparable] struct {
	items []T
	index map[T]uint32
}

func (t *table[T]) number(v T) uint32 {
	if i, ok := t.index[v]; ok {
		return i
	}
	if t.index == nil {
		t.index = map[T]uint32{}
	}
	i := uint32(len(t.items))
	t.items = append(t.items, v)
	t.index[v] = i
	return i
}

// intern returns the number of s in the model's string table, adding it
// when new. Callers hold the model for writing.
func (m *Model) intern(s string) uint32 { return m.strs.number(s) }

// internString returns the table's copy of s, so that the many cases that
// share an LA, caseworker or team share one string.
func (m *Model) internString(s string) string {
	return m.strs.items[m.intern(s)]
}

func (m *Model) ruleNumber(r *domain.ClockRule, b *domain.Rulebook) uint16 {
	ref := ruleRef{r, b}
	if _, ok := m.rules.index[ref]; !ok && len(m.rules.items) == maxRules {
		// The rulebooks are compiled in, and a test keeps them under this.
		panic("projections: more clock rules than a packed clock can number")
	}
	return uint16(m.rules.number(ref))
}

func (m *Model) packClock(k *domain.Clock) packedClock {
	return newPackedClock(k.Started, k.Due, k.Stopped, m.intern(k.Key), m.ruleNumber(k.Rule, k.Book), k.Ended)
}

func newPackedClock(started, due, stopped domain.Date, key uint32, rule uint16, ended bool) packedClock {
	meta := key | uint32(rule)<<keyBits
	if ended {
		meta |= 1 << 31
	}
	return packedClock{started: started, due: due, stopped: stopped, meta: meta}
}

func (m *Model) unpackClock(p packedClock) domain.Clock {
	r := m.rules.items[p.rule()]
	return domain.Clock{Name: r.rule.Name, Key: m.strs.items[p.key()], Started: p.started, Due: p.due, Stopped: p.stopped, Ended: p.ended(), Rule: r.rule, Book: r.book}
}

// shell is the case's clock state without its clocks: what the exceptions
// of a clock need besides the clock itself.
func (c *CaseModel) shell() domain.CaseClocks {
	var cc domain.CaseClocks
	if c.extra != nil {
		cc.Exceptions, cc.SchoolAsked = c.extra.exceptions, c.extra.schoolAsked
	}
	return cc
}

// CaseClocks returns the clock state of a case, as the domain works with it,
// without the child's date of birth: no view here needs it (the age-based
// warnings come from the case itself, in app). The clocks are fresh copies.
func (m *Model) CaseClocks(c *CaseModel) domain.CaseClocks {
	cc := c.shell()
	clocks := make([]domain.Clock, len(c.clocks))
	cc.Clocks = make([]*domain.Clock, len(c.clocks))
	for i, p := range c.clocks {
		clocks[i] = m.unpackClock(p)
		cc.Clocks[i] = &clocks[i]
	}
	return cc
}

// working unpacks a case's clocks into the model's scratch space to apply an
// event; store packs them back. Callers hold the model for writing.
func (m *Model) working(c *CaseModel) *domain.CaseClocks {
	n := len(c.clocks)
	if cap(m.scratch) < n {
		m.scratch = make([]domain.Clock, n, 2*n)
	}
	m.scratch = m.scratch[:n]
	m.work = c.shell()
	m.work.Clocks = m.scratchPtrs[:0]
	for i, p := range c.clocks {
		m.scratch[i] = m.unpackClock(p)
		m.work.Clocks = append(m.work.Clocks, &m.scratch[i])
	}
	return &m.work
}

// store packs clock state back into a case, growing its slices by a quarter
// at a time: a case gains a clock or two per event, and doubling would leave
// half of a long history's slots empty.
func (m *Model) store(c *CaseModel, cc *domain.CaseClocks) {
	n := len(cc.Clocks)
	if cap(c.clocks) < n {
		grown := make([]packedClock, len(c.clocks), n+n/4+1)
		copy(grown, c.clocks)
		c.clocks = grown
	}
	c.clocks = c.clocks[:n]
	for i, k := range cc.Clocks {
		c.clocks[i] = m.packClock(k)
	}
	if len(cc.Exceptions) > 0 || len(cc.SchoolAsked) > 0 {
		if c.extra == nil {
			c.extra = &caseExtra{}
		}
		c.extra.exceptions, c.extra.schoolAsked = cc.Exceptions, cc.SchoolAsked
	} else if c.extra != nil {
		c.extra.exceptions, c.extra.schoolAsked = nil, nil
	}
	m.scratchPtrs = cc.Clocks[:0] // keep the grown pointer slice for next time
	clear(m.scratchPtrs[:cap(m.scratchPtrs)])
	m.work = domain.CaseClocks{}
}

// remember adds an event to the case's marks when the views read it again.
func (m *Model) remember(c *CaseModel, ev domain.Event, on domain.Date) {
	k, ok := marks().of[ev.EventType()]
	if !ok {
		return
	}
	mk := newMark(on, k, m.intern(ev.Attr(marks().kinds[k].labelAttr)))
	if len(c.marks) == cap(c.marks) {
		grown := make([]mark, len(c.marks), len(c.marks)+len(c.marks)/4+1)
		copy(grown, c.marks)
		c.marks = grown
	}
	c.marks = append(c.marks, mk)
}
