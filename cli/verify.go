package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/ehcledger/ehcledger/eventstore"
)

// verify checks every hash chain of a store and names the first altered or
// missing event; it exits non-zero when one is found.
func verify(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("verify")
	db, storeFlag := storeFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
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
	if len(rep.Problems) == 0 {
		fmt.Fprintln(stdout, "every hash chain is intact")
		return nil
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, "BROKEN: "+p.String())
	}
	return fmt.Errorf("%d stream(s) broken; the first altered or missing event: %s", len(rep.Problems), rep.Problems[0])
}
