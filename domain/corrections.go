package domain

import (
	"encoding/json"
	"fmt"
	"strings"
)

// TypeStepCorrected is the stored name of a correction.
const TypeStepCorrected = "step_corrected"

// StepCorrected corrects an earlier step of the case without touching it: the
// step at version Corrects happened on On instead (when set), with the command
// data Data instead (when set), or did not happen at all (Void). Every view
// applies corrections; the corrected event stays in the history beside it.
type StepCorrected struct {
	Corrects int64           `json:"corrects"`
	Type     string          `json:"type"`
	On       Date            `json:"on,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Void     bool            `json:"void,omitempty"`
	Reason   string          `json:"reason"`
}

// EventType implements Event.
func (StepCorrected) EventType() string { return TypeStepCorrected }

// SchemaVersion implements Event.
func (StepCorrected) SchemaVersion() int { return 1 }

// Attr implements Event.
func (e StepCorrected) Attr(n string) string { return pick(n, "type", e.Type) }

func init() {
	eventFactories[TypeStepCorrected] = func() Event { return &StepCorrected{} }
	commandEvents["correct_step"] = TypeStepCorrected
}

// Step is one stored event of a case with its version and date.
type Step struct {
	Version int64
	On      Date
	Event   Event
}

// commandFor returns the command whose first event has type t.
func commandFor(t string) string {
	for c, et := range commandEvents {
		if et == t && c != "correct_step" {
			return c
		}
	}
	return ""
}

// HasCorrections reports whether a history holds a correction.
func HasCorrections(history []Step) bool {
	for _, s := range history {
		if _, ok := s.Event.(*StepCorrected); ok {
			return true
		}
	}
	return false
}

// Effective returns the history as corrected: each corrected step decided
// again, in its place, with its corrected date and data (void steps left
// out), and every later step decided again after it so that derived values
// such as review numbers stay consistent. rulesAt gives the rulebook in force
// on a date. It fails, naming the step, when the corrected history is not a
// valid sequence of steps.
func Effective(history []Step, rulesAt func(Date) *Rulebook) ([]Step, error) {
	fixes := map[int64]*StepCorrected{}
	for _, s := range history {
		if c, ok := s.Event.(*StepCorrected); ok {
			fixes[c.Corrects] = c // the latest correction of a step wins
		}
	}
	c := &Case{}
	var out []Step
	for _, s := range history {
		if _, ok := s.Event.(*StepCorrected); ok {
			c.Version++ // corrections count as versions but change nothing
			continue
		}
		on, data := s.On, json.RawMessage(nil)
		fix := fixes[s.Version]
		if fix != nil {
			if fix.Void {
				c.Version++
				continue
			}
			if !fix.On.IsZero() {
				on = fix.On
			}
			data = fix.Data
		}
		if data == nil {
			b, err := json.Marshal(s.Event)
			if err != nil {
				return nil, err
			}
			data = b
		}
		name := commandFor(s.Event.EventType())
		evs, err := c.Decide(Command{Name: name, On: on, Data: data, replay: fix == nil}, rulesAt(on))
		if err != nil {
			return nil, &Error{Code: ErrorCode(err), Field: "corrects",
				Message: fmt.Sprintf("the corrected history is not valid at version %d (%s on %s): %s", s.Version, name, on, ErrorMessage(err))}
		}
		version := c.Version
		for _, e := range evs {
			c.Apply(e, on)
		}
		// A step is one event; the case's version follows the stored count.
		c.Version = version + 1
		for _, e := range evs {
			out = append(out, Step{Version: s.Version, On: on, Event: e})
		}
	}
	return out, nil
}

// FoldHistory builds the case from its stored history, applying corrections.
func FoldHistory(id string, history []Step, rulesAt func(Date) *Rulebook) (*Case, error) {
	c := &Case{ID: id}
	if !HasCorrections(history) {
		for _, s := range history {
			c.Apply(s.Event, s.On)
		}
		return c, nil
	}
	eff, err := Effective(history, rulesAt)
	if err != nil {
		return nil, err
	}
	for _, s := range eff {
		c.Apply(s.Event, s.On)
	}
	c.Version = int64(len(history))
	return c, nil
}

// Correct validates a correct_step command against the case's stored history
// and returns the correction to record. Data: version (the step to correct),
// reason, and at least one of on (the right date), data (the right command
// data) or void (the step did not happen).
func Correct(history []Step, cmd Command, rulesAt func(Date) *Rulebook) (*StepCorrected, error) {
	var d struct {
		Version int64           `json:"version"`
		On      Date            `json:"on"`
		Data    json.RawMessage `json:"data"`
		Void    bool            `json:"void"`
		Reason  string          `json:"reason"`
	}
	if err := decodeData(cmd.Data, &d); err != nil {
		return nil, err
	}
	if len(history) == 0 {
		return nil, Errorf(NotFound, "correct_step: there is no case yet")
	}
	if d.Version < 1 || d.Version > int64(len(history)) {
		return nil, FieldErrorf("data.version", "the case has no step at version %d (it has %d)", d.Version, len(history))
	}
	target := history[d.Version-1]
	if _, ok := target.Event.(*StepCorrected); ok {
		return nil, FieldErrorf("data.version", "version %d is itself a correction: correct the original step", d.Version)
	}
	if strings.TrimSpace(d.Reason) == "" {
		return nil, FieldErrorf("data.reason", "is required: say why the step is corrected")
	}
	if d.On.IsZero() && len(d.Data) == 0 && !d.Void {
		return nil, FieldErrorf("data", "give the right date (on), the right data (data), or void")
	}
	if d.Void && (!d.On.IsZero() || len(d.Data) > 0) {
		return nil, FieldErrorf("data.void", "a void step takes no new date or data")
	}
	if d.Void && d.Version == 1 {
		return nil, FieldErrorf("data.void", "the request opens the case and cannot be voided")
	}
	if _, ok := target.Event.(*RequestReceived); ok && len(d.Data) > 0 {
		// Corrections are stored in the clear; a request's data holds the
		// child's personal details, which are only ever stored sealed.
		return nil, FieldErrorf("data.data", "a request's data holds personal details and is not corrected by correct_step; correct its date, or record the request again on a new case")
	}
	if !d.On.IsZero() && d.On > cmd.On {
		return nil, FieldErrorf("data.on", "%s is after the correction itself (%s)", d.On, cmd.On)
	}
	fix := &StepCorrected{Corrects: d.Version, Type: target.Event.EventType(), On: d.On, Data: d.Data, Void: d.Void, Reason: d.Reason}
	trial := append(append([]Step(nil), history...), Step{Version: int64(len(history) + 1), On: cmd.On, Event: fix})
	if _, err := Effective(trial, rulesAt); err != nil {
		return nil, err
	}
	return fix, nil
}
