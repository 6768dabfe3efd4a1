package domain

import (
	"strings"
	"testing"
)

// The reform rulebooks: reform-2023 holds what the 2023 Improvement Plan
// committed to (advisory panels and lists, AP tiers); green-paper-2022 the
// Green Paper's proposals as proposed (statutory panels, a binding list,
// mandatory mediation, step-down recording).
const (
	reform     = "reform-2023"
	greenPaper = "green-paper-2022"
)

func opened(t *testing.T, rb string) *history {
	return newHistory(t, rb).do("2024-03-01", "receive_request", request)
}

func TestReformPanels(t *testing.T) {
	t.Run("green-paper-2022", func(t *testing.T) {
		t.Run("a decision without a panel view is refused", func(t *testing.T) {
			opened(t, greenPaper).reject("2024-04-01", "decide_to_assess", `{"panel_considered":true}`, Conflict, "")
		})
		t.Run("a decision not recording that the view was considered is refused", func(t *testing.T) {
			h := opened(t, greenPaper).do("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":["education","health"]}`)
			h.reject("2024-04-01", "decide_to_assess", "", Invalid, "data.panel_considered")
			h.do("2024-04-01", "decide_to_assess", `{"panel_considered":true}`)
		})
		t.Run("a departure from the panel without a reason is refused", func(t *testing.T) {
			h := opened(t, greenPaper).do("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":["education","health","social_care"]}`)
			h.reject("2024-04-01", "refuse_assessment", `{"panel_considered":true}`, Invalid, "data.departure_reason")
			h.do("2024-04-01", "refuse_assessment", `{"panel_considered":true,"departure_reason":"needs met from the school's own resources"}`)
		})
	})
	t.Run("reform-2023", func(t *testing.T) {
		t.Run("a decision without a panel is recorded", func(t *testing.T) {
			opened(t, reform).do("2024-04-01", "decide_to_assess", "")
		})
		t.Run("a decision departing from the panel without a reason is recorded", func(t *testing.T) {
			opened(t, reform).do("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":["education","parents"]}`).
				do("2024-04-01", "refuse_assessment", `{"panel_considered":true}`)
		})
		t.Run("a departure reason given is recorded", func(t *testing.T) {
			h := opened(t, reform).do("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":["education"]}`)
			evs, err := h.decide("2024-04-01", "refuse_assessment", `{"panel_considered":true,"departure_reason":"needs met at SEN support"}`)
			if err != nil {
				t.Fatal(err)
			}
			if r, ok := evs[0].(*AssessmentRefused); !ok || r.DepartureReason.Plain != "needs met at SEN support" || !r.PanelConsidered {
				t.Errorf("recorded %#v", evs[0])
			}
		})
		t.Run("a decision citing a panel view never given is refused", func(t *testing.T) {
			opened(t, reform).reject("2024-04-01", "decide_to_assess", `{"panel_considered":true}`, Conflict, "")
		})
	})
	t.Run("england-2014", func(t *testing.T) {
		t.Run("a decision without a panel is recorded", func(t *testing.T) {
			opened(t, DefaultRulebook).do("2024-04-01", "decide_to_assess", "")
		})
	})
	t.Run("panel data", func(t *testing.T) {
		t.Run("parents and a school may sit on a panel", func(t *testing.T) {
			opened(t, greenPaper).do("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":["education","health","social_care","school","parents"]}`)
		})
		t.Run("bad panel data is refused naming the field", func(t *testing.T) {
			h := opened(t, reform)
			h.reject("2024-03-20", "panel_decision", `{"subject":"budget","recommendation":"x","agencies":["health"]}`, Invalid, "data.subject")
			h.reject("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"maybe","agencies":["health"]}`, Invalid, "data.recommendation")
			h.reject("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":[]}`, Invalid, "data.agencies")
			h.reject("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":["police"]}`, Invalid, "data.agencies")
			h.reject("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":["parents","parents"]}`, Invalid, "data.agencies")
		})
	})
}

// assessed is a case of the rulebook assessed with the panel's agreement and
// ready for a plan.
func assessed(t *testing.T, rb string) *history {
	return opened(t, rb).
		do("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"assess","agencies":["education","health","social_care"]}`).
		do("2024-04-01", "decide_to_assess", `{"panel_considered":true}`)
}

const tailoredList = `{"settings":[{"id":"M1","mainstream":true,"place_available":true},{"id":"SP1","mainstream":false,"place_available":true},{"id":"M2","mainstream":true,"place_available":false}]}`

func ranked(t *testing.T, rb, order string) *history {
	return assessed(t, rb).do("2024-06-01", "offer_tailored_list", tailoredList).do("2024-06-10", "express_preference", `{"order":`+order+`}`).
		do("2024-06-15", "panel_decision", `{"subject":"placement","recommendation":"M1","agencies":["education","parents"]}`)
}

func TestReformTailoredList(t *testing.T) {
	t.Run("reform-2023 (advisory)", func(t *testing.T) {
		t.Run("the first preference with a place is named without a reason", func(t *testing.T) {
			ranked(t, reform, `["M2","M1","SP1"]`).do("2024-06-20", "name_placement", `{"setting":"M1"}`)
		})
		t.Run("another setting without a reason is refused", func(t *testing.T) {
			ranked(t, reform, `["M1","SP1"]`).reject("2024-06-20", "name_placement", `{"setting":"SP1"}`, Invalid, "data.preference_reason")
		})
		t.Run("another setting with a reason is named", func(t *testing.T) {
			h := ranked(t, reform, `["M1","SP1"]`)
			evs, err := h.decide("2024-06-20", "name_placement", `{"setting":"SP1","preference_reason":"the family's second choice is nearer the health team"}`)
			if err != nil {
				t.Fatal(err)
			}
			if p := evs[0].(*PlacementNamed); p.Mainstream || p.PreferenceReason.Plain == "" {
				t.Errorf("recorded %#v", p)
			}
		})
		t.Run("a setting off the list or without a place is named with a reason", func(t *testing.T) {
			ranked(t, reform, `["M1"]`).do("2024-06-20", "name_placement", `{"setting":"X9","mainstream":true,"preference_reason":"nearest school with the specialist unit"}`)
			ranked(t, reform, `["M1"]`).do("2024-06-20", "name_placement", `{"setting":"M2","preference_reason":"the school will make a place"}`)
		})
		t.Run("a preference off the list is recorded and counts as first", func(t *testing.T) {
			h := assessed(t, reform).do("2024-06-01", "offer_tailored_list", tailoredList).do("2024-06-10", "express_preference", `{"order":["Z1","M1"]}`)
			h.reject("2024-06-20", "name_placement", `{"setting":"M1"}`, Invalid, "data.preference_reason")
			h.do("2024-06-20", "name_placement", `{"setting":"Z1","mainstream":true}`)
		})
		t.Run("a placement named before the family ranks the list is recorded", func(t *testing.T) {
			assessed(t, reform).do("2024-06-01", "offer_tailored_list", tailoredList).do("2024-06-20", "name_placement", `{"setting":"SP1"}`)
		})
		t.Run("a funding band is named without a panel", func(t *testing.T) {
			ranked(t, reform, `["M1"]`).do("2024-06-20", "name_placement", `{"setting":"M1","funding_band":"B3","tariff":"T-2024-3"}`)
		})
	})
	t.Run("green-paper-2022 (binding)", func(t *testing.T) {
		t.Run("the first preference with a place is named", func(t *testing.T) {
			ranked(t, greenPaper, `["M2","M1","SP1"]`).do("2024-06-20", "name_placement", `{"setting":"M1","panel_considered":true}`)
		})
		t.Run("passing over a mainstream preference without the efficient-education reason is refused", func(t *testing.T) {
			h := ranked(t, greenPaper, `["M1","SP1"]`)
			h.reject("2024-06-20", "name_placement", `{"setting":"SP1","panel_considered":true,"departure_reason":"x","preference_reason":"x"}`, Invalid, "data.incompatibility_reason")
			h.do("2024-06-20", "name_placement", `{"setting":"SP1","panel_considered":true,"departure_reason":"specialist provision needed","incompatibility_reason":"the class would need a full-time adult taken from other pupils"}`)
		})
		t.Run("passing over a specialist preference with a place is refused", func(t *testing.T) {
			ranked(t, greenPaper, `["SP1","M1"]`).reject("2024-06-20", "name_placement", `{"setting":"M1","panel_considered":true,"incompatibility_reason":"x"}`, Invalid, "data.setting")
		})
		t.Run("a setting off the list or without a place is refused", func(t *testing.T) {
			h := ranked(t, greenPaper, `["M1"]`)
			h.reject("2024-06-20", "name_placement", `{"setting":"X9","panel_considered":true}`, Invalid, "data.setting")
			h.reject("2024-06-20", "name_placement", `{"setting":"M2","panel_considered":true,"incompatibility_reason":"x","departure_reason":"x"}`, Invalid, "data.setting")
		})
		t.Run("a placement before the family ranks the list is refused", func(t *testing.T) {
			assessed(t, greenPaper).do("2024-06-01", "offer_tailored_list", tailoredList).
				reject("2024-06-20", "name_placement", `{"setting":"M1","panel_considered":true}`, Conflict, "")
		})
		t.Run("a preference off the list is refused", func(t *testing.T) {
			assessed(t, greenPaper).do("2024-06-01", "offer_tailored_list", tailoredList).reject("2024-06-10", "express_preference", `{"order":["Z1"]}`, Invalid, "data.order")
		})
		t.Run("a funding band without the panel's view on funding is refused", func(t *testing.T) {
			h := ranked(t, greenPaper, `["M1"]`)
			h.reject("2024-06-20", "name_placement", `{"setting":"M1","panel_considered":true,"funding_band":"B3"}`, Conflict, "")
			h.do("2024-06-18", "panel_decision", `{"subject":"funding","recommendation":"B3","agencies":["education","health"]}`).
				do("2024-06-20", "name_placement", `{"setting":"M1","panel_considered":true,"funding_band":"B3","tariff":"T-2024-3"}`)
		})
	})
	t.Run("england-2014", func(t *testing.T) {
		t.Run("a tailored list is refused", func(t *testing.T) {
			opened(t, DefaultRulebook).do("2024-04-01", "decide_to_assess", "").
				reject("2024-06-01", "offer_tailored_list", tailoredList, Conflict, "")
		})
	})
}

// refused is a case of the rulebook whose assessment was refused.
func refused(t *testing.T, rb string) *history {
	return opened(t, rb).
		do("2024-03-20", "panel_decision", `{"subject":"request","recommendation":"refuse","agencies":["education"]}`).
		do("2024-04-01", "refuse_assessment", `{"panel_considered":true}`)
}

func TestReformMediation(t *testing.T) {
	t.Run("green-paper-2022", func(t *testing.T) {
		t.Run("a placement appeal without mediation is refused", func(t *testing.T) {
			refused(t, greenPaper).reject("2024-04-10", "lodge_appeal", `{"kind":"placement"}`, Conflict, "")
		})
		t.Run("declining mediation is refused", func(t *testing.T) {
			refused(t, greenPaper).reject("2024-04-10", "contact_mediation_adviser", `{"wants_mediation":false}`, Invalid, "data.wants_mediation")
		})
		t.Run("an appeal after mediation is lodged", func(t *testing.T) {
			refused(t, greenPaper).do("2024-04-10", "contact_mediation_adviser", `{"wants_mediation":true}`).do("2024-05-01", "hold_mediation", "").
				do("2024-05-02", "issue_mediation_certificate", "").do("2024-05-20", "lodge_appeal", `{"kind":"refusal_to_assess"}`)
		})
	})
	t.Run("reform-2023", func(t *testing.T) {
		t.Run("a placement appeal without mediation is lodged", func(t *testing.T) {
			refused(t, reform).do("2024-04-10", "lodge_appeal", `{"kind":"placement"}`)
		})
		t.Run("an appeal after declining mediation is lodged", func(t *testing.T) {
			refused(t, reform).do("2024-04-10", "contact_mediation_adviser", `{"wants_mediation":false}`).
				do("2024-04-12", "issue_mediation_certificate", "").do("2024-04-20", "lodge_appeal", `{"kind":"refusal_to_assess"}`)
		})
		t.Run("another appeal without a certificate is refused, as under current law", func(t *testing.T) {
			refused(t, reform).reject("2024-04-10", "lodge_appeal", `{"kind":"refusal_to_assess"}`, Conflict, "")
		})
	})
}

// planned is a case of the rulebook with its first plan issued.
func planned(t *testing.T, rb string) *history {
	return assessed(t, rb).do("2024-05-01", "panel_decision", `{"subject":"issue","recommendation":"issue","agencies":["education"]}`).
		do("2024-05-02", "panel_decision", `{"subject":"provision","recommendation":"agree","agencies":["education"]}`).
		do("2024-05-10", "send_draft_plan", `{"panel_considered":true}`).
		do("2024-06-01", "issue_final_plan", `{"school":"S1","panel_considered":true}`)
}

func TestReformStepDown(t *testing.T) {
	t.Run("green-paper-2022", func(t *testing.T) {
		t.Run("a review decision without step-down recorded is refused", func(t *testing.T) {
			h := planned(t, greenPaper)
			h.reject("2025-05-01", "notify_review_decision", `{"decision":"maintain"}`, Invalid, "data.step_down_considered")
			h.do("2025-05-01", "notify_review_decision", `{"decision":"maintain","step_down_considered":true}`)
		})
	})
	t.Run("reform-2023", func(t *testing.T) {
		t.Run("a review decision without step-down recorded is accepted", func(t *testing.T) {
			planned(t, reform).do("2025-05-01", "notify_review_decision", `{"decision":"maintain"}`)
		})
	})
}

func TestReformAlternativeProvision(t *testing.T) {
	for _, rb := range []string{reform, greenPaper} {
		t.Run(rb, func(t *testing.T) {
			t.Run("a time-limited placement runs to its planned end; reviews start no clock", func(t *testing.T) {
				h := assessed(t, rb).do("2024-05-01", "start_ap_placement", `{"setting":"AP1","tier":"dual_registered","planned_end":"2024-07-19"}`).
					do("2024-06-20", "review_ap_placement", `{"setting":"AP1"}`).do("2024-07-26", "end_ap_placement", `{"setting":"AP1","destination":"mainstream"}`)
				rows := rowsOf(h, "2024-08-01")
				if r := rows["ap_placement/AP1"]; r.Due != d("2024-07-19") || r.Status != StatusLate {
					t.Errorf("placement %+v", r)
				}
				for k := range rows {
					if strings.HasPrefix(k, "ap_review") {
						t.Errorf("an AP review interval has no statutory basis, yet clock %s runs", k)
					}
				}
			})
			t.Run("bad placements are refused naming the field", func(t *testing.T) {
				h := assessed(t, rb).do("2024-05-01", "start_ap_placement", `{"setting":"AP1","tier":"dual_registered","planned_end":"2024-07-19"}`)
				h.reject("2024-05-02", "start_ap_placement", `{"setting":"AP1","tier":"dual_registered","planned_end":"2024-07-19"}`, Conflict, "")
				h.reject("2024-05-02", "start_ap_placement", `{"setting":"AP2","tier":"sometimes","planned_end":"2024-07-19"}`, Invalid, "data.tier")
				h.reject("2024-05-02", "start_ap_placement", `{"setting":"AP2","tier":"transitional","planned_end":"2024-05-01"}`, Invalid, "data.planned_end")
			})
			t.Run("a time-limited placement without a planned end is refused", func(t *testing.T) {
				assessed(t, rb).reject("2024-05-01", "start_ap_placement", `{"setting":"AP1","tier":"dual_registered"}`, Invalid, "data.planned_end")
			})
			t.Run("targeted support and transitional placements start no clock", func(t *testing.T) {
				h := assessed(t, rb).do("2024-05-01", "start_ap_placement", `{"setting":"S1","tier":"targeted_support"}`).
					do("2024-05-01", "start_ap_placement", `{"setting":"AP3","tier":"transitional"}`).
					do("2024-05-02", "start_ap_placement", `{"setting":"AP4","tier":"transitional","planned_end":"2025-07-18"}`)
				for k := range rowsOf(h, "2025-09-01") {
					if strings.HasPrefix(k, "ap_") {
						t.Errorf("clock %s runs", k)
					}
				}
			})
		})
	}
	t.Run("england-2014", func(t *testing.T) {
		t.Run("an AP placement is refused", func(t *testing.T) {
			opened(t, DefaultRulebook).
				reject("2024-05-01", "start_ap_placement", `{"setting":"AP1","tier":"dual_registered","planned_end":"2024-07-19"}`, Conflict, "")
		})
	})
}

func TestReformRulebookFeatures(t *testing.T) {
	want := map[string][]string{
		DefaultRulebook: nil,
		reform:          {featureAP, featurePanels, featureTailoredList},
		greenPaper: {featureAP, featureMandatoryMediation, featurePanels, featurePanelsMandatory,
			featureStepDown, featureTailoredList, featureTailoredListBinding},
	}
	for id, names := range want {
		t.Run(id+" names exactly its features", func(t *testing.T) {
			rb, err := LookupRulebook(id)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for f := range rb.Features {
				got = append(got, f)
			}
			if strings.Join(sortedStrings(got), ",") != strings.Join(names, ",") {
				t.Errorf("features %v, want %v", sortedStrings(got), names)
			}
		})
	}
	t.Run("reform-2023 has no AP review clock", func(t *testing.T) {
		rb, _ := LookupRulebook(reform)
		if rb.Clock("ap_review") != nil {
			t.Error("ap_review is a clock of reform-2023")
		}
	})
	for name, f := range map[string]map[string]bool{
		"an unknown feature is refused":                   {"panels": true, "panel": true},
		"a feature written false is refused":              {"panels": false},
		"a binding list without the list is refused":      {"tailored_list_binding": true},
		"mandatory panels without panels are refused":     {"panels_mandatory": true, "tailored_list": true},
		"mandatory mediation misspelt is refused":         {"mediation_mandatory": true},
		"an unknown feature beside known ones is refused": {"alternative_provision": true, "ap_review_interval": true},
	} {
		t.Run(name, func(t *testing.T) {
			if err := checkFeatures(f); err == nil {
				t.Errorf("%v accepted", f)
			}
		})
	}
	t.Run("every shipped combination is accepted", func(t *testing.T) {
		for _, id := range RulebookIDs() {
			rb, _ := LookupRulebook(id)
			if err := checkFeatures(rb.Features); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}
	})
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
