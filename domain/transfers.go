package domain

import (
	"sort"
	"strconv"
	"strings"
)

// Transfers between LAs (regs 15-17), concessions before a tribunal hearing
// (reg 45): events and commands. Their clocks are in the rulebooks.

// Event types of transfers and concessions.
const (
	TypeTransferredOut           = "plan_transfer_started"
	TypeTransferredIn            = "plan_transferred_in"
	TypeTransferDecisionNotified = "transfer_decision_notified"
	TypeAppealConceded           = "appeal_conceded"
	TypeConcessionComplied       = "concession_complied"
)

// TransferredOut records the old LA learning that the child moves to ToLA on
// MoveDate; it must transfer the plan by the move or within 15 working days.
type TransferredOut struct {
	ToLA     string `json:"to_la"`
	MoveDate Date   `json:"move_date"`
}

// TransferredIn records the new LA taking the plan over. LastReview is the
// date of the last review decision (or of the plan), from which the next
// review is counted.
type TransferredIn struct {
	FromLA     string `json:"from_la"`
	LastReview Date   `json:"last_review"`
}

// TransferDecisionNotified records the new LA telling the family whether it
// will reassess.
type TransferDecisionNotified struct {
	Reassess bool `json:"reassess"`
}

// AppealConceded records the LA telling the tribunal it will not oppose an
// appeal (reg 45), on the event's date, which picks the text of reg 45 in
// force. WithContents marks a placement concession that comes with a
// concession on the plan's contents (5 weeks, not 2, from 23 March 2015).
// Kind is the ground conceded (s51(2)): assess or reassess, contents or a
// refusal to amend, placement, refusal to issue, or cessation.
type AppealConceded struct {
	Kind         string `json:"kind" enum:"assess,contents,placement,refusal_to_issue,cessation"`
	WithContents bool   `json:"with_contents,omitempty"`
}

// ConcessionComplied records the LA doing one step of what it conceded: Kind
// names the step (the key of its unopposed_compliance clock, e.g.
// assess_notice, contents, draft_plan). Schema 1 events named the conceded
// kind, which was also the step's key.
type ConcessionComplied struct {
	Kind string `json:"kind"`
}

func (TransferredOut) EventType() string           { return TypeTransferredOut }
func (TransferredIn) EventType() string            { return TypeTransferredIn }
func (TransferDecisionNotified) EventType() string { return TypeTransferDecisionNotified }
func (AppealConceded) EventType() string           { return TypeAppealConceded }
func (ConcessionComplied) EventType() string       { return TypeConcessionComplied }

func (TransferredOut) SchemaVersion() int           { return 1 }
func (TransferredIn) SchemaVersion() int            { return 1 }
func (TransferDecisionNotified) SchemaVersion() int { return 1 }
func (AppealConceded) SchemaVersion() int           { return 1 }
func (ConcessionComplied) SchemaVersion() int       { return 1 }

func (e TransferredOut) Attr(n string) string {
	switch n {
	case "to_la":
		return e.ToLA
	case "move_date":
		return e.MoveDate.String()
	}
	return ""
}
func (e TransferredIn) Attr(n string) string {
	switch n {
	case "from_la":
		return e.FromLA
	case "last_review":
		return e.LastReview.String()
	}
	return ""
}
func (TransferDecisionNotified) Attr(string) string { return "" }
func (e AppealConceded) Attr(n string) string {
	switch n {
	case "kind":
		return e.Kind
	case "with_contents":
		return strconv.FormatBool(e.WithContents)
	}
	return ""
}
func (e ConcessionComplied) Attr(n string) string { return pick(n, "kind", e.Kind) }

func transferOut(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d TransferredOut
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := ValidateID("data.to_la", d.ToLA); err != nil {
		return nil, err
	}
	if d.MoveDate.IsZero() {
		return nil, FieldErrorf("data.move_date", "is required")
	}
	if err := c.mustHavePlan("transfer_out"); err != nil {
		return nil, err
	}
	if c.MovingTo != "" {
		return nil, conflictf("transfer_out: the plan is already being transferred to %s", c.MovingTo)
	}
	if d.ToLA == c.LA {
		return nil, FieldErrorf("data.to_la", "the case already belongs to %s", d.ToLA)
	}
	return []Event{&d}, nil
}

func transferIn(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	if err := cmd.decode(&noData{}); err != nil {
		return nil, err
	}
	if c.MovingTo == "" {
		return nil, conflictf("transfer_in: no transfer of this plan has been started (transfer_out)")
	}
	return []Event{&TransferredIn{FromLA: c.LA, LastReview: c.lastReviewOn}}, nil
}

func notifyTransferDecision(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d notifyTransferDecisionData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if d.Reassess == nil {
		return nil, FieldErrorf("data.reassess", "is required (true or false)")
	}
	if !c.transferDecisionDue {
		return nil, conflictf("notify_transfer_decision: no transferred plan awaits this decision")
	}
	return []Event{&TransferDecisionNotified{Reassess: *d.Reassess}}, nil
}

func concedeAppeal(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d AppealConceded
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if d.WithContents && d.Kind != "placement" {
		return nil, FieldErrorf("data.with_contents", "applies only to a placement concession")
	}
	if c.appeals == 0 {
		return nil, conflictf("concede_appeal: no appeal has been lodged")
	}
	for _, x := range c.conceded {
		if x.Kind == d.Kind {
			return nil, conflictf("concede_appeal: the LA has already conceded on %s", d.Kind)
		}
	}
	return []Event{&d}, nil
}

// concessionSteps lists the steps the LA's concessions ask of it, each the
// key of a clock the rulebook starts for the concession on its date (reg 45 as
// made, or as substituted from 23 March 2015), with whether it is done.
func (c *Case) concessionSteps(rb *Rulebook) map[string]bool {
	own := map[string]bool{} // steps stopped by their own events (a decision, the plan)
	if r := rb.Clock(unopposedClock); r != nil {
		for _, t := range r.Stops {
			if t.Key != "" {
				own[t.Key] = true
			}
		}
	}
	steps := map[string]bool{}
	for _, x := range c.conceded {
		for _, k := range rb.StartKeys(unopposedClock, &x.AppealConceded, x.on) {
			if !own[k] {
				steps[k] = c.concessionsDone[k]
			}
		}
	}
	return steps
}

// unopposedClock is the rulebook clock of reg 45.
const unopposedClock = "unopposed_compliance"

func complyWithConcession(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d ConcessionComplied
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := required("kind", d.Kind); err != nil {
		return nil, err
	}
	steps := c.concessionSteps(rb)
	done, ok := steps[d.Kind]
	if !ok {
		names := make([]string, 0, len(steps))
		for k := range steps {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, conflictf("comply_with_concession: no concession asks for the %s step (steps asked: %s)", d.Kind, strings.Join(names, ", "))
	}
	if done {
		return nil, conflictf("comply_with_concession: already complied on %s", d.Kind)
	}
	return []Event{&d}, nil
}

// notifyTransferDecisionData is the data of the command notifyTransferDecision decides.
type notifyTransferDecisionData struct {
	Reassess *bool `json:"reassess"`
}
