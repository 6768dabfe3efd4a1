package domain

import "sort"

// NextStep is a step that would stop one of a case's open clocks: what a
// caseworker is offered to record next.
type NextStep struct {
	// Command is the step's command, whose own event stops the clock.
	Command string `json:"command"`
	// Clock and Key name the clock it stops; Due and Status are the
	// clock's as it stands.
	Clock  string `json:"clock"`
	Key    string `json:"key,omitempty"`
	Due    Date   `json:"due"`
	Status string `json:"status"`
	// Next says in words what must be done (the rule's Next).
	Next string `json:"next"`
}

// NextSteps lists, for each running or overdue clock of rows, the commands
// whose own event the rulebook says stops it (after the one that shows its
// work has begun, when the rule names one), the soonest due first. A
// clock the LA does not stop itself (the school's limit, a family's
// window) is left out: its steps are not the caseworker's to offer first.
func NextSteps(rb *Rulebook, rows []ClockRow) []NextStep {
	var out []NextStep
	for _, row := range rows {
		if row.Status != StatusRunning && row.Status != StatusOverdue {
			continue
		}
		rule := rb.Clock(row.Clock)
		if rule == nil || rule.LimitOf != "" || rule.LapsesAtDue {
			continue
		}
		// The step that shows the work has begun (a draft before the final
		// plan) comes first: it does not stop the clock, but it is next.
		events := make([]string, 0, len(rule.Stops)+1)
		if rule.StartedBy != "" {
			events = append(events, rule.StartedBy)
		}
		for _, t := range rule.Stops {
			events = append(events, t.Event)
		}
		seen := map[string]bool{}
		for _, ev := range events {
			cmd := CommandForEvent(ev)
			if cmd == "" || seen[cmd] {
				continue
			}
			if s := LookupCommand(cmd); s == nil || s.Scope != ScopeCase {
				continue
			}
			seen[cmd] = true
			out = append(out, NextStep{Command: cmd, Clock: row.Clock, Key: row.Key, Due: row.Due, Status: row.Status,
				Next: rule.NextStep(row.Key, ev != rule.StartedBy)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Due < out[j].Due })
	return out
}
