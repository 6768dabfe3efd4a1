package app

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
)

// An LA's real history, read from the store and counted again apart from
// the live read model, answers two questions: what a rulebook revision did
// to the LA's figures (its clocks under the rules before the revision and
// after it), and what the figures would have been under another rulebook
// (a what-if). Both count one LA at a time.

// ReadLAHistory reads from the store what an LA's figures are counted
// from: the streams of its cases (cases: those whose latest event is the
// LA's, as Timeliness.CaseIDs or CasesOfLA list them), the streams of every
// LA those cases were in (their rulebook adoptions), and the closures of the
// LA's schools the cases asked advice of.
func ReadLAHistory(ctx context.Context, store eventstore.Store, la string, cases []string) (*projections.History, error) {
	var events []eventstore.RecordedEvent
	las, schools := map[string]bool{la: true}, map[string]bool{}
	for _, id := range cases {
		evs, err := store.ReadStream(ctx, domain.CaseStream(id), 1)
		if err != nil {
			return nil, &domain.Error{Code: domain.Internal, Message: "could not read the case", Err: err}
		}
		for _, e := range evs {
			if e.LA != "" {
				las[e.LA] = true
			}
			if school, err := schoolAsked(e); err != nil {
				return nil, errUnreadable(err)
			} else if school != "" {
				schools[school] = true
			}
		}
		events = append(events, evs...)
	}
	streams := make([]string, 0, len(las)+len(schools))
	for l := range las {
		streams = append(streams, domain.LAStream(l))
	}
	for s := range schools {
		streams = append(streams, domain.SchoolStream(la, s))
	}
	sort.Strings(streams)
	for _, s := range streams {
		evs, err := store.ReadStream(ctx, s, 1)
		if err != nil {
			return nil, &domain.Error{Code: domain.Internal, Message: "could not read the LA's rulebooks and school closures", Err: err}
		}
		events = append(events, evs...)
	}
	h, err := projections.NewHistory(events)
	if err != nil {
		return nil, errUnreadable(err)
	}
	return h, nil
}

// schoolAsked names the school whose head teacher a stored step asked, as
// recorded or as corrected, or "" (domain.SchoolAsked).
func schoolAsked(e eventstore.RecordedEvent) (string, error) {
	switch e.Type {
	case domain.TypeAdviceRequested, domain.TypeSchoolInformationRequested, domain.TypeStepCorrected:
		ev, _, err := projections.Decode(e)
		if err != nil {
			return "", err
		}
		return domain.SchoolAsked(ev), nil
	}
	return "", nil
}

// CasesOfLA lists, sorted, the cases whose latest event is in LA la (the
// cases its figures count), reading the whole store without decoding any
// event: for the command line, which has no live read model to ask.
func CasesOfLA(ctx context.Context, store eventstore.Store, la string) ([]string, error) {
	latest := map[string]string{}
	err := projections.ReadBatches(ctx, store, 1, 5000, func(batch []eventstore.RecordedEvent) error {
		for _, e := range batch {
			if id, ok := domain.CaseIDOf(e.Stream); ok {
				latest[id] = e.LA
			}
		}
		return nil
	})
	if err != nil {
		return nil, &domain.Error{Code: domain.Internal, Message: "could not read the store", Err: err}
	}
	var ids []string
	for id, l := range latest {
		if l == la {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Comparison is an LA's history counted twice: under the rules it is
// compared against (before) and under other rules (after).
type Comparison struct {
	la            string
	cases         int
	first         domain.Date
	before, after *projections.Model
	figures       [2]*projections.Figures
}

// compare counts an LA's history under two sets of rules.
func compare(h *projections.History, holidays domain.Holidays, la string, cases int, before, after projections.Rules) (*Comparison, error) {
	c := &Comparison{la: la, cases: cases, first: h.First()}
	var err error
	if c.before, err = h.Model(holidays, before); err != nil {
		return nil, errUnreadable(err)
	}
	if c.after, err = h.Model(holidays, after); err != nil {
		return nil, errUnreadable(err)
	}
	c.figures = [2]*projections.Figures{c.before.Figures(la), c.after.Figures(la)}
	return c, nil
}

// Stats returns the LA's figures for a period on asOf, before and after.
func (c *Comparison) Stats(p projections.Period, asOf domain.Date) (before, after projections.Stats) {
	return c.figures[0].Stats(p, asOf), c.figures[1].Stats(p, asOf)
}

// Changes lists every clock whose due date or status on asOf differs.
func (c *Comparison) Changes(asOf domain.Date) []projections.ClockChange {
	return projections.CompareClocks(c.before, c.after, c.la, asOf)
}

// Replayed is what counting an LA's history again found, whatever the
// question: the LA, the period of the figures, the date the clocks stand
// on, how many cases were counted and the clocks that changed.
type Replayed struct {
	LA            string                    `json:"la"`
	Period        projections.Period        `json:"period"`
	AsOf          domain.Date               `json:"as_of"`
	Cases         int                       `json:"cases"`
	ChangedClocks int                       `json:"changed_clocks"`
	Clocks        []projections.ClockChange `json:"clocks,omitempty"`
}

// replayed sums a comparison up for period p (a zero From is the LA's
// first step, a zero To is asOf), listing the changed clocks when clocks
// is set.
func (c *Comparison) replayed(p projections.Period, asOf domain.Date, clocks bool) (Replayed, projections.Stats, projections.Stats) {
	if p.From.IsZero() {
		p.From = min(c.first, asOf)
		if p.From.IsZero() {
			p.From = asOf
		}
	}
	if p.To.IsZero() {
		p.To = asOf
	}
	changes := c.Changes(asOf)
	r := Replayed{LA: c.la, Period: p, AsOf: asOf, Cases: c.cases, ChangedClocks: len(changes)}
	if clocks {
		r.Clocks = changes
		if r.Clocks == nil {
			r.Clocks = []projections.ClockChange{}
		}
	}
	before, after := c.Stats(p, asOf)
	return r, before, after
}

// WhatIfReport shows an LA's actual figures beside those of its real
// history counted with one rulebook in force on every date.
type WhatIfReport struct {
	Rulebook string            `json:"rulebook"`
	Version  int               `json:"version"`
	Actual   projections.Stats `json:"actual"`
	WhatIf   projections.Stats `json:"what_if"`
	Replayed
}

// WhatIf counts an LA's real history (cases as for ReadLAHistory) as it
// stands in the store, once under the rulebooks it adopted and once with
// rulebook in force on every date, whatever it adopted. An unknown rulebook
// is an invalid field.
func (l *Ledger) WhatIf(ctx context.Context, la string, cases []string, rulebook string) (*Comparison, *domain.Rulebook, error) {
	rb, err := domain.LookupRulebook(rulebook)
	if err != nil {
		return nil, nil, &domain.Error{Code: domain.Invalid, Field: "rulebook", Message: domain.ErrorMessage(err)}
	}
	h, err := ReadLAHistory(ctx, l.Store, la, cases)
	if err != nil {
		return nil, nil, err
	}
	always := func(string, []domain.RulebookAdopted, domain.Date) *domain.Rulebook { return rb }
	c, err := compare(h, l.Holidays, la, len(cases), nil, always)
	return c, rb, err
}

// WhatIfReport sums a what-if up for period p on asOf (see Replayed),
// listing the changed clocks when clocks is set.
func (c *Comparison) WhatIfReport(rb *domain.Rulebook, p projections.Period, asOf domain.Date, clocks bool) WhatIfReport {
	r, actual, whatIf := c.replayed(p, asOf, clocks)
	return WhatIfReport{Rulebook: rb.ID, Version: rb.Version, Actual: actual, WhatIf: whatIf, Replayed: r}
}

// RevisionReport is what a recorded rulebook revision did to an LA: its
// clocks and figures counted under the rules as they stood just before the
// revision was recorded and just after.
type RevisionReport struct {
	Rulebook        string            `json:"rulebook"`
	Version         int               `json:"version"`
	PreviousVersion int               `json:"previous_version"`
	RecordedAt      time.Time         `json:"recorded_at"`
	Corrects        []domain.Revision `json:"corrects"`
	Before          projections.Stats `json:"before"`
	After           projections.Stats `json:"after"`
	Replayed
}

// RevisionChanges reports what the recorded revision of rulebook (default
// the current law) at version (0: the latest recorded) changed for an LA
// (cases as for ReadLAHistory), for period p on asOf (see Replayed). Both
// sides are counted under rules read back from the store: every rulebook as
// last recorded before the revision, then the same with the revision, so a
// build that no longer holds either version can still answer. A revision
// with no earlier one recorded of its rulebook has nothing to compare with
// and is not found.
func (l *Ledger) RevisionChanges(ctx context.Context, la string, cases []string, rulebook string, version int,
	p projections.Period, asOf domain.Date) (*RevisionReport, error) {
	if rulebook == "" {
		rulebook = domain.DefaultRulebook
	}
	recs, _, err := l.RulebookRevisions(ctx)
	if err != nil {
		return nil, err
	}
	target, ids := -1, map[string]bool{}
	for i, r := range recs {
		ids[r.Rulebook] = true
		if r.Rulebook == rulebook && (version == 0 || r.Version == version) {
			target = i
		}
	}
	if target < 0 {
		if !ids[rulebook] {
			known := make([]string, 0, len(ids))
			for id := range ids {
				known = append(known, id)
			}
			sort.Strings(known)
			return nil, domain.FieldErrorf("rulebook", "no revision of %q is recorded (recorded: %s)", rulebook, strings.Join(known, ", "))
		}
		return nil, domain.FieldErrorf("version", "no revision of %s at version %d is recorded", rulebook, version)
	}
	rev := recs[target]
	previous := false
	for _, r := range recs[:target] {
		previous = previous || r.Rulebook == rulebook
	}
	if !previous {
		return nil, &domain.Error{Code: domain.NotFound, Field: "version", Message: itoa(int64(rev.Version)) + " is the first version of " + rulebook +
			" this ledger recorded: there is no earlier one to compare it with"}
	}
	before, err := recordedRules(recs[:target])
	if err != nil {
		return nil, err
	}
	after, err := recordedRules(recs[:target+1])
	if err != nil {
		return nil, err
	}
	h, err := ReadLAHistory(ctx, l.Store, la, cases)
	if err != nil {
		return nil, err
	}
	c, err := compare(h, l.Holidays, la, len(cases), before, after)
	if err != nil {
		return nil, err
	}
	r, b, a := c.replayed(p, asOf, true)
	return &RevisionReport{Rulebook: rev.Rulebook, Version: rev.Version, PreviousVersion: rev.PreviousVersion,
		RecordedAt: rev.RecordedAt.UTC(), Corrects: rev.Revisions, Before: b, After: a, Replayed: r}, nil
}

// recordedRules reads back every rulebook as last recorded among recs and
// chooses among them as the LA's adoptions say. A rulebook not recorded
// there is this build's, on the base recorded there (so that, before a
// revision of the current law, a rulebook written as changes to it counts
// under the law before the revision). A recorded rulebook that does not
// read back is an internal error: no report is made from rules it cannot
// trust.
func recordedRules(recs []RecordedRevision) (projections.Rules, error) {
	latest := map[string]*domain.RulebookRevised{}
	for i := range recs {
		latest[recs[i].Rulebook] = &recs[i].RulebookRevised
	}
	books := map[string]*domain.Rulebook{}
	reading := map[string]bool{}
	var read func(id string) (*domain.Rulebook, error)
	read = func(id string) (*domain.Rulebook, error) {
		if rb, ok := books[id]; ok {
			return rb, nil
		}
		if reading[id] {
			return nil, domain.Errorf(domain.Invalid, "rulebook %s is its own base", id)
		}
		reading[id] = true
		var baseErr error
		bases := func(base string) (*domain.Rulebook, bool) {
			b, err := read(base)
			baseErr = err
			return b, err == nil
		}
		var rb *domain.Rulebook
		var err error
		if e, ok := latest[id]; ok {
			rb, err = e.Parse(bases)
		} else if rb, err = domain.LookupRulebook(id); err == nil && rb.Base != "" {
			rb, err = domain.ParseRulebook(rb.Canonical(), bases)
		}
		if err != nil {
			if baseErr != nil {
				err = baseErr
			}
			return nil, err
		}
		books[id] = rb
		return rb, nil
	}
	ids := domain.RulebookIDs()
	for id := range latest {
		if _, err := domain.LookupRulebook(id); err != nil {
			ids = append(ids, id) // recorded by a build that had it; this one has not
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if _, err := read(id); err != nil {
			return nil, &domain.Error{Code: domain.Internal, Message: "the recorded revision of rulebook " + id + " could not be read back", Err: err}
		}
	}
	return func(_ string, adoptions []domain.RulebookAdopted, on domain.Date) *domain.Rulebook {
		if rb, ok := books[domain.RulebookIDInForce(adoptions, on)]; ok {
			return rb
		}
		return domain.RulebookInForce(adoptions, on)
	}, nil
}

// FigureRow is one headline figure counted two ways, as text for people:
// the command line's table and the statistics page.
type FigureRow struct {
	Figure string
	Before string
	After  string
}

// FigureRows lists the headline figures of two countings side by side:
// requests, plans issued, plans within 20 weeks including and excluding
// exceptions, the median weeks to a plan, annual reviews on time, and the
// breaches of each stage either counting has (with those excused).
func FigureRows(before, after projections.Stats) []FigureRow {
	pct := func(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }
	of := func(n, m int, share float64) string {
		return strconv.Itoa(n) + " of " + strconv.Itoa(m) + " (" + pct(share) + ")"
	}
	rows := []FigureRow{
		{"requests", strconv.Itoa(before.Requests), strconv.Itoa(after.Requests)},
		{"plans issued", strconv.Itoa(before.PlansIssued), strconv.Itoa(after.PlansIssued)},
		{"within 20 weeks, including exceptions", of(before.Within20Weeks, before.PlansIssued, before.ShareWithin20Weeks),
			of(after.Within20Weeks, after.PlansIssued, after.ShareWithin20Weeks)},
		{"within 20 weeks, excluding exceptions", of(before.Within20WeeksExclExceptions, before.PlansExclExceptions, before.ShareWithin20WeeksExcl),
			of(after.Within20WeeksExclExceptions, after.PlansExclExceptions, after.ShareWithin20WeeksExcl)},
		{"median weeks to a plan", strconv.FormatFloat(before.MedianWeeks, 'f', -1, 64), strconv.FormatFloat(after.MedianWeeks, 'f', -1, 64)},
		{"annual reviews on time", of(before.ReviewsOnTime, before.ReviewsDue, before.ShareReviewsOnTime),
			of(after.ReviewsOnTime, after.ReviewsDue, after.ShareReviewsOnTime)},
	}
	stages := map[string]bool{}
	for _, s := range []projections.Stats{before, after} {
		for stage := range s.BreachesByStage {
			stages[stage] = true
		}
	}
	names := make([]string, 0, len(stages))
	for stage := range stages {
		names = append(names, stage)
	}
	sort.Strings(names)
	breaches := func(s projections.Stats, stage string) string {
		return strconv.Itoa(s.BreachesByStage[stage]) + " (" + strconv.Itoa(s.ExcusedByStage[stage]) + " excused)"
	}
	for _, stage := range names {
		rows = append(rows, FigureRow{"breaches: " + stage, breaches(before, stage), breaches(after, stage)})
	}
	return rows
}
