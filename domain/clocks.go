package domain

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
)

// Clock statuses, as FORMAT.md defines them.
const (
	StatusRunning = "running"
	StatusOverdue = "overdue"
	StatusMet     = "met"
	StatusLate    = "late"
	StatusEnded   = "ended"
)

// Clock is one running or finished statutory time limit of a case.
type Clock struct {
	Name    string
	Key     string
	Started Date
	Due     Date
	// Stopped is the date the clock stopped or ended; zero while it runs.
	Stopped Date
	// Ended is set when the process took another path and the clock no longer
	// applies.
	Ended bool
	Rule  *ClockRule
	// Book is the rulebook in force when the clock started; the clock keeps it
	// whatever the LA adopts later.
	Book *Rulebook
	// Imported marks a clock an import ended unjudged (HistoryImported):
	// no warning is raised on it either.
	Imported bool
}

// ClosureWindow is one closure of a school: FirstDay is the first day closed
// and Reopens the first day open again.
type ClosureWindow struct {
	FirstDay Date
	Reopens  Date
}

// SchoolCalendars gives the closures of each school, for the derived
// school-closure exception.
type SchoolCalendars interface {
	Closures(school string) []ClosureWindow
}

// AdviceAsked is a request for advice from a school's head teacher.
type AdviceAsked struct {
	School string
	On     Date
	// Via is the type of the event that asked, when not advice_requested
	// (school_information_requested, before the decision to assess).
	Via string `json:",omitempty"`
}

// CaseClocks is the clock state of one case, built only by applying events.
// It is the shared engine behind scenario runs, the timeliness projection and
// as-of views.
type CaseClocks struct {
	Clocks      []*Clock
	Exceptions  []ExceptionRecorded
	SchoolAsked []AdviceAsked
	// BirthDate is the child's, for age-dependent expectations.
	BirthDate Date
	// AP lists the alternative provision placements running, each with the
	// day it started or was last reviewed, for the LA's review setting.
	AP []APRunning
}

// APRunning is an alternative provision placement that has not ended.
type APRunning struct {
	Setting string
	Last    Date
}

// Warning is an expectation of guidance that a clock has missed or will
// miss if nothing happens by By.
type Warning struct {
	Clock   string `json:"clock"`
	Key     string `json:"key"`
	By      Date   `json:"by"`
	Message string `json:"message"`
	Source  string `json:"source"`
}

// Warnings lists the guidance expectations missed on asOf: a clock that a
// warning rule of its rulebook covers (for its age limit, if any, the child's
// age on the clock's start) and that did not stop by the expected date.
func (cc *CaseClocks) Warnings(asOf Date) []Warning {
	var out []Warning
	for _, c := range cc.Clocks {
		if c.Imported {
			continue
		}
		for _, w := range c.Book.Warnings {
			if w.Clock != c.Name || !w.Applies(cc.BirthDate, c.Started) {
				continue
			}
			by := w.By(c.Started)
			if (c.Stopped.IsZero() && asOf > by) || c.Stopped > by {
				out = append(out, Warning{Clock: c.Name, Key: c.Key, By: by, Message: w.Message, Source: w.Source})
			}
		}
		out = append(out, cc.temporaryExceptionsToConfirm(c, asOf)...)
	}
	return out
}

// Apply advances the clocks for one event that occurred on date on. Clocks
// already running follow the rules they started under; new clocks start under
// rb, the rulebook in force on the event's date. Stops, ends and extensions
// apply before starts, so an event that closes one clock and opens the next (a
// review decision) does both.
func (cc *CaseClocks) Apply(rb *Rulebook, e Event, on Date, h Holidays) {
	switch v := e.(type) {
	case Opener:
		cc.BirthDate = v.Opened().Born()
	case *ExceptionRecorded:
		cc.Exceptions = append(cc.Exceptions, *v)
	case *AdviceRequested:
		if v.School != "" {
			cc.SchoolAsked = append(cc.SchoolAsked, AdviceAsked{School: v.School, On: on})
		}
	case *HistoryImported:
		cc.endImported(v.Through)
	case *APPlacementStarted:
		cc.AP = append(cc.AP, APRunning{Setting: v.Setting, Last: on})
	case *APPlacementReviewed:
		for i := range cc.AP {
			if cc.AP[i].Setting == v.Setting {
				cc.AP[i].Last = on
			}
		}
	case *APPlacementEnded:
		cc.AP = slices.DeleteFunc(cc.AP, func(p APRunning) bool { return p.Setting == v.Setting })
	case *SchoolInformationRequested:
		cc.SchoolAsked = append(cc.SchoolAsked, AdviceAsked{School: v.School, On: on, Via: TypeSchoolInformationRequested})
	}
	typ := e.EventType()
	var done []string // clock names already handled, newest rule first
	for i := len(cc.Clocks) - 1; i >= 0; i-- {
		r := cc.Clocks[i].Rule
		if !r.closes(typ) || contains(done, r.Name) {
			continue
		}
		done = append(done, r.Name)
		for _, t := range r.Stops {
			if t.Matches(e) {
				cc.close(r, t, e, on, false)
			}
		}
		for _, t := range r.Ends {
			if t.Matches(e) {
				cc.close(r, t, e, on, true)
			}
		}
		for _, x := range r.Extends {
			if x.Matches(e) {
				for _, c := range cc.targets(r, x.Target, e) {
					if d := x.Period.Due(on, e, h); d > c.Due {
						c.Due = d
					}
				}
			}
		}
	}
	for _, r := range rb.rulesFor(typ).start {
		for _, s := range r.Starts {
			if !s.Matches(e) || !s.InForceOn(on) {
				continue
			}
			p := r.Period
			if s.Period != nil {
				p = *s.Period
			}
			key := s.Key
			if s.KeyAttr != "" {
				if key = e.Attr(s.KeyAttr); key == "" {
					// An event without the attribute starts nothing: decisions
					// to cease recorded before they numbered the next review.
					continue
				}
			}
			due := p.Due(on, e, h)
			if due.IsZero() {
				// A period counted from a date the event does not carry
				// (a decision recorded without its meeting) starts nothing.
				continue
			}
			cc.Clocks = append(cc.Clocks, &Clock{Name: r.Name, Key: key, Started: on, Due: due, Rule: r, Book: rb})
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// targets returns the clocks of rule r that target t selects.
func (cc *CaseClocks) targets(r *ClockRule, t Target, e Event) []*Clock {
	var out []*Clock
	for i := len(cc.Clocks) - 1; i >= 0; i-- {
		c := cc.Clocks[i]
		if c.Name != r.Name {
			continue
		}
		if t.Latest {
			return []*Clock{c}
		}
		if t.Key != "" && c.Key != t.Key {
			continue
		}
		if t.KeyAttr != "" && c.Key != e.Attr(t.KeyAttr) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func (cc *CaseClocks) close(r *ClockRule, t Target, e Event, on Date, ended bool) {
	for _, c := range cc.targets(r, t, e) {
		if !c.Stopped.IsZero() {
			continue
		}
		c.Stopped, c.Ended = on, ended
		if ended && t.KeepsBreach && on > c.Due {
			c.Ended = false // late: the duty lapsed only after it was breached
		}
		if ended && r.LapsesAtDue && on > c.Due {
			// The family's window had already passed unused before the process
			// moved on, so it ended on its due date.
			c.Stopped = c.Due
		}
	}
}

// ClockRow is one clock as FORMAT.md prints it.
type ClockRow struct {
	Case    string `json:"case"`
	Clock   string `json:"clock"`
	Key     string `json:"key"`
	Started Date   `json:"started"`
	Due     Date   `json:"due"`
	Stopped Date   `json:"stopped"`
	Status  string `json:"status"`
	Excused bool   `json:"excused"`
}

// Row reports a clock as it stands on asOf.
func (cc *CaseClocks) Row(caseID string, c *Clock, asOf Date, cal SchoolCalendars) ClockRow {
	row := ClockRow{Case: caseID, Clock: c.Name, Key: c.Key, Started: c.Started, Due: c.Due, Stopped: c.Stopped}
	switch {
	case c.Ended:
		row.Status = StatusEnded
	case !c.Stopped.IsZero() && c.Stopped <= c.Due:
		row.Status = StatusMet
	case !c.Stopped.IsZero():
		row.Status = StatusLate
	case c.Rule.LapsesAtDue && c.Due < asOf:
		row.Status, row.Stopped = StatusEnded, c.Due
	case c.Due < asOf:
		row.Status = StatusOverdue
	default:
		row.Status = StatusRunning
	}
	if row.Status == StatusLate || row.Status == StatusOverdue {
		row.Excused = len(cc.ExceptionsFor(c, cal)) > 0
	}
	return row
}

// Rows reports every clock of the case on asOf, sorted as FORMAT.md requires.
func (cc *CaseClocks) Rows(caseID string, asOf Date, cal SchoolCalendars) []ClockRow {
	rows := make([]ClockRow, 0, len(cc.Clocks))
	for _, c := range cc.Clocks {
		rows = append(rows, cc.Row(caseID, c, asOf, cal))
	}
	SortRows(rows)
	return rows
}

// SortRows orders rows by case, start date, clock and key.
func SortRows(rows []ClockRow) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Case != b.Case {
			return a.Case < b.Case
		}
		if a.Started != b.Started {
			return a.Started < b.Started
		}
		if a.Clock != b.Clock {
			return a.Clock < b.Clock
		}
		return keyLess(a.Key, b.Key)
	})
}

// keyLess orders review numbers numerically ("2" before "10") and other keys
// as text.
func keyLess(a, b string) bool {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	if errA == nil && errB == nil {
		return x < y
	}
	return a < b
}

// Exception is an exception found to apply to a clock: its kind, period and
// where it came from.
type Exception struct {
	Kind     string `json:"kind"`
	From     Date   `json:"from"`
	To       Date   `json:"to"`
	Evidence string `json:"evidence"`
}

// ExceptionsFor lists the exceptions that cover clock c, recorded or derived:
// an exception of a kind the clock's rule allows with at least the rule's
// least number of days (one when the rule names none) inside the clock's
// period, its start to its due date. Only days inside count: an absence
// excuses only if it lasts "for a continuous period of not less than 4 weeks
// during that time period" (reg 10(4)(d); reg 8(2) for advice).
func (cc *CaseClocks) ExceptionsFor(c *Clock, cal SchoolCalendars) []Exception {
	var out []Exception
	for _, er := range c.Rule.Exceptions {
		least := max(1, er.MinDays)
		if er.Kind == ExceptionSchoolClosure {
			for _, x := range cc.schoolClosures(c, er, cal) {
				if c.daysInside(x.From, x.To) >= least {
					out = append(out, x)
				}
			}
		}
		if !er.InForceUntil.IsZero() && c.Due > er.InForceUntil {
			continue
		}
		for _, x := range cc.Exceptions {
			from, to := x.From, x.To
			if !er.InForceFrom.IsZero() {
				from = max(from, er.InForceFrom)
			}
			if !er.InForceUntil.IsZero() {
				to = min(to, er.InForceUntil)
			}
			if x.Kind == er.Kind && c.daysInside(from, to) >= least {
				out = append(out, Exception{Kind: x.Kind, From: x.From, To: x.To, Evidence: x.Evidence.Shown()})
			}
		}
	}
	return out
}

// daysInside counts the days from..to (inclusive) that fall inside the
// clock's period, its start to its due date inclusive.
func (c *Clock) daysInside(from, to Date) int {
	lo, hi := max(from, c.Started), min(to, c.Due)
	if hi < lo {
		return 0
	}
	return int(hi-lo) + 1
}

// schoolClosures derives the school-closure exception for clock c: advice
// was asked of a head teacher on a day inside the window that runs from
// BeforeDays before a closure of at least MinDays to BeforeDays before the
// school reopens, and inside the clock's own period (reg 5(4)(a) and 10(4)(a)
// are causal: advice asked after a limit passed cannot have made it
// impractical). The exception lasts from that day to the day before the
// school reopens.
func (cc *CaseClocks) schoolClosures(c *Clock, er ExceptionRule, cal SchoolCalendars) []Exception {
	if cal == nil {
		return nil
	}
	rule := c.Book.SchoolClosure
	var out []Exception
	for _, a := range cc.SchoolAsked {
		if a.On < c.Started || a.On > c.Due || !er.Counts(a.Via) {
			continue
		}
		for _, w := range cal.Closures(a.School) {
			if int(w.Reopens-w.FirstDay) < rule.MinDays {
				continue
			}
			if a.On >= w.FirstDay.AddDays(-rule.BeforeDays) && a.On <= w.Reopens.AddDays(-rule.BeforeDays) {
				out = append(out, Exception{
					Kind: ExceptionSchoolClosure, From: a.On, To: w.Reopens.AddDays(-1),
					Evidence: askedWhat(a.Via) + " requested from school " + a.School + " on " + a.On.String() + ", during its closure from " + w.FirstDay.String() + " to " + w.Reopens.String(),
				})
			}
		}
	}
	return out
}

// askedWhat names what a school was asked for, by the event that asked.
func askedWhat(via string) string {
	if via == TypeSchoolInformationRequested {
		return "information"
	}
	return "advice"
}

// temporaryExceptionsToConfirm flags a late or overdue clock that fell due
// after a temporary exception's window ended (the coronavirus exception of
// SI 2020/471, to 25 September 2020) while an exception of that kind is
// recorded inside both the window and the clock's period: whether the
// regulations cover a delay that arose inside the window but passed a later
// limit is unconfirmed, so a person must decide; the clock is never excused
// automatically (statutory.md section 4).
func (cc *CaseClocks) temporaryExceptionsToConfirm(c *Clock, asOf Date) []Warning {
	late := (c.Stopped.IsZero() && asOf > c.Due) || (!c.Ended && c.Stopped > c.Due)
	if !late {
		return nil
	}
	var out []Warning
	for _, er := range c.Rule.Exceptions {
		if er.InForceUntil.IsZero() || c.Due <= er.InForceUntil {
			continue
		}
		for _, x := range cc.Exceptions {
			from, to := max(x.From, er.InForceFrom), min(x.To, er.InForceUntil)
			if x.Kind == er.Kind && c.daysInside(from, to) > 0 {
				out = append(out, Warning{Clock: c.Name, Key: c.Key, By: c.Due,
					Message: fmt.Sprintf("a %s exception is recorded from %s to %s, but this limit fell due on %s, after the exception ended on %s: a person must confirm whether the delay arose inside that period; the clock is not excused automatically", x.Kind, x.From, x.To, c.Due, er.InForceUntil),
					Source:  "SI 2020/471 (1 May to 25 September 2020); its reach past 25 September is unconfirmed"})
				break
			}
		}
	}
	return out
}

// SchoolAsked names the school whose head teacher or principal a step asked
// (for advice, or for information before the decision), "" for any other
// step; for a correction, the school its corrected data names. The views
// read that school's closures for the derived school-closure exception.
func SchoolAsked(e Event) string {
	switch v := e.(type) {
	case *AdviceRequested:
		return v.School
	case *SchoolInformationRequested:
		return v.School
	case *StepCorrected:
		if len(v.Data) == 0 {
			return ""
		}
		spec := theCatalog().byType[v.Type]
		if spec == nil {
			return ""
		}
		fixed := spec.New()
		if json.Unmarshal(v.Data, fixed) != nil {
			return ""
		}
		if _, ok := fixed.(*StepCorrected); ok {
			return ""
		}
		return SchoolAsked(fixed)
	}
	return ""
}
