package projections_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/cli"
	"github.com/ehcledger/ehcledger/demo"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/internal/randhist"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/simulate"
)

var today = domain.NewDate(2026, 11, 23)

func now() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// state captures everything a projection answers, for comparison.
func state(t *testing.T, env *cli.Env) (string, string) {
	t.Helper()
	rows, err := json.Marshal(env.Runner.Timeliness.AllRows(today))
	if err != nil {
		t.Fatal(err)
	}
	var hist []any
	for i := 1; i <= 120; i++ {
		h, err := env.Runner.History(context.Background(), demoID(i))
		if err != nil {
			t.Fatal(err)
		}
		hist = append(hist, h)
	}
	hb, _ := json.Marshal(hist)
	return string(rows), string(hb)
}

func demoID(i int) string { return fmt.Sprintf("DEMO-%03d", i) }

func TestRebuildEqualsIncremental(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	env, err := cli.OpenEnv(ctx, filepath.Join(dir, "events.db"), "", now, quiet())
	if err != nil {
		t.Fatal(err)
	}
	// Follow the store live while cases are written from several goroutines.
	done := make(chan error, 1)
	go func() { done <- env.Runner.Run(ctx) }()
	if _, err := demo.Generate(ctx, env.Ledger, demo.Options{LA: "E09000001", Cases: 120, Today: today, Seed: 7, Workers: 8}); err != nil {
		t.Fatal(err)
	}
	head, _ := env.Store.Head(ctx)
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := env.Runner.WaitFor(wctx, head); err != nil {
		t.Fatalf("projections never reached %d: %v", head, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	incRows, incHist := state(t, env)
	if len(incRows) < 1000 {
		t.Fatalf("suspiciously few clocks: %s", incRows)
	}

	t.Run("rebuild from scratch gives the same views", func(t *testing.T) {
		n, err := env.Runner.Rebuild(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n != head {
			t.Fatalf("rebuild applied %d events, store holds %d", n, head)
		}
		rows, hist := state(t, env)
		if rows != incRows {
			t.Fatal("rebuilt timeliness differs from the incremental one")
		}
		if hist != incHist {
			t.Fatal("rebuilt audit differs from the incremental one")
		}
	})
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("a restart resumes from the checkpoint with the same views", func(t *testing.T) {
		env, err := cli.OpenEnv(context.Background(), filepath.Join(dir, "events.db"), "", now, quiet())
		if err != nil {
			t.Fatal(err)
		}
		defer env.Close()
		if env.Runner.Position() != head {
			t.Fatalf("restored at %d, want %d", env.Runner.Position(), head)
		}
		n, err := env.Runner.CatchUp(context.Background())
		if err != nil || n != 0 {
			t.Fatalf("catch-up after restart applied %d events (%v), want 0", n, err)
		}
		rows, hist := state(t, env)
		if !reflect.DeepEqual([]string{rows, hist}, []string{incRows, incHist}) {
			t.Fatal("views after restart differ")
		}
	})
}

// TestRebuildEqualsIncrementalOverRandomHistories is the property test: for
// random histories (random commands, many rejected, corrections, rulebook
// adoptions, LA transfers), the projection maintained live equals the one
// rebuilt from scratch, and both equal a fresh replay of the store.
func TestRebuildEqualsIncrementalOverRandomHistories(t *testing.T) {
	for _, seed := range []uint64{1, 7, 2023} {
		t.Run(fmt.Sprintf("seed_%d", seed), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			env, err := cli.OpenEnv(ctx, filepath.Join(t.TempDir(), "events.db"), "", now, quiet())
			if err != nil {
				t.Fatal(err)
			}
			defer env.Close()
			done := make(chan error, 1)
			go func() { done <- env.Runner.Run(ctx) }()
			r := rand.New(rand.NewPCG(seed, 11))
			if err := env.Ledger.ExecuteLA(ctx, "E09000001", "adopt_rulebook", domain.NewDate(2025, 1, 1), []byte(`{"rulebook":"reform-2023","from":"2025-01-01"}`), "test"); err != nil {
				t.Fatal(err)
			}
			accepted := 0
			for c := 0; c < 40; c++ {
				on := domain.NewDate(2024, 1, 1).AddDays(r.IntN(300))
				for _, s := range randhist.Sequence(r, 30) {
					on = on.AddDays(s.After)
					y, m, d := on.YMD()
					_, err := env.Ledger.Execute(ctx, app.CommandRequest{Case: fmt.Sprintf("r%d", c), Command: s.Command, On: on, Data: s.Data,
						Actor: "prop", LA: laFor(s.Command), Expected: eventstore.Any, RecordedAt: time.Date(y, m, d, 12, 0, 0, 0, time.UTC)})
					if err == nil {
						accepted++
					} else if domain.ErrorCode(err) == domain.Internal {
						t.Fatalf("%s: %v", s.Command, err)
					}
				}
			}
			if accepted < 100 {
				t.Fatalf("only %d commands accepted: the generator is too random to test much", accepted)
			}
			head, _ := env.Store.Head(ctx)
			wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
			defer wcancel()
			if err := env.Runner.WaitFor(wctx, head); err != nil {
				t.Fatal(err)
			}
			asOf := domain.NewDate(2026, 6, 1)
			live, _ := json.Marshal(env.Runner.Timeliness.AllRows(asOf))
			cancel()
			<-done
			fresh := projections.NewTimeliness(calendar.NewEnglandWales())
			fresh.SetHistoryLoader(projections.StoreHistory(context.Background(), env.Store))
			if err := projections.ReadBatches(context.Background(), env.Store, 1, 1000, fresh.Apply); err != nil {
				t.Fatal(err)
			}
			replayed, _ := json.Marshal(fresh.AllRows(asOf))
			if _, err := env.Runner.Rebuild(context.Background()); err != nil {
				t.Fatal(err)
			}
			rebuilt, _ := json.Marshal(env.Runner.Timeliness.AllRows(asOf))
			if string(live) != string(rebuilt) || string(live) != string(replayed) {
				t.Fatalf("live, rebuilt and replayed projections differ (%d accepted commands)", accepted)
			}
			for la, n := range env.Runner.Timeliness.OverdueByLA(asOf) {
				if w := env.Runner.Timeliness.Worklist(projections.WorklistFilter{LA: la, View: "overdue", AsOf: asOf}); len(w) != n {
					t.Fatalf("LA %s: %d overdue clocks counted for metrics, %d on the worklist", la, n, len(w))
				}
			}
			var snap bytes.Buffer
			if _, err := fresh.WriteSnapshot(&snap); err != nil {
				t.Fatal(err)
			}
			restored := projections.NewTimeliness(calendar.NewEnglandWales())
			if stale, err := restored.ReadSnapshot(&snap); err != nil || len(stale) != 0 {
				t.Fatalf("%v, %d cases left to count again", err, len(stale))
			}
			if again, _ := json.Marshal(restored.AllRows(asOf)); string(again) != string(live) {
				t.Fatal("the projection restored from a snapshot differs from the live one")
			}
			// Events replayed onto cases that already hold them change nothing.
			half := restored.Position() / 2
			projections.Rewind(restored, half)
			if err := projections.ReadBatches(context.Background(), env.Store, half+1, 1000, restored.Apply); err != nil {
				t.Fatal(err)
			}
			if again, _ := json.Marshal(restored.AllRows(asOf)); string(again) != string(live) {
				t.Fatal("replaying events a snapshot already holds changed the projection")
			}
			// The fast, fact-based figures equal the case-by-case definition
			// for every period and as-of date tried.
			for _, q := range []struct{ from, to, asOf domain.Date }{
				{domain.NewDate(2024, 1, 1), domain.NewDate(2024, 12, 31), domain.NewDate(2024, 12, 31)},
				{domain.NewDate(2024, 3, 1), domain.NewDate(2025, 2, 28), domain.NewDate(2026, 6, 1)},
				{domain.NewDate(2025, 1, 1), domain.NewDate(2026, 12, 31), domain.NewDate(2025, 7, 1)},
			} {
				p := projections.Period{From: q.from, To: q.to}
				fast, _ := json.Marshal(env.Runner.Timeliness.LAStats("E09000001", p, q.asOf))
				scan, _ := json.Marshal(env.Runner.Timeliness.ScanStats("E09000001", p, q.asOf))
				if string(fast) != string(scan) {
					t.Fatalf("figures for %v as of %s differ:\nfast %s\nscan %s", p, q.asOf, fast, scan)
				}
			}
		})
	}
}

// laFor gives the LA for opening a case; later commands follow the case.
func laFor(command string) string {
	if command == "receive_request" {
		return "E09000001"
	}
	return ""
}

func TestWorklistViews(t *testing.T) {
	ctx := context.Background()
	env, err := cli.OpenEnv(ctx, filepath.Join(t.TempDir(), "events.db"), "", now, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	do := func(c, cmd, on, data string) { t.Helper(); record(t, env, c, cmd, on, data) }
	req := `{"requester":"parent","birth_date":"2015-01-01"}`
	// a: decision due Mon 2026-12-07 (running), b: overdue, c: plan due soon, draft sent.
	do("a", "receive_request", "2026-10-26", req)
	do("a", "assign_case", "2026-10-26", `{"caseworker":"cw1","team":"t1"}`)
	do("b", "receive_request", "2026-09-01", req)
	do("b", "assign_case", "2026-09-01", `{"caseworker":"cw2","team":"t1"}`)
	do("c", "receive_request", "2026-07-20", req)
	do("c", "assign_case", "2026-07-20", `{"caseworker":"cw1","team":"t2"}`)
	do("c", "decide_to_assess", "2026-08-20", "")
	do("c", "send_draft_plan", "2026-11-20", "")
	if _, err := env.Runner.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	asOf := domain.NewDate(2026, 11, 30) // a Monday
	list := func(f projections.WorklistFilter) []string {
		f.AsOf = asOf
		var out []string
		for _, it := range env.Runner.Timeliness.Worklist(f) {
			out = append(out, it.Case+"/"+it.Clock)
		}
		return out
	}
	if got := list(projections.WorklistFilter{View: "overdue"}); !reflect.DeepEqual(got, []string{"b/decide_to_assess"}) {
		t.Errorf("overdue: %v", got)
	}
	// This week ends on Sunday 6 December: only c's draft window (5 Dec).
	if got := list(projections.WorklistFilter{View: "due_this_week", Caseworker: "cw1"}); !reflect.DeepEqual(got, []string{"c/draft_comments"}) {
		t.Errorf("cw1 due this week: %v", got)
	}
	// Due within 10 days with no step started: a's decision (7 Dec); c's plan is
	// due on 7 Dec too but its draft is out, so it is not at risk.
	if got := list(projections.WorklistFilter{View: "at_risk"}); !reflect.DeepEqual(got, []string{"a/decide_to_assess"}) {
		t.Errorf("at risk: %v", got)
	}
	if got := list(projections.WorklistFilter{Team: "t2", Clock: "final_plan"}); !reflect.DeepEqual(got, []string{"c/final_plan"}) {
		t.Errorf("team t2: %v", got)
	}
}

// record executes one command as of its own day, failing the test if it is
// rejected.
func record(t *testing.T, env *cli.Env, c, cmd, on, data string) {
	t.Helper()
	d, err := domain.ParseDate(on)
	if err != nil {
		t.Fatal(err)
	}
	y, m, dd := d.YMD()
	la := ""
	if cmd == "receive_request" {
		la = "E09000001"
	}
	var raw json.RawMessage
	if data != "" {
		raw = json.RawMessage(data)
	}
	if _, err := env.Ledger.Execute(context.Background(), app.CommandRequest{Case: c, Command: cmd, On: d, Data: raw, Actor: "t", LA: la,
		Expected: eventstore.Any, RecordedAt: time.Date(y, m, dd, 12, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatalf("%s %s: %v", c, cmd, err)
	}
}

// scratchEnv opens the server's wiring over an empty store in a temporary
// directory, closed when the test ends.
func scratchEnv(t *testing.T) *cli.Env {
	t.Helper()
	env, err := cli.OpenEnv(context.Background(), filepath.Join(t.TempDir(), "events.db"), "", now, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	return env
}

func TestInspectorStats(t *testing.T) {
	ctx := context.Background()
	env := scratchEnv(t)
	req := `{"requester":"parent","birth_date":"2015-01-01"}`
	for _, c := range []struct{ id, plan string }{{"a", "2024-05-20"}, {"b", "2024-06-10"}, {"c", "2024-06-24"}} {
		record(t, env, c.id, "receive_request", "2024-01-08", req)
		record(t, env, c.id, "decide_to_assess", "2024-02-01", "")
		if c.id == "b" {
			record(t, env, c.id, "record_exception", "2024-03-01", `{"kind":"personal_circumstances","from":"2024-03-01","to":"2024-03-20","evidence":"e"}`)
		}
		record(t, env, c.id, "send_draft_plan", "2024-04-15", "")
		record(t, env, c.id, "issue_final_plan", c.plan, `{"school":"S1"}`)
	}
	record(t, env, "d", "receive_request", "2024-01-08", req)
	record(t, env, "d", "refuse_assessment", "2024-02-01", "")
	record(t, env, "d", "contact_mediation_adviser", "2024-02-05", `{"wants_mediation":false}`)
	record(t, env, "d", "issue_mediation_certificate", "2024-02-07", "")
	record(t, env, "d", "lodge_appeal", "2024-02-20", `{"kind":"refusal_to_assess"}`)
	if _, err := env.Runner.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	p := projections.Period{From: domain.NewDate(2024, 1, 1), To: domain.NewDate(2024, 12, 31)}
	s := env.Runner.Timeliness.LAStats("E09000001", p, p.To)
	got := []any{s.Requests, s.Assessments, s.Refusals, s.PlansIssued, s.Within20Weeks, s.ShareWithin20Weeks,
		s.PlansExclExceptions, s.Within20WeeksExclExceptions, s.ShareWithin20WeeksExcl, s.MedianWeeks, s.P90Weeks,
		s.BreachesByStage["final_plan"], s.ExcusedByStage["final_plan"], s.MediationContacts, s.AppealsLodged, s.AppealableDecisions, s.AppealRate}
	want := []any{4, 3, 1, 3, 1, 0.333, 2, 1, 0.5, 22.0, 24.0, 2, 1, 1, 1, 4, 0.25}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stats\n got %v\nwant %v", got, want)
	}
	national, per := env.Runner.Timeliness.National(p, p.To)
	if len(per) != 1 || national.PlansIssued != 3 || national.MedianWeeks != 22.0 {
		t.Fatalf("national %+v (%d LAs)", national, len(per))
	}
	if other := env.Runner.Timeliness.LAStats("E00000000", p, p.To); other.Requests != 0 {
		t.Fatalf("another LA counts %d requests", other.Requests)
	}
	t.Run("a write in one LA changes its figures and the nation's, not another LA's", func(t *testing.T) {
		d, _ := domain.ParseDate("2024-03-01")
		if _, err := env.Ledger.Execute(ctx, app.CommandRequest{Case: "z1", Command: "receive_request", On: d, LA: "E09000002", Actor: "t",
			Data: json.RawMessage(req), Expected: eventstore.Any, RecordedAt: time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Runner.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if again := env.Runner.Timeliness.LAStats("E09000001", p, p.To); again.Requests != 4 {
			t.Fatalf("E09000001 now counts %d requests", again.Requests)
		}
		if b := env.Runner.Timeliness.LAStats("E09000002", p, p.To); b.Requests != 1 {
			t.Fatalf("E09000002 counts %d requests", b.Requests)
		}
		if n, per := env.Runner.Timeliness.National(p, p.To); n.Requests != 5 || len(per) != 2 {
			t.Fatalf("national counts %d requests in %d LAs", n.Requests, len(per))
		}
	})
}

func TestFactStatsEqualScanOnSimulatedLAs(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "sim.db")
	s, views, err := cli.OpenStore(db)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := cli.OpenKeys(views, now)
	if err != nil {
		t.Fatal(err)
	}
	until := domain.NewDate(2026, 11, 23)
	if _, err := simulate.Run(ctx, s, simulate.Options{LAs: 2, CasesPerYear: 150, Years: 3, Seed: 5, Until: until, Rates: simulate.National, Keys: ks}, nil); err != nil {
		t.Fatal(err)
	}
	ks.Close()
	s.Close()
	env, err := cli.OpenEnv(ctx, db, "", now, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if _, err := env.Runner.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	tl := env.Runner.Timeliness
	for _, la := range tl.LAs() {
		for i, p := range []projections.Period{
			{From: domain.NewDate(2024, 1, 1), To: domain.NewDate(2024, 12, 31)},
			{From: domain.NewDate(2025, 6, 15), To: domain.NewDate(2026, 6, 14)},
			{From: domain.NewDate(2023, 11, 24), To: until},
		} {
			fast, _ := json.Marshal(tl.LAStats(la, p, until.AddDays(-30*i)))
			scan, _ := json.Marshal(tl.ScanStats(la, p, until.AddDays(-30*i)))
			if string(fast) != string(scan) {
				t.Fatalf("%s %v: fast %s\nscan %s", la, p, fast, scan)
			}
			if !strings.Contains(string(fast), `"plans_issued":`) || strings.Contains(string(fast), `"plans_issued":0,`) && i != 0 {
				t.Fatalf("%s %v has no plans: %s", la, p, fast)
			}
		}
	}
}

// TestOnlyTheLAsLimitsAreItsBreaches checks statutory.md section 8's
// statistics: a late school response (Code 9.83, the school's) and a late
// mediation certificate (the adviser's) are not the LA's breaches, and an
// overdue reg 10(1) or reg 44(2)(b)(i) decision not to issue is a risk until
// a late decision not to issue makes it one.
func TestOnlyTheLAsLimitsAreItsBreaches(t *testing.T) {
	ctx := context.Background()
	env := scratchEnv(t)
	req := `{"requester":"parent","birth_date":"2015-01-01"}`
	// a: the school answers late and the plan follows on time.
	record(t, env, "a", "receive_request", "2024-01-08", req)
	record(t, env, "a", "decide_to_assess", "2024-02-01", "")
	record(t, env, "a", "consult_school", "2024-03-01", `{"school":"S1"}`)
	record(t, env, "a", "receive_school_response", "2024-04-01", `{"school":"S1"}`)
	// b: refused; the adviser's certificate comes late.
	record(t, env, "b", "receive_request", "2024-01-08", req)
	record(t, env, "b", "refuse_assessment", "2024-02-01", "")
	record(t, env, "b", "contact_mediation_adviser", "2024-02-05", `{"wants_mediation":false}`)
	record(t, env, "b", "issue_mediation_certificate", "2024-02-20", "")
	// c: assessing, no decision on issuing 16 weeks on: a risk, not a breach.
	record(t, env, "c", "receive_request", "2024-01-08", req)
	record(t, env, "c", "decide_to_assess", "2024-02-01", "")
	// d: a decision not to issue, late: the LA's breach.
	record(t, env, "d", "receive_request", "2024-01-08", req)
	record(t, env, "d", "decide_to_assess", "2024-02-01", "")
	record(t, env, "d", "decide_not_to_issue", "2024-05-10", "")
	// e: a tribunal orders an assessment; neither decision comes: the
	// overdue final plan (reg 44(2)(b)(ii)) is a breach, the overdue
	// decision not to issue (reg 44(2)(b)(i)) a risk.
	record(t, env, "e", "receive_request", "2023-09-04", req)
	record(t, env, "e", "refuse_assessment", "2023-10-02", "")
	record(t, env, "e", "contact_mediation_adviser", "2023-10-09", `{"wants_mediation":false}`)
	record(t, env, "e", "issue_mediation_certificate", "2023-10-10", "")
	record(t, env, "e", "lodge_appeal", "2023-11-01", `{"kind":"refusal_to_assess"}`)
	record(t, env, "e", "tribunal_order", "2024-01-05", `{"order":"assess"}`)
	record(t, env, "e", "comply_with_order", "2024-01-12", `{"step":"assess_notice"}`)
	if _, err := env.Runner.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	p := projections.Period{From: domain.NewDate(2024, 1, 1), To: domain.NewDate(2024, 5, 31)}
	for name, s := range map[string]projections.Stats{
		"facts": env.Runner.Timeliness.LAStats("E09000001", p, p.To),
		"scan":  env.Runner.Timeliness.ScanStats("E09000001", p, p.To),
	} {
		if n := s.BreachesByStage["school_consultation"]; n != 0 {
			t.Errorf("%s: %d school consultations counted as the LA's breaches", name, n)
		}
		if n := s.BreachesByStage["mediation_certificate"]; n != 0 {
			t.Errorf("%s: %d mediation certificates counted as the LA's breaches", name, n)
		}
		if n := s.BreachesByStage["decision_not_to_issue"]; n != 1 {
			t.Errorf("%s: %d decision_not_to_issue breaches, want 1 (the late decision, not the overdue risk)", name, n)
		}
		if n := s.BreachesByStage["order_compliance"]; n != 1 {
			t.Errorf("%s: %d order_compliance breaches, want 1 (the overdue final plan, not the overdue decision not to issue)", name, n)
		}
	}
}
