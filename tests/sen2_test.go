package tests

import (
	"encoding/csv"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/sqlitedb"
)

func TestSimulateThenExportSEN2(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sim.db")
	out, err := exec.Command(binary, "simulate", "--db", db, "--las", "2", "--cases", "60", "--years", "2", "--seed", "9", "--until", "2025-06-30").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "simulated 240 cases in 2 LAs") {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	if out, err := exec.Command(binary, "verify", "--db", db).CombinedOutput(); err != nil {
		t.Fatalf("the simulated store does not verify: %s", out)
	}
	cmd := exec.Command(binary, "export", "sen2", "--db", db, "--year", "2025")
	csvOut, err := cmd.Output()
	if err != nil {
		t.Fatalf("export sen2: %v", err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(csvOut))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 50 {
		t.Fatalf("only %d rows", len(rows))
	}
	// Every row is a read of a case's personal details, in the access log.
	conn, err := sqlitedb.Open(db, 1)
	if err != nil {
		t.Fatal(err)
	}
	var reads int
	err = conn.QueryRow(`SELECT COUNT(*) FROM events WHERE type = 'case_accessed' AND payload LIKE '%cli export sen2%'`).Scan(&reads)
	conn.Close()
	if err != nil || reads != len(rows)-1 {
		t.Fatalf("%d reads recorded for %d rows (%v)", reads, len(rows)-1, err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	for _, name := range []string{"PersonBirthDate", "ReceivedDate", "RequestSource", "RequestOutcome", "AssessmentOutcome", "Week20", "StartDate"} {
		if _, ok := col[name]; !ok {
			t.Fatalf("no %s column in %v", name, rows[0])
		}
	}
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		if r[col["ReceivedDate"]] > "2024-12-31" || r[col["ReceivedDate"]] == "" {
			t.Fatalf("a request received after the collection year: %v", r)
		}
		if start := r[col["StartDate"]]; start != "" && start >= "2025-01-01" {
			t.Fatalf("a plan from after the census date: %v", r)
		}
		if w := r[col["Week20"]]; w != "" && w != "0" && w != "1" {
			t.Fatalf("Week20 %q", w)
		}
		if r[col["Surname"]] != "" {
			t.Fatalf("a surname in the return, though the simulator records none: %v", r)
		}
		if r[col["PersonBirthDate"]] == "" {
			t.Fatalf("no date of birth: the sealed details were not opened: %v", r)
		}
		seen[r[col["RequestOutcome"]]+"/"+r[col["AssessmentOutcome"]]] = true
	}
	for _, want := range []string{"Refused/", "Assessment/Plan issued"} {
		if !seen[want] {
			t.Errorf("no row with outcome %s (saw %v)", want, seen)
		}
	}
	if out, err := exec.Command(binary, "export", "sen2", "--db", db, "--year", "1990").CombinedOutput(); err == nil || !strings.Contains(string(out), "--year") {
		t.Fatalf("a bad year was accepted: %s", out)
	}
}
