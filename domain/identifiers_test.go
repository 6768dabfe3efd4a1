package domain

import (
	"encoding/json"
	"testing"
)

func TestAUPNIsCheckedByItsCheckLetter(t *testing.T) {
	for _, tc := range []struct {
		upn string
		ok  bool
	}{
		{"B801200005001", true},  // the worked example of python-stdnum's gb.upn
		{"M80120000500A", true},  // temporary: 80 mod 23 = 11, M
		{"A801200005001", false}, // wrong check letter
		{"B801200005002", false}, // a digit mistyped
		{"B80120000500I", false}, // a temporary UPN never ends in I
		{"b801200005001", false},
		{"B80120000500", false},
		{"B8012000050011", false},
		{"", false},
	} {
		if err := CheckUPN(tc.upn); (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.upn, err)
		}
	}
}

func TestIdentifiersHaveTheirLengths(t *testing.T) {
	checks := []struct {
		name string
		fn   func(string) error
		good []string
		bad  []string
	}{
		{"ULN", CheckULN, []string{"1234567890", "9999999999"}, []string{"0123456789", "123456789", "12345678901", "12345 6789"}},
		{"URN", func(v string) error { return CheckURN("data.urn", v) }, []string{"100000", "999999"}, []string{"012345", "12345", "1234567", "1e5000"}},
		{"UKPRN", func(v string) error { return CheckUKPRN("data.ukprn", v) }, []string{"10012345"}, []string{"20012345", "1001234", "100123456"}},
	}
	for _, c := range checks {
		for _, v := range c.good {
			if err := c.fn(v); err != nil {
				t.Errorf("%s %q refused: %v", c.name, v, err)
			}
		}
		for _, v := range c.bad {
			if err := c.fn(v); err == nil {
				t.Errorf("%s %q taken", c.name, v)
			}
		}
	}
}

func TestTheReasonThereIsNoUPNIsGivenOnlyWhenThereIsNone(t *testing.T) {
	if err := checkSEN2Person(SEN2Person{UPNUnknown: "UN1"}); err != nil {
		t.Errorf("a reason alone: %v", err)
	}
	if err := checkSEN2Person(SEN2Person{UPN: "B801200005001", UPNUnknown: "UN1"}); err == nil {
		t.Error("a reason beside a UPN was taken")
	}
	if err := checkSEN2Person(SEN2Person{Sex: "X"}); err == nil {
		t.Error("a sex outside the list was taken")
	}
	if err := checkSEN2Person(SEN2Person{Ethnicity: "WBRI", Sex: "F", ULN: "1234567890"}); err != nil {
		t.Errorf("good items refused: %v", err)
	}
}

func TestARequestRecordsThePersonItemsOfTheReturnSealedWithTheRest(t *testing.T) {
	newHistory(t, DefaultRulebook).reject("2024-03-01", "receive_request",
		`{"requester":"parent","birth_date":"2015-05-01","upn":"A801200005001"}`, Invalid, "data.upn")
	newHistory(t, DefaultRulebook).reject("2024-03-01", "receive_request",
		`{"requester":"parent","birth_date":"2015-05-01","ethnicity":"WHITE"}`, Invalid, "data.ethnicity")
	h := newHistory(t, DefaultRulebook)
	evs, err := h.decide("2024-03-01", "receive_request",
		`{"requester":"parent","birth_date":"2015-05-01","sex":"F","ethnicity":"WBRI","upn":"B801200005001","uln":"1234567890"}`)
	if err != nil {
		t.Fatal(err)
	}
	got := evs[0].(*RequestReceived).Details
	if got == nil || got.Sex != "F" || got.Ethnicity != "WBRI" || got.UPN != "B801200005001" || got.ULN != "1234567890" {
		t.Fatalf("the details to seal: %+v", got)
	}
}

func TestTheReturnsItemsAreFoldedFromTheStepsAsCorrected(t *testing.T) {
	urn := Placement{URN: "100000"}
	steps := []Step{
		{On: d("2025-05-19"), Event: &PlacementRecorded{Placement: urn, Rank: 1}},
		{On: d("2025-05-20"), Event: &SENNeedsRecorded{Primary: "MLD"}},
		{On: d("2025-05-21"), Event: &SENNeedsRecorded{Primary: "ASD", Secondary: "SLCN"}},
		{On: d("2025-06-01"), Event: &PlacementRecorded{Placement: Placement{Setting: "elective_home_education"}, Rank: 2}},
		{On: d("2025-07-18"), Event: &PlacementEnded{Placement: urn}},
		{On: d("2025-08-01"), Event: &PersonalBudgetRecorded{TakenUp: true}},
		{On: d("2026-03-01"), Event: &PlanCeased{Reason: "higher_education"}},
	}
	got := ItemsOf(steps)
	if len(got.Placements) != 2 || got.Placements[0].Entry != d("2025-05-19") || got.Placements[0].Leaving != d("2025-07-18") ||
		!got.Placements[1].Leaving.IsZero() || got.Placements[1].Setting != "elective_home_education" {
		t.Errorf("placements %+v", got.Placements)
	}
	if got.Needs.Primary != "ASD" || got.Needs.Secondary != "SLCN" || got.Budget == nil || !got.Budget.TakenUp || got.CeasedBecause != "higher_education" {
		t.Errorf("items %+v", got)
	}
}

func TestAnImportLeavesTheClocksItCannotJudgeUnjudged(t *testing.T) {
	rb, err := LookupRulebook(DefaultRulebook)
	if err != nil {
		t.Fatal(err)
	}
	var cc CaseClocks
	for _, st := range []Step{
		{On: d("2019-01-07"), Event: &RequestReceived{Requester: "parent", Opening: Opening{Rulebook: rb.ID}}},
		{On: d("2019-02-11"), Event: &AssessmentAgreed{}},
		{On: d("2019-05-20"), Event: &FinalPlanIssued{School: "urn-100000"}},
		{On: d("2024-05-07"), Event: &ReviewDecisionNotified{Review: 1, Decision: "maintain", NextReview: 2}},
		{On: d("2025-01-16"), Event: &HistoryImported{Through: d("2025-01-16")}},
	} {
		cc.Apply(rb, st.Event, st.On, NoHolidays{})
	}
	status := map[string]string{}
	for _, row := range cc.Rows("c", d("2025-02-01"), nil) {
		status[row.Clock+"/"+row.Key] = row.Status
	}
	// The first review, stopped five years late by the imported decision,
	// is the previous system's to judge; the next one runs.
	if status["annual_review/1"] != StatusEnded || status["annual_review/2"] != StatusRunning || status["decide_to_assess/"] != StatusEnded {
		t.Fatalf("%v", status)
	}
	for _, w := range cc.Warnings(d("2025-02-01")) {
		if w.Clock == "annual_review" && w.Key == "1" {
			t.Errorf("a warning on a clock the import left unjudged: %+v", w)
		}
	}
}

func TestAnImportedStepSkipsOnlyWhatAReturnCannotShow(t *testing.T) {
	rb, err := LookupRulebook(DefaultRulebook)
	if err != nil {
		t.Fatal(err)
	}
	h := newHistory(t, DefaultRulebook)
	h.do("2024-01-08", "receive_request", request).do("2024-02-12", "decide_to_assess", "")
	imp := func(on, name, data string) ([]Event, error) {
		var raw json.RawMessage
		if data != "" {
			raw = json.RawMessage(data)
		}
		return ImportStep(h.c, Command{Name: name, On: d(on), Data: raw}, rb)
	}
	if _, err := h.decide("2024-06-03", "issue_final_plan", `{"school":"S1"}`); err == nil {
		t.Fatal("a plan without its draft was taken as an ordinary step")
	}
	evs, err := imp("2024-06-03", "issue_final_plan", `{"school":"S1"}`)
	if err != nil || len(evs) != 1 {
		t.Fatalf("an imported plan without its draft: %v", err)
	}
	h.c.Apply(evs[0], d("2024-06-03"))
	for _, tc := range []struct{ name, data, why string }{
		{"issue_final_plan", `{"school":"S1"}`, "a second plan"},
		{"record_placement", `{"urn":"12","rank":1}`, "a URN that is not one"},
		{"record_sen_needs", `{"primary":"XYZ"}`, "a need of no list"},
		{"notify_review_decision", `{"decision":"keep"}`, "a decision of no list"},
	} {
		if _, err := imp("2024-07-01", tc.name, tc.data); err == nil {
			t.Errorf("%s was imported", tc.why)
		}
	}
	evs, err = imp("2025-05-06", "notify_review_decision", `{"decision":"maintain"}`)
	if err != nil || evs[0].(*ReviewDecisionNotified).Review != 1 || evs[0].(*ReviewDecisionNotified).NextReview != 2 {
		t.Fatalf("an imported review is numbered as any: %+v %v", evs, err)
	}
}
