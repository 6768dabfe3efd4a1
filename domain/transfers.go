package domain

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
// appeal (reg 45).
type AppealConceded struct {
	Kind string `json:"kind"`
}

// ConcessionComplied records the LA doing what it conceded.
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
func (e AppealConceded) Attr(n string) string       { return pick(n, "kind", e.Kind) }
func (e ConcessionComplied) Attr(n string) string   { return pick(n, "kind", e.Kind) }

var concessionKinds = []string{"assess", "contents", "placement"}

func init() {
	eventFactories[TypeTransferredOut] = func() Event { return &TransferredOut{} }
	eventFactories[TypeTransferredIn] = func() Event { return &TransferredIn{} }
	eventFactories[TypeTransferDecisionNotified] = func() Event { return &TransferDecisionNotified{} }
	eventFactories[TypeAppealConceded] = func() Event { return &AppealConceded{} }
	eventFactories[TypeConcessionComplied] = func() Event { return &ConcessionComplied{} }
	for cmd, t := range map[string]string{
		"transfer_out": TypeTransferredOut, "transfer_in": TypeTransferredIn,
		"notify_transfer_decision": TypeTransferDecisionNotified,
		"concede_appeal":           TypeAppealConceded, "comply_with_concession": TypeConcessionComplied,
	} {
		commandEvents[cmd] = t
	}
	handlers["transfer_out"] = transferOut
	handlers["transfer_in"] = transferIn
	handlers["notify_transfer_decision"] = notifyTransferDecision
	handlers["concede_appeal"] = concedeAppeal
	handlers["comply_with_concession"] = complyWithConcession
}

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
	var d struct {
		Reassess *bool `json:"reassess"`
	}
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

func concedeAppeal(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d AppealConceded
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := oneOf("kind", d.Kind, concessionKinds...); err != nil {
		return nil, err
	}
	if c.appeals == 0 {
		return nil, conflictf("concede_appeal: no appeal has been lodged")
	}
	if _, ok := c.concessions[d.Kind]; ok {
		return nil, conflictf("concede_appeal: the LA has already conceded on %s", d.Kind)
	}
	return []Event{&d}, nil
}

func complyWithConcession(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d ConcessionComplied
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := oneOf("kind", d.Kind, concessionKinds...); err != nil {
		return nil, err
	}
	done, ok := c.concessions[d.Kind]
	if !ok {
		return nil, conflictf("comply_with_concession: the LA has not conceded on %s", d.Kind)
	}
	if done {
		return nil, conflictf("comply_with_concession: already complied on %s", d.Kind)
	}
	return []Event{&d}, nil
}
