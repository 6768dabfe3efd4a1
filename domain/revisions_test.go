package domain_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/internal/rulebooktest"
)

// edited is a built-in rulebook's canonical JSON after change.
func edited(t *testing.T, id string, change func(rb map[string]any)) []byte {
	t.Helper()
	return rulebooktest.Edited(t, id, change)
}

// clockOf is the named clock of a rulebook held as JSON.
func clockOf(t *testing.T, rb map[string]any, name string) map[string]any {
	t.Helper()
	return rulebooktest.Clock(t, rb, name)
}

// d reads a date.
func d(s string) domain.Date {
	v, err := domain.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestStoredRulebooksParseBack(t *testing.T) {
	for _, id := range domain.RulebookIDs() {
		t.Run(id+" reads back with the same rules and hash", func(t *testing.T) {
			rb, _ := domain.LookupRulebook(id)
			back, err := domain.ParseRulebook(rb.Canonical(), nil)
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
		shorter := edited(t, domain.DefaultRulebook, func(rb map[string]any) {
			clockOf(t, rb, "final_plan")["period"].(map[string]any)["n"] = 18
		})
		base, err := domain.ParseRulebook(shorter, nil)
		if err != nil {
			t.Fatal(err)
		}
		reform, _ := domain.LookupRulebook("reform-2023")
		on, err := domain.ParseRulebook(reform.Canonical(), func(id string) (*domain.Rulebook, bool) { return base, id == domain.DefaultRulebook })
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
		"an unknown field":        edited(t, domain.DefaultRulebook, func(rb map[string]any) { rb["clocks_extra"] = 1 }),
		"data after the rulebook": append(edited(t, domain.DefaultRulebook, func(map[string]any) {}), []byte(` {}`)...),
		"a period without its counting": edited(t, domain.DefaultRulebook, func(rb map[string]any) {
			delete(clockOf(t, rb, "final_plan")["period"].(map[string]any), "counting")
		}),
		"a version without its revision": edited(t, domain.DefaultRulebook, func(rb map[string]any) { rb["version"] = rb["version"].(float64) + 1 }),
		"a revision correcting nothing": edited(t, domain.DefaultRulebook, func(rb map[string]any) {
			revs := rb["revisions"].([]any)
			revs[len(revs)-1].(map[string]any)["corrects"] = []any{}
		}),
		"a correction without provisions": edited(t, domain.DefaultRulebook, func(rb map[string]any) {
			revs := rb["revisions"].([]any)
			revs[1].(map[string]any)["corrects"].([]any)[0].(map[string]any)["provisions"] = " "
		}),
		"an unknown base": edited(t, "reform-2023", func(rb map[string]any) { rb["base"] = "wales-2018" }),
		"an unknown event": edited(t, domain.DefaultRulebook, func(rb map[string]any) {
			clockOf(t, rb, "advice")["starts"].([]any)[0].(map[string]any)["event"] = "advice_wanted"
		}),
		"a bad id": edited(t, domain.DefaultRulebook, func(rb map[string]any) { rb["id"] = "" }),
		"a when naming an attribute its event lacks": edited(t, domain.DefaultRulebook, func(rb map[string]any) {
			clockOf(t, rb, "annual_review")["starts"].([]any)[1].(map[string]any)["when"] = map[string]any{"decisoin": "maintain"}
		}),
		"a key taken from an attribute its event lacks": edited(t, domain.DefaultRulebook, func(rb map[string]any) {
			clockOf(t, rb, "advice")["starts"].([]any)[0].(map[string]any)["key_attr"] = "advise"
		}),
	} {
		t.Run(name+" is refused as invalid", func(t *testing.T) {
			_, err := domain.ParseRulebook(data, nil)
			if err == nil || domain.ErrorCode(err) != domain.Invalid {
				t.Fatalf("ParseRulebook gave %v, want an invalid error", err)
			}
		})
	}
}

func TestRulebookRevisions(t *testing.T) {
	current, _ := domain.LookupRulebook(domain.DefaultRulebook)
	t.Run("the first record carries the version and what it corrected", func(t *testing.T) {
		e := domain.ReviseRulebook(current, nil)
		if e == nil || e.Version != current.Version || e.PreviousVersion != 0 || len(e.Revisions) != 1 || e.Revisions[0].Version != current.Version {
			t.Fatalf("first revision %+v", e)
		}
	})
	t.Run("the same version and content is not recorded again", func(t *testing.T) {
		if e := domain.ReviseRulebook(current, domain.ReviseRulebook(current, nil)); e != nil {
			t.Fatalf("recorded again: %+v", e)
		}
	})
	older, err := domain.ParseRulebook(edited(t, domain.DefaultRulebook, func(rb map[string]any) {
		rb["version"] = 2
		rb["revisions"] = rb["revisions"].([]any)[:2]
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a newer version carries every revision since the one recorded", func(t *testing.T) {
		e := domain.ReviseRulebook(current, domain.ReviseRulebook(older, nil))
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
		recorded := domain.ReviseRulebook(current, nil)
		recorded.ContentHash = "0000"
		e := domain.ReviseRulebook(current, recorded)
		if e == nil || e.PreviousVersion != current.Version || len(e.Revisions) != 1 {
			t.Fatalf("revision %+v", e)
		}
	})
	t.Run("the event survives the store and gives its rulebook back", func(t *testing.T) {
		e := domain.ReviseRulebook(current, domain.ReviseRulebook(older, nil))
		payload, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := domain.DecodeEvent(domain.TypeRulebookRevised, e.SchemaVersion(), payload)
		if err != nil {
			t.Fatal(err)
		}
		got := ev.(*domain.RulebookRevised)
		if got.Rulebook != domain.DefaultRulebook || got.Version != current.Version || got.PreviousVersion != 2 || len(got.Revisions) != len(e.Revisions) || got.Attr("version") != strconv.Itoa(current.Version) {
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
		e := domain.ReviseRulebook(current, nil)
		e.Content = older.Canonical()
		if _, err := e.Parse(nil); err == nil {
			t.Fatal("a record holding version 2 under version 4's name and hash was read")
		}
	})
}

func TestRulebookInForceByID(t *testing.T) {
	adoptions := []domain.RulebookAdopted{{Rulebook: "reform-2023", From: d("2024-09-01")}, {Rulebook: "green-paper-2022", From: d("2025-01-01")}}
	for on, want := range map[string]string{"2024-08-31": domain.DefaultRulebook, "2024-09-01": "reform-2023", "2025-06-01": "green-paper-2022"} {
		if got := domain.RulebookIDInForce(adoptions, d(on)); got != want || domain.RulebookInForce(adoptions, d(on)).ID != want {
			t.Errorf("on %s: %s in force, want %s", on, got, want)
		}
	}
}

// TestRulebooksRecordedBeforeRolesStillCount reads the rulebooks as an
// earlier build recorded them, before clocks named their next steps and
// roles: they parse, keep their content hash, and count the figures'
// clocks by the roles of today's clocks of the same names.
func TestRulebooksRecordedBeforeRolesStillCount(t *testing.T) {
	read := func(t *testing.T, name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	england, err := domain.ParseRulebook(read(t, "england-2014-v5-before-roles.json"), nil)
	if err != nil {
		t.Fatalf("the recorded england-2014 v5 does not parse: %v", err)
	}
	for role, clock := range map[string]string{domain.RolePlan: "final_plan", domain.RoleAnnualReview: "annual_review", domain.RoleAppealWindow: "appeal_window"} {
		if c := england.Clock(clock); c == nil || c.Role != role || c.Next == "" {
			t.Errorf("clock %s: %+v, want role %s and a next step", clock, c, role)
		}
	}
	rev := &domain.RulebookRevised{Rulebook: england.ID, Version: england.Version, ContentHash: england.ContentHash(), Content: england.Canonical()}
	if again, err := rev.Parse(nil); err != nil || again.ContentHash() != england.ContentHash() {
		t.Fatalf("a recorded revision of it reads back as %v (%v)", again, err)
	}
	bases := func(id string) (*domain.Rulebook, bool) { return england, id == domain.DefaultRulebook }
	reform, err := domain.ParseRulebook(read(t, "reform-2023-v3-before-roles.json"), bases)
	if err != nil {
		t.Fatalf("the recorded reform-2023 v3 on its recorded base does not parse: %v", err)
	}
	if c := reform.Clock("final_plan"); c == nil || c.Role != domain.RolePlan {
		t.Fatalf("reform-2023's plan clock: %+v", c)
	}
}
