package domain

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
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

// Counting says how a period's words place its first and last days
// (statutory.md section 2). Every period of a rulebook names one, so that the
// counting of each clock is read from its provision's words, not assumed.
type Counting string

// The countings of periods.
const (
	// CountOf is "within N weeks of X", "N months after X": X itself is not
	// counted, so the period ends N units after X.
	CountOf Counting = "of"
	// CountBeginningWith is "N days beginning with X", "the period of N
	// months starting with X": X is the first day, so the period ends a day
	// earlier than CountOf's (for working days: X is working day 1 when it
	// is a working day).
	CountBeginningWith Counting = "beginning_with"
	// CountBefore is "before" a date: the last day is the day before it.
	CountBefore Counting = "before"
	// CountBy is "by", "on" or "on or before" a date: that date itself.
	CountBy Counting = "by"
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
	// MonthsBefore moves an AttrDate back by whole months: "at least five
	// months before that transfer takes place" (reg 18(2)).
	MonthsBefore int `json:"months_before,omitempty"`
	// FromAttr counts the period from a date the event carries instead of
	// from the event's own date (12 months from the last review).
	FromAttr string   `json:"from_attr,omitempty"`
	Of       []Period `json:"of,omitempty"`
	// Counting places the period's last day from its provision's words.
	Counting Counting `json:"counting,omitempty"`
	// TribunalRules counts the period as the First-tier Tribunal does (HESC
	// Rules 2008 r12(2), (3)): 25 December to 1 January and August are not
	// counted, and a deadline on a non-working day moves to the next
	// working day. It is for the family's appeal windows.
	TribunalRules bool `json:"tribunal_rules,omitempty"`
	// Wording quotes the provision's words for the limit.
	Wording string `json:"wording,omitempty"`
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
	due := p.due(start, e, h)
	if p.TribunalRules && !due.IsZero() {
		due = TribunalDeadline(start, due, h)
	}
	return due
}

// due is Due before the tribunal's rules.
func (p Period) due(start Date, e Event, h Holidays) Date {
	// first is 1 when the start day is the period's first day.
	first := 0
	if p.Counting == CountBeginningWith {
		first = 1
	}
	switch p.Unit {
	case LaterOf:
		var due Date
		for _, q := range p.Of {
			due = max(due, q.Due(start, e, h))
		}
		return due
	case Weeks:
		return start.AddDays(7*p.N - first)
	case Days:
		return start.AddDays(p.N - first)
	case WorkingDays:
		if first == 1 {
			return WorkingDaysBeginningWith(start, p.N, h)
		}
		return AddWorkingDays(start, p.N, h)
	case Months:
		if first == 1 {
			return start.MonthsStartingWith(p.N)
		}
		return start.AddMonths(p.N)
	case FixedDate:
		y, err := strconv.Atoi(e.Attr(p.YearAttr))
		if err != nil {
			return 0
		}
		return p.onOrBefore(NewDate(y, p.Month, p.Day))
	case AttrDate:
		d, err := ParseDate(e.Attr(p.DateAttr))
		if err != nil {
			return 0
		}
		return p.onOrBefore(d.AddMonths(-p.MonthsBefore))
	}
	return 0
}

// onOrBefore returns the last day of a period that ends at date d.
func (p Period) onOrBefore(d Date) Date {
	if p.Counting == CountBefore {
		return d - 1
	}
	return d
}

// countingsFor lists the countings each unit may use.
func countingsFor(u Unit) ([]Counting, bool) {
	c, ok := map[Unit][]Counting{
		Weeks: {CountOf, CountBeginningWith}, Days: {CountOf, CountBeginningWith},
		WorkingDays: {CountOf, CountBeginningWith}, Months: {CountOf, CountBeginningWith},
		FixedDate: {CountBefore, CountBy}, AttrDate: {CountBefore, CountBy},
	}[u]
	return c, ok
}

// check reports a period the engine cannot count: an unknown unit, or a
// counting missing or unfit for its unit.
func (p Period) check() error {
	if p.Unit == LaterOf {
		if len(p.Of) < 2 || p.Counting != "" {
			return fmt.Errorf("a later_of period needs two or more periods of its own, each with its counting")
		}
		for _, q := range p.Of {
			if err := q.check(); err != nil {
				return err
			}
		}
		return nil
	}
	allowed, ok := countingsFor(p.Unit)
	if !ok {
		return fmt.Errorf("unknown unit %q", p.Unit)
	}
	if p.MonthsBefore < 0 || (p.MonthsBefore > 0 && p.Unit != AttrDate) {
		return fmt.Errorf("months_before is for an attr_date period, and not negative")
	}
	for _, c := range allowed {
		if c == p.Counting {
			return nil
		}
	}
	return fmt.Errorf("a period in %s needs its counting (one of %v), not %q", p.Unit, allowed, p.Counting)
}

// Rule describes in words how the period's last day is found, for people
// reading a rulebook (GET /v1/rulebooks/{id}).
func (p Period) Rule() string {
	from := "the start"
	if p.FromAttr != "" {
		from = "the date in " + p.FromAttr
	}
	var s string
	switch p.Unit {
	case LaterOf:
		parts := make([]string, len(p.Of))
		for i, q := range p.Of {
			parts[i] = q.Rule()
		}
		s = "the later of: " + strings.Join(parts, "; ")
	case Weeks, Days:
		n := p.N
		if p.Unit == Weeks {
			n *= 7
		}
		if p.Counting == CountBeginningWith {
			s = fmt.Sprintf("%s + %d days (%s is day 1 of %d)", from, n-1, from, n)
		} else {
			s = fmt.Sprintf("%s + %d days (%s not counted)", from, n, from)
		}
	case WorkingDays:
		if p.Counting == CountBeginningWith {
			s = fmt.Sprintf("working day %d counting %s as working day 1 when it is a working day", p.N, from)
		} else {
			s = fmt.Sprintf("the %d%s working day after %s", p.N, ordinal(p.N), from)
		}
	case Months:
		if p.Counting == CountBeginningWith {
			s = fmt.Sprintf("the day before the same day %d months after %s (%s is the first day); the end of that month when it has no such day", p.N, from, from)
		} else {
			s = fmt.Sprintf("the same day %d months after %s, or that month's last day when it has no such day", p.N, from)
		}
	case FixedDate, AttrDate:
		date := fmt.Sprintf("%d %s of the year in %s", p.Day, p.Month, p.YearAttr)
		if p.Unit == AttrDate {
			date = "the date in " + p.DateAttr
			if p.MonthsBefore > 0 {
				date = fmt.Sprintf("the same day %d months before the date in %s (that month's last day when it has no such day)", p.MonthsBefore, p.DateAttr)
			}
		}
		if p.Counting == CountBefore {
			s = "the day before " + date
		} else {
			s = date
		}
	}
	if p.TribunalRules {
		s += "; then counted by the tribunal's rules (HESC Rules 2008 r12): days from 25 December to 1 January and in August are not counted, and a deadline on a day that is not a working day moves to the next working day"
	}
	return s
}

func ordinal(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return "th"
	case n%10 == 1:
		return "st"
	case n%10 == 2:
		return "nd"
	case n%10 == 3:
		return "rd"
	}
	return "th"
}

// MarshalJSON writes the period with its Rule, so that a reader of a
// rulebook sees each clock's counting in words.
func (p Period) MarshalJSON() ([]byte, error) {
	type plain Period
	return json.Marshal(struct {
		plain
		DueRule string `json:"due_rule"`
	}{plain(p), p.Rule()})
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
	// OverdueIsAtRisk marks, for the clocks this start keys, what
	// ClockRule.OverdueIsAtRisk marks for a whole rule.
	OverdueIsAtRisk bool `json:"overdue_is_at_risk,omitempty"`
	InForce
}

// InForce limits a rule to the events dated inside a window, for a provision
// that was substituted or relaxed on a date (reg 45 as substituted by SI
// 2015/359 from 23 March 2015; the coronavirus exception of SI 2020/471 from 1
// May to 25 September 2020). Either end may be open.
type InForce struct {
	InForceFrom  Date `json:"in_force_from,omitempty"`
	InForceUntil Date `json:"in_force_until,omitempty"`
}

// InForceOn reports whether the rule applies to an event dated on.
func (w InForce) InForceOn(on Date) bool {
	return (w.InForceFrom.IsZero() || on >= w.InForceFrom) && (w.InForceUntil.IsZero() || on <= w.InForceUntil)
}

// StartKeys lists the keys of the clocks of rule clock that event e, dated
// on, starts: the steps a tribunal order or a concession asks of the LA.
func (rb *Rulebook) StartKeys(clock string, e Event, on Date) []string {
	r := rb.Clock(clock)
	if r == nil {
		return nil
	}
	var keys []string
	for _, s := range r.Starts {
		if s.Matches(e) && s.InForceOn(on) {
			key := s.Key
			if s.KeyAttr != "" {
				key = e.Attr(s.KeyAttr)
			}
			keys = append(keys, key)
		}
	}
	return keys
}

// Target is an event that stops or ends running clocks: those with the key
// Key or KeyAttr's value, all of them when neither is set, or only the most
// recently started one when Latest is set.
type Target struct {
	Match
	Key     string `json:"key,omitempty"`
	KeyAttr string `json:"key_attr,omitempty"`
	Latest  bool   `json:"latest,omitempty"`
	// KeepsBreach marks an end that leaves a clock already past its due
	// date late rather than ended: the plan ceasing ends the duties that
	// came with it, but not a breach of one already made.
	KeepsBreach bool `json:"keeps_breach,omitempty"`
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
	// AskedBy lists, for the derived school-closure exception, the events
	// whose asking of a school counts: advice_requested when empty; the
	// 6-week decision also counts school_information_requested, as reg
	// 5(4)(a) contemplates a head teacher asked before the decision.
	AskedBy []string `json:"asked_by,omitempty"`
	// InForce limits a temporary exception (coronavirus) to its window:
	// only the exception's days inside it count, and a clock due after it
	// ends is not excused automatically (a person must confirm the delay
	// arose inside the window).
	InForce
}

// Counts reports whether a school asked through the event type via (empty
// for advice_requested) counts for this exception.
func (er ExceptionRule) Counts(via string) bool {
	if via == "" {
		via = TypeAdviceRequested
	}
	if len(er.AskedBy) == 0 {
		return via == TypeAdviceRequested
	}
	return slices.Contains(er.AskedBy, via)
}

// ClockRule is one statutory time limit held as data.
type ClockRule struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	// Role names what the figures and exports read the clock for, so that
	// they never depend on its name: RolePlan, RoleAnnualReview or
	// RoleAppealWindow; at most one clock of a rulebook has each.
	Role string `json:"role,omitempty"`
	// Next says in words what must be done to stop the clock; "%s" stands
	// for its key (the advice, the school, the review).
	Next string `json:"next"`
	// StartedBy names the event that shows the work stopping the clock has
	// visibly begun (a draft before the final plan), and NextFirst what to
	// do before that event (when it differs from Next).
	StartedBy string   `json:"started_by,omitempty"`
	NextFirst string   `json:"next_first,omitempty"`
	Period    Period   `json:"period"`
	Starts    []Start  `json:"starts"`
	Stops     []Target `json:"stops,omitempty"`
	Ends      []Target `json:"ends,omitempty"`
	Extends   []Extend `json:"extends,omitempty"`
	// LapsesAtDue marks a family's window (appeal, draft comments): when it
	// passes unused it has ended, it is not overdue.
	LapsesAtDue bool            `json:"lapses_at_due,omitempty"`
	Exceptions  []ExceptionRule `json:"exceptions,omitempty"`
	// LimitOf names whose limit the clock is when it is not the LA's: the
	// school's (Code of Practice 9.83), the mediation adviser's (reg 34).
	// It is shown and tracked, but is never the LA's breach in statistics.
	LimitOf string `json:"limit_of,omitempty"`
	// OverdueIsAtRisk marks a limit on one decision only (reg 10(1): notice
	// of a decision *not* to issue): while no decision either way exists an
	// overdue clock is a risk, not a breach; only a late decision it stops
	// is a breach, and a clock ended by the other decision is none.
	OverdueIsAtRisk bool `json:"overdue_is_at_risk,omitempty"`
}

// The roles a clock may have for the figures and exports.
const (
	// RolePlan is the limit on the final plan from the request (20 weeks):
	// the national timeliness figure and the SEN2 return's Week20.
	RolePlan = "plan"
	// RoleAnnualReview is the review of a plan (s44(1)): reviews on time.
	RoleAnnualReview = "annual_review"
	// RoleAppealWindow is the family's time to appeal: appealable decisions.
	RoleAppealWindow = "appeal_window"
)

// NextStep describes, for a clock with key, what must be done to stop it;
// started says whether the work has visibly begun (StartedBy).
func (r *ClockRule) NextStep(key string, started bool) string {
	s := r.Next
	if r.NextFirst != "" && !started {
		s = r.NextFirst
	}
	if key != "" && strings.Contains(s, "%s") {
		return strings.Replace(s, "%s", key, 1)
	}
	return strings.Replace(s, " %s", "", 1)
}

// AtRisk reports whether an overdue clock of this rule with this key is a
// risk rather than a breach: the rule says so, or the start that keys it
// does (reg 44(2)(b)(i), like reg 10(1), limits a decision *not* to issue
// after an order to assess).
func (r *ClockRule) AtRisk(key string) bool {
	if r.OverdueIsAtRisk {
		return true
	}
	for _, s := range r.Starts {
		if s.OverdueIsAtRisk && s.Key == key {
			return true
		}
	}
	return false
}

// LABreach reports whether a clock of this rule with this key, stopped late
// or overdue when overdue is not only a risk, counts as the LA's breach in
// statistics: a family's window or another body's limit never does.
func (r *ClockRule) LABreach(key, status string) bool {
	if r.LapsesAtDue || r.LimitOf != "" {
		return false
	}
	return status == StatusLate || (status == StatusOverdue && !r.AtRisk(key))
}

// WarningRule expects a clock to stop within WithinWeeks or WithinMonths of
// its start (exactly one is set): for a child under UnderAge (years, on the
// clock's start) when UnderAge is set, as the Code expects reviews every 3-6
// months for children under 5; for every clock of that name, whatever the
// age, when UnderAge is 0. Missing one is a warning, never a breach.
type WarningRule struct {
	Clock        string `json:"clock"`
	UnderAge     int    `json:"under_age,omitempty"`
	WithinWeeks  int    `json:"within_weeks,omitempty"`
	WithinMonths int    `json:"within_months,omitempty"`
	Message      string `json:"message"`
	Source       string `json:"source"`
}

// Applies reports whether the rule covers a clock started on started, for a
// child born on born (zero when unknown).
func (w WarningRule) Applies(born, started Date) bool {
	if w.UnderAge == 0 {
		return true
	}
	return !born.IsZero() && born.AddMonths(12*w.UnderAge) > started
}

// By returns the date by which a clock started on started is expected to
// stop.
func (w WarningRule) By(started Date) Date {
	if w.WithinWeeks > 0 {
		return started.AddDays(7 * w.WithinWeeks)
	}
	return started.AddMonths(w.WithinMonths)
}

// check reports a rule the engine cannot apply: an unknown clock, not
// exactly one interval, or a negative age.
func (w WarningRule) check(rb *Rulebook) error {
	if rb.Clock(w.Clock) == nil {
		return fmt.Errorf("warning names unknown clock %q", w.Clock)
	}
	if (w.WithinWeeks > 0) == (w.WithinMonths > 0) || w.WithinWeeks < 0 || w.WithinMonths < 0 || w.UnderAge < 0 {
		return fmt.Errorf("warning on %q needs exactly one of within_weeks and within_months, and no negative number", w.Clock)
	}
	if w.Message == "" || w.Source == "" {
		return fmt.Errorf("warning on %q needs its message and source", w.Clock)
	}
	return nil
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
	ID      string `json:"id"`
	Version int    `json:"version"`
	Title   string `json:"title"`
	// Revisions lists every version of the rulebook with its date and what
	// it corrected, oldest first; the last is this version. A fix to a
	// rulebook is not a change in the law: it is recorded as a revision,
	// and the ledger records each revision it starts under (RulebookRevised).
	Revisions []Revision `json:"revisions,omitempty"`
	// Base names a rulebook this one is written as changes to: its clocks,
	// school-closure rule and warnings apply unless this one names its own
	// (a clock of the same name replaces the base's), so that a correction
	// of the current law is made once for every rulebook built on it.
	Base          string            `json:"base,omitempty"`
	Clocks        []ClockRule       `json:"clocks"`
	SchoolClosure SchoolClosureRule `json:"school_closure"`
	// Warnings are expectations of guidance, not statutory limits: missing
	// one is reported but is never a breach.
	Warnings []WarningRule `json:"warnings,omitempty"`
	// Features switches on rules that are not clocks, such as mandatory
	// mediation before any appeal. The names are the feature constants of
	// reform.go; an unknown one is an error when the rulebooks load.
	Features map[string]bool `json:"features,omitempty"`

	// byEvent indexes the clock rules by the event types that act on them, so
	// applying an event looks only at the rules it can touch.
	byEvent map[string]*eventRules
	// canonical is the rulebook as written (its own clocks, its base named,
	// not resolved) in canonical JSON, and hash its SHA-256: what a
	// RulebookRevised records, so that a later build can count under it.
	canonical []byte
	hash      string
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

// StoppedBy reports whether events of type typ stop (meet) clocks of this
// rule: the step that does what the clock waits for.
func (r *ClockRule) StoppedBy(typ string) bool {
	for _, t := range r.Stops {
		if t.Event == typ {
			return true
		}
	}
	return false
}

// closes reports whether events of type typ may stop, end or extend clocks
// of this rule.
func (r *ClockRule) closes(typ string) bool {
	if r.StoppedBy(typ) {
		return true
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
	written := map[string]*Rulebook{}
	for _, e := range entries {
		b, err := rulebookFiles.ReadFile("rulebooks/" + e.Name())
		if err != nil {
			panic(err)
		}
		rb, err := decodeRulebook(b)
		if err != nil {
			panic(fmt.Sprintf("domain: rulebook %s: %v", e.Name(), err))
		}
		written[rb.ID] = rb
	}
	out := map[string]*Rulebook{}
	for id, rb := range written {
		full, err := rb.build(func(base string) (*Rulebook, bool) {
			b, ok := written[base]
			return b, ok
		}, nil)
		if err != nil {
			panic(fmt.Sprintf("domain: rulebook %s: %v", id, err))
		}
		out[id] = full
	}
	return out
}

// decodeRulebook reads a rulebook as written: one JSON object with no
// unknown field and nothing after it.
func decodeRulebook(data []byte) (*Rulebook, error) {
	var rb Rulebook
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rb); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the rulebook")
	}
	if err := ValidateID("id", rb.ID); err != nil {
		return nil, err
	}
	return &rb, nil
}

// build makes a rulebook as written ready to count by: its base (found by
// baseOf, which may give it as written or resolved) filled in, every rule
// checked, its events indexed, and its canonical form kept. fill, when set,
// completes the resolved clocks before they are checked (a rulebook
// recorded by an earlier build); the canonical form stays as written.
func (rb *Rulebook) build(baseOf func(id string) (*Rulebook, bool), fill func(*Rulebook)) (*Rulebook, error) {
	full, err := rb.resolve(baseOf)
	if err != nil {
		return nil, err
	}
	if fill != nil {
		fill(full)
	}
	if err := full.validate(); err != nil {
		return nil, err
	}
	if full.canonical, err = canonicalJSON(rb); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(full.canonical)
	full.hash = hex.EncodeToString(sum[:])
	full.index()
	return full, nil
}

// canonicalJSON writes a rulebook as written in one form whatever the file
// looked like: keys sorted, no spaces, and without what is derived from the
// rules (each period's due_rule), so that its hash changes only when a rule,
// a title or a revision does.
func canonicalJSON(rb *Rulebook) ([]byte, error) {
	b, err := json.Marshal(rb)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(withoutDerived(v))
}

// withoutDerived drops the derived due_rule from every object in v.
func withoutDerived(v any) any {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "due_rule")
		for k, e := range x {
			x[k] = withoutDerived(e)
		}
	case []any:
		for i, e := range x {
			x[i] = withoutDerived(e)
		}
	}
	return v
}

// Canonical returns the rulebook as written (its own clocks and its base
// named, not resolved) in canonical JSON: sorted keys, no derived fields.
// ParseRulebook reads it back.
func (rb *Rulebook) Canonical() []byte { return bytes.Clone(rb.canonical) }

// ContentHash is the SHA-256, in hex, of the canonical JSON: two rulebooks
// with one id and version but another hash differ in some rule.
func (rb *Rulebook) ContentHash() string { return rb.hash }

// ParseRulebook reads a rulebook from JSON as written (such as Canonical's,
// or a file of domain/rulebooks) with the checks the built-in rulebooks pass
// when they load: no unknown field, every period with its counting, known
// events and features, its revisions in order. A rulebook written as
// changes to a base takes that base from bases, which may give it as
// written or resolved; nil bases means the built-in rulebooks.
func ParseRulebook(data []byte, bases func(id string) (*Rulebook, bool)) (*Rulebook, error) {
	if bases == nil {
		bases = builtinRulebook
	}
	rb, err := decodeRulebook(data)
	if err == nil {
		rb, err = rb.build(bases, fillFromBuiltin)
	}
	if err != nil {
		var de *Error
		if errors.As(err, &de) {
			return nil, de
		}
		return nil, &Error{Code: Invalid, Message: "the rulebook is not valid: " + err.Error(), Err: err}
	}
	return rb, nil
}

// builtinRulebook finds a rulebook of this build by id.
func builtinRulebook(id string) (*Rulebook, bool) {
	rb, ok := loadedRulebooks()[id]
	return rb, ok
}

// resolve returns the rulebook with its base's rules filled in: the base's
// clocks in the base's order, each replaced by this rulebook's clock of the
// same name, then this rulebook's other clocks.
func (rb *Rulebook) resolve(baseOf func(id string) (*Rulebook, bool)) (*Rulebook, error) {
	if rb.Base == "" {
		cp := *rb
		cp.Clocks = append([]ClockRule(nil), rb.Clocks...)
		return &cp, nil
	}
	baseRaw, ok := baseOf(rb.Base)
	if !ok || baseRaw.Base != "" {
		return nil, fmt.Errorf("base %q is not a rulebook of its own", rb.Base)
	}
	base, _ := baseRaw.resolve(baseOf)
	full := *rb
	own := map[string]bool{}
	for _, c := range rb.Clocks {
		own[c.Name] = true
	}
	full.Clocks = nil
	for _, c := range base.Clocks {
		if !own[c.Name] {
			full.Clocks = append(full.Clocks, c)
			continue
		}
		for _, mine := range rb.Clocks {
			if mine.Name == c.Name {
				full.Clocks = append(full.Clocks, mine)
			}
		}
		delete(own, c.Name)
	}
	for _, c := range rb.Clocks {
		if own[c.Name] {
			full.Clocks = append(full.Clocks, c)
		}
	}
	if full.SchoolClosure == (SchoolClosureRule{}) {
		full.SchoolClosure = base.SchoolClosure
	}
	if full.Warnings == nil {
		full.Warnings = base.Warnings
	}
	return &full, nil
}

func (rb *Rulebook) validate() error {
	if err := checkFeatures(rb.Features); err != nil {
		return err
	}
	if err := rb.checkRevisions(); err != nil {
		return err
	}
	for _, w := range rb.Warnings {
		if err := w.check(rb); err != nil {
			return err
		}
	}
	// The event table itself, not the catalog: the catalog's LA commands
	// look rulebooks up, which are being loaded.
	known := map[string]bool{}
	attrs := map[string]map[string]bool{}
	for _, e := range eventTable() {
		known[e.Type] = true
		attrs[e.Type] = e.attrNames()
	}
	roles := map[string]string{}
	seen := map[string]bool{}
	for _, c := range rb.Clocks {
		switch c.Role {
		case "", RolePlan, RoleAnnualReview, RoleAppealWindow:
		default:
			return fmt.Errorf("clock %q has unknown role %q", c.Name, c.Role)
		}
		if other, ok := roles[c.Role]; ok && c.Role != "" {
			return fmt.Errorf("clocks %q and %q both have role %s", other, c.Name, c.Role)
		}
		roles[c.Role] = c.Name
		if strings.TrimSpace(c.Next) == "" {
			return fmt.Errorf("clock %q says no next step", c.Name)
		}
		if (c.NextFirst != "") && c.StartedBy == "" {
			return fmt.Errorf("clock %q has a next step before the work starts but no started_by", c.Name)
		}
		if c.StartedBy != "" && !known[c.StartedBy] {
			return fmt.Errorf("clock %q: started_by names unknown event %q", c.Name, c.StartedBy)
		}
		if seen[c.Name] {
			return fmt.Errorf("clock %q defined twice", c.Name)
		}
		seen[c.Name] = true
		if c.Source == "" {
			return fmt.Errorf("clock %q cites no provision", c.Name)
		}
		periods := []Period{c.Period}
		for _, s := range c.Starts {
			if s.Period != nil {
				periods = append(periods, *s.Period)
			}
		}
		for _, x := range c.Extends {
			periods = append(periods, x.Period)
		}
		for _, p := range periods {
			if err := p.check(); err != nil {
				return fmt.Errorf("clock %q: %v", c.Name, err)
			}
		}
		for _, er := range c.Exceptions {
			for _, via := range er.AskedBy {
				if er.Kind != ExceptionSchoolClosure || (via != TypeAdviceRequested && via != TypeSchoolInformationRequested) {
					return fmt.Errorf("clock %q: exception %s cannot be asked by %q", c.Name, er.Kind, via)
				}
			}
		}
		// check refuses an unknown event, and an attribute the event does
		// not have (a misspelt "when" would never match, silently).
		check := func(m Match, names ...string) error {
			if !known[m.Event] {
				return fmt.Errorf("clock %q names unknown event %q", c.Name, m.Event)
			}
			for k := range m.When {
				names = append(names, k)
			}
			for _, n := range names {
				if n != "" && !attrs[m.Event][n] {
					return fmt.Errorf("clock %q: event %s has no attribute %q", c.Name, m.Event, n)
				}
			}
			return nil
		}
		for _, s := range c.Starts {
			p := c.Period
			if s.Period != nil {
				p = *s.Period
			}
			if err := check(s.Match, append([]string{s.KeyAttr}, p.attrs()...)...); err != nil {
				return err
			}
		}
		for _, ts := range [][]Target{c.Stops, c.Ends} {
			for _, t := range ts {
				if err := check(t.Match, t.KeyAttr); err != nil {
					return err
				}
			}
		}
		for _, x := range c.Extends {
			if err := check(x.Match, append([]string{x.KeyAttr}, x.Period.attrs()...)...); err != nil {
				return err
			}
		}
	}
	for _, role := range []string{RolePlan, RoleAnnualReview, RoleAppealWindow} {
		if _, ok := roles[role]; !ok {
			return fmt.Errorf("no clock has role %s: the figures need one", role)
		}
	}
	return nil
}

// rulebooksFingerprint hashes every loaded rulebook, once.
var rulebookFingerprints = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	for id, rb := range loadedRulebooks() {
		b, err := json.Marshal(rb)
		if err != nil {
			panic(fmt.Sprintf("domain: rulebook %s: %v", id, err))
		}
		sum := sha256.Sum256(b)
		out[id] = hex.EncodeToString(sum[:])
	}
	return out
})

// RulebookFingerprints identifies the rules of each rulebook this build
// holds, by id: a fingerprint changes whenever anything of its rulebook
// does, so that anything computed from clocks (a snapshot of the read
// models) can tell which of its cases were counted under other rules. The
// map is the caller's.
func RulebookFingerprints() map[string]string { return maps.Clone(rulebookFingerprints()) }

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
	books := loadedRulebooks()
	if rb, ok := books[RulebookIDInForce(adoptions, on)]; ok {
		return rb
	}
	return books[DefaultRulebook]
}

// RulebookIDInForce names the rulebook in force on a date given an LA's
// adoptions, as RulebookInForce chooses it, so that a caller holding other
// versions of the rulebooks (a report of what a revision changed) can take
// its own version of the one chosen.
func RulebookIDInForce(adoptions []RulebookAdopted, on Date) string {
	id, from := DefaultRulebook, Date(0)
	for _, a := range adoptions {
		if a.From <= on && a.From >= from {
			id, from = a.Rulebook, a.From
		}
	}
	return id
}

// fillFromBuiltin completes the clocks of a rulebook recorded before clocks
// named their next step and role (the figures' plan, annual review and
// appeal window): each such clock takes them from the clock of the same name
// in this build's rulebook of the same id (the current law's, for an id this
// build lacks), so that a recorded rulebook still counts its figures as the
// rules then stood. A clock that names its next step is left as written.
func fillFromBuiltin(full *Rulebook) {
	now, ok := builtinRulebook(full.ID)
	if !ok {
		now, _ = builtinRulebook(DefaultRulebook)
	}
	for i := range full.Clocks {
		c := &full.Clocks[i]
		if c.Next != "" {
			continue
		}
		c.Next = "stop the " + c.Name + " clock"
		if same := now.Clock(c.Name); same != nil {
			c.Next, c.NextFirst, c.StartedBy = same.Next, same.NextFirst, same.StartedBy
			if c.Role == "" {
				c.Role = same.Role
			}
		}
	}
}

// ClockWithRole returns the rulebook's clock with a role (RolePlan,
// RoleAnnualReview, RoleAppealWindow); every rulebook has one of each.
func (rb *Rulebook) ClockWithRole(role string) *ClockRule {
	for i := range rb.Clocks {
		if rb.Clocks[i].Role == role {
			return &rb.Clocks[i]
		}
	}
	return nil
}

// attrs lists the event attributes a period reads its dates from.
func (p Period) attrs() []string {
	out := []string{p.FromAttr, p.YearAttr, p.DateAttr}
	for _, q := range p.Of {
		out = append(out, q.attrs()...)
	}
	return out
}
