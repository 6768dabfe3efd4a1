package domain

import (
	"encoding/json"
	"strings"
	"testing"
)

// history applies commands in order and fails the test on any rejection.
type history struct {
	t  *testing.T
	rb *Rulebook
	c  *Case
	cc CaseClocks
}

func newHistory(t *testing.T, rulebook string) *history {
	t.Helper()
	rb, err := LookupRulebook(rulebook)
	if err != nil {
		t.Fatal(err)
	}
	return &history{t: t, rb: rb, c: &Case{ID: "c1"}}
}

func (h *history) decide(on, name, data string) ([]Event, error) {
	var raw json.RawMessage
	if data != "" {
		raw = json.RawMessage(data)
	}
	return h.c.Decide(Command{Name: name, On: d(on), Data: raw}, h.rb)
}

func (h *history) do(on, name, data string) *history {
	h.t.Helper()
	evs, err := h.decide(on, name, data)
	if err != nil {
		h.t.Fatalf("%s on %s rejected: %v", name, on, err)
	}
	for _, e := range evs {
		h.c.Apply(e, d(on))
		h.cc.Apply(h.rb, e, d(on), NoHolidays{})
	}
	return h
}

func (h *history) reject(on, name, data string, code Code, field string) {
	h.t.Helper()
	before := h.c.Version
	evs, err := h.decide(on, name, data)
	if err == nil {
		h.t.Fatalf("%s on %s was accepted (%d events), want %s", name, on, len(evs), code)
	}
	if len(evs) != 0 {
		h.t.Fatalf("rejected %s still emitted %d events", name, len(evs))
	}
	if ErrorCode(err) != code {
		h.t.Fatalf("%s: error %q has code %s, want %s", name, err, ErrorCode(err), code)
	}
	if field != "" {
		if e, _ := err.(*Error); e == nil || e.Field != field {
			h.t.Fatalf("%s: error %q does not name field %s", name, err, field)
		}
	}
	if h.c.Version != before {
		h.t.Fatal("a rejected command changed the case")
	}
}

const request = `{"requester":"parent","birth_date":"2015-05-01"}`

func TestCommandsOutOfOrderAreRejected(t *testing.T) {
	t.Run("a plan before any request is not found", func(t *testing.T) {
		newHistory(t, DefaultRulebook).reject("2024-03-01", "issue_final_plan", `{"school":"S1"}`, NotFound, "")
	})
	t.Run("a second decision conflicts", func(t *testing.T) {
		h := newHistory(t, DefaultRulebook).do("2024-03-01", "receive_request", request).do("2024-04-01", "decide_to_assess", "")
		h.reject("2024-04-02", "decide_to_assess", "", Conflict, "")
		h.reject("2024-04-02", "refuse_assessment", "", Conflict, "")
	})
	t.Run("a second request conflicts", func(t *testing.T) {
		newHistory(t, DefaultRulebook).do("2024-03-01", "receive_request", request).reject("2024-03-02", "receive_request", request, Conflict, "")
	})
	t.Run("advice cannot arrive before it is asked for", func(t *testing.T) {
		h := newHistory(t, DefaultRulebook).do("2024-03-01", "receive_request", request).do("2024-04-01", "decide_to_assess", "")
		h.reject("2024-04-02", "receive_advice", `{"advice":"health"}`, Conflict, "")
	})
	t.Run("a draft cannot follow a refusal", func(t *testing.T) {
		h := newHistory(t, DefaultRulebook).do("2024-03-01", "receive_request", request).do("2024-04-01", "refuse_assessment", "")
		h.reject("2024-04-02", "send_draft_plan", "", Conflict, "")
	})
	t.Run("a step dated before the request is invalid", func(t *testing.T) {
		h := newHistory(t, DefaultRulebook).do("2024-03-01", "receive_request", request)
		h.reject("2024-02-01", "decide_to_assess", "", Invalid, "on")
	})
	t.Run("an appeal without a certificate conflicts unless it is about placement", func(t *testing.T) {
		h := newHistory(t, DefaultRulebook).do("2024-03-01", "receive_request", request).do("2024-04-01", "refuse_assessment", "")
		h.reject("2024-04-02", "lodge_appeal", `{"kind":"refusal_to_assess"}`, Conflict, "")
		h.do("2024-04-02", "lodge_appeal", `{"kind":"placement"}`)
	})
}

func TestInvalidCommandsNameTheField(t *testing.T) {
	opened := func(t *testing.T) *history {
		return newHistory(t, DefaultRulebook).do("2024-03-01", "receive_request", request)
	}
	cases := []struct {
		name, command, data, field string
	}{
		{"unknown command", "approve", "", "command"},
		{"missing requester", "receive_request", `{"birth_date":"2015-05-01"}`, "data.requester"},
		{"unknown requester", "receive_request", `{"requester":"neighbour","birth_date":"2015-05-01"}`, "data.requester"},
		{"missing birth date", "receive_request", `{"requester":"parent"}`, "data.birth_date"},
		{"misspelt field", "receive_request", `{"requester":"parent","birth_date":"2015-05-01","shcool":"S1"}`, "data"},
		{"birth date after request", "receive_request", `{"requester":"parent","birth_date":"2025-05-01"}`, "data.birth_date"},
		{"wrong type", "contact_mediation_adviser", `{"wants_mediation":"yes"}`, "data.wants_mediation"},
		{"missing advice kind", "request_advice", `{}`, "data.advice"},
		{"exception without evidence", "record_exception", `{"kind":"absence","from":"2024-03-01","to":"2024-04-01"}`, "data.evidence"},
		{"exception ending before it starts", "record_exception", `{"kind":"absence","from":"2024-03-01","to":"2024-02-01","evidence":"x"}`, "data.to"},
		{"unknown exception kind", "record_exception", `{"kind":"holiday","from":"2024-03-01","to":"2024-04-01","evidence":"x"}`, "data.kind"},
		{"data on a command without data", "decide_to_assess", `{"reason":"x"}`, "data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory(t, DefaultRulebook)
			if tc.command != "receive_request" {
				h = opened(t)
			}
			h.reject("2024-03-05", tc.command, tc.data, Invalid, tc.field)
		})
	}
}

func rowsOf(h *history, asOf string) map[string]ClockRow {
	out := map[string]ClockRow{}
	for _, r := range h.cc.Rows("c1", d(asOf), nil) {
		out[r.Clock+"/"+r.Key] = r
	}
	return out
}

func TestExceptionsExcuseOnlyWhereTheRulesAllow(t *testing.T) {
	base := func(t *testing.T) *history {
		return newHistory(t, DefaultRulebook).do("2024-03-01", "receive_request", request).
			do("2024-04-20", "decide_to_assess", "").
			do("2024-04-22", "request_advice", `{"advice":"health"}`)
	}
	t.Run("personal circumstances excuse a late decision", func(t *testing.T) {
		h := base(t).do("2024-03-10", "record_exception", `{"kind":"personal_circumstances","from":"2024-03-10","to":"2024-03-20","evidence":"hospital letter"}`)
		if r := rowsOf(h, "2024-04-20")["decide_to_assess/"]; r.Status != StatusLate || !r.Excused {
			t.Fatalf("row %+v", r)
		}
	})
	t.Run("an absence shorter than four weeks excuses nothing", func(t *testing.T) {
		h := base(t).do("2024-03-10", "record_exception", `{"kind":"absence","from":"2024-03-10","to":"2024-04-05","evidence":"abroad"}`)
		if r := rowsOf(h, "2024-04-20")["decide_to_assess/"]; r.Excused {
			t.Fatalf("27-day absence excused %+v", r)
		}
	})
	t.Run("an absence of four weeks excuses", func(t *testing.T) {
		h := base(t).do("2024-03-10", "record_exception", `{"kind":"absence","from":"2024-03-10","to":"2024-04-06","evidence":"abroad"}`)
		if r := rowsOf(h, "2024-04-20")["decide_to_assess/"]; !r.Excused {
			t.Fatalf("28-day absence not excused %+v", r)
		}
	})
	t.Run("a missed appointment excuses advice but not the decision", func(t *testing.T) {
		h := base(t).do("2024-04-25", "record_exception", `{"kind":"missed_appointment","from":"2024-04-25","to":"2024-04-25","evidence":"clinic note"}`)
		rows := rowsOf(h, "2024-07-01")
		if r := rows["advice/health"]; r.Status != StatusOverdue || !r.Excused {
			t.Fatalf("advice %+v", r)
		}
		if r := rows["decide_to_assess/"]; r.Excused {
			t.Fatalf("decision %+v", r)
		}
	})
	t.Run("an exception outside the clock's run excuses nothing", func(t *testing.T) {
		h := base(t).do("2024-04-25", "record_exception", `{"kind":"personal_circumstances","from":"2024-04-25","to":"2024-05-25","evidence":"x"}`)
		if r := rowsOf(h, "2024-04-20")["decide_to_assess/"]; r.Excused {
			t.Fatalf("row %+v", r)
		}
	})
	t.Run("a met clock is never excused", func(t *testing.T) {
		h := newHistory(t, DefaultRulebook).do("2024-03-01", "receive_request", request).
			do("2024-03-02", "record_exception", `{"kind":"personal_circumstances","from":"2024-03-02","to":"2024-03-30","evidence":"x"}`).
			do("2024-04-01", "decide_to_assess", "")
		if r := rowsOf(h, "2024-04-20")["decide_to_assess/"]; r.Status != StatusMet || r.Excused {
			t.Fatalf("row %+v", r)
		}
	})
}

type closures map[string][]ClosureWindow

func (c closures) Closures(s string) []ClosureWindow { return c[s] }

func TestSchoolClosureWindow(t *testing.T) {
	summer := closures{"S1": {{FirstDay: d("2024-07-23"), Reopens: d("2024-09-03")}}, "S2": {{FirstDay: d("2024-10-21"), Reopens: d("2024-11-04")}}}
	cases := []struct {
		name, school, asked string
		want                bool
	}{
		{"asked the day the window opens", "S1", "2024-07-16", true},
		{"asked the day before the window", "S1", "2024-07-15", false},
		{"asked on the window's last day", "S1", "2024-08-27", true},
		{"asked after the window", "S1", "2024-08-28", false},
		{"a two-week closure does not count", "S2", "2024-10-21", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory(t, DefaultRulebook).do("2024-05-01", "receive_request", request).do("2024-06-01", "decide_to_assess", "").
				do(tc.asked, "request_advice", `{"advice":"education","school":"`+tc.school+`"}`)
			var got bool
			for _, r := range h.cc.Rows("c1", d("2024-12-01"), summer) {
				if r.Clock == "final_plan" {
					got = r.Excused
				}
			}
			if got != tc.want {
				t.Fatalf("final plan excused = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClockLifecycles(t *testing.T) {
	t.Run("an unused appeal window ends on its due date", func(t *testing.T) {
		h := newHistory(t, DefaultRulebook).do("2024-01-10", "receive_request", request).do("2024-02-28", "refuse_assessment", "")
		r := rowsOf(h, "2024-06-01")["appeal_window/refuse_assessment"]
		// Two months after 28 February is Sunday 28 April: the tribunal
		// takes an appeal on the next working day (HESC Rules 2008 r12(2)).
		if r.Status != StatusEnded || r.Stopped != d("2024-04-29") {
			t.Fatalf("row %+v", r)
		}
	})
	t.Run("reviews follow each other", func(t *testing.T) {
		h := newHistory(t, DefaultRulebook).do("2024-01-10", "receive_request", request).do("2024-02-01", "decide_to_assess", "").
			do("2024-04-01", "send_draft_plan", "").do("2024-05-01", "issue_final_plan", `{"school":"S1"}`).
			do("2025-04-01", "hold_review_meeting", "").do("2025-04-10", "send_review_report", "").
			do("2025-04-20", "notify_review_decision", `{"decision":"amend"}`).
			do("2025-04-25", "send_proposed_amendments", "").do("2025-07-01", "issue_amended_plan", "")
		rows := rowsOf(h, "2025-07-01")
		for key, want := range map[string]ClockRow{
			// 12 months starting with the plan's date, then the review's (s44(1)).
			"annual_review/1":   {Due: d("2025-04-30"), Stopped: d("2025-04-20"), Status: StatusMet},
			"annual_review/2":   {Due: d("2026-04-19"), Status: StatusRunning},
			"review_report/1":   {Due: d("2025-04-15"), Stopped: d("2025-04-10"), Status: StatusMet},
			"review_decision/1": {Due: d("2025-04-29"), Stopped: d("2025-04-20"), Status: StatusMet},
			"amended_plan/1":    {Due: d("2025-06-20"), Stopped: d("2025-07-01"), Status: StatusLate},
		} {
			r := rows[key]
			if r.Due != want.Due || r.Stopped != want.Stopped || r.Status != want.Status {
				t.Errorf("%s = %+v, want due %s stopped %s %s", key, r, want.Due, want.Stopped, want.Status)
			}
		}
	})
	t.Run("a tribunal order starts its compliance clocks", func(t *testing.T) {
		h := newHistory(t, DefaultRulebook).do("2024-01-10", "receive_request", request).do("2024-02-01", "refuse_assessment", "").
			do("2024-02-05", "contact_mediation_adviser", `{"wants_mediation":false}`).do("2024-02-07", "issue_mediation_certificate", "").
			do("2024-02-20", "lodge_appeal", `{"kind":"refusal_to_assess"}`).do("2024-06-03", "tribunal_order", `{"order":"issue_plan"}`).
			do("2024-07-01", "comply_with_order", `{"step":"draft_plan"}`)
		rows := rowsOf(h, "2024-07-01")
		if r := rows["order_compliance/draft_plan"]; r.Due != d("2024-07-08") || r.Status != StatusMet {
			t.Errorf("draft %+v", r)
		}
		if r := rows["order_compliance/final_plan"]; r.Due != d("2024-08-19") || r.Status != StatusRunning {
			t.Errorf("final %+v", r)
		}
		h.reject("2024-07-02", "comply_with_order", `{"step":"draft_plan"}`, Conflict, "")
	})
}

func TestTribunalOrdersReopenTheWay(t *testing.T) {
	t.Run("an order to issue lets a plan follow a decision not to issue", func(t *testing.T) {
		h := newHistory(t, DefaultRulebook).do("2024-01-10", "receive_request", request).do("2024-02-01", "decide_to_assess", "").
			do("2024-04-01", "decide_not_to_issue", "")
		h.reject("2024-04-02", "send_draft_plan", "", Conflict, "")
		h.do("2024-04-10", "contact_mediation_adviser", `{"wants_mediation":false}`).do("2024-04-12", "issue_mediation_certificate", "").
			do("2024-05-01", "lodge_appeal", `{"kind":"refusal_to_issue"}`).do("2024-09-02", "tribunal_order", `{"order":"issue_plan"}`).
			do("2024-09-20", "send_draft_plan", "").do("2024-10-30", "issue_final_plan", `{"school":"S1"}`)
		h.reject("2024-11-01", "decide_not_to_issue", "", Conflict, "")
	})
	t.Run("an order needs an appeal", func(t *testing.T) {
		newHistory(t, DefaultRulebook).do("2024-01-10", "receive_request", request).
			reject("2024-02-01", "tribunal_order", `{"order":"assess"}`, Conflict, "")
	})
}

func TestCessation(t *testing.T) {
	ceasing := func(t *testing.T) *history {
		t.Helper()
		return newHistory(t, DefaultRulebook).do("2023-09-04", "receive_request", request).do("2023-10-02", "decide_to_assess", "").
			do("2024-01-08", "send_draft_plan", "").do("2024-01-26", "issue_final_plan", `{"school":"S1"}`).
			do("2025-01-06", "hold_review_meeting", "").do("2025-01-13", "send_review_report", "").
			do("2025-01-20", "notify_review_decision", `{"decision":"cease"}`)
	}
	message := func(h *history, on string) string {
		_, err := h.decide(on, "cease_plan", "")
		return ErrorMessage(err)
	}
	t.Run("the plan is maintained while the family may appeal", func(t *testing.T) {
		h := ceasing(t)
		if m := message(h, "2025-03-20"); !strings.Contains(m, "may appeal the decision to cease until 2025-03-20") {
			t.Fatalf("message %q", m)
		}
		h.do("2025-02-10", "hold_review_meeting", "") // the plan is still maintained
		h.do("2025-03-21", "cease_plan", "")
		h.reject("2025-04-01", "send_review_report", "", Conflict, "")
		h.reject("2025-04-02", "cease_plan", "", Conflict, "")
	})
	t.Run("an appeal keeps the plan until the tribunal dismisses it", func(t *testing.T) {
		h := ceasing(t).do("2025-03-03", "contact_mediation_adviser", `{"wants_mediation":false}`).
			do("2025-03-05", "issue_mediation_certificate", "")
		if m := message(h, "2025-04-05"); !strings.Contains(m, "until 2025-04-07") {
			t.Fatalf("the certificate does not extend the time to appeal: %q", m)
		}
		h.do("2025-04-04", "lodge_appeal", `{"kind":"cease"}`)
		if m := message(h, "2025-06-01"); !strings.Contains(m, "maintained until the appeal ends") {
			t.Fatalf("message %q", m)
		}
		h.do("2025-09-15", "tribunal_order", `{"order":"dismiss"}`).do("2025-09-15", "cease_plan", "")
	})
	t.Run("an order to maintain withdraws the cessation", func(t *testing.T) {
		h := ceasing(t).do("2025-03-03", "contact_mediation_adviser", `{"wants_mediation":false}`).
			do("2025-03-05", "issue_mediation_certificate", "").do("2025-04-04", "lodge_appeal", `{"kind":"cease"}`).
			do("2025-09-15", "tribunal_order", `{"order":"maintain_unchanged"}`)
		h.reject("2025-12-01", "cease_plan", "", Conflict, "")
	})
	t.Run("a plan cannot cease before the decision to cease", func(t *testing.T) {
		ceasing(t).reject("2025-01-19", "cease_plan", "", Invalid, "on")
	})
}

func TestLABecomingResponsible(t *testing.T) {
	opened := func(t *testing.T) *history {
		t.Helper()
		return newHistory(t, DefaultRulebook).do("2024-09-02", "become_responsible", `{"route":"health_body","birth_date":"2022-05-01"}`)
	}
	t.Run("the assessment limits run from the day the LA became responsible", func(t *testing.T) {
		h := opened(t)
		due := map[string]Date{}
		for _, c := range h.cc.Clocks {
			due[c.Name] = c.Due
		}
		if due["decide_to_assess"] != d("2024-10-14") || due["decision_not_to_issue"] != d("2024-12-23") || due["final_plan"] != d("2025-01-20") {
			t.Fatalf("due dates %v", due)
		}
		h.do("2024-10-01", "decide_to_assess", "")
	})
	t.Run("an open case takes no second opening", func(t *testing.T) {
		opened(t).reject("2024-09-03", "receive_request", request, Conflict, "")
		opened(t).reject("2024-09-03", "become_responsible", `{"route":"la_identified","birth_date":"2022-05-01"}`, Conflict, "")
	})
	t.Run("bad openings name the field", func(t *testing.T) {
		newHistory(t, DefaultRulebook).reject("2024-09-02", "become_responsible", `{"route":"neighbour","birth_date":"2022-05-01"}`, Invalid, "data.route")
		newHistory(t, DefaultRulebook).reject("2024-09-02", "become_responsible", `{"route":"health_body"}`, Invalid, "data.birth_date")
		newHistory(t, DefaultRulebook).reject("2024-09-02", "become_responsible", `{"route":"health_body","birth_date":"2022-05-01","requester":"parent"}`, Invalid, "data")
	})
	t.Run("its date and data can be corrected like a request's", func(t *testing.T) {
		h := stored(t, [3]string{"2024-09-02", "become_responsible", `{"route":"health_body","birth_date":"2022-05-01"}`})
		h, err := correct(t, h, "2024-09-20", `{"version":1,"on":"2024-08-30","data":{"route":"brought_to_attention"},"reason":"the referral letter was dated earlier"}`)
		if err != nil {
			t.Fatal(err)
		}
		eff, err := Effective(h, currentLaw)
		if err != nil {
			t.Fatal(err)
		}
		o, ok := eff[0].Event.(*LABecameResponsible)
		if !ok || o.Route != "brought_to_attention" || eff[0].On != d("2024-08-30") || o.Born() != d("2022-05-01") {
			t.Fatalf("effective opening %+v on %s", eff[0].Event, eff[0].On)
		}
	})
}

func TestSchoolInformationBeforeTheDecision(t *testing.T) {
	h := newHistory(t, DefaultRulebook).do("2024-07-01", "receive_request", request).
		do("2024-07-16", "request_school_information", `{"school":"S3"}`)
	for _, c := range h.cc.Clocks {
		if c.Name == "advice" {
			t.Fatal("asking a school for information started an advice clock")
		}
	}
	h.reject("2024-07-17", "request_school_information", `{"school":""}`, Invalid, "data.school")
	h.do("2024-08-20", "decide_to_assess", "").
		reject("2024-08-21", "request_school_information", `{"school":"S3"}`, Conflict, "")
}

func TestReassessment(t *testing.T) {
	withPlan := func(t *testing.T) *history {
		t.Helper()
		return newHistory(t, DefaultRulebook).do("2023-01-09", "receive_request", request).do("2023-02-06", "decide_to_assess", "").
			do("2023-04-28", "send_draft_plan", "").do("2023-05-22", "issue_final_plan", `{"school":"S1"}`)
	}
	t.Run("a refusal needs a request to refuse", func(t *testing.T) {
		withPlan(t).reject("2024-03-01", "refuse_reassessment", "", Conflict, "")
	})
	t.Run("a decision without a request is the LA's own initiative", func(t *testing.T) {
		evs, err := withPlan(t).decide("2024-03-01", "decide_to_reassess", "")
		if err != nil || !evs[0].(*ReassessmentAgreed).OwnInitiative {
			t.Fatalf("events %v, %v", evs, err)
		}
		h := withPlan(t).do("2024-03-01", "request_reassessment", `{"requester":"parent"}`)
		if evs, _ := h.decide("2024-03-05", "decide_to_reassess", ""); evs[0].(*ReassessmentAgreed).OwnInitiative {
			t.Fatal("a decision on a request was marked the LA's own initiative")
		}
	})
	t.Run("the reassessed plan needs a draft and the family's 15 days", func(t *testing.T) {
		h := withPlan(t).do("2024-03-11", "decide_to_reassess", "")
		h.reject("2024-05-31", "issue_reassessed_plan", `{"outcome":"amended","school":"S2"}`, Conflict, "")
		h.do("2024-06-03", "send_reassessment_draft", "")
		h.reject("2024-06-17", "issue_reassessed_plan", `{"outcome":"amended","school":"S2"}`, Conflict, "")
		h.reject("2024-06-18", "issue_reassessed_plan", `{"outcome":"kept","school":"S2"}`, Invalid, "data.outcome")
		h.do("2024-06-18", "issue_reassessed_plan", `{"outcome":"amended","school":"S2"}`)
		h.reject("2024-06-19", "keep_plan_after_reassessment", "", Conflict, "")
	})
	t.Run("representations on the reassessment's draft end its window early", func(t *testing.T) {
		withPlan(t).do("2024-03-11", "decide_to_reassess", "").do("2024-06-03", "send_reassessment_draft", "").
			do("2024-06-05", "receive_representations", "").do("2024-06-06", "issue_reassessed_plan", `{"outcome":"replaced","school":"S2"}`)
	})
	t.Run("no reassessment without a plan", func(t *testing.T) {
		newHistory(t, DefaultRulebook).do("2023-01-09", "receive_request", request).
			reject("2023-02-01", "request_reassessment", `{"requester":"parent"}`, Conflict, "")
	})
}
