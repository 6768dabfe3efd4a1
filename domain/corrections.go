package domain

import (
	"encoding/json"
	"fmt"
)

// TypeStepCorrected is the stored name of a correction.
const TypeStepCorrected = "step_corrected"

// StepCorrected corrects an earlier step of the case without touching it: the
// step at version Corrects happened on On instead (when set), with the command
// data Data instead (when set), or did not happen at all (Void). Every view
// applies corrections; the corrected event stays in the history beside it.
//
// A corrected request keeps its personal details out of Data, as the request
// itself does: the application seals them into Personal. Schema 2 added
// Personal; schema 1 corrections never carry personal details.
type StepCorrected struct {
	Corrects int64           `json:"corrects"`
	Type     string          `json:"type"`
	On       Date            `json:"on,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Void     bool            `json:"void,omitempty"`
	Reason   Text            `json:"reason"`
	// Personal is Details sealed with the case's key, as in RequestReceived.
	Personal []byte `json:"personal,omitempty"`
	// Details are the corrected personal details in the clear: from the
	// command before the application seals them, or opened for a view.
	Details *PersonalDetails `json:"-"`
}

// EventType implements Event.
func (StepCorrected) EventType() string { return TypeStepCorrected }

// SchemaVersion implements Event.
func (StepCorrected) SchemaVersion() int { return 2 }

// Attr implements Event.
func (e StepCorrected) Attr(n string) string { return pick(n, "type", e.Type) }

// after returns the correction as it stands after an earlier one of the same
// step: each correction changes what it names (the date, the data, the
// personal details) and keeps what the earlier one set, so correcting a date
// never undoes a correction of the data. A void step comes back with the
// date or data of a later correction.
func (e *StepCorrected) after(earlier *StepCorrected) *StepCorrected {
	if earlier == nil || e.Void {
		return e
	}
	m := *e
	if earlier.Void {
		return &m
	}
	if m.On.IsZero() {
		m.On = earlier.On
	}
	if m.Data == nil {
		m.Data = earlier.Data
	}
	if !m.correctsPersonal() {
		m.Personal, m.Details = earlier.Personal, earlier.Details
	}
	return &m
}

// correctsPersonal reports whether the correction replaces a request's
// personal details.
func (e *StepCorrected) correctsPersonal() bool { return e.Personal != nil || e.Details != nil }

// Step is one stored event of a case with its version and date.
type Step struct {
	Version int64
	On      Date
	Event   Event
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
// on a date. A stored step that the rules of today would refuse (a check
// added since it was recorded) is kept as recorded, with its correction
// laid over it: a history once accepted never becomes unreadable. It fails
// only on a stored correction it cannot read.
func Effective(history []Step, rulesAt func(Date) *Rulebook) ([]Step, error) {
	out, _, err := effective(history, rulesAt, nil, 0)
	return out, err
}

// effective is Effective, also returning the steps the rules refused (by
// version) and deciding the correction of step strict, when not zero, as a
// new command: its data read strictly and the personal details checked
// again. h gives the bank holidays (weekends only when nil).
func effective(history []Step, rulesAt func(Date) *Rulebook, h Holidays, strict int64) ([]Step, map[int64]error, error) {
	fixes := map[int64]*StepCorrected{}
	for _, s := range history {
		if c, ok := s.Event.(*StepCorrected); ok {
			fixes[c.Corrects] = c.after(fixes[c.Corrects])
		}
	}
	c := &Case{}
	var out []Step
	refused := map[int64]error{}
	for _, s := range history {
		if _, ok := s.Event.(*StepCorrected); ok {
			c.Version++ // corrections count as versions but change nothing
			continue
		}
		on, data, replay := s.On, json.RawMessage(nil), true
		fix := fixes[s.Version]
		if fix != nil {
			if fix.Void {
				c.Version++
				continue
			}
			if !fix.On.IsZero() {
				on = fix.On
			}
			// Data from a correction was checked when it was recorded; a
			// stored payload is read leniently, as it may hold derived fields.
			if fix.Data != nil {
				data, replay = fix.Data, s.Version != strict
			}
		}
		opener, opens := s.Event.(Opener)
		if opens {
			var known bool
			var err error
			if data, known, err = openingCommand(opener, fix, data); err != nil {
				return nil, nil, err
			}
			replay = s.Version != strict || !known
		}
		if data == nil {
			b, err := json.Marshal(s.Event)
			if err != nil {
				return nil, nil, err
			}
			data = b
		}
		name := CommandForEvent(s.Event.EventType())
		evs, err := c.Decide(Command{Name: name, On: on, Data: data, Holidays: h, replay: replay}, rulesAt(on))
		if err != nil {
			refused[s.Version] = &Error{Code: ErrorCode(err), Field: "corrects",
				Message: fmt.Sprintf("the corrected history is not valid at version %d (%s on %s): %s", s.Version, name, on, ErrorMessage(err))}
			e, rerr := asRecorded(s.Event, fix)
			if rerr != nil {
				return nil, nil, rerr
			}
			evs = []Event{e}
		} else if fix == nil {
			evs = keepStoredShape(s.Event, evs)
		}
		version := c.Version
		for _, e := range evs {
			c.Apply(e, on)
		}
		// A step is one event; the case's version follows the stored count.
		c.Version = version + 1
		for _, e := range evs {
			if o, ok := e.(Opener); ok && opens {
				// The opening keeps its sealed details, or takes the
				// correction's.
				o.Opened().Personal = opener.Opened().Personal
				if fix != nil && fix.correctsPersonal() {
					o.Opened().Personal = fix.Personal
				}
			}
			out = append(out, Step{Version: s.Version, On: on, Event: e})
		}
	}
	return out, refused, nil
}

// asRecorded rebuilds a stored step the rules now refuse as it was recorded,
// with its correction's data laid over its payload.
func asRecorded(stored Event, fix *StepCorrected) (Event, error) {
	b, err := json.Marshal(stored)
	if err != nil {
		return nil, err
	}
	if fix != nil && fix.Data != nil {
		m := map[string]json.RawMessage{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		over := map[string]json.RawMessage{}
		if err := json.Unmarshal(fix.Data, &over); err != nil {
			return nil, &Error{Code: Invalid, Field: "data", Message: "a stored correction is unreadable", Err: err}
		}
		for k, v := range over {
			m[k] = v
		}
		if b, err = json.Marshal(m); err != nil {
			return nil, err
		}
	}
	e, err := DecodeEvent(stored.EventType(), stored.SchemaVersion(), b)
	if err != nil {
		return nil, err
	}
	if o, ok := e.(Opener); ok {
		o.Opened().Details = stored.(Opener).Opened().Details
		if fix != nil && fix.correctsPersonal() {
			o.Opened().Personal, o.Opened().Details = fix.Personal, fix.Details
		}
	}
	return e, nil
}

// keepStoredShape keeps, in a step decided again, what the stored event
// did not record because it was recorded before the engine derived it: a
// decision to cease without the next review's number (the plan then ceased
// at once) and a review decision without its meeting's date. Deciding a
// step again after another step's correction must not change it otherwise.
func keepStoredShape(stored Event, decided []Event) []Event {
	old, ok := stored.(*ReviewDecisionNotified)
	if !ok || len(decided) != 1 {
		return decided
	}
	if d, ok := decided[0].(*ReviewDecisionNotified); ok {
		if old.NextReview == 0 {
			d.NextReview = 0
		}
		if old.Meeting.IsZero() {
			d.Meeting = 0
		}
	}
	return decided
}

// openingCommand returns the data with which a stored case opening (a
// request) is decided again, and whether the personal details are known:
// its own data or the correction's, with the personal details that apply
// (the correction's, else the opening's) when they are known in the clear.
// Details still sealed are left out and the step is replayed as recorded;
// known ones are checked again when the step is newly corrected, so that a
// corrected date is still within the person's 25 years.
func openingCommand(o Opener, fix *StepCorrected, fixData json.RawMessage) (json.RawMessage, bool, error) {
	base := fixData
	if base == nil {
		b, err := json.Marshal(o.baseData())
		if err != nil {
			return nil, false, err
		}
		base = b
	}
	m := map[string]any{}
	if err := json.Unmarshal(base, &m); err != nil {
		return nil, false, &Error{Code: Invalid, Field: "data", Message: "a stored correction of the case's opening is unreadable", Err: err}
	}
	details := o.Opened().Details
	if born := o.Opened().BirthDate; details == nil && !born.IsZero() {
		details = &PersonalDetails{BirthDate: born} // schema 1
	}
	if fix != nil && fix.correctsPersonal() {
		details = fix.Details
	}
	if details != nil {
		// The command's personal fields are named as PersonalDetails' are.
		b, err := json.Marshal(details)
		if err != nil {
			return nil, false, err
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, false, err
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, false, err
	}
	return b, details != nil, nil
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
	var d correctionData
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
	if spec := theCatalog().byType[target.Event.EventType()]; spec != nil && spec.System {
		return nil, FieldErrorf("data.version", "version %d (%s) is recorded by the application, not a step: it is not corrected", d.Version, target.Event.EventType())
	}
	if !d.Reason.Given() {
		return nil, FieldErrorf("data.reason", "is required: say why the step is corrected")
	}
	if err := checkText("reason", d.Reason); err != nil {
		return nil, err
	}
	if d.On.IsZero() && len(d.Data) == 0 && !d.Void {
		return nil, FieldErrorf("data", "give the right date (on), the right data (data), or void")
	}
	if d.Void && (!d.On.IsZero() || len(d.Data) > 0) {
		return nil, FieldErrorf("data.void", "a void step takes no new date or data")
	}
	if d.Void && d.Version == 1 {
		return nil, FieldErrorf("data.void", "the first step opens the case and cannot be voided")
	}
	var details *PersonalDetails
	if o, ok := target.Event.(Opener); ok && len(d.Data) > 0 {
		// Corrections are stored in the clear, and personal details only
		// ever sealed: they travel beside the data, for the application to
		// seal. Data without them keeps the step's own.
		var err error
		if d.Data, details, err = o.splitData(d.Data); err != nil {
			return nil, withFieldPrefix(err, "data.")
		}
	}
	if !d.On.IsZero() && d.On > cmd.On {
		return nil, FieldErrorf("data.on", "%s is after the correction itself (%s)", d.On, cmd.On)
	}
	current, before, err := effective(history, rulesAt, cmd.Holidays, 0)
	if err != nil {
		return nil, err
	}
	if _, ok := target.Event.(Opener); ok && len(current) > 0 {
		// The person must still be under 25 on the date the case opened as
		// corrected (s83(2)), when the application could open the details:
		// the opening as earlier corrections left it.
		o, on := current[0].Event.(Opener), current[0].On
		if !d.On.IsZero() {
			on = d.On
		}
		if details != nil {
			if err := details.check(on); err != nil {
				return nil, withFieldPrefix(err, "data.")
			}
		} else if born := o.Opened().Born(); !born.IsZero() && !d.On.IsZero() {
			switch {
			case on < born:
				return nil, FieldErrorf("data.on", "%s is before the person's date of birth", on)
			case Age(born, on) >= 25:
				return nil, FieldErrorf("data.on", "the person is %d on %s: a young person is under 25 (CFA 2014 s83(2))", Age(born, on), on)
			}
		}
	}
	fix := &StepCorrected{Corrects: d.Version, Type: target.Event.EventType(), On: d.On, Data: d.Data, Void: d.Void, Reason: d.Reason, Details: details}
	trial := append(append([]Step(nil), history...), Step{Version: int64(len(history) + 1), On: cmd.On, Event: fix})
	_, after, err := effective(trial, rulesAt, cmd.Holidays, d.Version)
	if err != nil {
		return nil, err
	}
	// The correction may not make a step invalid that was valid without it;
	// steps the rules of today refuse anyway stay as recorded.
	var first int64
	for v := range after {
		if before[v] == nil && (first == 0 || v < first) {
			first = v
		}
	}
	if first != 0 {
		return nil, after[first]
	}
	return fix, nil
}

// correctionData is the data of the command Correct decides.
type correctionData struct {
	Version int64           `json:"version"`
	On      Date            `json:"on"`
	Data    json.RawMessage `json:"data"`
	Void    bool            `json:"void"`
	Reason  Text            `json:"reason"`
}

// correctStep decides correct_step: the correction of an earlier step,
// checked against the case's history (Command.History, Command.RulesAt).
func correctStep(_ *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	if cmd.RulesAt == nil {
		return nil, &Error{Code: Internal, Message: "correct_step needs the case's history and rules"}
	}
	fix, err := Correct(cmd.History, cmd, cmd.RulesAt)
	if err != nil {
		return nil, err
	}
	return []Event{fix}, nil
}
