package domain

// The mediation agreement (reg 42): when mediation ends in a written
// agreement, the LA does what it agreed within the tribunal's own limits for
// an appealable matter (reg 44, "as if the mediation agreement were an order
// of the First-tier Tribunal"), within two weeks for anything else, or by the
// date the parties agreed in writing (reg 42(5)). This file is the worked
// example of docs/architecture.md: a row in the catalog, this decision
// function, the rulebook's starts on mediation_agreed and a scenario.

// TypeMediationAgreed is the stored name of a mediation agreement.
const TypeMediationAgreed = "mediation_agreed"

// MediationAgreed records a written mediation agreement: what the LA agreed
// to do (a matter the tribunal could order, or other) and, when the parties
// agreed a timescale of their own in writing, the day it is due.
type MediationAgreed struct {
	Agrees string `json:"agrees" enum:"assess,issue_plan,contents,placement,maintain,other"`
	By     Date   `json:"by,omitempty"`
}

// EventType implements Event.
func (MediationAgreed) EventType() string { return TypeMediationAgreed }

// SchemaVersion implements Event.
func (MediationAgreed) SchemaVersion() int { return 1 }

// Attr implements Event: agrees, by, and timescale (agreed when the parties
// set their own, else statutory), which picks the rulebook's limits.
func (e MediationAgreed) Attr(n string) string {
	switch n {
	case "agrees":
		return e.Agrees
	case "by":
		if e.By.IsZero() {
			return ""
		}
		return e.By.String()
	case "timescale":
		if e.By.IsZero() {
			return "statutory"
		}
		return "agreed"
	}
	return ""
}

// agreementSteps are the compliance steps a mediation agreement requires,
// named as comply_with_order names them: those of the order the agreement
// stands for, the two weeks of reg 42(3), or the parties' own date.
func agreementSteps(e *MediationAgreed) []string {
	if !e.By.IsZero() {
		return []string{"agreed"}
	}
	if e.Agrees == "other" {
		return []string{"mediation_agreement"}
	}
	return nil // the order's own steps (Case.ordered)
}

// recordMediationAgreement decides record_mediation_agreement: only after
// mediation was held on the latest appealable decision, once.
func recordMediationAgreement(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d MediationAgreed
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if !d.By.IsZero() && d.By < cmd.On {
		return nil, FieldErrorf("data.by", "%s is before the agreement (%s)", d.By, cmd.On)
	}
	switch {
	case !c.mediated:
		return nil, conflictf("record_mediation_agreement: no mediation has been held on the latest decision")
	case c.agreed:
		return nil, conflictf("record_mediation_agreement: this mediation's agreement is already recorded")
	}
	return []Event{&d}, nil
}
