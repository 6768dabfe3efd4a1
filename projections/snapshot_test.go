package projections_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/cli"
	"github.com/ehcledger/ehcledger/demo"
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
	if err := tl.ReadSnapshot(bufio.NewReader(f)); err != nil {
		t.Fatal(err)
	}
	return tl
}

func TestSnapshotsWrittenInTheBackground(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	env, err := cli.OpenEnv(ctx, filepath.Join(dir, "events.db"), "", now, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	// A snapshot is due after every 50 events: many are written while
	// commands are recorded and applied.
	env.Runner.SnapshotEvery, env.Runner.SnapshotInterval = 50, 0
	done := make(chan error, 1)
	go func() { done <- env.Runner.Run(ctx) }()
	if _, err := demo.Generate(ctx, env.Ledger, demo.Options{LA: "E09000001", Cases: 80, Today: today, Seed: 3, Workers: 8}); err != nil {
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
