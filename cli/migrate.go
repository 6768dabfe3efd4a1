package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ehcledger/ehcledger/backup"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
)

// migrate copies every event from one store to another, then verifies the
// copy. It can be run again after an interruption.
func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("migrate")
	fromSpec := fs.String("from", "", "source store: sqlite:PATH (or esdb://...)")
	toSpec := fs.String("to", "", "target store: esdb://... or esdb+discover://... (or sqlite:PATH)")
	workers := fs.Int("workers", 16, "appends in flight at once (1-256)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *fromSpec == "" || *toSpec == "" {
		return usageError("migrate: --from and --to are required")
	}
	if *workers < 1 || *workers > 256 {
		return usageError("--workers: must be between 1 and 256")
	}
	fromStore, err := ParseStoreSpec("--from", *fromSpec, false)
	if err != nil {
		return err
	}
	toStore, err := ParseStoreSpec("--to", *toSpec, false)
	if err != nil {
		return err
	}
	if fromStore.Path != "" {
		// Copying from a file that is not there would make an empty one.
		if _, err := os.Stat(fromStore.Path); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	// The source is only read, so it may be copied while a server runs on
	// it; the target is written, so it may not.
	from, err := fromStore.OpenReadOnly()
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer from.Close()
	to, err := toStore.Open()
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer to.Close()
	p := newProgress(stderr, "migrate")
	res, err := eventstore.Copy(ctx, from, to, eventstore.CopyOptions{Parallel: domain.StandsAlone, Workers: *workers, Batch: 5000,
		Progress: func(r eventstore.CopyResult) {
			p.report(backup.Progress{Stage: "copying the log", Done: r.Position, Total: r.Head, Unit: "events"})
		}})
	p.close()
	if err != nil {
		return fmt.Errorf("migrate stopped after %d events (run it again to resume): %w", res.Copied, err)
	}
	fmt.Fprintf(stdout, "copied %d events (%d already in the target) of %d streams in %.1fs\n", res.Copied, res.Skipped, res.Streams, res.Elapsed.Seconds())
	if err := eventstore.VerifyCopy(ctx, from, to, *workers); err != nil {
		return fmt.Errorf("verification failed: %w", err)
	}
	fmt.Fprintln(stdout, "verified: the same events in every stream, in the same order, every hash chain intact")
	return nil
}

// copyProgress says how far a copy has come: events, the share of the
// source's log read, the rate and the time left at that rate.
func copyProgress(r eventstore.CopyResult) string {
	line := fmt.Sprintf("%d copied, %d already there", r.Copied, r.Skipped)
	if r.Head <= 0 || r.Elapsed <= 0 {
		return line
	}
	done := float64(r.Position) / float64(r.Head)
	line += fmt.Sprintf("; %.1f%% of the source read, %.0f events/s", 100*min(done, 1), float64(r.Copied+r.Skipped)/r.Elapsed.Seconds())
	if done > 0 && done < 1 {
		left := time.Duration(float64(r.Elapsed) * (1 - done) / done)
		line += ", about " + left.Round(time.Second).String() + " left"
	}
	return line
}
