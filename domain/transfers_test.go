package domain

import "testing"

func withPlan(t *testing.T) *history {
	h := newHistory(t, DefaultRulebook).do("2024-01-10", "receive_request", request).do("2024-02-01", "decide_to_assess", "").
		do("2024-04-01", "send_draft_plan", "").do("2024-05-01", "issue_final_plan", `{"school":"S1"}`)
	h.c.LA = "E09000001" // set from the envelope by the application layer
	return h
}

func TestTransfersBetweenLAs(t *testing.T) {
	t.Run("a plan moves with its clocks", func(t *testing.T) {
		h := withPlan(t)
		h.reject("2024-09-02", "transfer_in", "", Conflict, "")
		h.reject("2024-09-02", "transfer_out", `{"to_la":"E09000001","move_date":"2024-09-20"}`, Invalid, "data.to_la")
		// Learning on Monday 2 September of a move on the 6th: 15 working days
		// beginning with that day (reg 15(2): it is working day 1) end on
		// Friday 20 September, later than the move.
		h.do("2024-09-02", "transfer_out", `{"to_la":"E09000002","move_date":"2024-09-06"}`)
		h.reject("2024-09-03", "transfer_out", `{"to_la":"E09000003","move_date":"2024-09-06"}`, Conflict, "")
		h.do("2024-09-20", "transfer_in", "").do("2024-10-15", "notify_transfer_decision", `{"reassess":false}`)
		if h.c.LA != "E09000002" || h.c.MovingTo != "" {
			t.Fatalf("LA %q moving to %q", h.c.LA, h.c.MovingTo)
		}
		rows := rowsOf(h, "2024-11-01")
		for key, want := range map[string]ClockRow{
			"transfer_plan/":            {Due: d("2024-09-20"), Stopped: d("2024-09-20"), Status: StatusMet},
			"transfer_reassess_notice/": {Due: d("2024-11-01"), Stopped: d("2024-10-15"), Status: StatusMet},
			// Later of the 12 months beginning with the plan's date (to 30
			// April 2025) and 3 months from the transfer (reg 15(5)).
			"transfer_review/": {Due: d("2025-04-30"), Status: StatusRunning},
		} {
			if r := rows[key]; r.Due != want.Due || r.Stopped != want.Stopped || r.Status != want.Status {
				t.Errorf("%s = %+v, want due %s stopped %s %s", key, r, want.Due, want.Stopped, want.Status)
			}
		}
	})
	t.Run("the move date wins when it is later", func(t *testing.T) {
		h := withPlan(t).do("2024-09-02", "transfer_out", `{"to_la":"E09000002","move_date":"2024-12-20"}`)
		if r := rowsOf(h, "2024-09-03")["transfer_plan/"]; r.Due != d("2024-12-20") {
			t.Fatalf("row %+v", r)
		}
	})
}

func TestUnopposedAppeals(t *testing.T) {
	h := newHistory(t, DefaultRulebook).do("2024-01-10", "receive_request", request).do("2024-02-01", "refuse_assessment", "")
	h.reject("2024-02-05", "concede_appeal", `{"kind":"assess"}`, Conflict, "")
	h.do("2024-02-05", "contact_mediation_adviser", `{"wants_mediation":false}`).do("2024-02-07", "issue_mediation_certificate", "").
		do("2024-02-20", "lodge_appeal", `{"kind":"refusal_to_assess"}`).do("2024-03-11", "concede_appeal", `{"kind":"assess"}`).
		do("2024-04-15", "comply_with_concession", `{"kind":"assess"}`)
	if r := rowsOf(h, "2024-05-01")["unopposed_compliance/assess"]; r.Due != d("2024-04-08") || r.Status != StatusLate {
		t.Fatalf("row %+v", r)
	}
	h.reject("2024-04-16", "comply_with_concession", `{"kind":"assess"}`, Conflict, "")
	h.reject("2024-04-16", "comply_with_concession", `{"kind":"placement"}`, Conflict, "")
}

func TestUnderFiveReviewWarning(t *testing.T) {
	young := `{"requester":"parent","birth_date":"2021-03-01"}`
	h := newHistory(t, DefaultRulebook).do("2024-01-10", "receive_request", young).do("2024-02-01", "decide_to_assess", "").
		do("2024-04-01", "send_draft_plan", "").do("2024-05-01", "issue_final_plan", `{"school":"S1"}`)
	if w := h.cc.Warnings(d("2024-11-01")); len(w) != 0 {
		t.Fatalf("warned on the expected date: %v", w)
	}
	w := h.cc.Warnings(d("2024-11-02"))
	if len(w) != 1 || w[0].Clock != "annual_review" || w[0].By != d("2024-11-01") {
		t.Fatalf("warnings %v", w)
	}
	if r := rowsOf(h, "2024-11-02")["annual_review/1"]; r.Status != StatusRunning {
		t.Fatalf("a warning must not breach the clock: %+v", r)
	}
	old := newHistory(t, DefaultRulebook).do("2024-01-10", "receive_request", request).do("2024-02-01", "decide_to_assess", "").
		do("2024-04-01", "send_draft_plan", "").do("2024-05-01", "issue_final_plan", `{"school":"S1"}`)
	if w := old.cc.Warnings(d("2025-04-01")); len(w) != 0 {
		t.Fatalf("an older child was warned: %v", w)
	}
}
