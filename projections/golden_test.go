package projections_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/cli"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/simulate"
)

var updateGolden = flag.Bool("update", false, "write testdata/views.golden.gz from this build's views")

// goldenPath holds every view of the simulated store below, as the build
// that last ran this test with -update answered them: a rebuild's speed may
// change, what it answers may not.
const goldenPath = "testdata/views.golden.gz"

// TestEveryViewAnswersAsTheGoldenBuild rebuilds a simulated three-LA,
// two-year store and compares every view, line by line, with what an
// earlier build answered for the same store: the clocks of every case, each
// LA's and the national figures, the worklists, and every case's history.
// The simulation is deterministic (one worker, a fixed clock); the event and
// correlation IDs it draws at random are left out of the comparison.
func TestEveryViewAnswersAsTheGoldenBuild(t *testing.T) {
	ctx := context.Background()
	until := domain.NewDate(2026, 11, 20)
	fixed := func() time.Time { return time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC) }
	env, err := cli.OpenEnv(ctx, filepath.Join(t.TempDir(), "events.db"), "", fixed, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	las := []string{"E09000011", "E09000012", "E09000013"}
	if _, err := simulate.Run(ctx, env.Store, simulate.Options{LACodes: las, LAs: len(las), CasesPerYear: 150, Years: 2, Seed: 19,
		Until: until, Workers: 1, Rates: simulate.National, Now: fixed, Keys: env.Keys}, nil); err != nil {
		t.Fatal(err)
	}
	// Reads of cases, for the access log.
	for i, la := range las {
		ids := []string{fmt.Sprintf("%s-%06d", la, i), fmt.Sprintf("%s-%06d", la, i+1)}
		if err := env.Ledger.RecordAccesses(ctx, la, ids, "/v1/cases/:id", "caseworker", "cw-"+la); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Runner.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	got := dumpViews(t, env, las, until)
	if err := env.Runner.WaitSnapshot(); err != nil {
		t.Fatal(err)
	}
	// The same views from the rebuild's snapshot, and with every case
	// counted again alone, as after a rulebook's correction.
	restored := projections.NewTimeliness(calendar.NewEnglandWales())
	restored.SetHistoryLoader(projections.StoreHistory(ctx, env.Store))
	f, err := os.Open(env.Runner.SnapshotPath)
	if err != nil {
		t.Fatal(err)
	}
	_, err = restored.ReadSnapshot(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	timeliness := func(tl *projections.Timeliness) string {
		t.Helper()
		var b strings.Builder
		for _, r := range tl.AllRows(until) {
			fmt.Fprintln(&b, r)
		}
		p := projections.Period{From: domain.NewDate(2025, 4, 1), To: domain.NewDate(2026, 3, 31)}
		nat, per := tl.National(p, until)
		fmt.Fprintln(&b, nat, per)
		for _, la := range las {
			fmt.Fprintln(&b, tl.Worklist(projections.WorklistFilter{LA: la, View: "at_risk", RiskDays: 10, AsOf: until}))
		}
		return b.String()
	}
	rebuilt := timeliness(env.Runner.Timeliness)
	if timeliness(restored) != rebuilt {
		t.Fatal("the views restored from the rebuild's snapshot differ from the rebuilt ones")
	}
	var ids []string
	for _, la := range las {
		ids = append(ids, restored.CaseIDs(la)...)
	}
	if err := restored.Recompute(ids, func(id string) ([]eventstore.RecordedEvent, error) {
		return env.Store.ReadStream(ctx, domain.CaseStream(id), 1)
	}); err != nil {
		t.Fatal(err)
	}
	if timeliness(restored) != rebuilt {
		t.Fatal("the views with every case counted again alone differ from the rebuilt ones")
	}
	if *updateGolden {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(got)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err = os.Open(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test ./projections -run %s -update on the build whose answers are right)", err, t.Name())
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	want := bufio.NewScanner(zr)
	want.Buffer(nil, 1<<24)
	have := bufio.NewScanner(bytes.NewReader(got))
	have.Buffer(nil, 1<<24)
	for line := 1; ; line++ {
		w, h := want.Scan(), have.Scan()
		if !w && !h {
			break
		}
		if w != h || want.Text() != have.Text() {
			t.Fatalf("line %d differs from the golden build's answer:\n got: %.400s\nwant: %.400s", line, have.Text(), want.Text())
		}
	}
	if err := want.Err(); err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(got, []byte("\n")); lines < 2000 {
		t.Fatalf("only %d lines of views: the simulation made too little to compare", lines)
	}
}

// dumpViews writes every view of env's store as JSON lines, in a fixed order.
func dumpViews(t *testing.T, env *cli.Env, las []string, asOf domain.Date) []byte {
	t.Helper()
	ctx := context.Background()
	var b bytes.Buffer
	line := func(label string, v any) {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s\n", label, j)
	}
	tl := env.Runner.Timeliness
	for _, r := range tl.AllRows(asOf) {
		line("clock", r)
	}
	for _, p := range []projections.Period{{From: domain.NewDate(2025, 4, 1), To: domain.NewDate(2026, 3, 31)},
		{From: domain.NewDate(2024, 11, 21), To: asOf}} {
		nat, per := tl.National(p, asOf)
		line("national", nat)
		for _, s := range per {
			line("la-stats", s)
		}
		for _, la := range las {
			line("la-scan", tl.ScanStats(la, p, asOf))
		}
	}
	for _, la := range las {
		for _, view := range []string{"", "overdue", "due_this_week", "at_risk"} {
			for _, it := range tl.Worklist(projections.WorklistFilter{LA: la, View: view, RiskDays: 10, AsOf: asOf}) {
				line("worklist-"+view, it)
			}
		}
		for _, id := range tl.CaseIDs(la) {
			h, err := env.Runner.History(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range h {
				e.CorrelationID, e.CausationID = "", ""
				line("history", e)
			}
		}
		acc, err := env.Runner.AccessLog(ctx, projections.AccessFilter{LA: la, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range acc {
			line("access", a)
		}
	}
	return b.Bytes()
}
