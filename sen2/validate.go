package sen2

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/ehcledger/ehcledger/domain"
)

// Failure is one problem validation finds: where (the person's and the
// request's place in the file, from 1; 0 for the header), the item, and
// what is wrong.
type Failure struct {
	Person  int    `json:"person"`
	Request int    `json:"request,omitempty"`
	Item    string `json:"item"`
	Message string `json:"message"`
	// Unconfirmed marks a failure that is only about a code list this
	// collection has not confirmed against DfE's specification: the
	// return is well formed, but not ready to send.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
}

// String says the failure in one line.
func (f Failure) String() string {
	where := "header"
	if f.Person > 0 {
		where = fmt.Sprintf("person %d", f.Person)
		if f.Request > 0 {
			where += fmt.Sprintf(", request %d", f.Request)
		}
	}
	return fmt.Sprintf("%s: %s: %s", where, f.Item, f.Message)
}

// checker gathers a return's failures as it walks it.
type checker struct {
	c        *Collection
	person   int
	request  int
	failures []Failure
}

func (k *checker) fail(item, format string, args ...any) {
	k.failures = append(k.failures, Failure{Person: k.person, Request: k.request, Item: item, Message: fmt.Sprintf(format, args...)})
}

// unconfirmed records a failure that is only about an unconfirmed code.
func (k *checker) unconfirmed(item, format string, args ...any) {
	k.fail(item, format, args...)
	k.failures[len(k.failures)-1].Unconfirmed = true
}

// date checks an optional date item, returning it (0 when absent or bad).
func (k *checker) date(item, v string) domain.Date {
	if v == "" {
		return 0
	}
	d, err := domain.ParseDate(v)
	if err != nil {
		// The value is left out: a date of birth is personal data, and
		// failures go to logs.
		k.fail(item, "is not a date (YYYY-MM-DD)")
		return 0
	}
	return d
}

// flag checks an optional 1/0 item.
func (k *checker) flag(item, v string) {
	if v != "" && v != "0" && v != "1" {
		k.fail(item, "%q is not 1 or 0", v)
	}
}

// code checks a coded item against its list: a code DfE's list confirms,
// or (not ready to send) one whose code this collection has not confirmed.
func (k *checker) code(item, list, v string) {
	if v == "" {
		return
	}
	l, ok := k.c.Codes[list]
	if !ok {
		k.fail(item, "the collection has no code list %s", list)
		return
	}
	// A DfE code first, then one of this system's values still waiting for
	// its code, each looked up in a fixed order.
	vals := slices.Sorted(maps.Keys(l.Codes))
	for _, val := range vals {
		if c := l.Codes[val]; c != "" && c == v {
			if !l.Confirmed {
				k.unconfirmed(item, "%q: the %s list is not confirmed against DfE's specification (sen2/collections/%d.json says why)", v, list, k.c.Year)
			}
			return
		}
	}
	if c, ok := l.Codes[v]; ok && c == "" {
		k.unconfirmed(item, "%q has no DfE code yet (sen2/collections/%d.json): the return cannot be sent until it has", v, k.c.Year)
		return
	}
	// The value is left out: it may be free text someone typed.
	k.fail(item, "is not a code of the %s list", list)
}

// ordered checks that a date is not before another.
func (k *checker) ordered(item string, d domain.Date, beforeItem string, before domain.Date) {
	if d != 0 && before != 0 && d < before {
		k.fail(item, "is before %s", beforeItem) // no dates: they may be a child's birth date
	}
}

var (
	leaShape    = regexp.MustCompile(`^[0-9]{3}$`)
	serialShape = regexp.MustCompile(`^[0-9]+$`)
)

// Validate applies the collection's rules to a return: its structure and
// header, each item's form and code list, and the rules across items
// (dates in order, an outcome's date present when the outcome is, a cease
// reason with a cease date, one primary need). An empty result means the
// return is ready to send.
func Validate(m *Message, c *Collection) []Failure {
	k := &checker{c: c}
	h := m.Header
	if h.Collection != "SEN2" {
		k.fail("Collection", "is %q, not SEN2", h.Collection)
	}
	if h.Year != fmt.Sprint(c.Year) {
		k.fail("Year", "is %q, not %d", h.Year, c.Year)
	}
	if h.ReferenceDate != c.ReferenceDate.String() {
		k.fail("ReferenceDate", "is %q, not the %d census date %s", h.ReferenceDate, c.Year, c.ReferenceDate)
	}
	if !leaShape.MatchString(h.LEA) {
		k.fail("LEA", "%q is not the LA's three-digit DfE number", h.LEA)
	}
	if !serialShape.MatchString(h.SerialNo) {
		k.fail("SerialNo", "%q is not a number", h.SerialNo)
	}
	if h.DateTime == "" {
		k.fail("DateTime", "is required")
	}
	if len(m.Persons) == 0 {
		k.fail("Persons", "the return has no person")
	}
	for i := range m.Persons {
		k.person, k.request = i+1, 0
		k.checkPerson(&m.Persons[i])
	}
	return k.failures
}

func (k *checker) checkPerson(p *Person) {
	census := k.c.ReferenceDate
	if p.Surname == "" && p.Forename == "" {
		k.fail("Surname", "a person needs a name (erased cases are left out of the return)")
	}
	born := k.date("PersonBirthDate", p.PersonBirthDate)
	if p.PersonBirthDate == "" {
		k.fail("PersonBirthDate", "is required")
	} else if born > census {
		k.fail("PersonBirthDate", "is after the census date %s", census)
	}
	k.code("Sex", "Sex", p.Sex)
	k.code("Ethnicity", "Ethnicity", p.Ethnicity)
	k.code("UPNunknown", "UPNunknown", p.UPNunknown)
	if p.UPN != "" {
		if err := domain.CheckUPN(p.UPN); err != nil {
			k.fail("UPN", "%s", strings.TrimPrefix(domain.ErrorMessage(err), "data.upn: "))
		}
	}
	if p.UniqueLearnerNumber != "" {
		if err := domain.CheckULN(p.UniqueLearnerNumber); err != nil {
			k.fail("UniqueLearnerNumber", "%s", strings.TrimPrefix(domain.ErrorMessage(err), "data.uln: "))
		}
	}
	switch {
	case p.UPNunknown != "" && (p.UPN != "" || p.UniqueLearnerNumber != ""):
		k.fail("UPNunknown", "is given beside a UPN or ULN")
	case p.UPNunknown == "" && p.UPN == "" && p.UniqueLearnerNumber == "":
		k.fail("UPN", "there is no UPN, no ULN and no reason why (UPNunknown)")
	}
	if len(p.Requests) == 0 {
		k.fail("Requests", "a person has at least one request")
	}
	for j := range p.Requests {
		k.request = j + 1
		k.checkRequest(&p.Requests[j], born)
	}
}

func (k *checker) checkRequest(r *Request, born domain.Date) {
	census := k.c.ReferenceDate
	received := k.date("ReceivedDate", r.ReceivedDate)
	if r.ReceivedDate == "" {
		k.fail("ReceivedDate", "is required")
	}
	k.ordered("ReceivedDate", received, "PersonBirthDate", born)
	if received > census {
		k.fail("ReceivedDate", "%s is after the census date %s", received, census)
	}
	if r.RequestSource == "" && slices.Contains(k.c.Compulsory, "RequestSource") {
		k.fail("RequestSource", "is required from %d", k.c.Year)
	}
	k.code("RequestSource", "RequestSource", r.RequestSource)
	k.flag("RYA", r.RYA)
	k.flag("RequestMediation", r.RequestMediation)
	k.flag("RequestTribunal", r.RequestTribunal)
	k.flag("Exported", r.Exported)
	outcome := k.date("RequestOutcomeDate", r.RequestOutcomeDate)
	k.code("RequestOutcome", "RequestOutcome", r.RequestOutcome)
	if (r.RequestOutcome == "") != (r.RequestOutcomeDate == "") {
		k.fail("RequestOutcomeDate", "a request outcome and its date go together")
	}
	k.ordered("RequestOutcomeDate", outcome, "ReceivedDate", received)
	if a := r.Assessment; a != nil {
		if r.RequestOutcome == "" {
			k.fail("Assessment", "an assessment needs the request's outcome")
		}
		assessed := k.date("AssessmentOutcomeDate", a.AssessmentOutcomeDate)
		k.code("AssessmentOutcome", "AssessmentOutcome", a.AssessmentOutcome)
		if (a.AssessmentOutcome == "") != (a.AssessmentOutcomeDate == "") {
			k.fail("AssessmentOutcomeDate", "an assessment outcome and its date go together")
		}
		k.ordered("AssessmentOutcomeDate", assessed, "RequestOutcomeDate", outcome)
		k.flag("AssessmentMediation", a.AssessmentMediation)
		k.flag("AssessmentTribunal", a.AssessmentTribunal)
		k.flag("OtherMediation", a.OtherMediation)
		k.flag("OtherTribunal", a.OtherTribunal)
		k.flag("Week20", a.Week20)
		if p := a.NamedPlan; p != nil {
			k.checkPlan(p, assessed)
		}
	}
	if ap := r.ActivePlans; ap != nil {
		if r.Assessment == nil || r.Assessment.NamedPlan == nil {
			k.fail("ActivePlans", "an active plan needs its named plan")
		}
		k.checkActive(ap)
	}
}

func (k *checker) checkPlan(p *NamedPlan, assessed domain.Date) {
	start := k.date("StartDate", p.StartDate)
	if p.StartDate == "" {
		k.fail("StartDate", "is required")
	}
	k.ordered("StartDate", start, "AssessmentOutcomeDate", assessed)
	cease := k.date("CeaseDate", p.CeaseDate)
	k.ordered("CeaseDate", cease, "StartDate", start)
	if (p.CeaseDate == "") != (p.CeaseReason == "") {
		k.fail("CeaseReason", "a cease date and its reason go together")
	}
	k.code("CeaseReason", "CeaseReason", p.CeaseReason)
	k.code("PlanRes", "Residential", p.PlanRes)
	k.code("PlanWBP", "WBP", p.PlanWBP)
	k.flag("PB", p.PB)
	k.flag("OA", p.OA)
	for _, dp := range strings.Fields(p.DP) {
		k.code("DP", "DP", dp)
	}
	ranks := map[string]bool{}
	for _, d := range p.PlanDetail {
		k.checkSetting("PlanDetail", d.Setting)
		if ranks[d.PlacementRank] {
			k.fail("PlacementRank", "the plan names two settings of rank %s", d.PlacementRank)
		}
		ranks[d.PlacementRank] = true
	}
}

func (k *checker) checkActive(ap *ActivePlans) {
	census := k.c.ReferenceDate
	meeting := k.date("ReviewMeeting", ap.ReviewMeeting)
	if meeting > census {
		k.fail("ReviewMeeting", "%s is after the census date %s", meeting, census)
	}
	if ap.ReviewOutcome != "" && ap.ReviewMeeting == "" {
		k.fail("ReviewOutcome", "a review outcome needs its meeting (ReviewMeeting)")
	}
	k.code("ReviewOutcome", "ReviewOutcome", ap.ReviewOutcome)
	last := k.date("LastReview", ap.LastReview)
	k.ordered("LastReview", last, "ReviewMeeting", meeting)
	draft := k.date("ReviewDraft", ap.ReviewDraft)
	for _, d := range []struct {
		item string
		on   domain.Date
	}{{"LastReview", last}, {"ReviewDraft", draft}} {
		if d.on > census {
			k.fail(d.item, "%s is after the census date %s", d.on, census)
		}
	}
	k.date("PhaseTransferDueDate", ap.PhaseTransferDueDate)
	k.date("PhaseTransferFinalDate", ap.PhaseTransferFinalDate)
	if ap.TransferLA != "" && !leaShape.MatchString(ap.TransferLA) {
		k.fail("TransferLA", "%q is not an LA's three-digit DfE number", ap.TransferLA)
	}
	ranks := map[string]bool{}
	for _, n := range ap.SENneed {
		k.code("SENtype", "SENtype", n.SENtype)
		if n.SENtypeRank != "1" && n.SENtypeRank != "2" {
			k.fail("SENtypeRank", "%q is not 1 (primary) or 2 (secondary)", n.SENtypeRank)
		} else if ranks[n.SENtypeRank] {
			k.fail("SENtypeRank", "two needs have rank %s", n.SENtypeRank)
		}
		ranks[n.SENtypeRank] = true
	}
	if !ranks["1"] {
		k.fail("SENneed", "an active plan needs its primary need (rank 1)")
	}
	for _, pd := range ap.PlacementDetail {
		k.checkSetting("PlacementDetail", pd.Setting)
		entry := k.date("EntryDate", pd.EntryDate)
		leaving := k.date("LeavingDate", pd.LeavingDate)
		k.ordered("LeavingDate", leaving, "EntryDate", entry)
		k.code("Res", "Residential", pd.Res)
		k.code("WBP", "WBP", pd.WBP)
	}
}

// checkSetting checks a setting: one of URN, UKPRN or SEN setting, each
// well formed, and its rank.
func (k *checker) checkSetting(where string, s Setting) {
	n := 0
	for _, v := range []string{s.URN, s.UKPRN, s.SENsetting} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		k.fail(where, "gives %d of URN, UKPRN and SENsetting: give one", n)
	}
	if s.URN != "" {
		if err := domain.CheckURN("URN", s.URN); err != nil {
			k.fail("URN", "%s", strings.TrimPrefix(domain.ErrorMessage(err), "URN: "))
		}
	}
	if s.UKPRN != "" {
		if err := domain.CheckUKPRN("UKPRN", s.UKPRN); err != nil {
			k.fail("UKPRN", "%s", strings.TrimPrefix(domain.ErrorMessage(err), "UKPRN: "))
		}
	}
	k.code("SENsetting", "SENsetting", s.SENsetting)
	if s.PlacementRank != "1" && s.PlacementRank != "2" {
		k.fail("PlacementRank", "%q is not 1 (primary) or 2 (secondary)", s.PlacementRank)
	}
	k.flag("SENunitIndicator", s.SENunitIndicator)
	k.flag("ResourcedProvisionIndicator", s.ResourcedProvisionIndicator)
}
