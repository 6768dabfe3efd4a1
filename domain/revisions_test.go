package domain

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// edited returns a built-in rulebook's canonical JSON after change.
func edited(t *testing.T, id string, change func(rb map[string]any)) []byte {
	t.Helper()
	rb, err := LookupRulebook(id)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(rb.Canonical(), &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clockOf returns the named clock of a rulebook held as a JSON map.
func clockOf(t *testing.T, rb map[string]any, name string) map[string]any {
	t.Helper()
	for _, c := range rb["clocks"].([]any) {
		if m := c.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("no clock %s", name)
	return nil
}

func TestStoredRulebooksParseBack(t *testing.T) {
	for _, id := range RulebookIDs() {
		t.Run(id+" reads back with the same rules and hash", func(t *testing.T) {
			rb, _ := LookupRulebook(id)
			back, err := ParseRulebook(rb.Canonical(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if back.ContentHash() != rb.ContentHash() || len(back.Clocks) != len(rb.Clocks) || back.Version != rb.Version {
				t.Fatalf("parsed back %s v%d with %d clocks and hash %s, want v%d with %d and %s",
					back.ID, back.Version, len(back.Clocks), back.ContentHash(), rb.Version, len(rb.Clocks), rb.ContentHash())
			}
			if strings.Contains(string(rb.Canonical()), "due_rule") {
				t.Fatal("the canonical form holds the derived due_rule")
			}
		})
	}
	t.Run("a rulebook on a base takes the base it is given", func(t *testing.T) {
		shorter := edited(t, DefaultRulebook, func(rb map[string]any) {
			clockOf(t, rb, "final_plan")["period"].(map[string]any)["n"] = 18
		})
		base, err := ParseRulebook(shorter, nil)
		if err != nil {
			t.Fatal(err)
		}
		reform, _ := LookupRulebook("reform-2023")
		on, err := ParseRulebook(reform.Canonical(), func(id string) (*Rulebook, bool) { return base, id == DefaultRulebook })
		if err != nil {
			t.Fatal(err)
		}
		if n := on.Clock("final_plan").Period.N; n != 18 {
			t.Fatalf("reform-2023 on the edited base has a final plan of %d weeks, want 18", n)
		}
		if reform.Clock("final_plan").Period.N != 20 {
			t.Fatal("parsing changed the built-in rulebook")
		}
	})
}

func TestBadRulebooksAreRejected(t *testing.T) {
	for name, data := range map[string][]byte{
		"not JSON":                []byte(`{"id":`),
		"an unknown field":        edited(t, DefaultRulebook, func(rb map[string]any) { rb["clocks_extra"] = 1 }),
		"data after the rulebook": append(edited(t, DefaultRulebook, func(map[string]any) {}), []byte(` {}`)...),
		"a period without its counting": edited(t, DefaultRulebook, func(rb map[string]any) {
			delete(clockOf(t, rb, "final_plan")["period"].(map[string]any), "counting")
		}),
		"a version without its revision": edited(t, DefaultRulebook, func(rb map[string]any) { rb["version"] = 5 }),
		"a revision correcting nothing": edited(t, DefaultRulebook, func(rb map[string]any) {
			revs := rb["revisions"].([]any)
			revs[len(revs)-1].(map[string]any)["corrects"] = []any{}
		}),
		"a correction without provisions": edited(t, DefaultRulebook, func(rb map[string]any) {
			revs := rb["revisions"].([]any)
			revs[1].(map[string]any)["corrects"].([]any)[0].(map[string]any)["provisions"] = " "
		}),
		"an unknown base": edited(t, "reform-2023", func(rb map[string]any) { rb["base"] = "wales-2018" }),
		"an unknown event": edited(t, DefaultRulebook, func(rb map[string]any) {
			clockOf(t, rb, "advice")["starts"].([]any)[0].(map[string]any)["event"] = "advice_wanted"
		}),
		"a bad id": edited(t, DefaultRulebook, func(rb map[string]any) { rb["id"] = "" }),
	} {
		t.Run(name+" is refused as invalid", func(t *testing.T) {
			_, err := ParseRulebook(data, nil)
			if err == nil || ErrorCode(err) != Invalid {
				t.Fatalf("ParseRulebook gave %v, want an invalid error", err)
			}
		})
	}
}

func TestRulebookRevisions(t *testing.T) {
	current, _ := LookupRulebook(DefaultRulebook)
	t.Run("the first record carries the version and what it corrected", func(t *testing.T) {
		e := ReviseRulebook(current, nil)
		if e == nil || e.Version != current.Version || e.PreviousVersion != 0 || len(e.Revisions) != 1 || e.Revisions[0].Version != current.Version {
			t.Fatalf("first revision %+v", e)
		}
	})
	t.Run("the same version and content is not recorded again", func(t *testing.T) {
		if e := ReviseRulebook(current, ReviseRulebook(current, nil)); e != nil {
			t.Fatalf("recorded again: %+v", e)
		}
	})
	older, err := ParseRulebook(edited(t, DefaultRulebook, func(rb map[string]any) {
		rb["version"] = 2
		rb["revisions"] = rb["revisions"].([]any)[:2]
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a newer version carries every revision since the one recorded", func(t *testing.T) {
		e := ReviseRulebook(current, ReviseRulebook(older, nil))
		if e == nil || e.PreviousVersion != 2 || e.PreviousHash != older.ContentHash() || len(e.Revisions) != current.Version-2 {
			t.Fatalf("revision %+v", e)
		}
		for _, r := range e.Revisions {
			if r.Version <= 2 || len(r.Corrects) == 0 {
				t.Fatalf("revision %d corrects %v", r.Version, r.Corrects)
			}
		}
	})
	t.Run("the same version with other content is recorded", func(t *testing.T) {
		recorded := ReviseRulebook(current, nil)
		recorded.ContentHash = "0000"
		e := ReviseRulebook(current, recorded)
		if e == nil || e.PreviousVersion != current.Version || len(e.Revisions) != 1 {
			t.Fatalf("revision %+v", e)
		}
	})
	t.Run("the event survives the store and gives its rulebook back", func(t *testing.T) {
		e := ReviseRulebook(current, ReviseRulebook(older, nil))
		payload, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := DecodeEvent(TypeRulebookRevised, e.SchemaVersion(), payload)
		if err != nil {
			t.Fatal(err)
		}
		got := ev.(*RulebookRevised)
		if got.Rulebook != DefaultRulebook || got.Version != current.Version || got.PreviousVersion != 2 || len(got.Revisions) != len(e.Revisions) || got.Attr("version") != strconv.Itoa(current.Version) {
			t.Fatalf("decoded %+v", got)
		}
		rb, err := got.Parse(nil)
		if err != nil {
			t.Fatal(err)
		}
		if rb.ContentHash() != current.ContentHash() {
			t.Fatal("the stored rulebook is not the one recorded")
		}
	})
	t.Run("a record whose content is not what it names is refused", func(t *testing.T) {
		e := ReviseRulebook(current, nil)
		e.Content = older.Canonical()
		if _, err := e.Parse(nil); err == nil {
			t.Fatal("a record holding version 2 under version 4's name and hash was read")
		}
	})
}

func TestRulebookInForceByID(t *testing.T) {
	adoptions := []RulebookAdopted{{Rulebook: "reform-2023", From: d("2024-09-01")}, {Rulebook: "green-paper-2022", From: d("2025-01-01")}}
	for on, want := range map[string]string{"2024-08-31": DefaultRulebook, "2024-09-01": "reform-2023", "2025-06-01": "green-paper-2022"} {
		if got := RulebookIDInForce(adoptions, d(on)); got != want || RulebookInForce(adoptions, d(on)).ID != want {
			t.Errorf("on %s: %s in force, want %s", on, got, want)
		}
	}
}
