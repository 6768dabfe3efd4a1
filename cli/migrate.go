package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ehcledger/ehcledger/eventstore"
)

// migrate copies every event from one store to another, then verifies the
// copy. It can be run again after an interruption.
func migrate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("migrate")
	fromSpec := fs.String("from", "", "source store: sqlite:PATH (or esdb://...)")
	toSpec := fs.String("to", "", "target store: esdb://... or esdb+discover://... (or sqlite:PATH)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *fromSpec == "" || *toSpec == "" {
		return usageError("migrate: --from and --to are required")
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
	start := time.Now()
	res, err := eventstore.Copy(ctx, from, to, func(r eventstore.CopyResult) {
		fmt.Fprintf(stdout, "  %d copied, %d already there\n", r.Copied, r.Skipped)
	})
	if err != nil {
		return fmt.Errorf("migrate stopped after %d events (run it again to resume): %w", res.Copied, err)
	}
	fmt.Fprintf(stdout, "copied %d events (%d already in the target) of %d streams in %.1fs\n", res.Copied, res.Skipped, res.Streams, time.Since(start).Seconds())
	if err := eventstore.VerifyCopy(ctx, from, to); err != nil {
		return fmt.Errorf("verification failed: %w", err)
	}
	fmt.Fprintln(stdout, "verified: the same events in the same order, every hash chain intact")
	return nil
}
