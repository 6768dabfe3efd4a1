package domain

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Unit is how a clock's period is counted (statutory.md section 2).
type Unit string

// The period units the rulebook may use.
const (
	Weeks       Unit = "weeks"
	Days        Unit = "days"
	WorkingDays Unit = "working_days"
	Months      Unit = "months"
	FixedDate   Unit = "fixed_date"
	// AttrDate is a due date carried by the starting event itself, such as
	// an AP placement's planned end.
	AttrDate Unit = "attr_date"
	// LaterOf is "whichever is later" of the periods in Of.
	LaterOf Unit = "later_of"
)

// Period is a statutory time limit. For FixedDate, Month and Day name the date
// and YearAttr names the event attribute that gives the year.
type Period struct {
	Unit     Unit       `json:"unit"`
	N        int        `json:"n,omitempty"`
	Month    time.Month `json:"month,omitempty"`
	Day      int        `json:"day,omitempty"`
	YearAttr string     `json:"year_attr,omitempty"`
	DateAttr string     `json:"date_attr,omitempty"`
	// FromAttr counts the period from a date the event carries instead of
	// from the event's own date (12 months from the last review).
	FromAttr string   `json:"from_attr,omitempty"`
	Of       []Period `json:"of,omitempty"`
}

// Due returns the due date of a period starting on start, given the event that
// started it (for fixed dates) and the bank holidays (for working days).
func (p Period) Due(start Date, e Event, h Holidays) Date {
	if p.FromAttr != "" {
		from, err := ParseDate(e.Attr(p.FromAttr))
		if err != nil {
			return 0
		}
		start = from
	}
	switch p.Unit {
	case LaterOf:
		var due Date
		for _, q := range p.Of {
			due = max(due, q.Due(start, e, h))
		}
		return due
	case Weeks:
		return start.AddDays(7 * p.N)
	case Days:
		return start.AddDays(p.N)
	case WorkingDays:
		return AddWorkingDays(start, p.N, h)
	case Months:
		return start.AddMonths(p.N)
	case FixedDate:
		y, err := strconv.Atoi(e.Attr(p.YearAttr))
		if err != nil {
			return 0
		}
		return NewDate(y, p.Month, p.Day)
	case AttrDate:
		d, err := ParseDate(e.Attr(p.DateAttr))
		if err != nil {
			return 0
		}
		return d
	}
	return 0
}

// Match selects events by type and, optionally, by attribute values. A value
// may list alternatives separated by "|".
type Match struct {
	Event string            `json:"event"`
	When  map[string]string `json:"when,omitempty"`
}

// Matches reports whether e is selected.
func (m Match) Matches(e Event) bool {
	if e.EventType() != m.Event {
		return false
	}
	for attr, want := range m.When {
		got := e.Attr(attr)
		ok := false
		for _, alt := range strings.Split(want, "|") {
			if alt == got {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Start is an event that starts a clock. The key is Key, or the value of the
// event attribute KeyAttr. Period, when set, overrides the clock's period.
type Start struct {
	Match
	Key     string  `json:"key,omitempty"`
	KeyAttr string  `json:"key_attr,omitempty"`
	Period  *Period `json:"period,omitempty"`
}

// Target is an event that stops or ends running clocks: those with the key
// Key or KeyAttr's value, all of them when neither is set, or only the most
// recently started one when Latest is set.
type Target struct {
	Match
	Key     string `json:"key,omitempty"`
	KeyAttr string `json:"key_attr,omitempty"`
	Latest  bool   `json:"latest,omitempty"`
}

// Extend is an event that moves the due date of a clock to the later of its own
// and the event's date plus Period (the appeal window after a certificate).
type Extend struct {
	Target
	Period Period `json:"period"`
}

// ExceptionRule says that an exception kind may excuse a clock, and the
// shortest qualifying period in days (absence must last at least 4 weeks).
type ExceptionRule struct {
	Kind    string `json:"kind"`
	MinDays int    `json:"min_days,omitempty"`
}

// ClockRule is one statutory time limit held as data.
type ClockRule struct {
	Name    string   `json:"name"`
	Source  string   `json:"source"`
	Period  Period   `json:"period"`
	Starts  []Start  `json:"starts"`
	Stops   []Target `json:"stops,omitempty"`
	Ends    []Target `json:"ends,omitempty"`
	Extends []Extend `json:"extends,omitempty"`
	// LapsesAtDue marks a family's window (appeal, draft comments): when it
	// passes unused it has ended, it is not overdue.
	LapsesAtDue bool            `json:"lapses_at_due,omitempty"`
	Exceptions  []ExceptionRule `json:"exceptions,omitempty"`
}

// WarningRule expects a clock of a child under UnderAge (years, on the clock's
// start) to stop within WithinMonths, as the Code expects reviews every 3-6
// months for children under 5.
type WarningRule struct {
	Clock        string `json:"clock"`
	UnderAge     int    `json:"under_age"`
	WithinMonths int    `json:"within_months"`
	Message      string `json:"message"`
	Source       string `json:"source"`
}

// SchoolClosureRule defines the derived school-closure exception: advice asked
// of a head teacher from BeforeDays before a closure of at least MinDays to
// BeforeDays before the school reopens.
type SchoolClosureRule struct {
	MinDays    int `json:"min_days"`
	BeforeDays int `json:"before_days"`
}

// Rulebook is a versioned set of statutory rules.
type Rulebook struct {
	ID            string            `json:"id"`
	Version       int               `json:"version"`
	Title         string            `json:"title"`
	Clocks        []ClockRule       `json:"clocks"`
	SchoolClosure SchoolClosureRule `json:"school_closure"`
	// Warnings are expectations of guidance, not statutory limits: missing
	// one is reported but is never a breach.
	Warnings []WarningRule `json:"warnings,omitempty"`
	// Features switches on rules that are not clocks, such as mandatory
	// mediation before any appeal.
	Features map[string]bool `json:"features,omitempty"`

	// byEvent indexes the clock rules by the event types that act on them, so
	// applying an event looks only at the rules it can touch.
	byEvent map[string]*eventRules
}

// eventRules lists, for one event type, the rules whose clocks it may start,
// in rulebook order.
type eventRules struct {
	start []*ClockRule
}

func (rb *Rulebook) index() {
	rb.byEvent = map[string]*eventRules{}
	get := func(t string) *eventRules {
		if rb.byEvent[t] == nil {
			rb.byEvent[t] = &eventRules{}
		}
		return rb.byEvent[t]
	}
	addOnce := func(list *[]*ClockRule, r *ClockRule) {
		if n := len(*list); n == 0 || (*list)[n-1] != r {
			*list = append(*list, r)
		}
	}
	for i := range rb.Clocks {
		r := &rb.Clocks[i]
		for _, st := range r.Starts {
			addOnce(&get(st.Event).start, r)
		}
	}
}

// rulesFor returns the rules an event type acts on.
func (rb *Rulebook) rulesFor(eventType string) *eventRules {
	if rb.byEvent == nil {
		rb.index()
	}
	if er := rb.byEvent[eventType]; er != nil {
		return er
	}
	return &eventRules{}
}

// closes reports whether events of type typ may stop, end or extend clocks
// of this rule.
func (r *ClockRule) closes(typ string) bool {
	for _, t := range r.Stops {
		if t.Event == typ {
			return true
		}
	}
	for _, t := range r.Ends {
		if t.Event == typ {
			return true
		}
	}
	for _, x := range r.Extends {
		if x.Event == typ {
			return true
		}
	}
	return false
}

// Clock returns the rule named name, or nil.
func (rb *Rulebook) Clock(name string) *ClockRule {
	for i := range rb.Clocks {
		if rb.Clocks[i].Name == name {
			return &rb.Clocks[i]
		}
	}
	return nil
}

//go:embed rulebooks/*.json
var rulebookFiles embed.FS

// DefaultRulebook is the rulebook of the current law.
const DefaultRulebook = "england-2014"

// loadedRulebooks reads the embedded rulebooks once, on first use, after every
// event type has been registered (some register in init functions).
var loadedRulebooks = sync.OnceValue(mustLoadRulebooks)

func mustLoadRulebooks() map[string]*Rulebook {
	entries, err := rulebookFiles.ReadDir("rulebooks")
	if err != nil {
		panic(err)
	}
	out := map[string]*Rulebook{}
	for _, e := range entries {
		b, err := rulebookFiles.ReadFile("rulebooks/" + e.Name())
		if err != nil {
			panic(err)
		}
		var rb Rulebook
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rb); err != nil {
			panic(fmt.Sprintf("domain: rulebook %s: %v", e.Name(), err))
		}
		if err := rb.validate(); err != nil {
			panic(fmt.Sprintf("domain: rulebook %s: %v", e.Name(), err))
		}
		rb.index()
		out[rb.ID] = &rb
	}
	return out
}

func (rb *Rulebook) validate() error {
	seen := map[string]bool{}
	for _, c := range rb.Clocks {
		if seen[c.Name] {
			return fmt.Errorf("clock %q defined twice", c.Name)
		}
		seen[c.Name] = true
		check := func(m Match) error {
			if _, ok := eventFactories[m.Event]; !ok {
				return fmt.Errorf("clock %q names unknown event %q", c.Name, m.Event)
			}
			return nil
		}
		for _, s := range c.Starts {
			if err := check(s.Match); err != nil {
				return err
			}
		}
		for _, ts := range [][]Target{c.Stops, c.Ends} {
			for _, t := range ts {
				if err := check(t.Match); err != nil {
					return err
				}
			}
		}
		for _, x := range c.Extends {
			if err := check(x.Match); err != nil {
				return err
			}
		}
	}
	return nil
}

// LookupRulebook returns the rulebook with the given id.
func LookupRulebook(id string) (*Rulebook, error) {
	rb, ok := loadedRulebooks()[id]
	if !ok {
		return nil, Errorf(Invalid, "unknown rulebook %q (known: %s)", id, strings.Join(RulebookIDs(), ", "))
	}
	return rb, nil
}

// RulebookIDs lists the known rulebooks.
func RulebookIDs() []string {
	ids := make([]string, 0, len(loadedRulebooks()))
	for id := range loadedRulebooks() {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// RulebookInForce returns the rulebook in force on a date given an LA's
// adoptions in the order they were recorded: the adoption with the latest
// effective date on or before on (of equal dates, the later recorded), else
// the current law. An adoption naming an unknown rulebook is never recorded.
func RulebookInForce(adoptions []RulebookAdopted, on Date) *Rulebook {
	id, from := DefaultRulebook, Date(0)
	for _, a := range adoptions {
		if a.From <= on && a.From >= from {
			id, from = a.Rulebook, a.From
		}
	}
	books := loadedRulebooks()
	if rb, ok := books[id]; ok {
		return rb
	}
	return books[DefaultRulebook]
}
