package app

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/sen2"
)

// SEN2Options say what return to build: the LA (by the ONS code this
// system keys LAs by), the collection, and the header's software release,
// serial number and time of making.
type SEN2Options struct {
	LA         string
	Collection *sen2.Collection
	Release    string
	SerialNo   int
	Made       time.Time
	// Record is told the cases whose personal details the return holds,
	// before it is built: each is a read, for the access log.
	Record func(cases []string) error
}

// SEN2Result is a return with what could not go in it.
type SEN2Result struct {
	Message *sen2.Message
	// Cases are the cases the return holds, one per request.
	Cases []string
	// Notes say what the return could not hold: cases left out (their
	// personal details erased) and items missing, each with its case.
	Notes []string
}

// SEN2Return builds an LA's SEN2 return for a collection year from its
// cases as corrected: the requests it received in the calendar year before
// the census or still worked on then, and its plans in force on the
// census date or ended in that year, each as DfE's guide defines the items
// (docs/sen2.md). A case transferred in the year is in both LAs' returns:
// the old one's ends the plan on the day of transfer ("transferred to
// another LA"), the new one's names the old LA (TransferLA).
func (l *Ledger) SEN2Return(ctx context.Context, o SEN2Options) (SEN2Result, error) {
	settings, err := l.laSettings(ctx, o.LA, time.Time{})
	if err != nil {
		return SEN2Result{}, err
	}
	if settings.dfeNumber == "" {
		return SEN2Result{}, domain.Errorf(domain.Conflict, "%s has no DfE number: record it with set_dfe_la_number before making its return", o.LA)
	}
	ids, err := l.casesOf(ctx, o.LA)
	if err != nil {
		return SEN2Result{}, err
	}
	c := o.Collection
	b := sen2Builder{l: l, c: c, la: o.LA, census: c.ReferenceDate,
		from: domain.NewDate(c.Year-1, 1, 1), to: domain.NewDate(c.Year-1, 12, 31), numbers: map[string]string{o.LA: settings.dfeNumber}}
	var res SEN2Result
	type entry struct {
		who sen2Person
		req sen2.Request
		id  string
	}
	var entries []entry
	for _, id := range ids {
		lc, _, err := l.open(ctx, id, time.Time{}, nil)
		if err != nil {
			return SEN2Result{}, err
		}
		who, req, in, err := b.request(ctx, lc, id)
		if err != nil {
			return SEN2Result{}, fmt.Errorf("case %s: %w", id, err)
		}
		switch {
		case !in:
		case who.erased:
			res.Notes = append(res.Notes, id+": its personal details are erased: it is left out")
		default:
			entries = append(entries, entry{who, req, id})
		}
	}
	for _, e := range entries {
		res.Cases = append(res.Cases, e.id)
	}
	if o.Record != nil && len(res.Cases) > 0 {
		if err := o.Record(res.Cases); err != nil {
			return SEN2Result{}, err
		}
	}
	// One Person per child or young person (personKeys), their requests in
	// the order received; people in a stable order; each person's details
	// as their latest request gives them.
	keys := personKeys(entries, func(e entry) sen2Person { return e.who }, func(e entry) string { return e.id })
	sort.SliceStable(entries, func(i, j int) bool {
		if a, b := keys[entries[i].id], keys[entries[j].id]; a != b {
			return a < b
		}
		return entries[i].req.ReceivedDate < entries[j].req.ReceivedDate
	})
	m := &sen2.Message{Header: sen2.Header{Collection: "SEN2", Year: fmt.Sprint(c.Year), ReferenceDate: c.ReferenceDate.String(), SourceLevel: "L",
		LEA: settings.dfeNumber, SoftwareCode: "EHC Ledger", Release: o.Release, SerialNo: fmt.Sprint(max(o.SerialNo, 1)),
		DateTime: o.Made.In(domain.London).Format("2006-01-02T15:04:05")}}
	for i, e := range entries {
		if i == 0 || keys[e.id] != keys[entries[i-1].id] {
			m.Persons = append(m.Persons, e.who.Person)
		}
		p := &m.Persons[len(m.Persons)-1]
		requests := p.Requests
		*p = e.who.Person // the latest request's details
		p.Requests = append(requests, e.req)
	}
	res.Notes = append(res.Notes, b.notes...)
	res.Message = m
	return res, nil
}

// casesOf lists the cases that were ever the LA's, in the order opened.
func (l *Ledger) casesOf(ctx context.Context, la string) ([]string, error) {
	seen := map[string]bool{}
	var ids []string
	err := projections.ReadBatches(ctx, l.Store, 1, 5000, func(batch []eventstore.RecordedEvent) error {
		for _, e := range batch {
			if id, ok := domain.CaseIDOf(e.Stream); ok && e.LA == la && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		return nil
	})
	return ids, err
}

// sen2Person is a Person of the return with what identifies them across
// requests.
type sen2Person struct {
	sen2.Person
	erased bool
}

// personKeys groups requests by child: by UPN; a request without a UPN
// joins the UPN of a request with the same name and date of birth, or
// else groups by name and date of birth; a request with no name is a
// person of its own, never merged with another.
func personKeys[E any](entries []E, who func(E) sen2Person, id func(E) string) map[string]string {
	name := func(p sen2Person) string {
		if p.Surname == "" && p.Forename == "" {
			return ""
		}
		return strings.Join([]string{strings.ToUpper(p.Surname), strings.ToUpper(p.Forename), p.PersonBirthDate}, "\x00")
	}
	upnOf := map[string]string{} // name: a UPN seen with it
	for _, e := range entries {
		if p := who(e); p.UPN != "" && name(p) != "" {
			if _, ok := upnOf[name(p)]; !ok {
				upnOf[name(p)] = p.UPN
			}
		}
	}
	keys := map[string]string{}
	for _, e := range entries {
		p := who(e)
		switch n := name(p); {
		case p.UPN != "":
			keys[id(e)] = "upn:" + p.UPN
		case n == "":
			keys[id(e)] = "case:" + id(e)
		case upnOf[n] != "":
			keys[id(e)] = "upn:" + upnOf[n]
		default:
			keys[id(e)] = "name:" + n
		}
	}
	return keys
}

// sen2Builder turns cases into the return's requests.
type sen2Builder struct {
	l                *Ledger
	c                *sen2.Collection
	la               string
	census, from, to domain.Date
	numbers          map[string]string // LA: its DfE number
	// notes are what the return could not say, for the operator.
	notes []string
}

// code is DfE's code for a value of a list (the value itself while the
// list is unconfirmed, which validation then reports).
func (b *sen2Builder) code(list, value string) string {
	if value == "" {
		return ""
	}
	code, _ := b.c.Codes[list].Code(value)
	return code
}

// number is an LA's DfE number, "" when it has none recorded.
func (b *sen2Builder) number(ctx context.Context, la string) (string, error) {
	if n, ok := b.numbers[la]; ok {
		return n, nil
	}
	s, err := b.l.laSettings(ctx, la, time.Time{})
	if err != nil {
		return "", err
	}
	b.numbers[la] = s.dfeNumber
	return s.dfeNumber, nil
}

func flag(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

func dateOrEmpty(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

// appeal windows are what a mediation or an appeal is about: the refusal
// to assess, the outcome of the assessment, or anything later.
const (
	aboutRequest    = "request"
	aboutAssessment = "assessment"
	aboutOther      = "other"
)

// request builds the case's request, and says whether it belongs in the
// LA's return.
func (b *sen2Builder) request(ctx context.Context, lc *loadedCase, id string) (sen2Person, sen2.Request, bool, error) {
	// The view first: it opens the sealed texts the steps hold.
	view, err := b.l.view(ctx, lc, id, b.census, time.Time{})
	if err != nil {
		return sen2Person{}, sen2.Request{}, false, err
	}
	steps := lc.history
	if domain.HasCorrections(steps) {
		if steps, err = domain.Effective(steps, lc.rules); err != nil {
			return sen2Person{}, sen2.Request{}, false, errUnreadable(err)
		}
	}
	var who sen2Person
	who.erased = view.Person.Erased
	if d := view.Person.PersonalDetails; d != nil && !who.erased {
		who.Person = sen2.Person{Surname: d.Surname, Forename: d.Forename, PersonBirthDate: dateOrEmpty(d.BirthDate),
			Sex: b.code("Sex", d.Sex), Ethnicity: b.code("Ethnicity", d.Ethnicity), PostCode: d.Postcode,
			UPN: d.UPN, UniqueLearnerNumber: d.ULN, UPNunknown: b.code("UPNunknown", d.UPNUnknown)}
	}
	var (
		r                                   sen2.Request
		a                                   sen2.Assessment
		received, decided, assessed, issued domain.Date
		ceased                              domain.Date
		assessing                           bool
		about                               string
		meeting, lastReview, reviewDraft    domain.Date
		reviewOutcome                       string
		phaseFinal                          domain.Date
		requestMediation, requestTribunal   bool
		assessMediation, assessTribunal     bool
		otherMediation, otherTribunal       bool
		importedWeek20                      bool
		importedTransferLA                  string
	)
	// The return is of what happened, by date, whatever order the steps
	// were recorded in.
	steps = slices.Clone(steps)
	slices.SortStableFunc(steps, func(x, y domain.Step) int { return int(x.On) - int(y.On) })
	sp := b.spells(lc.events[0].LA, steps)
	if sp.holder != b.la && sp.left.IsZero() {
		return who, r, false, nil // not this LA's on the census date, nor passed on by it
	}
	// An LA that passed the plan on reports it up to the day it did.
	until := b.census
	if sp.holder != b.la {
		until = sp.left
	}
	upTo := make([]domain.Step, 0, len(steps))
	for _, st := range steps {
		if st.On > until {
			break
		}
		upTo = append(upTo, st)
		switch v := st.Event.(type) {
		case domain.Opener:
			received = st.On
			r.ReceivedDate = st.On.String()
			source := "professional" // s24: no request, source 5, other
			if rr, ok := v.(*domain.RequestReceived); ok {
				source = rr.Requester
			}
			r.RequestSource = b.code("RequestSource", source)
			if d := view.Person.PersonalDetails; d != nil {
				r.RYA = flag(d.InYouthAccommodation)
			} else {
				r.RYA = flag(false)
			}
		case *domain.AssessmentAgreed:
			assessing = true
			if decided.IsZero() { // DfE wants the first decision, even if reversed later
				decided, r.RequestOutcome = st.On, b.code("RequestOutcome", "assess")
			}
		case *domain.AssessmentRefused:
			if decided.IsZero() {
				decided, r.RequestOutcome = st.On, b.code("RequestOutcome", "refuse")
			}
			about = aboutRequest
		case *domain.TribunalOrdered:
			if v.Order == "assess" {
				assessing = true
			}
			if (v.Order == "maintain" || v.Order == "maintain_unchanged") && !ceased.IsZero() {
				ceased = 0 // the tribunal reinstated the plan
			}
		case *domain.DecidedNotToIssue:
			if assessed.IsZero() {
				assessed, a.AssessmentOutcome = st.On, b.code("AssessmentOutcome", "not_issue")
			}
			about = aboutAssessment
		case *domain.FinalPlanIssued:
			if assessed.IsZero() {
				assessed, a.AssessmentOutcome = st.On, b.code("AssessmentOutcome", "issue")
			}
			if issued.IsZero() {
				issued = st.On
			}
			about = aboutAssessment
		case *domain.ReviewMeetingHeld:
			meeting, reviewOutcome, lastReview, reviewDraft = st.On, "", 0, 0
		case *domain.ReviewDecisionNotified:
			if !meeting.IsZero() {
				reviewOutcome, lastReview = v.Decision, st.On
			}
			about = aboutOther
		case *domain.AmendmentsProposed:
			if !meeting.IsZero() {
				reviewDraft = st.On
			}
		case *domain.TransferSettingNamed:
			phaseFinal = st.On
		case *domain.AmendedPlanIssued, *domain.ReassessmentRefused, *domain.ReassessedPlanIssued, *domain.PlanKeptAfterReassessment:
			about = aboutOther
		case *domain.MediationHeld:
			switch about {
			case aboutRequest:
				requestMediation = true
			case aboutAssessment:
				assessMediation = true
			case aboutOther:
				otherMediation = true
			}
		case *domain.AppealLodged:
			switch {
			case v.Kind == "refusal_to_assess":
				requestTribunal = true
			case about == aboutAssessment:
				assessTribunal = true
			default:
				otherTribunal = true
			}
		case *domain.HistoryImported:
			// What the previous return said without dates, said again.
			for _, f := range v.Flags {
				switch f {
				case "RequestMediation":
					requestMediation = true
				case "RequestTribunal":
					requestTribunal = true
				case "AssessmentMediation":
					assessMediation = true
				case "AssessmentTribunal":
					assessTribunal = true
				case "OtherMediation":
					otherMediation = true
				case "OtherTribunal":
					otherTribunal = true
				case "Week20":
					importedWeek20 = true
				}
			}
			importedTransferLA = v.TransferLA
		case *domain.RequestWithdrawn:
			switch {
			case decided.IsZero():
				decided, r.RequestOutcome = st.On, b.code("RequestOutcome", "withdrawn")
			case assessing && assessed.IsZero():
				assessed, a.AssessmentOutcome = st.On, b.code("AssessmentOutcome", "withdrawn")
			}
		case *domain.PlanCeased:
			ceased = st.On
		}
	}
	if received.IsZero() {
		return who, r, false, nil // opened after the census date
	}
	items := domain.ItemsOf(upTo)
	// An LA that passed the plan on reports it ended on the day of
	// transfer, when that was in the year.
	passedOn := sp.holder != b.la
	transferOut := sp.left
	if passedOn && (transferOut < b.from || transferOut > b.census) {
		return who, r, false, nil
	}
	if !decided.IsZero() {
		r.RequestOutcomeDate = decided.String()
	}
	r.RequestMediation, r.RequestTribunal = flag(requestMediation), flag(requestTribunal)
	if assessing || !assessed.IsZero() {
		a.AssessmentOutcomeDate = dateOrEmpty(assessed)
		a.AssessmentMediation, a.AssessmentTribunal = flag(assessMediation), flag(assessTribunal)
		a.OtherMediation, a.OtherTribunal = flag(otherMediation), flag(otherTribunal)
		if !assessed.IsZero() {
			a.Week20 = flag(b.week20(view) || importedWeek20)
		}
		r.Assessment = &a
	}
	if !issued.IsZero() {
		p := &sen2.NamedPlan{StartDate: issued.String()}
		end, why := ceased, items.CeasedBecause
		if passedOn && (end.IsZero() || transferOut < end) {
			end, why = transferOut, "moved_to_another_la"
		}
		if !end.IsZero() {
			p.CeaseDate, p.CeaseReason = end.String(), b.code("CeaseReason", why)
			if why == "" {
				p.CeaseReason = ""
			}
		}
		if bud := items.Budget; bud != nil {
			p.PB, p.OA = flag(bud.TakenUp), flag(bud.OrganisedArrangements)
			var dps []string
			for _, area := range bud.DirectPayments {
				dps = append(dps, b.code("DP", area))
			}
			p.DP = strings.Join(dps, " ")
		}
		// The settings the plan names on the census date, or on the day
		// it ended.
		at := b.census
		if !end.IsZero() && end < at {
			at = end
		}
		for _, pl := range items.Placements {
			if !pl.NamedInPlan || pl.Entry > at || (!pl.Leaving.IsZero() && pl.Leaving < at) {
				continue
			}
			if pl.Rank == 1 {
				p.PlanRes, p.PlanWBP = b.code("Residential", pl.Residential), b.code("WBP", pl.WorkBased)
			}
			p.PlanDetail = append(p.PlanDetail, sen2.PlanDetail{Setting: b.setting(pl)})
		}
		a.NamedPlan = p
		r.Assessment = &a
		if end.IsZero() || end > b.census {
			ap := &sen2.ActivePlans{ReviewMeeting: dateOrEmpty(meeting), ReviewOutcome: b.code("ReviewOutcome", reviewOutcome),
				LastReview: dateOrEmpty(lastReview), ReviewDraft: dateOrEmpty(reviewDraft), PhaseTransferFinalDate: dateOrEmpty(phaseFinal)}
			if !sp.arrived.IsZero() && sp.arrived >= b.from && sp.from != "" {
				n, err := b.number(ctx, sp.from)
				if err != nil {
					return who, r, false, err
				}
				if n == "" {
					b.notes = append(b.notes, fmt.Sprintf("%s: the LA it came from (%s) has no DfE number recorded: TransferLA is left out", id, sp.from))
				}
				ap.TransferLA = n
			}
			if ap.TransferLA == "" {
				ap.TransferLA = importedTransferLA
			}
			for _, row := range view.Clocks {
				if row.Clock == "phase_transfer" && !row.Due.IsZero() {
					ap.PhaseTransferDueDate = row.Due.String()
				}
			}
			for _, pl := range items.Placements {
				if pl.Entry > b.census || (!pl.Leaving.IsZero() && pl.Leaving < b.from) {
					continue
				}
				ap.PlacementDetail = append(ap.PlacementDetail, sen2.PlacementDetail{Setting: b.setting(pl),
					EntryDate: pl.Entry.String(), LeavingDate: dateOrEmpty(pl.Leaving),
					Res: b.code("Residential", pl.Residential), WBP: b.code("WBP", pl.WorkBased)})
			}
			if n := items.Needs; n.Primary != "" {
				ap.SENneed = append(ap.SENneed, sen2.SENneed{SENtype: b.code("SENtype", n.Primary), SENtypeRank: "1"})
				if n.Secondary != "" {
					ap.SENneed = append(ap.SENneed, sen2.SENneed{SENtype: b.code("SENtype", n.Secondary), SENtypeRank: "2"})
				}
			}
			r.ActivePlans = ap
		}
	}
	// In the return: a plan in force on the census date or ended in the
	// year, or a request received by the year's end and worked on in it.
	planInYear := !issued.IsZero() && (r.ActivePlans != nil || (a.NamedPlan != nil && a.NamedPlan.CeaseDate >= b.from.String()))
	worked := received <= b.to && (received >= b.from || decided >= b.from || assessed >= b.from || decided.IsZero() || (assessing && assessed.IsZero()))
	return who, r, planInYear || worked, nil
}

// spell says where a case was on the census date, and its moves.
type spell struct {
	// holder is the LA responsible on the census date.
	holder string
	// left is the last day the case left this LA (zero if it never did or
	// came back); arrived the last day it came to this LA, from the LA
	// from.
	left, arrived domain.Date
	from          string
}

// spells follows a case's transfers (transfer_out names the new LA,
// transfer_in is the day it takes over) up to the census date.
func (b *sen2Builder) spells(first string, steps []domain.Step) spell {
	sp := spell{holder: first}
	pending := ""
	for _, st := range steps {
		if st.On > b.census {
			break
		}
		switch v := st.Event.(type) {
		case *domain.TransferredOut:
			pending = v.ToLA
		case *domain.TransferredIn:
			if pending == "" {
				continue
			}
			switch {
			case sp.holder == b.la:
				sp.left = st.On
			case pending == b.la:
				sp.arrived, sp.from, sp.left = st.On, sp.holder, 0
			}
			sp.holder, pending = pending, ""
		}
	}
	return sp
}

// setting is a placement as the return gives a setting.
func (b *sen2Builder) setting(pl domain.PlacementSpell) sen2.Setting {
	s := sen2.Setting{URN: pl.URN, UKPRN: pl.UKPRN, SENsetting: b.code("SENsetting", pl.Setting), PlacementRank: fmt.Sprint(pl.Rank)}
	if !pl.SettingOther.Erased {
		s.SENSettingOther = pl.SettingOther.Plain
	}
	if pl.URN != "" {
		s.SENunitIndicator, s.ResourcedProvisionIndicator = flag(pl.SENUnit), flag(pl.ResourcedProvision)
	}
	return s
}

// week20 says whether an exception excuses the 20-week limit (the clock
// whose rule is the final plan's).
func (b *sen2Builder) week20(view CaseView) bool {
	rb, err := domain.LookupRulebook(view.Rulebook)
	if err != nil {
		return false
	}
	for _, x := range view.Exceptions {
		if rule := rb.Clock(x.Clock); rule != nil && rule.Role == domain.RolePlan {
			return true
		}
	}
	return false
}
