package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fixtureRelease is a store, key store and views written by the release of
// 2026-12-03, before the databases had schema versions, with what that
// release answered about them (its README says how both were made).
const fixtureRelease = "testdata/release-2026-12-03"

// copyFixture copies the fixture's store into a new directory and returns
// the event store's path there.
func copyFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(filepath.Join(fixtureRelease, "store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(fixtureRelease, "store", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "events.db")
}

// elapsed is the part of verify's answer that differs from run to run.
var elapsed = regexp.MustCompile(`in [0-9.]+s`)

// TestAStoreOfTheLastReleaseAnswersAsThatReleaseDid runs this build over a
// copy of the fixture, in the order the fixture's answers were taken, and
// compares every answer: the chains and their events (verify), the figures
// of each LA (whatif), each LA's SEN2 return and every case's record, whose
// personal details open only with the fixture's case keys.
func TestAStoreOfTheLastReleaseAnswersAsThatReleaseDid(t *testing.T) {
	db := copyFixture(t)
	expected := filepath.Join(fixtureRelease, "expected")
	check := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(binary, args...)
		out, err := cmd.Output()
		if err != nil && !strings.HasPrefix(name, "sen2-") {
			// A return with failures is written, then exits 1, as the
			// release's did.
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		want, rerr := os.ReadFile(filepath.Join(expected, name))
		if rerr != nil {
			t.Fatal(rerr)
		}
		got := string(out)
		if name == "verify.txt" {
			got, want = elapsed.ReplaceAllString(got, "in Xs"), []byte(elapsed.ReplaceAllString(string(want), "in Xs"))
		}
		if got != string(want) {
			t.Errorf("%s answers otherwise than the release of 2026-12-03:\n got: %.2000s\nwant: %.2000s", name, got, want)
		}
	}
	check("verify.txt", "verify", "--db", db)
	las := []string{"E09000001", "E09000002"}
	for _, la := range las {
		check("whatif-"+la+".json", "whatif", "--db", db, "--la", la, "--rulebook", "england-2014", "--as-of", "2026-11-30", "--format", "json")
	}
	for _, la := range las {
		check("sen2-"+la+".csv", "export", "sen2", "--db", db, "--year", "2026", "--la", la, "--format", "csv")
	}
	cases, err := filepath.Glob(filepath.Join(expected, "case-*.csv"))
	if err != nil || len(cases) != 24 {
		t.Fatalf("the fixture's cases: %v, %d", err, len(cases))
	}
	for _, c := range cases {
		name := filepath.Base(c)
		check(name, "export", "case", "--db", db, "--format", "csv", strings.TrimSuffix(strings.TrimPrefix(name, "case-"), ".csv"))
	}
}
