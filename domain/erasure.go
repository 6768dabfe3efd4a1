package domain

// TypePersonalDataErased is the stored name of an erasure.
const TypePersonalDataErased = "personal_data_erased"

// PersonalDataErased records that a case's personal details were erased:
// the application destroys the case's key, so the sealed details can no
// longer be read anywhere, while every step and clock of the case remain.
type PersonalDataErased struct {
	Reason Text `json:"reason"`
}

// EventType implements Event.
func (PersonalDataErased) EventType() string { return TypePersonalDataErased }

// SchemaVersion implements Event.
func (PersonalDataErased) SchemaVersion() int { return 1 }

// Attr implements Event.
func (PersonalDataErased) Attr(string) string { return "" }

// erasePersonalData decides erase_personal_data.
func erasePersonalData(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d PersonalDataErased
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if !d.Reason.Given() {
		return nil, FieldErrorf("data.reason", "is required: say why the personal data is erased (for example the request of the data subject)")
	}
	if err := checkText("reason", d.Reason); err != nil {
		return nil, err
	}
	if c.erased {
		return nil, conflictf("erase_personal_data: the personal data of this case is already erased")
	}
	return []Event{&d}, nil
}
