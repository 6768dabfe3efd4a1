package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/cli"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/internal/rulebooktest"
	"github.com/ehcledger/ehcledger/projections"
)

// twoPlans records a plan issued in week 19 (a) and a request with no plan
// (b) in E09000001: an 18-week final-plan limit makes a late and moves b's
// due date.
func twoPlans(t *testing.T, env *cli.Env) {
	t.Helper()
	req := `{"requester":"parent","birth_date":"2015-01-01"}`
	record(t, env, "a", "receive_request", "2024-01-08", req)
	record(t, env, "a", "decide_to_assess", "2024-02-01", "")
	record(t, env, "a", "send_draft_plan", "2024-04-15", "")
	record(t, env, "a", "issue_final_plan", "2024-05-20", `{"school":"S1"}`)
	record(t, env, "b", "receive_request", "2024-03-04", req)
	record(t, env, "b", "decide_to_assess", "2024-04-01", "")
}

// equalStats reports whether two answers give the same figures.
func equalStats(a, b projections.Stats) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// finalPlanChanges keeps the final_plan changes, by case.
func finalPlanChanges(changes []projections.ClockChange) map[string]projections.ClockChange {
	out := map[string]projections.ClockChange{}
	for _, c := range changes {
		if c.Clock == "final_plan" {
			out[c.Case] = c
		}
	}
	return out
}

func TestAnLAsHistoryCountedUnderOtherRules(t *testing.T) {
	ctx := context.Background()
	env := scratchEnv(t)
	twoPlans(t, env)
	if _, err := env.Runner.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	cases := env.Runner.Timeliness.CaseIDs("E09000001")
	h, err := app.ReadLAHistory(ctx, env.Store, "E09000001", cases)
	if err != nil {
		t.Fatal(err)
	}
	hol := calendar.NewEnglandWales()
	actual, err := h.Model(hol, nil)
	if err != nil {
		t.Fatal(err)
	}
	shorter := rulebooktest.Earlier(t, domain.DefaultRulebook, 3, "final_plan", 18)
	always := func(string, []domain.RulebookAdopted, domain.Date) *domain.Rulebook { return shorter }
	whatIf, err := h.Model(hol, always)
	if err != nil {
		t.Fatal(err)
	}
	asOf := domain.NewDate(2024, 12, 31)
	p := projections.Period{From: domain.NewDate(2024, 1, 1), To: asOf}

	t.Run("counted under the rules in force it equals the live model", func(t *testing.T) {
		live := env.Runner.Timeliness.LAStats("E09000001", p, asOf)
		if got := actual.Figures("E09000001").Stats(p, asOf); !equalStats(got, live) {
			t.Fatalf("replayed %+v\nlive %+v", got, live)
		}
		if n := len(projections.CompareClocks(actual, actual, "E09000001", asOf)); n != 0 {
			t.Fatalf("a model differs from itself in %d clocks", n)
		}
	})
	t.Run("a shorter period moves the due dates and makes the plan late", func(t *testing.T) {
		changes := projections.CompareClocks(actual, whatIf, "E09000001", asOf)
		fp := finalPlanChanges(changes)
		if len(changes) != 2 || len(fp) != 2 {
			t.Fatalf("changes %+v, want the two final plans only", changes)
		}
		a, b := fp["a"], fp["b"]
		if a.DueBefore != domain.NewDate(2024, 5, 27) || a.DueAfter != domain.NewDate(2024, 5, 13) || a.StatusBefore != "met" || a.StatusAfter != "late" {
			t.Errorf("case a %+v", a)
		}
		if b.DueBefore != domain.NewDate(2024, 7, 22) || b.DueAfter != domain.NewDate(2024, 7, 8) || b.StatusBefore != "overdue" || b.StatusAfter != "overdue" {
			t.Errorf("case b %+v", b)
		}
		before, after := actual.Figures("E09000001").Stats(p, asOf), whatIf.Figures("E09000001").Stats(p, asOf)
		if before.Within20Weeks != 1 || after.Within20Weeks != 0 || before.BreachesByStage["final_plan"] != 1 || after.BreachesByStage["final_plan"] != 2 {
			t.Errorf("figures before %+v after %+v", before, after)
		}
	})
	t.Run("the live model is left as it was", func(t *testing.T) {
		rows, _ := env.Runner.Timeliness.CaseClocks("a", asOf)
		for _, r := range rows {
			if r.Clock == "final_plan" && (r.Due != domain.NewDate(2024, 5, 27) || r.Status != "met") {
				t.Fatalf("the live final plan is now %+v", r)
			}
		}
	})
}

func TestARevisionsChangesReportBeforeAndAfter(t *testing.T) {
	ctx := context.Background()
	env := scratchEnv(t)
	twoPlans(t, env)
	// A build holding version 3 with an 18-week final plan ran first; this
	// build (the 20 weeks of the current version) starts now.
	earlier := rulebooktest.Earlier(t, domain.DefaultRulebook, 3, "final_plan", 18)
	rulebooktest.Record(t, env.Store, earlier, time.Date(2024, 12, 1, 9, 0, 0, 0, time.UTC))
	if _, err := env.Ledger.RecordRulebookRevisions(ctx, "system:test"); err != nil {
		t.Fatal(err)
	}
	cases, err := app.CasesOfLA(ctx, env.Store, "E09000001")
	if err != nil || len(cases) != 2 {
		t.Fatalf("cases %v %v", cases, err)
	}
	asOf := domain.NewDate(2024, 12, 31)
	current, _ := domain.LookupRulebook(domain.DefaultRulebook)

	t.Run("the report lists each changed clock with its due dates before and after", func(t *testing.T) {
		r, err := env.Ledger.RevisionChanges(ctx, "E09000001", cases, "", 0, projections.Period{}, asOf)
		if err != nil {
			t.Fatal(err)
		}
		if r.Version != current.Version || r.PreviousVersion != 3 || len(r.Corrects) != current.Version-3 || r.Cases != 2 {
			t.Fatalf("report %+v", r)
		}
		fp := finalPlanChanges(r.Clocks)
		if r.ChangedClocks != 2 || len(fp) != 2 {
			t.Fatalf("changed clocks %+v", r.Clocks)
		}
		if a := fp["a"]; a.DueBefore != domain.NewDate(2024, 5, 13) || a.DueAfter != domain.NewDate(2024, 5, 27) || a.StatusBefore != "late" || a.StatusAfter != "met" {
			t.Errorf("case a %+v", a)
		}
		if b := fp["b"]; b.DueBefore != domain.NewDate(2024, 7, 8) || b.DueAfter != domain.NewDate(2024, 7, 22) {
			t.Errorf("case b %+v", b)
		}
		if r.Period.From != domain.NewDate(2024, 1, 8) || r.Period.To != asOf {
			t.Errorf("period %+v, want the LA's whole history to as-of", r.Period)
		}
		if r.Before.Within20Weeks != 0 || r.After.Within20Weeks != 1 || r.Before.BreachesByStage["final_plan"] != 2 || r.After.BreachesByStage["final_plan"] != 1 {
			t.Errorf("figures before %+v after %+v", r.Before, r.After)
		}
	})
	t.Run("a first recorded version has nothing to compare with", func(t *testing.T) {
		_, err := env.Ledger.RevisionChanges(ctx, "E09000001", cases, "reform-2023", 0, projections.Period{}, asOf)
		if domain.ErrorCode(err) != domain.NotFound {
			t.Fatalf("got %v, want not found", err)
		}
	})
	t.Run("an unrecorded rulebook or version is a field error", func(t *testing.T) {
		for field, q := range map[string]struct {
			id      string
			version int
		}{"rulebook": {"wales-2018", 0}, "version": {domain.DefaultRulebook, 99}} {
			_, err := env.Ledger.RevisionChanges(ctx, "E09000001", cases, q.id, q.version, projections.Period{}, asOf)
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.Invalid || de.Field != field {
				t.Errorf("%s: got %v, want an invalid %s", field, err, field)
			}
		}
	})
	t.Run("a what-if under a rulebook with the same limits changes no clock", func(t *testing.T) {
		c, rb, err := env.Ledger.WhatIf(ctx, "E09000001", cases, "green-paper-2022")
		if err != nil {
			t.Fatal(err)
		}
		p := projections.Period{From: domain.NewDate(2024, 1, 1), To: asOf}
		r := c.WhatIfReport(rb, p, asOf, true)
		if r.Rulebook != "green-paper-2022" || r.ChangedClocks != 0 || len(r.Clocks) != 0 || !equalStats(r.Actual, r.WhatIf) || r.Actual.PlansIssued != 1 {
			t.Fatalf("what-if %+v", r)
		}
	})
	t.Run("a what-if under an unknown rulebook is a field error", func(t *testing.T) {
		_, _, err := env.Ledger.WhatIf(ctx, "E09000001", cases, "wales-2018")
		var de *domain.Error
		if !errors.As(err, &de) || de.Field != "rulebook" || de.Code != domain.Invalid {
			t.Fatalf("got %v", err)
		}
	})
}

func TestARevisionOfTheBaseReachesARulebookWrittenOnIt(t *testing.T) {
	ctx := context.Background()
	env := scratchEnv(t)
	if err := env.Ledger.ExecuteLA(ctx, "E09000001", "adopt_rulebook", domain.NewDate(2023, 9, 1), []byte(`{"rulebook":"reform-2023","from":"2023-09-01"}`), "t"); err != nil {
		t.Fatal(err)
	}
	twoPlans(t, env)
	// Only the current law's earlier version was recorded: reform-2023, as
	// written on it, counted under the earlier base before the revision.
	rulebooktest.Record(t, env.Store, rulebooktest.Earlier(t, domain.DefaultRulebook, 3, "final_plan", 18), time.Date(2024, 12, 1, 9, 0, 0, 0, time.UTC))
	if _, err := env.Ledger.RecordRulebookRevisions(ctx, "system:test"); err != nil {
		t.Fatal(err)
	}
	cases, err := app.CasesOfLA(ctx, env.Store, "E09000001")
	if err != nil {
		t.Fatal(err)
	}
	r, err := env.Ledger.RevisionChanges(ctx, "E09000001", cases, "", 0, projections.Period{}, domain.NewDate(2024, 12, 31))
	if err != nil {
		t.Fatal(err)
	}
	if fp := finalPlanChanges(r.Clocks); len(fp) != 2 || fp["a"].DueBefore != domain.NewDate(2024, 5, 13) || fp["a"].StatusBefore != "late" {
		t.Fatalf("an LA on reform-2023 sees %+v", r.Clocks)
	}
}
