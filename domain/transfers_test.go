package domain

import (
	"strings"
	"testing"
)

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
	appealed := func(t *testing.T, refused string) *history {
		t.Helper()
		r := d(refused)
		h := newHistory(t, DefaultRulebook).do(r.AddDays(-30).String(), "receive_request", `{"requester":"parent","birth_date":"2010-01-01"}`).do(refused, "refuse_assessment", "")
		h.reject(r.AddDays(4).String(), "concede_appeal", `{"kind":"assess"}`, Conflict, "")
		return h.do(r.AddDays(4).String(), "contact_mediation_adviser", `{"wants_mediation":false}`).
			do(r.AddDays(6).String(), "issue_mediation_certificate", "").
			do(r.AddDays(19).String(), "lodge_appeal", `{"kind":"refusal_to_assess"}`)
	}
	t.Run("a concession from 23 March 2015 gives 2 weeks to notify, then 10 or 14 weeks (reg 45(3), (3A))", func(t *testing.T) {
		h := appealed(t, "2024-02-01").do("2024-03-11", "concede_appeal", `{"kind":"assess"}`)
		h.reject("2024-03-12", "comply_with_concession", `{"kind":"assess"}`, Conflict, "")
		h.reject("2024-03-12", "comply_with_concession", `{"kind":"assess_final_plan"}`, Conflict, "")
		h.do("2024-04-15", "comply_with_concession", `{"kind":"assess_notice"}`)
		rows := rowsOf(h, "2024-05-01")
		for key, want := range map[string]ClockRow{
			"unopposed_compliance/assess_notice":       {Due: d("2024-03-25"), Stopped: d("2024-04-15"), Status: StatusLate},
			"unopposed_compliance/assess_not_to_issue": {Due: d("2024-05-20"), Status: StatusRunning},
			"unopposed_compliance/assess_final_plan":   {Due: d("2024-06-17"), Status: StatusRunning},
		} {
			if r := rows[key]; r.Due != want.Due || r.Stopped != want.Stopped || r.Status != want.Status {
				t.Errorf("%s = %+v, want due %s stopped %s %s", key, r, want.Due, want.Stopped, want.Status)
			}
		}
		h.reject("2024-04-16", "comply_with_concession", `{"kind":"assess_notice"}`, Conflict, "")
		h.reject("2024-04-16", "comply_with_concession", `{"kind":"placement"}`, Conflict, "")
	})
	t.Run("a concession before 23 March 2015 keeps reg 45 as made: 4 weeks", func(t *testing.T) {
		h := appealed(t, "2015-01-05").do("2015-03-02", "concede_appeal", `{"kind":"assess"}`).
			do("2015-03-20", "comply_with_concession", `{"kind":"assess"}`)
		rows := rowsOf(h, "2015-04-01")
		if r := rows["unopposed_compliance/assess"]; r.Due != d("2015-03-30") || r.Status != StatusMet {
			t.Fatalf("row %+v", r)
		}
		if _, ok := rows["unopposed_compliance/assess_notice"]; ok {
			t.Fatal("the 2015 text applied to a concession notified before it came into force")
		}
	})
	t.Run("placement with contents conceded too gives 5 weeks, alone 2", func(t *testing.T) {
		h := appealed(t, "2024-02-01").do("2024-03-11", "concede_appeal", `{"kind":"placement","with_contents":true}`)
		h.reject("2024-03-11", "concede_appeal", `{"kind":"contents","with_contents":true}`, Invalid, "data.with_contents")
		if r := rowsOf(h, "2024-03-12")["unopposed_compliance/placement"]; r.Due != d("2024-04-15") {
			t.Fatalf("row %+v", r)
		}
		h2 := appealed(t, "2024-02-01").do("2024-03-11", "concede_appeal", `{"kind":"placement"}`)
		if r := rowsOf(h2, "2024-03-12")["unopposed_compliance/placement"]; r.Due != d("2024-03-25") {
			t.Fatalf("row %+v", r)
		}
	})
}

func TestCoronavirusExceptionIsEffectiveDated(t *testing.T) {
	covid := func(from, to string) string {
		return `{"kind":"coronavirus","from":"` + from + `","to":"` + to + `","evidence":"EP service redeployed (SI 2020/471)"}`
	}
	for _, tc := range []struct {
		name, request, decided, from, to string
		excused                          bool
	}{
		{"a late decision due inside the window is excused", "2020-05-04", "2020-07-01", "2020-05-04", "2020-06-30", true},
		{"an exception recorded for days outside the window excuses nothing", "2020-01-06", "2020-03-01", "2020-01-06", "2020-02-28", false},
		{"a decision due after 25 September 2020 needs a person to confirm, not an automatic excuse", "2020-09-01", "2020-11-01", "2020-09-01", "2020-09-25", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory(t, DefaultRulebook).do(tc.request, "receive_request", request).
				do(tc.to, "record_exception", covid(tc.from, tc.to)).do(tc.decided, "decide_to_assess", "")
			r := rowsOf(h, tc.decided)["decide_to_assess/"]
			if r.Status != StatusLate || r.Excused != tc.excused {
				t.Fatalf("row %+v, want late, excused %v", r, tc.excused)
			}
			// A clock due after the window with the exception recorded inside
			// it is flagged for a person; one excused inside it is not.
			flagged := false
			for _, w := range h.cc.Warnings(d(tc.decided)) {
				flagged = flagged || (w.Clock == "decide_to_assess" && strings.Contains(w.Message, "a person must confirm"))
			}
			if want := tc.from == "2020-09-01"; flagged != want {
				t.Fatalf("flagged for a person: %v, want %v", flagged, want)
			}
		})
	}
	t.Run("the review's limits take no coronavirus exception outside the rules that name it", func(t *testing.T) {
		rb, _ := LookupRulebook(DefaultRulebook)
		for _, er := range rb.Clock("annual_review").Exceptions {
			if er.Kind == ExceptionCoronavirus {
				t.Fatal("s44(1) is an Act's limit, which the 2020 regulations did not relax")
			}
		}
	})
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
