// Package randhist makes random command sequences in the scenario vocabulary,
// for the fuzz and property tests: most are plausible, many are out of order,
// some carry bad data, so that both acceptance and rejection paths are
// exercised.
package randhist

import (
	"encoding/json"
	"math/rand/v2"

	"github.com/ehcledger/ehcledger/domain"
)

// Step is one random command: its name, data, and the days since the
// previous step.
type Step struct {
	Command string
	Data    json.RawMessage
	After   int
}

// variants are data beyond each command's example worth trying: other
// kinds, and data the domain must refuse.
func variants() map[string][]string {
	return map[string][]string{
		"receive_request":               {`{"requester":"parent","birth_date":"2015-05-01"}`, `{"requester":"school","birth_date":"2021-01-01"}`, `{"requester":"nobody"}`},
		"become_responsible":            {`{"route":"health_body","birth_date":"2022-05-01"}`, `{"route":"x"}`},
		"request_school_information":    {`{"school":"S1"}`, `{}`},
		"correct_step":                  {`{"version":1,"on":"2024-01-02","data":{"requester":"school","forename":"A","birth_date":"2016-01-01"},"reason":"r"}`, `{"version":2,"on":"2024-01-20","reason":"r"}`, `{"version":3,"void":true,"reason":"r"}`},
		"request_reassessment":          {`{"requester":"parent"}`, `{"requester":"x"}`},
		"decide_to_reassess":            {``},
		"refuse_reassessment":           {``},
		"send_reassessment_draft":       {``},
		"issue_reassessed_plan":         {`{"outcome":"amended","school":"S2"}`, `{"outcome":"x"}`},
		"keep_plan_after_reassessment":  {``},
		"decide_to_assess":              {``, `{"panel_considered":true}`, `{"panel_considered":true,"departure_reason":"x"}`},
		"refuse_assessment":             {``, `{"panel_considered":true,"departure_reason":"x"}`},
		"request_advice":                {`{"advice":"health"}`, `{"advice":"education","school":"S1"}`, `{}`},
		"receive_advice":                {`{"advice":"health"}`, `{"advice":"education"}`},
		"record_exception":              {`{"kind":"absence","from":"2024-01-01","to":"2024-03-01","evidence":"e"}`, `{"kind":"personal_circumstances","from":"2024-02-01","to":"2024-02-10","evidence":"e"}`, `{"kind":"x"}`},
		"decide_not_to_issue":           {``, `{"panel_considered":true}`},
		"send_draft_plan":               {``, `{"panel_considered":true}`},
		"receive_representations":       {``},
		"consult_school":                {`{"school":"S1"}`, `{"school":"S2"}`},
		"receive_school_response":       {`{"school":"S1"}`},
		"issue_final_plan":              {`{"school":"S1"}`, `{"school":"S1","panel_considered":true,"departure_reason":"x"}`},
		"hold_review_meeting":           {``},
		"send_review_report":            {``},
		"notify_review_decision":        {`{"decision":"maintain","step_down_considered":true}`, `{"decision":"amend"}`, `{"decision":"cease","step_down_considered":false}`},
		"send_proposed_amendments":      {``},
		"issue_amended_plan":            {``},
		"schedule_phase_transfer":       {`{"year":2025,"kind":"school"}`, `{"year":2025,"kind":"post16"}`},
		"name_transfer_setting":         {`{"school":"S3"}`},
		"contact_mediation_adviser":     {`{"wants_mediation":true}`, `{"wants_mediation":false}`},
		"hold_mediation":                {``},
		"notify_mediation_not_arranged": {``},
		"issue_mediation_certificate":   {``},
		"lodge_appeal":                  {`{"kind":"refusal_to_assess"}`, `{"kind":"placement"}`},
		"tribunal_order":                {`{"order":"assess"}`, `{"order":"issue_plan"}`, `{"order":"maintain"}`, `{"order":"maintain_unchanged"}`, `{"order":"refer_back"}`, `{"order":"dismiss"}`},
		"cease_plan":                    {``},
		"comply_with_order":             {`{"step":"assess_notice"}`, `{"step":"final_plan"}`, `{"step":"draft_plan"}`},
		"panel_decision":                {`{"subject":"request","recommendation":"assess","agencies":["education"]}`, `{"subject":"issue","recommendation":"issue","agencies":["health"]}`, `{"subject":"provision","recommendation":"agree","agencies":["education"]}`},
		"start_ap_placement":            {`{"setting":"AP1","tier":"dual_registered","planned_end":"2026-07-01"}`},
		"end_ap_placement":              {`{"setting":"AP1","destination":"mainstream"}`},
		"concede_appeal":                {`{"kind":"assess"}`, `{"kind":"placement","with_contents":true}`},
		"comply_with_concession":        {`{"kind":"assess_notice"}`, `{"kind":"assess"}`},
		"transfer_out":                  {`{"to_la":"E09000099","move_date":"2025-01-01"}`},
		"transfer_in":                   {``},
	}
}

// template is a command of the catalog with the data to try with it.
type template struct {
	command string
	data    []string
}

// templates draws the commands from the domain's catalog: every case
// command, with its example, its variants, and no data at all.
func templates() []template {
	more := variants()
	var out []template
	for _, spec := range domain.Commands() {
		if spec.Scope != domain.ScopeCase {
			continue
		}
		data := append([]string{spec.Example}, more[spec.Name]...)
		out = append(out, template{command: spec.Name, data: data})
	}
	return out
}

// Next returns a random step.
func Next(r *rand.Rand) Step {
	ts := templates()
	t := ts[r.IntN(len(ts))]
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
		out = append(out, Step{Command: "receive_request", Data: json.RawMessage(variants()["receive_request"][r.IntN(2)])})
	}
	for i := 0; i < n; i++ {
		out = append(out, Next(r))
	}
	return out
}
