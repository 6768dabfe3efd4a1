package domain

import (
	"encoding/json"
	"errors"
	"strings"
)

// Text is free text a person wrote into a step (the evidence of an
// exception, why a step was corrected or a panel's view departed from):
// it may name the child or the family, so it is stored only sealed with the
// case's key, like the personal details, and is gone when they are erased.
// A command gives it as a JSON string (Plain); the application seals it
// (Sealed) before the event is stored; a view opens it again.
type Text struct {
	// Plain is the text in the clear: from the command, or opened for a
	// view. It is never stored.
	Plain string
	// Sealed is Plain sealed with the case's key.
	Sealed []byte
	// Erased says the case's key was destroyed: the text is gone.
	Erased bool
}

// Shown is the text as a view shows it: in the clear when opened, else
// "(sealed)", or "(erased)" once the case's key is destroyed.
func (t Text) Shown() string {
	switch {
	case t.Plain != "":
		return t.Plain
	case t.Erased:
		return "(erased)"
	case t.Sealed != nil:
		return "(sealed)"
	}
	return ""
}

// maxText bounds a free text, so that a step cannot carry a document.
const maxText = 2000

// errUnsealedText stops an event from being written with its text in the
// clear: the application seals every Text first.
var errUnsealedText = errors.New("free text must be sealed before it is stored")

// MarshalJSON writes the sealed form; an empty text is "". A text still in
// the clear is an error, never written.
func (t Text) MarshalJSON() ([]byte, error) {
	switch {
	case t.Sealed != nil:
		return json.Marshal(struct {
			Sealed []byte `json:"sealed"`
		}{t.Sealed})
	case t.Plain == "":
		return []byte(`""`), nil
	}
	return nil, errUnsealedText
}

// UnmarshalJSON reads a command's string (Plain) or a stored sealed form.
func (t *Text) UnmarshalJSON(b []byte) error {
	*t = Text{}
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &t.Plain)
	}
	var v struct {
		Sealed []byte `json:"sealed"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	t.Sealed = v.Sealed
	return nil
}

// Given reports whether the text says something: in the clear, or sealed
// (a stored step decided again).
func (t Text) Given() bool { return t.Sealed != nil || strings.TrimSpace(t.Plain) != "" }

// requiredText refuses a text that is missing or blank, or longer than
// maxText.
func requiredText(field string, t Text) error {
	if !t.Given() {
		return FieldErrorf("data."+field, "is required")
	}
	return checkText(field, t)
}

// checkText refuses a text longer than maxText.
func checkText(field string, t Text) error {
	if len(t.Plain) > maxText {
		return FieldErrorf("data."+field, "is longer than %d characters", maxText)
	}
	return nil
}
