package tests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/eventstore/sqlite"
	"github.com/ehcledger/ehcledger/keys"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/sqlitedb"
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
	// The views are upgraded by the next command that follows the store.
	if out, err := exec.Command(binary, "rebuild", "--db", db).CombinedOutput(); err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	// Opened by commands that write, each database now records its version.
	for file, want := range map[string]int{db: sqlite.Schema.Latest(), db + ".keys": keys.Schema.Latest(), db + ".views": projections.ViewsSchema.Latest()} {
		if got := schemaVersion(t, file); got != want {
			t.Errorf("%s has schema version %d after the upgrade, want %d", filepath.Base(file), got, want)
		}
	}
}

// schemaVersion reads the schema version of the database at path.
func schemaVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sqlitedb.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := sqlitedb.Version(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAStoreOfANewerReleaseIsRefusedUnchanged stands for a binary rolled
// back after an upgrade: it must not read, still less write, tables whose
// meaning it does not know.
func TestAStoreOfANewerReleaseIsRefusedUnchanged(t *testing.T) {
	for file, command := range map[string][]string{
		"events.db":       {"export", "case", "--format", "csv", "--db"},
		"events.db.keys":  {"export", "case", "--format", "csv", "--db"},
		"events.db.views": {"rebuild", "--db"},
	} {
		t.Run(file+" is refused", func(t *testing.T) {
			db := copyFixture(t)
			path := filepath.Join(filepath.Dir(db), file)
			conn, err := sqlitedb.Open(path, 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(`PRAGMA user_version = 99`); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			args := append(command, db)
			if command[0] == "export" {
				args = append(args, "E09000001-000000")
			}
			out, err := exec.Command(binary, args...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), "schema version 99") || !strings.Contains(string(out), "newer release") {
				t.Fatalf("a command over a newer %s: %v\n%s", file, err, out)
			}
			if file == "events.db" {
				out, err := exec.Command(binary, "verify", "--db", db).CombinedOutput()
				if err == nil || !strings.Contains(string(out), "newer release") {
					t.Fatalf("verify of a newer store: %v\n%s", err, out)
				}
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("%s was changed by a build that refused it", file)
			}
		})
	}
}
