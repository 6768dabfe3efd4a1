package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/tlog"
)

// verify checks every hash chain of a store and names the first altered or
// missing event; it exits non-zero when one is found.
func verify(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("verify")
	db, storeFlag := storeFlags(fs)
	checkpointFile := fs.String("checkpoint", "", "a signed checkpoint (ehcledger checkpoint sign): the log must extend it")
	pubFile := fs.String("pub", "", "the checkpoint key's public half (PREFIX.pub), with --checkpoint")
	if err := parse(fs, args); err != nil {
		return err
	}
	var cp *tlog.Checkpoint
	if *checkpointFile != "" || *pubFile != "" {
		if *checkpointFile == "" || *pubFile == "" {
			return usageError("verify: --checkpoint and --pub go together")
		}
		signed, err := os.ReadFile(*checkpointFile)
		if err != nil {
			return usageError("--checkpoint: " + err.Error())
		}
		pub, err := os.ReadFile(*pubFile)
		if err != nil {
			return usageError("--pub: " + err.Error())
		}
		c, err := tlog.Open(signed, string(pub))
		if err != nil {
			return fmt.Errorf("--checkpoint %s: %w", *checkpointFile, err)
		}
		cp = &c
	}
	s, _, err := openExisting(*db, *storeFlag, true)
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	rep, err := eventstore.VerifyAll(ctx, s)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "checked %d events in %d streams in %.1fs\n", rep.Events, rep.Streams, time.Since(start).Seconds())
	var failed []string
	if len(rep.Problems) == 0 {
		fmt.Fprintln(stdout, "every hash chain is intact")
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintln(stdout, "BROKEN: "+p.String())
		}
		failed = append(failed, fmt.Sprintf("%d stream(s) broken; the first altered or missing event: %s", len(rep.Problems), rep.Problems[0]))
	}
	// The global log: gapless positions, and, against a checkpoint, the
	// tree of its first events.
	var size int64
	if cp != nil {
		size = cp.Size
	}
	tree, err := tlog.Build(ctx, s, size)
	if err != nil {
		return err
	}
	for _, g := range tree.Gaps {
		fmt.Fprintf(stdout, "GAP: global position %d is missing (the next event found is at %d)\n", g.Want, g.Found)
	}
	if len(tree.Gaps) > 0 {
		failed = append(failed, fmt.Sprintf("%d gap(s) in the global log; the first at position %d", len(tree.Gaps), tree.Gaps[0].Want))
	}
	if cp != nil {
		if err := tlog.Check(tree, *cp); err != nil {
			fmt.Fprintln(stdout, "CHECKPOINT: "+err.Error())
			failed = append(failed, "the log does not extend the checkpoint: "+err.Error())
		} else {
			fmt.Fprintf(stdout, "the log extends the checkpoint of %s at size %d (now %d events)\n", cp.Origin, cp.Size, tree.Head)
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}
