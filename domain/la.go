package domain

import "regexp"

// LA-level steps: what an LA records about itself rather than about one
// child's case. Each decides the stream it is recorded in and its event.

// adoptRulebookData is the data of adopt_rulebook.
type adoptRulebookData struct {
	Rulebook string `json:"rulebook"`
	From     Date   `json:"from,omitempty"`
}

// adoptRulebook decides adopt_rulebook: the LA applies a rulebook from a
// date (the step's date when none is given).
func adoptRulebook(la string, cmd Command) (string, []Event, error) {
	var d adoptRulebookData
	if err := DecodeData(cmd.Data, &d); err != nil {
		return "", nil, err
	}
	if d.Rulebook == "" {
		return "", nil, FieldErrorf("data.rulebook", "is required")
	}
	if _, err := LookupRulebook(d.Rulebook); err != nil {
		return "", nil, &Error{Code: Invalid, Field: "data.rulebook", Message: ErrorMessage(err)}
	}
	if d.From.IsZero() {
		d.From = cmd.On
	}
	return LAStream(la), []Event{&RulebookAdopted{Rulebook: d.Rulebook, From: d.From}}, nil
}

// recordSchoolClosureData is the data of record_school_closure.
type recordSchoolClosureData struct {
	School   string `json:"school"`
	FirstDay Date   `json:"first_day"`
	Reopens  Date   `json:"reopens"`
}

// recordSchoolClosure decides record_school_closure: a closure of one of
// the LA's schools, for the derived school-closure exception.
func recordSchoolClosure(la string, cmd Command) (string, []Event, error) {
	var d recordSchoolClosureData
	if err := DecodeData(cmd.Data, &d); err != nil {
		return "", nil, err
	}
	if err := ValidateID("data.school", d.School); err != nil {
		return "", nil, err
	}
	switch {
	case d.FirstDay.IsZero():
		return "", nil, FieldErrorf("data.first_day", "is required")
	case d.Reopens.IsZero():
		return "", nil, FieldErrorf("data.reopens", "is required")
	case d.Reopens <= d.FirstDay:
		return "", nil, FieldErrorf("data.reopens", "%s is not after first_day %s", d.Reopens, d.FirstDay)
	}
	return SchoolStream(la, d.School), []Event{&SchoolClosureRecorded{School: d.School, FirstDay: d.FirstDay, Reopens: d.Reopens}}, nil
}

// setAPReviewIntervalData is the data of set_ap_review_interval.
type setAPReviewIntervalData struct {
	Weeks *int `json:"weeks"`
	From  Date `json:"from,omitempty"`
}

// setAPReviewInterval decides set_ap_review_interval: the interval at which
// the LA expects its AP placements reviewed, a warning never a breach.
func setAPReviewInterval(la string, cmd Command) (string, []Event, error) {
	var d setAPReviewIntervalData
	if err := DecodeData(cmd.Data, &d); err != nil {
		return "", nil, err
	}
	if d.Weeks == nil {
		return "", nil, FieldErrorf("data.weeks", "is required (0 clears the setting)")
	}
	if err := CheckAPReviewInterval(*d.Weeks); err != nil {
		return "", nil, err
	}
	if d.From.IsZero() {
		d.From = cmd.On
	}
	return LAStream(la), []Event{&APReviewIntervalSet{Weeks: *d.Weeks, From: d.From}}, nil
}

// TypeDfENumberSet is the event of set_dfe_la_number.
const TypeDfENumberSet = "dfe_la_number_set"

// DfENumberSet records the LA's three-digit number in the Department for
// Education's lists (201 for the City of London, 873 for Cambridgeshire),
// which its statutory returns (SEN2's LEA item) carry instead of the ONS
// code this system keys LAs by.
type DfENumberSet struct {
	Number string `json:"number"`
}

// EventType implements Event.
func (DfENumberSet) EventType() string { return TypeDfENumberSet }

// SchemaVersion implements Event.
func (DfENumberSet) SchemaVersion() int { return 1 }

// Attr implements Event.
func (DfENumberSet) Attr(string) string { return "" }

// dfeNumber is a DfE LA number's form.
var dfeNumber = regexp.MustCompile(`^[0-9]{3}$`)

// setDfENumber decides set_dfe_la_number.
func setDfENumber(la string, cmd Command) (string, []Event, error) {
	var d DfENumberSet
	if err := DecodeData(cmd.Data, &d); err != nil {
		return "", nil, err
	}
	if !dfeNumber.MatchString(d.Number) {
		return "", nil, FieldErrorf("data.number", "must be the LA's three-digit DfE number, such as 201")
	}
	return LAStream(la), []Event{&d}, nil
}
