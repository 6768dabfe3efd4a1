package api

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/domain"
)

func TestEveryCaseStepButACorrectionHasAForm(t *testing.T) {
	for _, spec := range domain.Commands() {
		if spec.Scope != domain.ScopeCase || spec.Opens {
			continue
		}
		_, ok := stepFields(&spec)
		if spec.Name == "correct_step" {
			if ok {
				t.Error("correct_step carries another step's data as JSON: a generic form cannot take it")
			}
			continue
		}
		if !ok {
			t.Errorf("%s has no form", spec.Name)
		}
	}
}

func TestAFormIsTurnedBackIntoTheCommandsData(t *testing.T) {
	spec := domain.LookupCommand("offer_tailored_list")
	fields, ok := stepFields(spec)
	if !ok {
		t.Fatal("no form")
	}
	fillFields(fields, url.Values{
		"data.settings.0.id": {"S1"}, "data.settings.0.mainstream": {"yes"},
		"data.settings.2.id": {"S3"}, "data.settings.2.place_available": {"yes"},
	})
	raw, err := formData(fields)
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"settings": []any{
		map[string]any{"id": "S1", "mainstream": true},
		map[string]any{"id": "S3", "place_available": true},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("data %s", raw)
	}
	if err := json.Unmarshal(raw, new(domain.TailoredListOffered)); err != nil {
		t.Fatalf("the command cannot read the form's data: %v", err)
	}
}

func TestAFieldOfTheWrongShapeIsNamed(t *testing.T) {
	fields := []formField{{Name: "weeks", Kind: kindNumber, Value: "three"}}
	_, err := formData(fields)
	if de, ok := err.(*domain.Error); !ok || de.Field != "data.weeks" {
		t.Fatalf("got %v", err)
	}
}

func TestAFieldsTagsShapeItsInput(t *testing.T) {
	fields, _ := stepFields(domain.LookupCommand("invite_participant"))
	kinds := map[string]formField{}
	for _, f := range fields {
		kinds[f.Name] = f
	}
	if kinds["name"].Kind != kindText || kinds["contact"].Kind != kindText || kinds["participant"].Kind != kindSelect {
		t.Fatalf("fields %+v", fields)
	}
	if !strings.Contains(kinds["contact"].Hint, "email address") {
		t.Fatalf("contact's hint %q", kinds["contact"].Hint)
	}
}
