package projections

import (
	"slices"
	"sort"

	"github.com/ehcledger/ehcledger/domain"
)

// An LA's figures come from dated facts drawn from its cases once, kept
// sorted by date, and drawn again only when one of the LA's events arrives.
// A question about any period then reads only the facts dated in it, from
// contiguous slices, instead of walking every case the LA ever had.

// Kinds of counted event.
const (
	factRequest = iota
	factAssessment
	factRefusal
	factNotIssued
	factMediationContact
	factMediationHeld
	factAppeal
	factOrder
	factConcession
	factAPStart
	factAPEnd
	factAppealable
)

// countedEvent is how the figures count an event: as which kind, labelled
// by which attribute (if any).
type countedEvent struct {
	kind      uint8
	labelAttr string
}

// countedEvents says which events the figures count.
func countedEvents() map[string]countedEvent {
	return map[string]countedEvent{
		domain.TypeRequestReceived:           {factRequest, ""},
		domain.TypeAssessmentAgreed:          {factAssessment, ""},
		domain.TypeAssessmentRefused:         {factRefusal, ""},
		domain.TypeDecidedNotToIssue:         {factNotIssued, ""},
		domain.TypeMediationAdviserContacted: {factMediationContact, ""},
		domain.TypeMediationHeld:             {factMediationHeld, ""},
		domain.TypeAppealLodged:              {factAppeal, ""},
		domain.TypeTribunalOrdered:           {factOrder, "order"},
		domain.TypeAppealConceded:            {factConcession, ""},
		domain.TypeAPPlacementStarted:        {factAPStart, "tier"},
		domain.TypeAPPlacementEnded:          {factAPEnd, "destination"},
	}
}

// The facts are small fixed-size records: labels and stages are numbers
// into the model's tables, which laFacts keeps a view of.
// eventFact is laid out as a mark is: meta holds the kind and the label (the
// order, AP tier or destination).
type eventFact mark

type planFact struct {
	on       domain.Date // the day the plan was issued
	days     int32       // from request to plan
	met      bool
	excepted bool
}

// dueFact is a clock that may count as a breach or a review in a period: its
// status on any as-of date follows from these fields.
type dueFact struct {
	due, stopped domain.Date
	rule         uint16
	flags        uint8
}

// dueFact flags.
const (
	dueReview     = 1 << iota // an annual review
	dueBreachable             // not a family's window
	dueEnded
	dueExcused
	dueAtRisk // overdue is a risk, not a breach
)

type laFacts struct {
	position int64
	events   []eventFact
	plans    []planFact
	dues     []dueFact
	// Views of the model's tables as they stood: entries never change once
	// added, so reading them needs no lock.
	strs  []string
	rules []ruleRef
}

// buildFacts draws the facts of an LA's cases. Callers hold t.mu.
func (m *Model) buildFacts(cases []*CaseModel, position int64) *laFacts {
	f := &laFacts{position: position, strs: m.strs.items, rules: m.rules.items}
	for _, c := range cases {
		for _, mk := range c.marks {
			if k := marks().kinds[mk.kind()].fact; k >= 0 {
				f.events = append(f.events, eventFact(newMark(mk.on, uint8(k), mk.label())))
			}
		}
		for _, p := range c.clocks {
			r := m.rules.items[p.rule()].rule
			excepted := func() bool {
				k := m.unpackClock(p)
				return len(m.Exceptions(c, &k)) > 0
			}
			switch {
			case r.Role == domain.RoleAppealWindow:
				f.events = append(f.events, eventFact(newMark(p.started, factAppealable, 0)))
			case r.Role == domain.RolePlan && !p.ended() && !p.stopped.IsZero():
				f.plans = append(f.plans, planFact{on: p.stopped, days: int32(p.stopped - p.started),
					met: p.stopped <= p.due, excepted: excepted()})
			}
			// A clock met on time, or ended, is never a breach: only a
			// review counts whatever became of it.
			settled := p.ended() || (!p.stopped.IsZero() && p.stopped <= p.due)
			if r.Role == domain.RoleAnnualReview || (!r.LapsesAtDue && !settled) {
				d := dueFact{due: p.due, stopped: p.stopped, rule: p.rule()}
				if r.Role == domain.RoleAnnualReview {
					d.flags |= dueReview
				}
				if r.LABreach("", domain.StatusLate) {
					d.flags |= dueBreachable
				}
				if r.AtRisk(m.strs.items[p.key()]) {
					d.flags |= dueAtRisk
				}
				if p.ended() {
					d.flags |= dueEnded
				}
				// Only a late or overdue clock can be excused; whether one is
				// depends on its exceptions, not on the as-of date.
				if !p.ended() && (p.stopped.IsZero() || p.stopped > p.due) && excepted() {
					d.flags |= dueExcused
				}
				f.dues = append(f.dues, d)
			}
		}
	}
	sort.Slice(f.events, func(i, j int) bool { return f.events[i].on < f.events[j].on })
	sort.Slice(f.plans, func(i, j int) bool { return f.plans[i].on < f.plans[j].on })
	sort.Slice(f.dues, func(i, j int) bool { return f.dues[i].due < f.dues[j].due })
	// Keep exactly what was drawn: appending leaves up to half of each
	// slice unused, and every LA's facts stay in memory.
	f.events, f.plans, f.dues = slices.Clone(f.events), slices.Clone(f.plans), slices.Clone(f.dues)
	return f
}

// statsFrom counts the facts dated in period p, as they stand on asOf.
func (f *laFacts) statsFrom(s *Stats, p Period, asOf domain.Date) {
	lo := sort.Search(len(f.events), func(i int) bool { return f.events[i].on >= p.From })
	for _, e := range f.events[lo:] {
		if e.on > p.To {
			break
		}
		switch mark(e).kind() {
		case factRequest:
			s.Requests++
		case factAssessment:
			s.Assessments++
		case factRefusal:
			s.Refusals++
		case factNotIssued:
			s.NotIssued++
		case factMediationContact:
			s.MediationContacts++
		case factMediationHeld:
			s.MediationsHeld++
		case factAppeal:
			s.AppealsLodged++
		case factOrder:
			s.TribunalOrders[f.strs[mark(e).label()]]++
		case factConcession:
			s.Concessions++
		case factAPStart:
			s.APStarts[f.strs[mark(e).label()]]++
		case factAPEnd:
			s.APEnds[f.strs[mark(e).label()]]++
		case factAppealable:
			s.AppealableDecisions++
		}
	}
	lo = sort.Search(len(f.plans), func(i int) bool { return f.plans[i].on >= p.From })
	for _, pl := range f.plans[lo:] {
		if pl.on > p.To {
			break
		}
		s.PlansIssued++
		s.weeks = append(s.weeks, float64(pl.days)/7)
		if !pl.excepted {
			s.PlansExclExceptions++
		}
		if pl.met {
			s.Within20Weeks++
			if !pl.excepted {
				s.Within20WeeksExclExceptions++
			}
		}
	}
	lo = sort.Search(len(f.dues), func(i int) bool { return f.dues[i].due >= p.From })
	for _, d := range f.dues[lo:] {
		if d.due > p.To {
			break
		}
		ended := d.flags&dueEnded != 0
		met := !ended && !d.stopped.IsZero() && d.stopped <= d.due
		late := !ended && !d.stopped.IsZero() && d.stopped > d.due
		overdue := d.stopped.IsZero() && d.due < asOf
		if d.flags&dueReview != 0 && d.due <= asOf {
			s.ReviewsDue++
			if met {
				s.ReviewsOnTime++
			}
		}
		rule := f.rules[d.rule].rule
		if d.flags&dueBreachable != 0 && (late || (overdue && d.flags&dueAtRisk == 0)) {
			stage := rule.Name
			s.BreachesByStage[stage]++
			if d.flags&dueExcused != 0 {
				s.ExcusedByStage[stage]++
			}
		}
	}
}
