package projections

import (
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

// countedEvents says which events the figures count, as which kind, and which
// attribute (if any) labels them.
var countedEvents = map[string]struct {
	kind      uint8
	labelAttr string
}{
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

type eventFact struct {
	on    domain.Date
	kind  uint8
	label string // the order, AP tier or destination
}

type planFact struct {
	on       domain.Date // the day the plan was issued
	weeks    float64
	met      bool
	excepted bool
}

// dueFact is a clock that may count as a breach or a review in a period: its
// status on any as-of date follows from these fields.
type dueFact struct {
	due, stopped domain.Date
	stage        string
	review       bool // an annual review
	breachable   bool // not a family's window
	ended        bool
	excused      bool
}

type laFacts struct {
	position int64
	events   []eventFact
	plans    []planFact
	dues     []dueFact
}

// buildFacts draws the facts of an LA's cases. Callers hold t.mu.
func (m *Model) buildFacts(cases []*CaseModel, position int64) *laFacts {
	f := &laFacts{position: position}
	for _, c := range cases {
		for _, st := range c.History {
			if k, ok := countedEvents[st.Event.EventType()]; ok {
				f.events = append(f.events, eventFact{on: st.On, kind: k.kind, label: st.Event.Attr(k.labelAttr)})
			}
		}
		for _, k := range c.Clocks.Clocks {
			switch {
			case k.Name == "appeal_window":
				f.events = append(f.events, eventFact{on: k.Started, kind: factAppealable})
			case k.Name == "final_plan" && !k.Ended && !k.Stopped.IsZero():
				f.plans = append(f.plans, planFact{on: k.Stopped, weeks: float64(k.Stopped-k.Started) / 7,
					met: k.Stopped <= k.Due, excepted: len(m.Exceptions(c, k)) > 0})
			}
			if k.Name == "annual_review" || !k.Rule.LapsesAtDue {
				d := dueFact{due: k.Due, stopped: k.Stopped, stage: k.Name, review: k.Name == "annual_review",
					breachable: !k.Rule.LapsesAtDue, ended: k.Ended}
				// Only a late or overdue clock can be excused; whether one is
				// depends on its exceptions, not on the as-of date.
				if !k.Ended && (k.Stopped.IsZero() || k.Stopped > k.Due) {
					d.excused = len(m.Exceptions(c, k)) > 0
				}
				f.dues = append(f.dues, d)
			}
		}
	}
	sort.Slice(f.events, func(i, j int) bool { return f.events[i].on < f.events[j].on })
	sort.Slice(f.plans, func(i, j int) bool { return f.plans[i].on < f.plans[j].on })
	sort.Slice(f.dues, func(i, j int) bool { return f.dues[i].due < f.dues[j].due })
	return f
}

// statsFrom counts the facts dated in period p, as they stand on asOf.
func (f *laFacts) statsFrom(s *Stats, p Period, asOf domain.Date) {
	lo := sort.Search(len(f.events), func(i int) bool { return f.events[i].on >= p.From })
	for _, e := range f.events[lo:] {
		if e.on > p.To {
			break
		}
		switch e.kind {
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
			s.TribunalOrders[e.label]++
		case factConcession:
			s.Concessions++
		case factAPStart:
			s.APStarts[e.label]++
		case factAPEnd:
			s.APEnds[e.label]++
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
		s.weeks = append(s.weeks, pl.weeks)
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
		met := !d.ended && !d.stopped.IsZero() && d.stopped <= d.due
		late := !d.ended && !d.stopped.IsZero() && d.stopped > d.due
		overdue := d.stopped.IsZero() && d.due < asOf
		if d.review && d.due <= asOf {
			s.ReviewsDue++
			if met {
				s.ReviewsOnTime++
			}
		}
		if d.breachable && (late || overdue) {
			s.BreachesByStage[d.stage]++
			if d.excused {
				s.ExcusedByStage[d.stage]++
			}
		}
	}
}
