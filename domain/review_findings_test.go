package domain

import (
	"strings"
	"testing"
)

// These tests hold the engine to the findings of the review of issue 12's
// cessation, reassessment and correction work.

func ceasingPlan(t *testing.T) *history {
	t.Helper()
	return newHistory(t, DefaultRulebook).do("2023-09-04", "receive_request", request).do("2023-10-02", "decide_to_assess", "").
		do("2024-01-08", "send_draft_plan", "").do("2024-01-26", "issue_final_plan", `{"school":"S1"}`).
		do("2025-01-06", "hold_review_meeting", "").do("2025-01-20", "notify_review_decision", `{"decision":"cease"}`)
}

func TestCessationWaitsForEveryRouteToAppeal(t *testing.T) {
	t.Run("mediation still pending keeps the plan", func(t *testing.T) {
		h := ceasingPlan(t).do("2025-03-10", "contact_mediation_adviser", `{"wants_mediation":true}`)
		h.reject("2025-03-21", "cease_plan", "", Conflict, "")
		h.do("2025-04-05", "hold_mediation", "").do("2025-04-08", "issue_mediation_certificate", "")
		if _, err := h.decide("2025-05-08", "cease_plan", ""); err == nil || !strings.Contains(ErrorMessage(err), "until 2025-05-08") {
			t.Fatalf("a month after the certificate: %v", err)
		}
		h.do("2025-05-09", "cease_plan", "")
	})
	t.Run("a certificate still owed keeps the plan", func(t *testing.T) {
		ceasingPlan(t).do("2025-03-19", "contact_mediation_adviser", `{"wants_mediation":false}`).
			reject("2025-03-21", "cease_plan", "", Conflict, "")
	})
	t.Run("a second decision to cease leaves the appeal against the first before the tribunal", func(t *testing.T) {
		h := ceasingPlan(t).do("2025-02-10", "contact_mediation_adviser", `{"wants_mediation":false}`).
			do("2025-02-11", "issue_mediation_certificate", "").do("2025-02-20", "lodge_appeal", `{"kind":"cease"}`).
			do("2025-03-03", "hold_review_meeting", "").do("2025-03-10", "notify_review_decision", `{"decision":"cease"}`)
		if _, err := h.decide("2025-05-13", "cease_plan", ""); err == nil || !strings.Contains(ErrorMessage(err), "appealed") {
			t.Fatalf("cease_plan with the appeal undecided: %v", err)
		}
	})
	t.Run("an order to maintain reinstates a plan that had ceased", func(t *testing.T) {
		h := ceasingPlan(t).do("2025-03-21", "cease_plan", "").do("2025-04-01", "contact_mediation_adviser", `{"wants_mediation":false}`).
			do("2025-04-02", "issue_mediation_certificate", "").do("2025-04-10", "lodge_appeal", `{"kind":"cease"}`).
			do("2025-08-01", "tribunal_order", `{"order":"maintain_unchanged"}`)
		h.do("2025-09-01", "hold_review_meeting", "")
	})
}

func TestCeasingKeepsTheBreachesAlreadyMade(t *testing.T) {
	h := newHistory(t, DefaultRulebook).do("2023-09-04", "receive_request", request).do("2023-10-02", "decide_to_assess", "").
		do("2024-01-08", "send_draft_plan", "").do("2024-01-26", "issue_final_plan", `{"school":"S1"}`).
		do("2024-12-02", "schedule_phase_transfer", `{"year":2025,"kind":"school"}`).
		do("2024-12-09", "send_proposed_amendments", "").
		do("2025-01-06", "hold_review_meeting", "").do("2025-01-20", "notify_review_decision", `{"decision":"cease"}`).
		do("2025-03-21", "cease_plan", "")
	rows := rowsOf(h, "2025-10-01")
	for _, k := range []string{"phase_transfer/", "amended_plan/1", "review_report/1"} {
		if r := rows[k]; r.Status != StatusLate {
			t.Errorf("%s: %+v, want late (breached before the plan ceased)", k, r)
		}
	}
	if r := rows["annual_review/2"]; r.Status != StatusEnded {
		t.Errorf("the next review, not yet due, should end with the plan: %+v", r)
	}
	h.reject("2025-03-24", "issue_amended_plan", "", Conflict, "")
	h.reject("2025-03-25", "name_transfer_setting", `{"school":"SEC1"}`, Conflict, "")
	h.reject("2025-03-27", "consult_school", `{"school":"S8"}`, Conflict, "")
}

func TestStepsStoredInAnEarlierShape(t *testing.T) {
	legacy := func(t *testing.T) []Step {
		t.Helper()
		h := stored(t,
			[3]string{"2023-09-04", "receive_request", request},
			[3]string{"2023-10-02", "decide_to_assess", ""},
			[3]string{"2024-01-08", "send_draft_plan", ""},
			[3]string{"2024-01-26", "issue_final_plan", `{"school":"S1"}`},
			[3]string{"2025-01-06", "hold_review_meeting", ""},
			[3]string{"2025-01-20", "notify_review_decision", `{"decision":"cease"}`},
		)
		// Recorded before decisions numbered the next review and named the
		// meeting: the plan then ceased at once.
		r := h[5].Event.(*ReviewDecisionNotified)
		r.NextReview, r.Meeting = 0, 0
		return h
	}
	t.Run("a decision to cease stored without the next review ended the plan", func(t *testing.T) {
		c, err := FoldHistory("c1", legacy(t), currentLaw)
		if err != nil || !c.ceased {
			t.Fatalf("ceased %v, %v", c.ceased, err)
		}
	})
	t.Run("correcting another step leaves it as stored", func(t *testing.T) {
		h, err := correct(t, legacy(t), "2025-02-01", `{"version":2,"on":"2023-10-01","reason":"date misread"}`)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := clocksOf(t, h, "2026-06-01")["annual_review/2"]; ok {
			t.Fatal("a correction of the decision to assess started a review the stored decision never started")
		}
	})
}

func TestHistoriesOnceAcceptedStayReadable(t *testing.T) {
	// A request accepted under an earlier rule (the person aged 25), its
	// details known to the domain, and a correction of its date.
	h := stored(t, [3]string{"2024-03-01", "receive_request", `{"requester":"parent","birth_date":"2010-01-10"}`})
	h[0].Event.(*RequestReceived).Details.BirthDate = d("1999-01-10")
	h = append(h, Step{Version: 2, On: d("2024-03-10"), Event: &StepCorrected{Corrects: 1, Type: TypeRequestReceived, On: d("2024-03-04"), Reason: Text{Plain: "r"}}})
	eff, err := Effective(h, currentLaw)
	if err != nil || len(eff) != 1 || eff[0].On != d("2024-03-04") {
		t.Fatalf("effective %v, %v", eff, err)
	}
}

func TestCorrectionsOfTheOpeningBuildOnEarlierOnes(t *testing.T) {
	h := stored(t, [3]string{"2024-01-10", "receive_request", `{"requester":"parent","birth_date":"1999-06-01"}`})
	h, err := correct(t, h, "2024-02-01", `{"version":1,"data":{"requester":"parent","birth_date":"2010-06-01"},"reason":"birth year mis-keyed"}`)
	if err != nil {
		t.Fatal(err)
	}
	h[1].Event.(*StepCorrected).Personal = []byte("sealed") // as stored, details still known
	if _, err := correct(t, h, "2024-08-01", `{"version":1,"on":"2024-07-10","reason":"date stamp misread"}`); err != nil {
		t.Fatalf("a date correction judged against the birth date already corrected: %v", err)
	}
}

func TestReassessmentFindings(t *testing.T) {
	planned := func(t *testing.T) *history {
		t.Helper()
		return newHistory(t, DefaultRulebook).do("2023-09-04", "receive_request", request).do("2023-10-02", "decide_to_assess", "").
			do("2023-10-03", "request_advice", `{"advice":"educational_psychology"}`).do("2023-11-03", "receive_advice", `{"advice":"educational_psychology"}`).
			do("2024-01-08", "send_draft_plan", "").do("2024-01-26", "issue_final_plan", `{"school":"S1"}`)
	}
	t.Run("advice is sought afresh", func(t *testing.T) {
		planned(t).do("2024-09-02", "decide_to_reassess", "").do("2024-09-03", "request_advice", `{"advice":"educational_psychology"}`)
	})
	t.Run("an order to reassess is met by the reassessed plan", func(t *testing.T) {
		h := planned(t).do("2024-09-02", "request_reassessment", `{"requester":"parent"}`).do("2024-09-10", "refuse_reassessment", "").
			do("2024-09-11", "contact_mediation_adviser", `{"wants_mediation":false}`).do("2024-09-12", "issue_mediation_certificate", "").
			do("2024-09-20", "lodge_appeal", `{"kind":"refusal_to_reassess"}`).do("2024-12-02", "tribunal_order", `{"order":"assess"}`).
			do("2024-12-09", "comply_with_order", `{"step":"assess_notice"}`).do("2024-12-09", "decide_to_reassess", "").
			do("2025-01-06", "send_reassessment_draft", "").do("2025-01-27", "issue_reassessed_plan", `{"outcome":"amended","school":"S2"}`)
		rows := rowsOf(h, "2025-06-01")
		if r := rows["order_compliance/assess_final_plan"]; r.Status != StatusMet {
			t.Errorf("final plan after the order: %+v", r)
		}
		if r := rows["order_compliance/assess_not_to_issue"]; r.Status != StatusEnded {
			t.Errorf("decision not to issue after the order: %+v", r)
		}
	})
}

func TestDevonAndTheAmendDecision(t *testing.T) {
	planned := newHistory(t, DefaultRulebook).do("2023-09-04", "receive_request", request).do("2023-10-02", "decide_to_assess", "").
		do("2024-01-08", "send_draft_plan", "").do("2024-01-26", "issue_final_plan", `{"school":"S1"}`).
		do("2025-01-06", "hold_review_meeting", "")
	windows := planned.c.appealWindows
	planned.do("2025-01-20", "send_proposed_amendments", "").do("2025-01-20", "notify_review_decision", `{"decision":"amend"}`)
	if planned.c.appealWindows != windows {
		t.Error("a decision to amend opened an appeal window")
	}
	planned.do("2025-03-10", "issue_amended_plan", "")
	rows := rowsOf(planned, "2025-06-01")
	if r, ok := rows["amendment_proposals/1"]; ok {
		t.Errorf("proposals sent with the decision still ran Devon's 4 weeks: %+v", r)
	}
	if r := rows["amended_plan_after_review/1"]; r.Status != StatusMet {
		t.Errorf("amended plan within 12 weeks of the meeting: %+v", r)
	}
}
