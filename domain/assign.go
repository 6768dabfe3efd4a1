package domain

// TypeCaseAssigned is the stored name of an assignment.
const TypeCaseAssigned = "case_assigned"

// CaseAssigned records who works on a case: a caseworker and their team.
type CaseAssigned struct {
	Caseworker string `json:"caseworker"`
	Team       string `json:"team"`
}

// EventType implements Event.
func (CaseAssigned) EventType() string { return TypeCaseAssigned }

// SchemaVersion implements Event.
func (CaseAssigned) SchemaVersion() int { return 1 }

// Attr implements Event.
func (e CaseAssigned) Attr(n string) string {
	switch n {
	case "caseworker":
		return e.Caseworker
	case "team":
		return e.Team
	}
	return ""
}

// assignCase decides assign_case.
func assignCase(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d CaseAssigned
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := ValidateID("data.caseworker", d.Caseworker); err != nil {
		return nil, err
	}
	if err := ValidateID("data.team", d.Team); err != nil {
		return nil, err
	}
	if c.caseworker == d.Caseworker && c.team == d.Team {
		return nil, conflictf("assign_case: the case is already assigned to %s in %s", d.Caseworker, d.Team)
	}
	return []Event{&d}, nil
}
