package domain

// Reassessment of a child or young person with a plan (s44(2)-(3), regs
// 24-27): events and commands. Their clocks are in the rulebooks.

// Event types of the reassessment track.
const (
	TypeReassessmentRequested     = "reassessment_requested"
	TypeReassessmentAgreed        = "reassessment_agreed"
	TypeReassessmentRefused       = "reassessment_refused"
	TypeReassessmentDraftSent     = "reassessment_draft_sent"
	TypeReassessedPlanIssued      = "reassessed_plan_issued"
	TypePlanKeptAfterReassessment = "plan_kept_after_reassessment"
)

// ReassessmentRequested records a request to reassess the child or young
// person's needs (s44(2); reg 24): from the parent, the young person, the
// school or college, or the health commissioning body. The LA must say
// within 15 days whether it will reassess (reg 25(1) [secondary]).
type ReassessmentRequested struct {
	Requester string `json:"requester"`
}

// ReassessmentAgreed records the LA's decision that a reassessment is
// necessary: after a request (notified under reg 25(1)) or on its own
// initiative (s44(3), OwnInitiative). The finalised plan is due within 14
// weeks of it (reg 27(2)).
type ReassessmentAgreed struct {
	OwnInitiative bool `json:"own_initiative,omitempty"`
}

// ReassessmentRefused records the LA's decision not to reassess after a
// request: appealable (s51(2)(d)).
type ReassessmentRefused struct{}

// ReassessmentDraftSent records the draft of the amended or replaced plan
// sent after a reassessment: the family has 15 days, beginning with the day
// it is served, to comment (reg 27(1) applying reg 13(1)).
type ReassessmentDraftSent struct{}

// ReassessedPlanIssued records the finalised plan after a reassessment, the
// plan amended or replaced (Outcome), naming School (reg 27(1), (2)).
type ReassessedPlanIssued struct {
	Outcome string `json:"outcome"`
	School  string `json:"school"`
}

// PlanKeptAfterReassessment records the LA deciding, after a reassessment,
// not to amend the plan: appealable (s51(2)(e)).
type PlanKeptAfterReassessment struct{}

func (ReassessmentRequested) EventType() string     { return TypeReassessmentRequested }
func (ReassessmentAgreed) EventType() string        { return TypeReassessmentAgreed }
func (ReassessmentRefused) EventType() string       { return TypeReassessmentRefused }
func (ReassessmentDraftSent) EventType() string     { return TypeReassessmentDraftSent }
func (ReassessedPlanIssued) EventType() string      { return TypeReassessedPlanIssued }
func (PlanKeptAfterReassessment) EventType() string { return TypePlanKeptAfterReassessment }

func (ReassessmentRequested) SchemaVersion() int     { return 1 }
func (ReassessmentAgreed) SchemaVersion() int        { return 1 }
func (ReassessmentRefused) SchemaVersion() int       { return 1 }
func (ReassessmentDraftSent) SchemaVersion() int     { return 1 }
func (ReassessedPlanIssued) SchemaVersion() int      { return 1 }
func (PlanKeptAfterReassessment) SchemaVersion() int { return 1 }

func (e ReassessmentRequested) Attr(n string) string { return pick(n, "requester", e.Requester) }
func (e ReassessmentAgreed) Attr(n string) string {
	if n == "own_initiative" && e.OwnInitiative {
		return "true"
	}
	return ""
}
func (ReassessmentRefused) Attr(string) string   { return "" }
func (ReassessmentDraftSent) Attr(string) string { return "" }
func (e ReassessedPlanIssued) Attr(n string) string {
	switch n {
	case "outcome":
		return e.Outcome
	case "school":
		return e.School
	}
	return ""
}
func (PlanKeptAfterReassessment) Attr(string) string { return "" }

// reassessing is the state of a case's reassessment track.
type reassessing struct {
	requested bool // a request awaits the LA's decision
	active    bool // the LA decided to reassess; no outcome yet
	draftSent bool
	draftOn   Date
	reps      bool // the family's representations on the draft came
}

func requestReassessment(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d requestReassessmentData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if err := c.mustHavePlan("request_reassessment"); err != nil {
		return nil, err
	}
	switch {
	case c.re.requested:
		return nil, conflictf("request_reassessment: a request to reassess already awaits a decision")
	case c.re.active:
		return nil, conflictf("request_reassessment: a reassessment is already under way")
	}
	return []Event{&ReassessmentRequested{Requester: d.Requester}}, nil
}

func issueReassessedPlan(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d issueReassessedPlanData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if err := required("school", d.School); err != nil {
		return nil, err
	}
	if err := c.mustBeReassessing("issue_reassessed_plan"); err != nil {
		return nil, err
	}
	// Reg 27(1) applies reg 13(1) and s38: a draft first, and the family's
	// 15 days to comment on it.
	if err := mayFinalise("issue_reassessed_plan", cmd.On, c.re.draftSent, c.re.draftOn, c.re.reps); err != nil {
		return nil, err
	}
	return []Event{&ReassessedPlanIssued{Outcome: d.Outcome, School: d.School}}, nil
}

func (c *Case) mustBeReassessing(step string) error {
	if err := c.mustHavePlan(step); err != nil {
		return err
	}
	if !c.re.active {
		return conflictf("%s: the LA has not decided to reassess", step)
	}
	return nil
}

// applyReassessment changes the reassessment state for one of its events.
func (c *Case) applyReassessment(e Event, on Date) {
	switch e.(type) {
	case *ReassessmentRequested:
		c.re.requested = true
	case *ReassessmentAgreed:
		c.re = reassessing{active: true}
		// A reassessment seeks advice afresh (reg 26 applies regs 6-9).
		c.advice = map[string]bool{}
	case *ReassessmentRefused:
		c.re.requested = false
		c.openAppealWindow()
	case *ReassessmentDraftSent:
		c.re.draftSent, c.re.draftOn = true, on
	case *ReassessedPlanIssued, *PlanKeptAfterReassessment:
		c.re = reassessing{}
		c.openAppealWindow()
	}
}

// requestReassessmentData is the data of the command requestReassessment decides.
type requestReassessmentData struct {
	Requester string `json:"requester" enum:"parent,young_person,school,health_body"`
}

// issueReassessedPlanData is the data of the command issueReassessedPlan decides.
type issueReassessedPlanData struct {
	Outcome string `json:"outcome" enum:"amended,replaced"`
	School  string `json:"school"`
}

// decideToReassess decides decide_to_reassess.
func decideToReassess(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return simple(func(c *Case) error {
		if err := c.mustHavePlan("decide_to_reassess"); err != nil {
			return err
		}
		if c.re.active {
			return conflictf("decide_to_reassess: a reassessment is already under way")
		}
		return nil
	}, func(c *Case) Event { return &ReassessmentAgreed{OwnInitiative: !c.re.requested} })(c, cmd, rb)
}

// refuseReassessment decides refuse_reassessment.
func refuseReassessment(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return simple(func(c *Case) error {
		if err := c.mustHavePlan("refuse_reassessment"); err != nil {
			return err
		}
		if !c.re.requested {
			return conflictf("refuse_reassessment: no request to reassess awaits a decision")
		}
		return nil
	}, func(*Case) Event { return &ReassessmentRefused{} })(c, cmd, rb)
}

// sendReassessmentDraft decides send_reassessment_draft.
func sendReassessmentDraft(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return simple(func(c *Case) error {
		if err := c.mustBeReassessing("send_reassessment_draft"); err != nil {
			return err
		}
		if c.re.draftSent {
			return conflictf("send_reassessment_draft: the draft has already been sent")
		}
		return nil
	}, func(*Case) Event { return &ReassessmentDraftSent{} })(c, cmd, rb)
}

// keepPlanAfterReassessment decides keep_plan_after_reassessment.
func keepPlanAfterReassessment(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return simple(func(c *Case) error {
		return c.mustBeReassessing("keep_plan_after_reassessment")
	}, func(*Case) Event { return &PlanKeptAfterReassessment{} })(c, cmd, rb)
}
