package projections

import (
	"fmt"

	"github.com/ehcledger/ehcledger/domain"
)

// nextSteps says, for each clock, what the LA (or the family, for their
// windows) must do next to stop it.
var nextSteps = map[string]string{
	"decide_to_assess":         "decide whether to assess (decide_to_assess or refuse_assessment)",
	"decision_not_to_issue":    "decide whether to issue a plan (send_draft_plan or decide_not_to_issue)",
	"final_plan":               "issue the final plan",
	"advice":                   "obtain the %s advice",
	"draft_comments":           "wait for the family's comments on the draft (15 days)",
	"school_consultation":      "obtain %s's response to the consultation",
	"annual_review":            "hold review %s and notify the decision",
	"review_report":            "send the report of review %s",
	"review_decision":          "notify the decision of review %s",
	"amended_plan":             "issue the amended plan",
	"phase_transfer":           "name the setting for the phase transfer",
	"mediation":                "hold the mediation",
	"mediation_certificate":    "issue the mediation certificate",
	"appeal_window":            "the family may appeal until the due date",
	"order_compliance":         "comply with the tribunal order: %s",
	"unopposed_compliance":     "do what was conceded: %s",
	"transfer_plan":            "transfer the plan to the new LA",
	"transfer_reassess_notice": "tell the family whether the new LA will reassess",
	"transfer_review":          "review the transferred plan",
	"ap_placement":             "end or review the AP placement at %s by its planned end",
}

// NextStep describes the statutory step that stops clock k.
func (m *Model) NextStep(c *CaseModel, k *domain.Clock) string {
	s, ok := nextSteps[k.Name]
	if !ok {
		return k.Name
	}
	if k.Name == "final_plan" && !m.StepStarted(c, k) {
		return "send the draft plan, then issue the final plan"
	}
	if k.Key != "" && containsVerb(s) {
		return fmt.Sprintf(s, k.Key)
	}
	return s
}

func containsVerb(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '%' && s[i+1] == 's' {
			return true
		}
	}
	return false
}

// startedBy names, for clocks whose work has a visible first step, the event
// that shows the work has begun: a final plan follows a draft, a review
// decision follows the review meeting.
var startedBy = map[string]string{
	"final_plan":      domain.TypeDraftPlanSent,
	"annual_review":   domain.TypeReviewMeetingHeld,
	"review_decision": domain.TypeReviewReportSent,
	"amended_plan":    domain.TypeAmendmentsProposed,
}

// StepStarted reports whether the work that stops clock k has visibly begun
// since the clock started. Clocks stopped by a single act have no such step.
func (m *Model) StepStarted(c *CaseModel, k *domain.Clock) bool {
	t, ok := startedBy[k.Name]
	if !ok {
		return false
	}
	for _, mk := range c.marks {
		if mk.on < k.Started || markKinds[mk.kind()].typ != t {
			continue
		}
		if review := m.strs.items[mk.label()]; k.Key == "" || review == "" || review == k.Key {
			return true
		}
	}
	return false
}
