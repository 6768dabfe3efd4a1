package domain

import "testing"

const reform = "reform-2023"

func TestReformPanelsComeBeforeDecisions(t *testing.T) {
	open := func(t *testing.T) *history {
		return newHistory(t, reform).do("2024-03-01", "receive_request", request)
	}
	t.Run("a decision without a panel view conflicts", func(t *testing.T) {
		open(t).reject("2024-04-01", "decide_to_assess", `{"panel_considered":true}`, Conflict, "")
	})
	t.Run("a decision must record that the view was considered", func(t *testing.T) {
		h := open(t).do("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":["education","health"]}`)
		h.reject("2024-04-01", "decide_to_assess", "", Invalid, "data.panel_considered")
		h.do("2024-04-01", "decide_to_assess", `{"panel_considered":true}`)
	})
	t.Run("departing from the panel needs a reason", func(t *testing.T) {
		h := open(t).do("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":["education","health","social_care"]}`)
		h.reject("2024-04-01", "refuse_assessment", `{"panel_considered":true}`, Invalid, "data.departure_reason")
		h.do("2024-04-01", "refuse_assessment", `{"panel_considered":true,"departure_reason":"needs met from the school's own resources"}`)
	})
	t.Run("bad panel data names the field", func(t *testing.T) {
		h := open(t)
		h.reject("2024-03-20", "panel_decision", `{"subject":"budget","recommendation":"x","agencies":["health"]}`, Invalid, "data.subject")
		h.reject("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"maybe","agencies":["health"]}`, Invalid, "data.recommendation")
		h.reject("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":[]}`, Invalid, "data.agencies")
		h.reject("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":["police"]}`, Invalid, "data.agencies")
	})
	t.Run("under current law the panel is optional", func(t *testing.T) {
		newHistory(t, DefaultRulebook).do("2024-03-01", "receive_request", request).do("2024-04-01", "decide_to_assess", "")
	})
}

// assessed is a reform case assessed and ready for a plan.
func assessed(t *testing.T) *history {
	return newHistory(t, reform).do("2024-03-01", "receive_request", request).
		do("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":["education","health","social_care"]}`).
		do("2024-04-01", "decide_to_assess", `{"panel_considered":true}`)
}

func TestReformTailoredList(t *testing.T) {
	list := `{"settings":[{"id":"M1","mainstream":true,"place_available":true},{"id":"SP1","mainstream":false,"place_available":true},{"id":"M2","mainstream":true,"place_available":false}]}`
	ranked := func(t *testing.T, order string) *history {
		return assessed(t).do("2024-06-01", "offer_tailored_list", list).do("2024-06-10", "express_preference", `{"order":`+order+`}`).
			do("2024-06-15", "panel_decision", `{"subject":"placement","recommendation":"M1","agencies":["education"]}`)
	}
	t.Run("the first preference with a place is named", func(t *testing.T) {
		ranked(t, `["M2","M1","SP1"]`).do("2024-06-20", "name_placement", `{"setting":"M1","panel_considered":true}`)
	})
	t.Run("passing over a mainstream preference needs a reason", func(t *testing.T) {
		h := ranked(t, `["M1","SP1"]`)
		h.reject("2024-06-20", "name_placement", `{"setting":"SP1","panel_considered":true,"departure_reason":"x"}`, Invalid, "data.incompatibility_reason")
		h.do("2024-06-20", "name_placement", `{"setting":"SP1","panel_considered":true,"departure_reason":"specialist provision needed","incompatibility_reason":"needs a specialist sensory setting"}`)
	})
	t.Run("a setting off the list or without a place is refused", func(t *testing.T) {
		h := ranked(t, `["M1"]`)
		h.reject("2024-06-20", "name_placement", `{"setting":"X9","panel_considered":true}`, Invalid, "data.setting")
		h.reject("2024-06-20", "name_placement", `{"setting":"M2","panel_considered":true,"incompatibility_reason":"x","departure_reason":"x"}`, Invalid, "data.setting")
	})
	t.Run("a funding band needs the panel's view on funding", func(t *testing.T) {
		h := ranked(t, `["M1"]`)
		h.reject("2024-06-20", "name_placement", `{"setting":"M1","panel_considered":true,"funding_band":"B3"}`, Conflict, "")
		h.do("2024-06-18", "panel_decision", `{"subject":"funding","recommendation":"B3","agencies":["education","health"]}`).
			do("2024-06-20", "name_placement", `{"setting":"M1","panel_considered":true,"funding_band":"B3","tariff":"T-2024-3"}`)
	})
	t.Run("preferences must come from the list", func(t *testing.T) {
		assessed(t).do("2024-06-01", "offer_tailored_list", list).reject("2024-06-10", "express_preference", `{"order":["Z1"]}`, Invalid, "data.order")
	})
	t.Run("current law has no tailored list", func(t *testing.T) {
		newHistory(t, DefaultRulebook).do("2024-03-01", "receive_request", request).do("2024-04-01", "decide_to_assess", "").
			reject("2024-06-01", "offer_tailored_list", list, Conflict, "")
	})
}

func TestReformMediationAndReviews(t *testing.T) {
	refused := func(t *testing.T, rb string) *history {
		h := newHistory(t, rb).do("2024-03-01", "receive_request", request).
			do("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"refuse","agencies":["education"]}`)
		return h.do("2024-04-01", "refuse_assessment", `{"panel_considered":true}`)
	}
	t.Run("a placement appeal needs mediation first", func(t *testing.T) {
		h := refused(t, reform)
		h.reject("2024-04-10", "lodge_appeal", `{"kind":"placement"}`, Conflict, "")
		h.reject("2024-04-10", "contact_mediation_adviser", `{"wants_mediation":false}`, Invalid, "data.wants_mediation")
		h.do("2024-04-10", "contact_mediation_adviser", `{"wants_mediation":true}`).do("2024-05-01", "hold_mediation", "").
			do("2024-05-02", "issue_mediation_certificate", "").do("2024-05-20", "lodge_appeal", `{"kind":"refusal_to_assess"}`)
	})
	t.Run("a review decision records whether step-down was considered", func(t *testing.T) {
		h := assessed(t).do("2024-05-01", "panel_decision", `{"subject":"issue","recommendation":"issue","agencies":["education"]}`).
			do("2024-05-02", "panel_decision", `{"subject":"provision","recommendation":"agree","agencies":["education"]}`).
			do("2024-05-10", "send_draft_plan", `{"panel_considered":true}`).
			do("2024-06-01", "issue_final_plan", `{"school":"S1","panel_considered":true}`)
		h.reject("2025-05-01", "notify_review_decision", `{"decision":"maintain"}`, Invalid, "data.step_down_considered")
		h.do("2025-05-01", "notify_review_decision", `{"decision":"maintain","step_down_considered":true}`)
	})
}

func TestReformAlternativeProvision(t *testing.T) {
	h := assessed(t).do("2024-05-01", "start_ap_placement", `{"setting":"AP1","tier":"dual_registered","planned_end":"2024-07-19"}`)
	h.reject("2024-05-02", "start_ap_placement", `{"setting":"AP1","tier":"dual_registered","planned_end":"2024-07-19"}`, Conflict, "")
	h.reject("2024-05-02", "start_ap_placement", `{"setting":"AP2","tier":"sometimes","planned_end":"2024-07-19"}`, Invalid, "data.tier")
	h.reject("2024-05-02", "start_ap_placement", `{"setting":"AP2","tier":"transitional","planned_end":"2024-05-01"}`, Invalid, "data.planned_end")
	h.do("2024-06-20", "review_ap_placement", `{"setting":"AP1"}`).do("2024-07-26", "end_ap_placement", `{"setting":"AP1","destination":"mainstream"}`)
	rows := rowsOf(h, "2024-08-01")
	if r := rows["ap_placement/AP1"]; r.Due != d("2024-07-19") || r.Status != StatusLate {
		t.Errorf("placement %+v", r)
	}
	if r := rows["ap_review/AP1"]; r.Due != d("2024-06-12") || r.Status != StatusLate {
		t.Errorf("review %+v", r)
	}
	newHistory(t, DefaultRulebook).do("2024-03-01", "receive_request", request).
		reject("2024-05-01", "start_ap_placement", `{"setting":"AP1","tier":"dual_registered","planned_end":"2024-07-19"}`, Conflict, "")
}

func TestWarningRules(t *testing.T) {
	weekly := WarningRule{Clock: "c", WithinWeeks: 6, Message: "m", Source: "s"}
	young := WarningRule{Clock: "c", UnderAge: 5, WithinMonths: 6, Message: "m", Source: "s"}
	rb := &Rulebook{ID: "test", Clocks: []ClockRule{{Name: "c"}}, Warnings: []WarningRule{weekly}}
	clock := func(started, stopped string) *Clock {
		c := &Clock{Name: "c", Key: "k", Started: d(started), Rule: &rb.Clocks[0], Book: rb}
		if stopped != "" {
			c.Stopped = d(stopped)
		}
		return c
	}
	t.Run("without an age limit the rule covers every child, even of unknown age", func(t *testing.T) {
		cc := CaseClocks{Clocks: []*Clock{clock("2024-05-01", "")}}
		if w := cc.Warnings(d("2024-06-12")); len(w) != 0 {
			t.Errorf("warned on the last day: %+v", w)
		}
		w := cc.Warnings(d("2024-06-13"))
		if len(w) != 1 || w[0].By != d("2024-06-12") || w[0].Key != "k" {
			t.Errorf("warnings %+v", w)
		}
	})
	t.Run("a clock stopped in time gives no warning; one stopped late does", func(t *testing.T) {
		cc := CaseClocks{Clocks: []*Clock{clock("2024-05-01", "2024-06-12")}}
		if w := cc.Warnings(d("2025-01-01")); len(w) != 0 {
			t.Errorf("warnings %+v", w)
		}
		cc = CaseClocks{Clocks: []*Clock{clock("2024-05-01", "2024-06-13")}}
		if w := cc.Warnings(d("2025-01-01")); len(w) != 1 {
			t.Errorf("warnings %+v", w)
		}
	})
	t.Run("an age limit covers only younger children", func(t *testing.T) {
		if !young.Applies(d("2020-01-01"), d("2024-12-31")) || young.Applies(d("2020-01-01"), d("2025-01-01")) || young.Applies(0, d("2024-01-01")) {
			t.Error("age limit misapplied")
		}
		if young.By(d("2024-01-31")) != d("2024-07-31") {
			t.Error(young.By(d("2024-01-31")))
		}
	})
	for name, w := range map[string]WarningRule{
		"a rule with both intervals is refused":   {Clock: "c", WithinWeeks: 6, WithinMonths: 2, Message: "m", Source: "s"},
		"a rule with no interval is refused":      {Clock: "c", Message: "m", Source: "s"},
		"a rule on an unknown clock is refused":   {Clock: "x", WithinWeeks: 6, Message: "m", Source: "s"},
		"a rule without its source is refused":    {Clock: "c", WithinWeeks: 6, Message: "m"},
		"a rule with a negative age is refused":   {Clock: "c", UnderAge: -1, WithinWeeks: 6, Message: "m", Source: "s"},
		"a rule with a negative weeks is refused": {Clock: "c", WithinWeeks: -6, Message: "m", Source: "s"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := w.check(rb); err == nil {
				t.Errorf("%+v accepted", w)
			}
		})
	}
	t.Run("shipped rules are accepted", func(t *testing.T) {
		for _, w := range []WarningRule{weekly, young} {
			if err := w.check(rb); err != nil {
				t.Error(err)
			}
		}
	})
}
