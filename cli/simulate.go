package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ehcledger/ehcledger/backup"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/simulate"
)

// simulateCmd fills a store with simulated LAs through the real domain.
func simulateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("simulate")
	db, storeFlag := storeFlags(fs)
	las := fs.Int("las", 1, "number of LAs")
	cases := fs.Int("cases", 1000, "requests per LA per year (England: about 1,000)")
	years := fs.Int("years", 1, "years of history up to --until")
	seed := fs.Uint64("seed", 1, "random seed: the same seed makes the same histories")
	until := fs.String("until", "", "the simulated today (default: today)")
	workers := fs.Int("workers", 16, "cases written at once")
	kf := addKeyFlags(fs)
	demo := fs.Bool("demo", false, "a demo store: unless a master key is given, keep a development one beside the key store")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *las < 1 || *cases < 1 || *years < 1 {
		return usageError("simulate: --las, --cases and --years must be at least 1")
	}
	end := domain.DateOf(time.Now())
	if *until != "" {
		d, err := domain.ParseDate(*until)
		if err != nil {
			return fmt.Errorf("--until: %w", err)
		}
		end = d
	}
	ss, err := storeOf(*db, *storeFlag)
	if err != nil {
		return err
	}
	views := ss.DefaultViews()
	keysPath := kf.path(views)
	master, _, err := kf.master(ctx, "simulate", dataFiles(ss, views, keysPath), keysPath, *demo)
	if err != nil {
		return err
	}
	flag := storeFlagOf(*storeFlag)
	s, err := ss.Open()
	if err != nil {
		return storeError(flag, err)
	}
	defer s.Close()
	// Simulated histories go into an empty store only: on top of other
	// cases they would meet cases and LA steps of their own making half way
	// and stop, leaving half a simulation behind.
	if head, err := s.Head(ctx); err != nil {
		return err
	} else if head > 0 {
		return fmt.Errorf("%s: %s already holds %d events: simulate fills an empty store only; give a new one", flag, ss, head)
	}
	ks, err := keysAt{path: keysPath, master: master}.open(time.Now)
	if err != nil {
		return err
	}
	defer ks.Close()
	p := newProgress(stderr, "simulate")
	res, err := simulate.Run(ctx, s, simulate.Options{LAs: *las, CasesPerYear: *cases, Years: *years, Seed: *seed, Until: end,
		Workers: *workers, Rates: simulate.National, Keys: ks}, func(r simulate.Result) {
		p.report(backup.Progress{Stage: "simulating", Done: r.Events, Unit: "events"})
	})
	p.close()
	if err != nil {
		return fmt.Errorf("simulate stopped with part of the simulation written (remove %s and its key store %s to start again): %w", ss, keysPath, err)
	}
	fmt.Fprintf(stdout, "simulated %d cases in %d LAs: %d events in %.1fs (%.0f events/s)\n", res.Cases, *las, res.Events,
		res.Elapsed.Seconds(), float64(res.Events)/res.Elapsed.Seconds())
	return nil
}
