// Package rulebooktest makes rulebooks for tests: a built-in rulebook with
// some of its rules changed, as an earlier or later revision of it would
// have them, and the stored record of such a revision.
package rulebooktest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
)

// Edited returns the canonical JSON of the built-in rulebook id after
// change has edited it as a JSON object.
func Edited(t testing.TB, id string, change func(rb map[string]any)) []byte {
	t.Helper()
	rb, err := domain.LookupRulebook(id)
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

// Clock returns the named clock of a rulebook held as a JSON object.
func Clock(t testing.TB, rb map[string]any, name string) map[string]any {
	t.Helper()
	for _, c := range rb["clocks"].([]any) {
		if m := c.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("the rulebook has no clock %s", name)
	return nil
}

// Earlier returns the built-in rulebook id as an earlier version would have
// been: numbered version, with its revisions up to that version, and with
// the period of clock set to weeks weeks.
func Earlier(t testing.TB, id string, version int, clock string, weeks int) *domain.Rulebook {
	t.Helper()
	b := Edited(t, id, func(rb map[string]any) {
		rb["version"] = version
		rb["revisions"] = rb["revisions"].([]any)[:version]
		Clock(t, rb, clock)["period"].(map[string]any)["n"] = weeks
	})
	rb, err := domain.ParseRulebook(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rb
}

// Record appends to the store the revision a ledger running rb would have
// recorded first, as a build holding rb would have on its first start.
func Record(t testing.TB, store eventstore.Store, rb *domain.Rulebook, at time.Time) {
	t.Helper()
	data, err := app.Envelope([]domain.Event{domain.ReviseRulebook(rb, nil)}, app.Meta{On: domain.DateOf(at), RecordedAt: at,
		Actor: "system:ehcledger", Correlation: "earlier-build", Causation: "earlier-build"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Append(context.Background(), domain.RulebooksStream(), eventstore.Any, data); err != nil {
		t.Fatal(err)
	}
}
