package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/sen2"
)

// steps records a case's steps through the ledger, failing the test on a
// refusal.
func steps(t *testing.T, l *app.Ledger, id, la string, list ...[3]string) {
	t.Helper()
	for _, s := range list {
		on, err := domain.ParseDate(s[1])
		if err != nil {
			t.Fatal(err)
		}
		var data []byte
		if s[2] != "" {
			data = []byte(s[2])
		}
		if _, err := l.Execute(context.Background(), app.CommandRequest{Case: id, LA: la, Command: s[0], On: on, Data: data,
			Actor: "t", Reason: "from the paper file", Expected: eventstore.Any}); err != nil {
			t.Fatalf("%s %s on %s: %v", id, s[0], s[1], err)
		}
	}
}

// returnOf builds an LA's 2025 return.
func returnOf(t *testing.T, l *app.Ledger, la string) (*sen2.Message, []string) {
	t.Helper()
	c, err := sen2.Lookup(2025)
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	res, err := l.SEN2Return(context.Background(), app.SEN2Options{LA: la, Collection: c, Release: "test", SerialNo: 1,
		Made: time.Date(2025, 1, 20, 9, 0, 0, 0, time.UTC), Record: func(cases []string) error { read = cases; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return res.Message, read
}

// requestOf is the request of the person with the surname.
func requestOf(t *testing.T, m *sen2.Message, surname string) sen2.Request {
	t.Helper()
	for _, p := range m.Persons {
		if p.Surname == surname {
			return p.Requests[0]
		}
	}
	t.Fatalf("no %s in the return", surname)
	return sen2.Request{}
}

const laA, laB = "E09000001", "E09000002"

// upnFor is a well-formed UPN made from a serial number.
func upnFor(serial int) string {
	rest := fmt.Sprintf("80120000%04d", serial)
	letter, _ := domain.UPNCheckLetter(rest)
	return string(letter) + rest
}

func TestTheReturnGivesTheItemsTheMeaningDfEGivesThem(t *testing.T) {
	l := startWithKeys(t)
	l.Holidays = calendar.NewEnglandWales()
	ctx := context.Background()
	for la, n := range map[string]string{laA: "201", laB: "202"} {
		if err := l.ExecuteLA(ctx, la, "set_dfe_la_number", domain.NewDate(2024, 1, 2), []byte(`{"number":"`+n+`"}`), "admin"); err != nil {
			t.Fatal(err)
		}
	}
	serial := 0
	person := func(surname string) string {
		serial++
		return `{"requester":"school","birth_date":"2014-02-03","surname":"` + surname + `","upn":"` + upnFor(serial) + `"}`
	}
	// planned are the steps to a final plan from a request of 9 January
	// 2023, then the rest.
	planned := func(request string, rest ...[3]string) [][3]string {
		return append([][3]string{{"receive_request", "2023-01-09", request}, {"decide_to_assess", "2023-02-13", ""},
			{"send_draft_plan", "2023-04-03", ""}, {"issue_final_plan", "2023-05-22", `{"school":"S1"}`}}, rest...)
	}
	ceaseAfterReview := [][3]string{{"hold_review_meeting", "2024-04-15", ""}, {"send_review_report", "2024-04-22", ""},
		{"notify_review_decision", "2024-05-07", `{"decision":"cease"}`}}
	// A refusal reversed by the tribunal, with an adviser contacted but no
	// mediation held.
	steps(t, l, "reversed", laA,
		[3]string{"receive_request", "2024-02-01", person("Reversed")},
		[3]string{"refuse_assessment", "2024-03-01", ""},
		[3]string{"contact_mediation_adviser", "2024-03-05", `{"wants_mediation":false}`},
		[3]string{"issue_mediation_certificate", "2024-03-08", ""},
		[3]string{"lodge_appeal", "2024-04-01", `{"kind":"refusal_to_assess"}`},
		[3]string{"tribunal_order", "2024-06-03", `{"order":"assess"}`},
		[3]string{"decide_to_assess", "2024-06-10", ""})
	// A plan ended after a review decided to cease: the cease date is the
	// day it ended, not the decision's.
	steps(t, l, "ceased", laA, planned(`{"requester":"school","birth_date":"2014-02-03","surname":"Ceased","upn":"`+upnFor(100)+`"}`,
		append(ceaseAfterReview, [3]string{"cease_plan", "2024-09-02", `{"ceased_because":"higher_education"}`})...)...)
	// Requests withdrawn before the decision and during the assessment.
	steps(t, l, "early", laA, [3]string{"receive_request", "2024-05-01", person("Early")},
		[3]string{"withdraw_request", "2024-05-20", `{"by":"parent"}`})
	steps(t, l, "during", laA, [3]string{"receive_request", "2024-05-01", person("During")},
		[3]string{"decide_to_assess", "2024-06-03", ""},
		[3]string{"withdraw_request", "2024-07-01", `{"by":"parent"}`})
	// A step recorded after one dated later still counts by its date.
	steps(t, l, "late-entry", laA, planned(person("Lateentry"), append(ceaseAfterReview,
		[3]string{"record_sen_needs", "2025-01-20", `{"primary":"MLD"}`},
		[3]string{"cease_plan", "2024-09-02", `{"ceased_because":"paid_employment"}`})...)...)
	// A plan that went from A to B in 2023 and came back in the year.
	steps(t, l, "back", laA,
		[3]string{"receive_request", "2022-01-10", person("Back")},
		[3]string{"decide_to_assess", "2022-02-14", ""},
		[3]string{"send_draft_plan", "2022-04-04", ""},
		[3]string{"issue_final_plan", "2022-05-23", `{"school":"S1"}`},
		[3]string{"record_sen_needs", "2022-05-30", `{"primary":"HI"}`},
		[3]string{"transfer_out", "2023-03-01", `{"to_la":"` + laB + `","move_date":"2023-03-06"}`})
	steps(t, l, "back", laB, [3]string{"transfer_in", "2023-03-06", ""},
		[3]string{"transfer_out", "2024-03-01", `{"to_la":"` + laA + `","move_date":"2024-03-04"}`})
	steps(t, l, "back", laA, [3]string{"transfer_in", "2024-03-04", ""})
	// The same child asks again: one Person, two requests.
	steps(t, l, "again", laA, [3]string{"receive_request", "2024-11-04", `{"requester":"parent","birth_date":"2014-02-03","surname":"Ceased","upn":"` + upnFor(100) + `"}`})
	// A plan transferred from A to B in the year.
	steps(t, l, "moved", laA, planned(person("Moved"),
		[3]string{"record_sen_needs", "2023-05-29", `{"primary":"ASD"}`},
		[3]string{"transfer_out", "2024-10-01", `{"to_la":"` + laB + `","move_date":"2024-10-07"}`})...)
	steps(t, l, "moved", laB, [3]string{"transfer_in", "2024-10-07", ""})

	a, read := returnOf(t, l, laA)
	t.Run("a reversed decision keeps the first outcome and its date", func(t *testing.T) {
		r := requestOf(t, a, "Reversed")
		if r.RequestOutcome != "refuse" || r.RequestOutcomeDate != "2024-03-01" || r.RequestSource != "2" || r.Assessment == nil {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("mediation counts when held, not when an adviser is contacted; the appeal is the request's", func(t *testing.T) {
		r := requestOf(t, a, "Reversed")
		if r.RequestMediation != "0" || r.RequestTribunal != "1" || r.Assessment.AssessmentTribunal != "0" {
			t.Fatalf("%+v %+v", r, r.Assessment)
		}
	})
	t.Run("the cease date is the day the plan ended, with its reason", func(t *testing.T) {
		p := requestOf(t, a, "Ceased").Assessment.NamedPlan
		if p == nil || p.CeaseDate != "2024-09-02" || p.CeaseReason != "3" {
			t.Fatalf("%+v", p)
		}
		if requestOf(t, a, "Ceased").ActivePlans != nil {
			t.Fatal("a plan ended before the census is reported as active")
		}
	})
	t.Run("the old LA reports a transferred plan ended on the day of transfer", func(t *testing.T) {
		r := requestOf(t, a, "Moved")
		if p := r.Assessment.NamedPlan; p.CeaseDate != "2024-10-07" || p.CeaseReason != "5" || r.ActivePlans != nil {
			t.Fatalf("%+v %+v", p, r.ActivePlans)
		}
	})
	t.Run("the new LA reports it active, naming the old LA", func(t *testing.T) {
		b, _ := returnOf(t, l, laB)
		r := requestOf(t, b, "Moved")
		if r.ActivePlans == nil || r.ActivePlans.TransferLA != "201" || r.Assessment.NamedPlan.CeaseDate != "" ||
			len(r.ActivePlans.SENneed) != 1 || r.ActivePlans.SENneed[0].SENtype != "ASD" {
			t.Fatalf("%+v", r.ActivePlans)
		}
		if b.Header.LEA != "202" {
			t.Fatalf("header %+v", b.Header)
		}
		if back := requestOf(t, b, "Back"); back.Assessment.NamedPlan.CeaseDate != "2024-03-04" || back.Assessment.NamedPlan.CeaseReason != "5" || back.ActivePlans != nil {
			t.Fatalf("B's return of the plan it passed back: %+v", back.Assessment.NamedPlan)
		}
	})
	t.Run("a withdrawal is the request's outcome before a decision, the assessment's after", func(t *testing.T) {
		if r := requestOf(t, a, "Early"); r.RequestOutcome != "withdrawn" || r.RequestOutcomeDate != "2024-05-20" || r.Assessment != nil {
			t.Fatalf("%+v", r)
		}
		r := requestOf(t, a, "During")
		if r.RequestOutcome != "assess" || r.Assessment == nil || r.Assessment.AssessmentOutcome != "withdrawn" || r.Assessment.AssessmentOutcomeDate != "2024-07-01" {
			t.Fatalf("%+v %+v", r, r.Assessment)
		}
	})
	t.Run("a step recorded out of date order counts by its date", func(t *testing.T) {
		p := requestOf(t, a, "Lateentry").Assessment.NamedPlan
		if p.CeaseDate != "2024-09-02" || p.CeaseReason != "4" || requestOf(t, a, "Lateentry").ActivePlans != nil {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("a plan that came back is the LA's again, naming the LA it came from", func(t *testing.T) {
		r := requestOf(t, a, "Back")
		if r.ActivePlans == nil || r.ActivePlans.TransferLA != "202" || r.Assessment.NamedPlan.CeaseDate != "" {
			t.Fatalf("%+v %+v", r.ActivePlans, r.Assessment.NamedPlan)
		}
	})
	t.Run("a child's requests are one person's", func(t *testing.T) {
		for _, p := range a.Persons {
			if p.Surname == "Ceased" && (len(p.Requests) != 2 || p.Requests[0].ReceivedDate != "2023-01-09" || p.Requests[1].ReceivedDate != "2024-11-04") {
				t.Fatalf("%+v", p.Requests)
			}
		}
	})
	t.Run("every case in the return is recorded as read", func(t *testing.T) {
		if strings.Join(read, ",") != "reversed,ceased,early,during,late-entry,back,again,moved" {
			t.Fatalf("read %v", read)
		}
	})
}
