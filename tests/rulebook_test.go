package tests

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
	"github.com/ehcledger/ehcledger/internal/rulebooktest"
)

// run runs the binary and decodes its JSON output; it fails the test when
// the command fails.
func run(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, err := exec.Command(binary, args...).Output()
	if err != nil {
		t.Fatalf("ehcledger %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("ehcledger %s printed %s", strings.Join(args, " "), out)
	}
	return m
}

func TestARulebookRevisionIsRecordedOnceAndItsChangesReported(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ledger.db")
	const la = "E09000001"
	if out, err := exec.Command(binary, "simulate", "--db", db, "--las", "1", "--cases", "40", "--years", "2", "--seed", "5", "--until", "2025-06-30").CombinedOutput(); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	// An earlier build, whose version 3 of the current law gave a final
	// plan 18 weeks, ran on this store first.
	store, err := sqlite.Open(db, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rulebooktest.Record(t, store, rulebooktest.Earlier(t, domain.DefaultRulebook, 3, "final_plan", 18), time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC))
	store.Close()

	s := startServer(t, db)
	manager := "Bearer " + tokenFor(t, auth.Manager, la)
	path := "/v1/las/" + la + "/rulebook-changes?as_of=2025-06-30"
	report := s.must(200, "GET", path, "", "Authorization", manager)
	t.Run("the report names the revision and what it corrects", func(t *testing.T) {
		current, _ := domain.LookupRulebook(domain.DefaultRulebook)
		if report["rulebook"] != domain.DefaultRulebook || report["version"] != float64(current.Version) || report["previous_version"] != float64(3) {
			t.Fatalf("report %v", report)
		}
		if corrects, _ := report["corrects"].([]any); len(corrects) != current.Version-3 {
			t.Fatalf("corrects %v", report["corrects"])
		}
	})
	t.Run("every changed clock is a final plan now due two weeks later", func(t *testing.T) {
		clocks, _ := report["clocks"].([]any)
		if len(clocks) == 0 || report["changed_clocks"] != float64(len(clocks)) {
			t.Fatalf("%v changed clocks: %v", report["changed_clocks"], clocks)
		}
		for _, c := range clocks {
			m := c.(map[string]any)
			before, _ := domain.ParseDate(m["due_before"].(string))
			after, _ := domain.ParseDate(m["due_after"].(string))
			if m["clock"] != "final_plan" || after-before != 14 || m["case"] == "" || m["started"] == "" {
				t.Fatalf("changed clock %v", m)
			}
		}
		b, a := report["before"].(map[string]any), report["after"].(map[string]any)
		if b["plans_issued"] != a["plans_issued"] || b["within_20_weeks"].(float64) > a["within_20_weeks"].(float64) {
			t.Fatalf("figures before %v after %v", b, a)
		}
	})
	t.Run("only the LA's managers and inspectors may see it", func(t *testing.T) {
		s.must(200, "GET", path, "", "Authorization", "Bearer "+tokenFor(t, auth.Inspector, la))
		s.must(403, "GET", path, "", "Authorization", "Bearer "+tokenFor(t, auth.Manager, "E09000002"))
		s.must(403, "GET", path, "", "Authorization", "Bearer "+tokenFor(t, auth.Caseworker, la))
	})
	s.stop()
	if !strings.Contains(s.logs.String(), `"msg":"recorded a rulebook revision","rulebook":"england-2014"`) {
		t.Fatalf("the first start logged no revision:\n%s", s.logs)
	}

	t.Run("a second start records nothing", func(t *testing.T) {
		again := startServer(t, db)
		again.stop()
		if strings.Contains(again.logs.String(), "recorded a rulebook revision") {
			t.Fatalf("the second start recorded again:\n%s", again.logs)
		}
	})
	t.Run("the command line gives the same report", func(t *testing.T) {
		cli := run(t, "rulebook", "changes", "--db", db, "--la", la, "--as-of", "2025-06-30")
		if cli["changed_clocks"] != report["changed_clocks"] || cli["previous_version"] != float64(3) {
			t.Fatalf("command line %v, HTTP %v", cli["changed_clocks"], report["changed_clocks"])
		}
		out, err := exec.Command(binary, "rulebook", "changes", "--db", db, "--la", la, "--as-of", "2025-06-30", "--format", "table").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "figure") || !strings.Contains(string(out), "final_plan") || !strings.Contains(string(out), "corrects:") {
			t.Fatalf("table: %v\n%s", err, out)
		}
	})
	t.Run("a what-if under a rulebook with the current law's limits changes no figure", func(t *testing.T) {
		w := run(t, "whatif", "--db", db, "--la", la, "--rulebook", "green-paper-2022", "--as-of", "2025-06-30", "--clocks")
		actual, whatIf := w["actual"].(map[string]any), w["what_if"].(map[string]any)
		if w["changed_clocks"] != float64(0) || actual["plans_issued"] == float64(0) || actual["within_20_weeks"] != whatIf["within_20_weeks"] {
			t.Fatalf("what-if %v", w)
		}
	})
	t.Run("a what-if under an unknown rulebook is refused naming it", func(t *testing.T) {
		out, err := exec.Command(binary, "whatif", "--db", db, "--la", la, "--rulebook", "wales-2018").CombinedOutput()
		if err == nil || !strings.Contains(string(out), `rulebook: unknown rulebook "wales-2018"`) {
			t.Fatalf("%v\n%s", err, out)
		}
	})
}
