package domain

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestAnOlderPayloadIsUpcastBeforeItIsRead stands for the next change no
// struct can read as it was: suppose case_assigned's schema 1 had named the
// caseworker "officer". The stored payload keeps its version; reading it
// upcasts it to today's.
func TestAnOlderPayloadIsUpcastBeforeItIsRead(t *testing.T) {
	spec := &EventSpec{Type: TypeCaseAssigned, Older: []int{0}, New: func() Event { return &CaseAssigned{} },
		Upcast: func(schema int, payload []byte) ([]byte, error) {
			var old struct {
				Officer string `json:"officer"`
				Team    string `json:"team"`
			}
			if err := json.Unmarshal(payload, &old); err != nil {
				return nil, err
			}
			if old.Officer == "" {
				return nil, errors.New("no officer")
			}
			return json.Marshal(CaseAssigned{Caseworker: old.Officer, Team: old.Team})
		}}
	t.Run("an older payload reads as today's", func(t *testing.T) {
		e, err := decodeWith(spec, 0, []byte(`{"officer":"cw-7","team":"east"}`))
		if err != nil {
			t.Fatal(err)
		}
		if got := *e.(*CaseAssigned); got != (CaseAssigned{Caseworker: "cw-7", Team: "east"}) {
			t.Fatalf("upcast to %+v", got)
		}
	})
	t.Run("today's payload is read as it is", func(t *testing.T) {
		e, err := decodeWith(spec, 1, []byte(`{"caseworker":"cw-8","team":"west"}`))
		if err != nil || e.(*CaseAssigned).Caseworker != "cw-8" {
			t.Fatalf("current version: %+v, %v", e, err)
		}
	})
	t.Run("an upcast that fails is an invalid payload", func(t *testing.T) {
		_, err := decodeWith(spec, 0, []byte(`{"team":"east"}`))
		var de *Error
		if !errors.As(err, &de) || de.Code != Invalid || !strings.Contains(de.Message, "schema version 0 cannot be upcast") {
			t.Fatalf("a failed upcast: %v", err)
		}
	})
	t.Run("a version neither current nor older is refused", func(t *testing.T) {
		if _, err := decodeWith(spec, 7, []byte(`{}`)); err == nil {
			t.Fatal("schema 7 was read")
		}
	})
}
