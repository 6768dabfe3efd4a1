// Package randhist makes random command sequences in the scenario vocabulary,
// for the fuzz and property tests: most are plausible, many are out of order,
// some carry bad data, so that both acceptance and rejection paths are
// exercised.
package randhist

import (
	"encoding/json"
	"math/rand/v2"
)

// Step is one random command: its name, data, and the days since the
// previous step.
type Step struct {
	Command string
	Data    json.RawMessage
	After   int
}

var templates = []struct {
	command string
	data    []string
}{
	{"receive_request", []string{`{"requester":"parent","birth_date":"2015-05-01"}`, `{"requester":"school","birth_date":"2021-01-01"}`, `{"requester":"nobody"}`}},
	{"become_responsible", []string{`{"route":"health_body","birth_date":"2022-05-01"}`, `{"route":"x"}`}},
	{"request_school_information", []string{`{"school":"S1"}`, `{}`}},
	{"correct_step", []string{`{"version":1,"on":"2024-01-02","data":{"requester":"school","forename":"A","birth_date":"2016-01-01"},"reason":"r"}`}},
	{"request_reassessment", []string{`{"requester":"parent"}`, `{"requester":"x"}`}},
	{"decide_to_reassess", []string{``}},
	{"refuse_reassessment", []string{``}},
	{"send_reassessment_draft", []string{``}},
	{"issue_reassessed_plan", []string{`{"outcome":"amended","school":"S2"}`, `{"outcome":"x"}`}},
	{"keep_plan_after_reassessment", []string{``}},
	{"decide_to_assess", []string{``, `{"panel_considered":true}`, `{"panel_considered":true,"departure_reason":"x"}`}},
	{"refuse_assessment", []string{``, `{"panel_considered":true,"departure_reason":"x"}`}},
	{"request_advice", []string{`{"advice":"health"}`, `{"advice":"education","school":"S1"}`, `{}`}},
	{"receive_advice", []string{`{"advice":"health"}`, `{"advice":"education"}`}},
	{"record_exception", []string{`{"kind":"absence","from":"2024-01-01","to":"2024-03-01","evidence":"e"}`, `{"kind":"personal_circumstances","from":"2024-02-01","to":"2024-02-10","evidence":"e"}`, `{"kind":"x"}`}},
	{"decide_not_to_issue", []string{``, `{"panel_considered":true}`}},
	{"send_draft_plan", []string{``, `{"panel_considered":true}`}},
	{"receive_representations", []string{``}},
	{"consult_school", []string{`{"school":"S1"}`, `{"school":"S2"}`}},
	{"receive_school_response", []string{`{"school":"S1"}`}},
	{"issue_final_plan", []string{`{"school":"S1"}`, `{"school":"S1","panel_considered":true,"departure_reason":"x"}`}},
	{"hold_review_meeting", []string{``}},
	{"send_review_report", []string{``}},
	{"notify_review_decision", []string{`{"decision":"maintain","step_down_considered":true}`, `{"decision":"amend"}`, `{"decision":"cease","step_down_considered":false}`}},
	{"send_proposed_amendments", []string{``}},
	{"issue_amended_plan", []string{``}},
	{"schedule_phase_transfer", []string{`{"year":2025,"kind":"school"}`, `{"year":2025,"kind":"post16"}`}},
	{"name_transfer_setting", []string{`{"school":"S3"}`}},
	{"contact_mediation_adviser", []string{`{"wants_mediation":true}`, `{"wants_mediation":false}`}},
	{"hold_mediation", []string{``}},
	{"notify_mediation_not_arranged", []string{``}},
	{"issue_mediation_certificate", []string{``}},
	{"lodge_appeal", []string{`{"kind":"refusal_to_assess"}`, `{"kind":"placement"}`}},
	{"tribunal_order", []string{`{"order":"assess"}`, `{"order":"issue_plan"}`, `{"order":"maintain"}`, `{"order":"maintain_unchanged"}`, `{"order":"refer_back"}`, `{"order":"dismiss"}`}},
	{"cease_plan", []string{``}},
	{"comply_with_order", []string{`{"step":"assess_notice"}`, `{"step":"final_plan"}`, `{"step":"draft_plan"}`}},
	{"panel_decision", []string{`{"subject":"request","recommendation":"assess","agencies":["education"]}`, `{"subject":"issue","recommendation":"issue","agencies":["health"]}`, `{"subject":"provision","recommendation":"agree","agencies":["education"]}`}},
	{"start_ap_placement", []string{`{"setting":"AP1","tier":"dual_registered","planned_end":"2026-07-01"}`}},
	{"end_ap_placement", []string{`{"setting":"AP1","destination":"mainstream"}`}},
	{"concede_appeal", []string{`{"kind":"assess"}`, `{"kind":"placement","with_contents":true}`}},
	{"comply_with_concession", []string{`{"kind":"assess_notice"}`, `{"kind":"assess"}`}},
	{"transfer_out", []string{`{"to_la":"E09000099","move_date":"2025-01-01"}`}},
	{"transfer_in", []string{``}},
	{"correct_step", []string{`{"version":2,"on":"2024-01-20","reason":"r"}`, `{"version":3,"void":true,"reason":"r"}`}},
}

// Next returns a random step.
func Next(r *rand.Rand) Step {
	t := templates[r.IntN(len(templates))]
	d := t.data[r.IntN(len(t.data))]
	s := Step{Command: t.command, After: r.IntN(30)}
	if d != "" {
		s.Data = json.RawMessage(d)
	}
	return s
}

// Sequence returns n random steps, starting with a request most of the time.
func Sequence(r *rand.Rand, n int) []Step {
	out := make([]Step, 0, n+1)
	if r.IntN(10) > 0 {
		out = append(out, Step{Command: "receive_request", Data: json.RawMessage(templates[0].data[r.IntN(2)])})
	}
	for i := 0; i < n; i++ {
		out = append(out, Next(r))
	}
	return out
}
