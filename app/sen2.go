package app

import (
	"context"
	"github.com/ehcledger/ehcledger/internal/safecsv"

	"io"
	"math"
	"slices"
	"sort"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
)

// SEN2Columns are the person-level EHC data return's items that this export
// writes, in the order of the Department for Education's SEN2 technical
// specification modules: person, request, assessment, named plan, placement.
// docs/sen2.md says how each is filled and which cannot be.
var SEN2Columns = []string{
	"LA", "CaseID",
	// Module 1: person details.
	"Surname", "Forename", "PersonBirthDate", "Sex", "Ethnicity", "PostCode", "UPN", "UniqueLearnerNumber",
	// Module 2: requests for EHC needs assessment.
	"ReceivedDate", "RequestSource", "RYA", "RequestOutcomeDate", "RequestOutcome", "RequestMediation", "RequestTribunal",
	// Module 3: EHC needs assessments.
	"AssessmentOutcome", "AssessmentOutcomeDate", "AssessmentMediation", "AssessmentTribunal", "Week20",
	// Module 4: named plan.
	"StartDate", "CeaseDate", "CeaseReason",
	// Module 5: placements.
	"URN", "PlacementRank", "EntryDate",
}

// sen2Case gathers what the return needs of one case.
type sen2Case struct {
	id, la                                         string
	birth, received, outcomeDate, planStart, cease domain.Date
	source, outcome, assessOutcome                 string
	assessDate                                     domain.Date
	requestMediation, requestTribunal              bool
	assessMediation, assessTribunal                bool
	week20, placement                              string
	forename, surname, postcode                    string
	planIssued                                     bool
}

// apply adds one step of the case to what the return says of it.
func (c *sen2Case) apply(k Keys, ev domain.Event, on domain.Date) error {
	switch v := ev.(type) {
	case domain.Opener:
		p, err := openPersonal(k, c.id, v.Opened())
		if err != nil {
			return err
		}
		if p.PersonalDetails != nil {
			c.birth, c.forename, c.surname, c.postcode = p.BirthDate, p.Forename, p.Surname, p.Postcode
		}
		c.received, c.source = on, "Other (the LA became responsible, s24)"
		if r, ok := v.(*domain.RequestReceived); ok {
			c.source = requestSource(r.Requester)
		}
	case *domain.AssessmentAgreed:
		c.outcome, c.outcomeDate = "Assessment", on
	case *domain.AssessmentRefused:
		c.outcome, c.outcomeDate = "Refused", on
	case *domain.DecidedNotToIssue:
		c.assessOutcome, c.assessDate = "Plan not issued", on
	case *domain.FinalPlanIssued:
		c.assessOutcome, c.assessDate, c.planStart, c.planIssued, c.placement = "Plan issued", on, on, true, v.School
	case *domain.PlanCeased:
		// The day the plan ended, not the decision to cease: the plan is
		// maintained until the time to appeal has passed or the appeal has
		// ended (SEN2 guide, EHCN004A).
		c.cease = on
	case *domain.ReviewDecisionNotified:
		if v.Decision == "cease" && v.NextReview == 0 {
			c.cease = on // recorded when a decision to cease ended the plan at once
		}
	case *domain.TribunalOrdered:
		if v.Order == "maintain" || v.Order == "maintain_unchanged" {
			c.cease = 0 // the tribunal reinstated the plan
		}
	case *domain.TransferSettingNamed:
		c.placement = v.School
	case *domain.MediationAdviserContacted:
		// Mediation about a refusal to assess belongs to the request;
		// about the outcome of an assessment, to the assessment.
		switch {
		case c.assessOutcome != "":
			c.assessMediation = true
		case c.outcome == "Refused":
			c.requestMediation = true
		}
	case *domain.AppealLodged:
		if v.Kind == "refusal_to_assess" {
			c.requestTribunal = true
		} else {
			c.assessTribunal = true
		}
	}
	return nil
}

// requestSource is the return's text for who asked for an assessment.
func requestSource(requester string) string {
	switch requester {
	case "parent":
		return "Parent"
	case "young_person":
		return "Young person"
	case "school":
		return "School or setting"
	case "professional":
		return "Other professional"
	}
	return ""
}

// WriteSEN2 writes the return for census year year (activity in the calendar
// year before it, and plans in force on 1 January of it) as CSV.
// Personal details come from the sealed request, opened with k; an erased
// case's are left empty.
// record is told, per LA, the cases whose rows will be written, before any
// is.
func WriteSEN2(ctx context.Context, store eventstore.Store, k Keys, h domain.Holidays, year int, w io.Writer,
	record func(la string, cases []string) error) (int, error) {
	from, to := domain.NewDate(year-1, 1, 1), domain.NewDate(year-1, 12, 31)
	census := domain.NewDate(year, 1, 1)
	model := projections.NewModel(h)
	load := projections.StoreHistory(ctx, store)
	model.LoadHistory = func(caseID string, below int64) ([]domain.Step, error) {
		steps, err := load(caseID, below)
		// As with the events applied below, only what happened before the
		// census date counts.
		return slices.DeleteFunc(steps, func(s domain.Step) bool { return s.On >= census }), err
	}
	cases := map[string]*sen2Case{}
	corrected := map[string]string{} // case: its LA
	err := projections.ReadBatches(ctx, store, 1, 5000, func(batch []eventstore.RecordedEvent) error {
		for _, e := range batch {
			ev, on, err := projections.Decode(e)
			if err != nil {
				return err
			}
			id, isCase := domain.CaseIDOf(e.Stream)
			if _, ok := ev.(*domain.StepCorrected); ok && isCase {
				// Whenever a correction was recorded, the return shows the
				// case as corrected.
				corrected[id] = ""
			}
			if _, ok := corrected[id]; ok && isCase {
				corrected[id] = e.LA // the LA the case is with now
			}
			if on >= census {
				continue // the return shows what had happened by the census date
			}
			if err := model.ApplyDecoded(e, ev, on); err != nil {
				return err
			}
			if !isCase {
				continue
			}
			c := cases[id]
			if c == nil {
				c = &sen2Case{id: id}
				cases[id] = c
			}
			c.la = e.LA
			if err := c.apply(k, ev, on); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// A corrected case is read again as corrected: its request date, its
	// details and every step as they should have been recorded.
	for id, la := range corrected {
		c := &sen2Case{id: id, la: la}
		steps, err := load(id, math.MaxInt64)
		if err != nil {
			return 0, err
		}
		if _, err := openHistory(k, id, steps); err != nil {
			return 0, err
		}
		eff, err := domain.Effective(steps, func(d domain.Date) *domain.Rulebook { return model.RulebookAt(c.la, d) })
		if err != nil {
			return 0, errUnreadable(err)
		}
		for _, st := range eff {
			if st.On < census {
				if err := c.apply(k, st.Event, st.On); err != nil {
					return 0, err
				}
			}
		}
		if c.received.IsZero() {
			delete(cases, id)
		} else {
			cases[id] = c
		}
	}
	ids := make([]string, 0, len(cases))
	for id := range cases {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// The rows carry personal details: every case in the return is a read,
	// recorded in its LA's access log before any row is written.
	var included []string
	byLA := map[string][]string{}
	for _, id := range ids {
		c := cases[id]
		active := c.planIssued && c.planStart < census && (c.cease.IsZero() || c.cease >= from)
		worked := c.received <= to && (c.received >= from || c.outcomeDate >= from || c.assessDate >= from || c.outcomeDate.IsZero() || (c.outcome == "Assessment" && c.assessDate.IsZero()))
		if c.received.IsZero() || c.received > to || !(active || worked) {
			continue
		}
		included = append(included, id)
		byLA[c.la] = append(byLA[c.la], id)
	}
	for la, list := range byLA {
		if err := record(la, list); err != nil {
			return 0, err
		}
	}
	cw := safecsv.NewWriter(w)
	if err := cw.Write(SEN2Columns); err != nil {
		return 0, err
	}
	yesNo := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	date := func(d domain.Date) string { return d.String() }
	n := 0
	for _, id := range included {
		c := cases[id]
		// Week20 says whether an exception covered the 20-week clock.
		if cm := model.Cases[id]; cm != nil && c.assessOutcome != "" {
			c.week20 = "0"
			cc := model.CaseClocks(cm)
			for _, k := range cc.Clocks {
				if k.Rule.Role == domain.RolePlan && len(model.Exceptions(cm, k)) > 0 {
					c.week20 = "1"
				}
			}
		}
		rya := yesNo(c.source == requestSource("young_person"))
		rank := ""
		if c.placement != "" {
			rank = "1"
		}
		cease, reason := "", ""
		if !c.cease.IsZero() && c.cease <= to {
			cease, reason = date(c.cease), "Review decided to cease"
		}
		rec := []string{c.la, c.id, c.surname, c.forename, date(c.birth), "", "", c.postcode, "", "",
			date(c.received), c.source, rya, date(c.outcomeDate), c.outcome, yesNo(c.requestMediation), yesNo(c.requestTribunal),
			c.assessOutcome, date(c.assessDate), yesNo(c.assessMediation), yesNo(c.assessTribunal), c.week20,
			date(c.planStart), cease, reason, c.placement, rank, date(c.planStart)}
		if err := cw.Write(rec); err != nil {
			return n, err
		}
		n++
	}
	cw.Flush()
	return n, cw.Error()
}
