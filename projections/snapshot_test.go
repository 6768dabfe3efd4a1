package projections_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/cli"
	"github.com/ehcledger/ehcledger/demo"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
)

// readSnapshot loads the runner's snapshot file into a fresh projection.
func readSnapshot(t *testing.T, r *projections.Runner) *projections.Timeliness {
	t.Helper()
	f, err := os.Open(r.SnapshotPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tl := projections.NewTimeliness(calendar.NewEnglandWales())
	if stale, err := tl.ReadSnapshot(bufio.NewReader(f)); err != nil || len(stale) != 0 {
		t.Fatalf("%v, %d cases left to count again", err, len(stale))
	}
	return tl
}

// generateLive records demo cases while the runner follows the store,
// asking for a snapshot every so many events, then stops the runner once
// it has applied them all, waits for the snapshot being written, and
// returns the store's head.
func generateLive(t *testing.T, env *cli.Env, every int64, o demo.Options) int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env.Runner.SnapshotEvery, env.Runner.SnapshotInterval = every, 0
	done := make(chan error, 1)
	go func() { done <- env.Runner.Run(ctx) }()
	if _, err := demo.Generate(ctx, env.Ledger, o); err != nil {
		t.Fatal(err)
	}
	head, _ := env.Store.Head(ctx)
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := env.Runner.WaitFor(wctx, head); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := env.Runner.WaitSnapshot(); err != nil {
		t.Fatal(err)
	}
	return head
}

func TestSnapshotsWrittenInTheBackground(t *testing.T) {
	env, _ := openStore(t)
	defer env.Close()
	// A snapshot is due after every 50 events: many are written while
	// commands are recorded and applied.
	head := generateLive(t, env, 50, demo.Options{LA: "E09000001", Cases: 80, Today: today, Seed: 3, Workers: 8})
	live, _ := json.Marshal(env.Runner.Timeliness.AllRows(today))

	t.Run("the last one, with the events after it, gives the live views", func(t *testing.T) {
		tl := readSnapshot(t, env.Runner)
		if tl.Position() == 0 {
			t.Fatal("no snapshot was written while the runner applied events")
		}
		tl.SetHistoryLoader(projections.StoreHistory(context.Background(), env.Store))
		if err := projections.ReadBatches(context.Background(), env.Store, tl.Position()+1, 100, tl.Apply); err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(tl.AllRows(today)); string(got) != string(live) {
			t.Fatalf("the snapshot at %d, caught up to %d, differs from the live views", tl.Position(), head)
		}
	})
	t.Run("a rebuild answers at once and its snapshot follows, of the whole store", func(t *testing.T) {
		n, err := env.Runner.Rebuild(context.Background())
		if err != nil || n != head {
			t.Fatalf("rebuild applied %d events (%v), want %d", n, err, head)
		}
		if got, _ := json.Marshal(env.Runner.Timeliness.AllRows(today)); string(got) != string(live) {
			t.Fatal("the rebuilt views differ from the live ones")
		}
		if err := env.Runner.WaitSnapshot(); err != nil {
			t.Fatal(err)
		}
		tl := readSnapshot(t, env.Runner)
		if tl.Position() != head {
			t.Fatalf("the rebuild's snapshot stands at %d, want %d", tl.Position(), head)
		}
		if got, _ := json.Marshal(tl.AllRows(today)); string(got) != string(live) {
			t.Fatal("the rebuild's snapshot differs from the live views")
		}
	})
	t.Run("a snapshot of the position the file holds is not written again", func(t *testing.T) {
		before, err := os.Stat(env.Runner.SnapshotPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Runner.SaveSnapshot(context.Background()); err != nil {
			t.Fatal(err)
		}
		after, err := os.Stat(env.Runner.SnapshotPath)
		if err != nil {
			t.Fatal(err)
		}
		if !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
			t.Fatal("the snapshot file was written again")
		}
	})
}

// snapshotCases reads the cases of a snapshot file, each as JSON, by id.
func snapshotCases(t *testing.T, path string) map[string]string {
	t.Helper()
	cases, err := projections.SnapshotCases(path, calendar.NewEnglandWales())
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

// openStore opens a new store in a test's directory, and returns it with
// its file's path.
func openStore(t *testing.T) (*cli.Env, string) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "events.db")
	env, err := cli.OpenEnv(context.Background(), db, "", now, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return env, db
}

func TestACorrectedRulebookCountsAgainOnlyTheCasesCountedUnderIt(t *testing.T) {
	ctx := context.Background()
	env, db := openStore(t)
	// LA 1's first cases are recorded before it adopts the reform rules
	// (from a date most of their steps come after), its next ones after;
	// LA 2 keeps the current law.
	gen := func(la, prefix string) {
		t.Helper()
		if _, err := demo.Generate(ctx, env.Ledger, demo.Options{LA: la, Cases: 40, Today: today, Seed: 9, Workers: 4, Prefix: prefix}); err != nil {
			t.Fatal(err)
		}
	}
	gen("E09000001", "A-")
	if err := env.Ledger.ExecuteLA(ctx, "E09000001", "adopt_rulebook", domain.NewDate(2025, 6, 1), []byte(`{"rulebook":"reform-2023","from":"2025-06-01"}`), "test"); err != nil {
		t.Fatal(err)
	}
	// LA 1's first cases go on after the adoption: counted again, their
	// first steps must still be counted under the rules then in force.
	if _, err := env.Runner.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	assigned := 0
	for _, id := range env.Runner.Timeliness.CaseIDs("E09000001") {
		_, err := env.Ledger.Execute(ctx, app.CommandRequest{Case: id, Command: "assign_case", On: today, Data: []byte(`{"caseworker":"cw9","team":"t9"}`),
			Actor: "test", Expected: eventstore.Any})
		if err == nil {
			assigned++
		} else if domain.ErrorCode(err) == domain.Internal {
			t.Fatal(err)
		}
	}
	if assigned < 20 {
		t.Fatalf("only %d of LA 1's first cases took a step after the adoption", assigned)
	}
	gen("E09000001", "B-")
	gen("E09000002", "C-")
	gen("E09000002", "D-")
	if _, err := env.Runner.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	replayed := map[string]string{}
	rowsOf := func(tl *projections.Timeliness, id string) string {
		rows, _ := tl.CaseClocks(id, today)
		b, _ := json.Marshal(rows)
		return string(b)
	}
	all := append(env.Runner.Timeliness.CaseIDs("E09000001"), env.Runner.Timeliness.CaseIDs("E09000002")...)
	for _, id := range all {
		replayed[id] = rowsOf(env.Runner.Timeliness, id)
	}
	if err := env.Runner.SaveSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	path := env.Runner.SnapshotPath
	written := snapshotCases(t, path)
	var underReform []string
	for id, c := range written {
		if strings.Contains(c, `"reform-2023"`) {
			underReform = append(underReform, id)
		}
	}
	sort.Strings(underReform)
	for _, id := range underReform {
		if !strings.HasPrefix(id, "A-") && !strings.HasPrefix(id, "B-") {
			t.Fatalf("case %s was counted under the reform rules, which its LA never adopted", id)
		}
	}
	if len(underReform) < 40 || len(underReform) > 80 {
		t.Fatalf("%d cases counted under the reform rules, want most of LA 1's 80", len(underReform))
	}
	// The snapshot now holds every case with a wrong first due date, and
	// reads as written under an earlier version of the reform rules: the
	// cases counted again lose the wrong date, the others keep it.
	projections.SetEveryFirstDue(env.Runner.Timeliness, domain.NewDate(2030, 1, 1))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Runner.Timeliness.WriteSnapshot(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := projections.RewriteSnapshotHeader(path, func(h map[string]any) {
		h["rulebooks"].(map[string]any)["reform-2023"] = "an earlier version"
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.Close(); err != nil { // the snapshot holds its position: not written again
		t.Fatal(err)
	}

	env, err = cli.OpenEnv(ctx, db, "", now, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	t.Run("only the cases counted under the corrected rulebook are counted again", func(t *testing.T) {
		if env.Runner.Recomputed != len(underReform) {
			t.Fatalf("%d cases counted again, want the %d counted under reform-2023", env.Runner.Recomputed, len(underReform))
		}
		for _, id := range all {
			got := rowsOf(env.Runner.Timeliness, id)
			switch again := slices.Contains(underReform, id); {
			case again && got != replayed[id]:
				t.Fatalf("case %s, counted again, differs from a replay of the store:\n%s\n%s", id, got, replayed[id])
			case !again && !strings.Contains(got, `"due":"2030-01-01"`):
				t.Fatalf("case %s was counted again, though no rulebook it was counted under changed", id)
			}
		}
	})
	t.Run("the snapshot written after holds them as first written, each clock under the rules it started under", func(t *testing.T) {
		if err := env.Runner.WaitSnapshot(); err != nil {
			t.Fatal(err)
		}
		again := snapshotCases(t, env.Runner.SnapshotPath)
		for _, id := range underReform {
			if again[id] != written[id] {
				t.Fatalf("case %s differs from the snapshot of the live model:\n%s\n%s", id, again[id], written[id])
			}
		}
	})
}

func TestADamagedSnapshotIsNotReadAndTheStoreIsReplayedInstead(t *testing.T) {
	ctx := context.Background()
	env, db := openStore(t)
	if _, err := demo.Generate(ctx, env.Ledger, demo.Options{LA: "E09000001", Cases: 30, Today: today, Seed: 4, Workers: 4}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Runner.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	live, _ := json.Marshal(env.Runner.Timeliness.AllRows(today))
	path := env.Runner.SnapshotPath
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("every cut and every changed byte tried is refused as damaged", func(t *testing.T) {
		tl := projections.NewTimeliness(calendar.NewEnglandWales())
		for n := 0; n < len(good); n += max(1, len(good)/300) {
			if _, err := tl.ReadSnapshot(bytes.NewReader(good[:n])); !errors.Is(err, projections.ErrSnapshotFormat) {
				t.Fatalf("cut at %d of %d bytes: %v", n, len(good), err)
			}
		}
		r := rand.New(rand.NewPCG(5, 6))
		for i := 0; i < 2000; i++ {
			bad := bytes.Clone(good)
			bad[r.IntN(len(bad))] ^= byte(1 + r.IntN(255))
			if _, err := tl.ReadSnapshot(bytes.NewReader(bad)); !errors.Is(err, projections.ErrSnapshotFormat) {
				t.Fatalf("a byte changed gave %v", err)
			}
			if len(tl.CaseIDs("E09000001")) != 0 {
				t.Fatal("a damaged snapshot replaced the model")
			}
		}
	})
	t.Run("a header whose adoptions and their positions disagree is refused, even signed again", func(t *testing.T) {
		adopted := []any{map[string]any{"rulebook": "england-2014", "from": "2024-01-01"}, map[string]any{"rulebook": "reform-2023", "from": "2025-01-01"}}
		for name, edit := range map[string]func(h map[string]any){
			"an LA's positions without its adoptions": func(h map[string]any) {
				h["adoptions"] = map[string]any{}
				h["adopted_at"] = map[string]any{"E09000001": []any{1, 2, 3}}
			},
			"fewer positions than adoptions": func(h map[string]any) {
				h["adoptions"] = map[string]any{"E09000001": adopted}
				h["adopted_at"] = map[string]any{"E09000001": []any{1}}
			},
			"positions out of order": func(h map[string]any) {
				h["adoptions"] = map[string]any{"E09000001": adopted}
				h["adopted_at"] = map[string]any{"E09000001": []any{5, 2}}
			},
			"a position past the snapshot's": func(h map[string]any) {
				h["adoptions"] = map[string]any{"E09000001": adopted}
				h["adopted_at"] = map[string]any{"E09000001": []any{1, h["position"].(float64) + 1}}
			},
		} {
			p := filepath.Join(t.TempDir(), "snapshot")
			if err := os.WriteFile(p, good, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := projections.RewriteSnapshotHeader(p, edit); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = projections.NewTimeliness(calendar.NewEnglandWales()).ReadSnapshot(f)
			f.Close()
			if !errors.Is(err, projections.ErrSnapshotFormat) {
				t.Fatalf("%s: read: %v", name, err)
			}
		}
		// The same header, left as written, reads.
		p := filepath.Join(t.TempDir(), "snapshot")
		if err := os.WriteFile(p, good, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := projections.RewriteSnapshotHeader(p, func(map[string]any) {}); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := projections.NewTimeliness(calendar.NewEnglandWales()).ReadSnapshot(f); err != nil {
			t.Fatalf("the header rewritten unchanged: %v", err)
		}
	})
	t.Run("a server started over a damaged snapshot replays the store", func(t *testing.T) {
		if err := os.WriteFile(path, good[:len(good)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		env, err := cli.OpenEnv(ctx, db, "", now, quiet())
		if err != nil {
			t.Fatal(err)
		}
		defer env.Close()
		if _, err := env.Runner.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := json.Marshal(env.Runner.Timeliness.AllRows(today)); string(got) != string(live) {
			t.Fatal("the views replayed over a damaged snapshot differ")
		}
	})
}

func TestTheLastSnapshotAskedForIsWritten(t *testing.T) {
	env, _ := openStore(t)
	defer env.Close()
	// A snapshot after every batch: most are asked for while the one
	// before is still being written.
	head := generateLive(t, env, 1, demo.Options{LA: "E09000001", Cases: 150, Today: today, Seed: 8, Workers: 8})
	if got := readSnapshot(t, env.Runner).Position(); got != head {
		t.Fatalf("the snapshot stands at %d: the one asked for at %d was not written", got, head)
	}
}
