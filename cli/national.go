package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/keys"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/simulate"
)

// benchNational simulates LAs into a scratch store and measures what issue 6
// asks about national scale: import rate, full rebuild, inspector and
// worklist query latencies, peak memory and database size.
func benchNational(ctx context.Context, stdout io.Writer, dir string, las, cases, years int, reuse bool) error {
	db := filepath.Join(dir, "national.db")
	until := domain.DateOf(time.Now())
	fmt.Fprintf(stdout, "national scale: %d LAs x %d requests a year x %d years, until %s\n", las, cases, years, until)
	if reuse {
		if _, err := os.Stat(db); err != nil {
			return fmt.Errorf("--national-reuse: %w", err)
		}
		fmt.Fprintf(stdout, "  import: skipped, measuring the store in %s\n", db)
	} else if err := importNational(ctx, stdout, db, las, cases, years, until); err != nil {
		return err
	}
	runtime.GC()
	debug.FreeOSMemory()
	phased := resetPeakRSS()

	// The store is synthetic and measured again with --national-reuse: its
	// master key is a development one kept beside it, as a demo's is.
	ss := StoreSpec{Path: db}
	views := ss.DefaultViews()
	master, err := devMaster(KeysPath(views) + ".master")
	if err != nil {
		return err
	}
	open := func() (*Env, error) {
		return openEnv(ctx, ss, views, keysAt{path: KeysPath(views), master: master}, time.Now, jsonLogger(io.Discard))
	}
	env, err := open()
	if err != nil {
		return err
	}
	n, rebuild, err := timedRebuild(ctx, env)
	if err != nil {
		env.Close()
		return err
	}
	fmt.Fprintf(stdout, "  rebuild: %d events into every view in %.1fs = %.0f events/s\n", n, rebuild.Seconds(), float64(n)/rebuild.Seconds())
	// The rebuild's snapshot is written in the background once the views
	// answer; the wait for it is what remains after the rebuild.
	snapStart := time.Now()
	if err := env.Runner.WaitSnapshot(); err != nil {
		env.Close()
		return err
	}
	if st, err := os.Stat(env.Runner.SnapshotPath); err == nil {
		fmt.Fprintf(stdout, "  snapshot of the timeliness model: %.0f MiB, written in the background, done %.1fs after the rebuild\n", float64(st.Size())/(1<<20), time.Since(snapStart).Seconds())
	}
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	if path := os.Getenv("EHC_MEMPROFILE"); path != "" {
		// Where the heap goes, for `go tool pprof`.
		if f, err := os.Create(path); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	fmt.Fprintf(stdout, "  memory: heap in use %.0f MiB after rebuild\n", float64(mem.HeapInuse)/(1<<20))
	if peak, ok := peakRSS(); ok && phased {
		fmt.Fprintf(stdout, "  peak memory rebuilding (max RSS since the import): %.0f MiB\n", peak)
	}
	if err := env.Close(); err != nil {
		return err
	}

	// A server starting on the store: the snapshot read back, the store
	// caught up from it; then it answers. Its peak memory is measured on
	// its own, as a server's would be.
	env = nil
	runtime.GC()
	debug.FreeOSMemory()
	phased = resetPeakRSS()
	start := time.Now()
	if env, err = open(); err != nil {
		return err
	}
	defer env.Close()
	caught, err := env.Runner.CatchUp(ctx)
	if err != nil {
		return err
	}
	env.Runner.Timeliness.Warm()
	fmt.Fprintf(stdout, "  restart: the snapshot read, %d events caught up and every LA's figures drawn in %.1fs\n", caught, time.Since(start).Seconds())
	t := env.Runner.Timeliness
	lasList := t.LAs()
	// Each query asks about a different period end, so no answer comes from
	// the cache: these are the costs of computing.
	measure := func(name string, k int, q func(i int)) {
		d := make([]time.Duration, k)
		for i := 0; i < k; i++ {
			t0 := time.Now()
			q(i)
			d[i] = time.Since(t0)
		}
		sort.Slice(d, func(a, b int) bool { return d[a] < d[b] })
		fmt.Fprintf(stdout, "  %-34s p50 %8.2f ms  p99 %8.2f ms  (%d queries)\n", name, ms(d[k/2]), ms(d[(k*99)/100]), k)
	}
	measure("inspector, one LA, 12 months:", 200, func(i int) {
		end := until.AddDays(-i)
		t.LAStats(lasList[i%len(lasList)], projections.Period{From: end.AddMonths(-12).AddDays(1), To: end}, end)
	})
	measure("inspector, national roll-up:", 20, func(i int) {
		end := until.AddDays(-i)
		t.National(projections.Period{From: end.AddMonths(-12).AddDays(1), To: end}, end)
	})
	// The usual case: the same question again after a caseworker's command in
	// one LA; only that LA's figures are computed afresh.
	year := projections.Period{From: until.AddMonths(-12).AddDays(1), To: until}
	t.National(year, until)
	var writeErr error
	run := time.Now().Unix() // a run on a reused store assigns afresh
	measure("inspector, national, after a write:", 20, func(i int) {
		la := lasList[i%len(lasList)]
		caseID := fmt.Sprintf("%s-%06d", la, i)
		_, err := env.Ledger.Execute(ctx, app.CommandRequest{Case: caseID, Command: "assign_case", On: domain.DateOf(time.Now()),
			Data: []byte(fmt.Sprintf(`{"caseworker":"bench-%d-%d","team":"bench"}`, run, i)), Actor: "bench", Expected: eventstore.Any})
		if err == nil {
			_, err = env.Runner.CatchUp(ctx)
		}
		if err != nil && writeErr == nil {
			writeErr = err
		}
		t.National(year, until)
	})
	if writeErr != nil {
		return writeErr
	}
	measure("worklist, one LA, overdue:", 200, func(i int) {
		t.Worklist(projections.WorklistFilter{LA: lasList[i%len(lasList)], View: "overdue", AsOf: until, Limit: 500})
	})
	measure("worklist, one caseworker at risk:", 200, func(i int) {
		t.Worklist(projections.WorklistFilter{LA: lasList[i%len(lasList)], Caseworker: fmt.Sprintf("cw-%02d", i%12), View: "at_risk", AsOf: until})
	})
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		fmt.Fprintf(stdout, "  memory limit (GOMEMLIMIT): %.0f MiB\n", float64(limit)/(1<<20))
	}
	if peak, ok := peakRSS(); ok && phased {
		fmt.Fprintf(stdout, "  peak memory restarting and answering (max RSS since the rebuilt views were closed): %.0f MiB\n", peak)
	} else {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
			fmt.Fprintf(stdout, "  peak memory (max RSS of this process, import included): %.0f MiB\n", float64(ru.Maxrss)/1024)
		}
	}
	// Issue 19's measure: the rebuild against one read of the whole file.
	if read, rows, err := readWholeFile(ctx, db); err == nil {
		fmt.Fprintf(stdout, "  full read of the store file: %d rows in %.1fs; the rebuild took %.1fx as long (issue 19's target: 2x)\n",
			rows, read.Seconds(), rebuild.Seconds()/read.Seconds())
	}
	for _, f := range []string{db, ViewsPath(db)} {
		if st, err := os.Stat(f); err == nil {
			fmt.Fprintf(stdout, "  size of %s: %.0f MiB\n", filepath.Base(f), float64(st.Size())/(1<<20))
		}
	}
	return nil
}

// importNational simulates the LAs into a new store at db.
func importNational(ctx context.Context, stdout io.Writer, db string, las, cases, years int, until domain.Date) error {
	if _, err := os.Stat(db); err == nil {
		return fmt.Errorf("%s exists: remove it, or measure it again with --national-reuse", db)
	}
	s, views, err := OpenStore(db)
	if err != nil {
		return err
	}
	master, err := devMaster(KeysPath(views) + ".master")
	if err != nil {
		s.Close()
		return err
	}
	ks, err := keys.Open(KeysPath(views), master, time.Now)
	if err != nil {
		s.Close()
		return err
	}
	res, err := simulate.Run(ctx, s, simulate.Options{LAs: las, CasesPerYear: cases, Years: years, Seed: 1, Until: until, Workers: 32,
		Rates: simulate.National, Keys: ks}, nil)
	ks.Close()
	s.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  import: %d cases, %d events in %.1fs = %.0f events/s (through the domain, one durable append per case)\n",
		res.Cases, res.Events, res.Elapsed.Seconds(), float64(res.Events)/res.Elapsed.Seconds())
	// The import is a client's load, not the server's: the peak of what
	// follows (rebuilding and serving the views) is measured on its own.
	if peak, ok := peakRSS(); ok {
		fmt.Fprintf(stdout, "  peak memory while importing: %.0f MiB\n", peak)
	}
	return nil
}

// peakRSS reads the process's peak resident set size (VmHWM) in MiB.
func peakRSS() (float64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}

// resetPeakRSS starts the peak resident set size afresh (Linux 4.0 and
// later), reporting whether it could.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
