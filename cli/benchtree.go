package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/storebench"
	"github.com/ehcledger/ehcledger/sqlitedb"
	"github.com/ehcledger/ehcledger/tlog"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// benchTree measures the verifiable ledger (docs/ledger.md): the tree
// grown as the views apply events, signing a checkpoint, and the size and
// cost of proofs, on a tree of leaves synthetic events; then appends with
// and without the views and their tree following the store, as serve runs.
func benchTree(ctx context.Context, stdout io.Writer, dir string, leaves int64, open func(string) (eventstore.Store, string, func(), error), writers, events int) error {
	views, err := sqlitedb.OpenRebuildable(filepath.Join(dir, "tree.views"), 4)
	if err != nil {
		return err
	}
	defer views.Close()
	log, err := tlog.OpenLog(ctx, views)
	if err != nil {
		return err
	}
	if size, _ := log.Head(); size != 0 {
		return errors.New("tree.views in --dir holds a tree already: give an empty --dir")
	}
	fmt.Fprintf(stdout, "ledger tree (%d synthetic events):\n", leaves)
	payload := []byte(`{"advice":"educational_psychology","school":"S1"}`)
	batch := make([]eventstore.RecordedEvent, 0, 5000)
	start := time.Now()
	for n := int64(1); n <= leaves; n++ {
		var e eventstore.RecordedEvent
		e.Position, e.Stream, e.Version = n, "case-bench-"+strconv.FormatInt(n%100000, 10), n/100000+1
		e.Type, e.OccurredOn, e.Payload, e.PrevHash = "advice_requested", "2024-04-08", payload, "0f1e2d3c4b5a6978"
		if batch = append(batch, e); len(batch) == cap(batch) || n == leaves {
			tx, err := views.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if err := log.Append(ctx, tx, batch); err != nil {
				tx.Rollback()
				return err
			}
			if err := tx.Commit(); err != nil {
				return err
			}
			if err := log.Committed(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	grown := time.Since(start)
	fmt.Fprintf(stdout, "  grown as the views apply events: %d events in %.2fs = %.0f events/s (5,000-event transactions)\n",
		leaves, grown.Seconds(), float64(leaves)/grown.Seconds())

	skey, vkey, err := note.GenerateKey(rand.Reader, "ehcledger.bench/log")
	if err != nil {
		return err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	p := &tlog.Publisher{Log: log, Signer: signer, Now: time.Now}
	start = time.Now()
	signed, err := p.Publish(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  signing a checkpoint of the tree: %v (the first; later ones also check the last signed root)\n", time.Since(start).Round(time.Microsecond))
	cp, err := tlog.Open(signed.Note, vkey)
	if err != nil {
		return err
	}

	// Inclusion proofs of leaves spread over the tree.
	const proofs = 1000
	var made, checked time.Duration
	var hashes int
	for i := int64(0); i < proofs; i++ {
		index := (i*7919 + 13) * leaves / (proofs * 7919)
		t0 := time.Now()
		b, err := log.Inclusion(ctx, index, leaves)
		if err != nil {
			return err
		}
		made += time.Since(t0)
		var path [][]byte
		for r := b[0]; len(r) > 0; r = r[32:] {
			path = append(path, r[:32])
		}
		hashes += len(path)
		e := eventstore.RecordedEvent{Position: index + 1, Stream: "case-bench-" + strconv.FormatInt((index+1)%100000, 10), Version: (index+1)/100000 + 1,
			EventData: eventstore.EventData{Type: "advice_requested", OccurredOn: "2024-04-08", Payload: payload}, PrevHash: "0f1e2d3c4b5a6978"}
		t0 = time.Now()
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(index), uint64(leaves), rfc6962.DefaultHasher.HashLeaf(tlog.LeafData(e)), path, cp.Root); err != nil {
			return fmt.Errorf("bench: inclusion proof of leaf %d: %w", index, err)
		}
		checked += time.Since(t0)
	}
	fmt.Fprintf(stdout, "  inclusion proof of one event: %.1f hashes (%.0f bytes) on average, made in %v from the tiles, verified in %v\n",
		float64(hashes)/proofs, 32*float64(hashes)/proofs, (made / proofs).Round(time.Microsecond), (checked / proofs).Round(time.Microsecond))
	cons, err := log.Consistency(ctx, leaves/2, leaves)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  consistency proof from half the tree to all of it: %d hashes (%d bytes)\n", len(cons), 32*len(cons))

	// Appends while the views and their tree follow the store, as in
	// serve, against appends alone.
	for _, follow := range []bool{false, true} {
		s, spec, stop, err := open(fmt.Sprintf("follow-%t", follow))
		if err != nil {
			return err
		}
		s.Close()
		env, err := OpenEnv(ctx, spec, filepath.Join(dir, fmt.Sprintf("follow-%t.views", follow)), time.Now, jsonLogger(io.Discard))
		if err != nil {
			stop()
			return err
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		if follow {
			go func() { done <- env.Runner.Run(runCtx) }()
		}
		r, err := storebench.Appends(ctx, env.Store, writers, events, "case-follow")
		var caught time.Duration
		if err == nil && follow {
			t0 := time.Now()
			head, _ := env.Store.Head(ctx)
			err = env.Runner.WaitFor(ctx, head)
			caught = time.Since(t0)
		}
		cancel()
		if follow {
			err = errors.Join(err, <-done)
		}
		err = errors.Join(err, env.Close())
		stop()
		if err != nil {
			return err
		}
		if follow {
			fmt.Fprintf(stdout, "  appends with the views and tree following: %s; caught up %v after the last\n", r, caught.Round(time.Millisecond))
		} else {
			fmt.Fprintf(stdout, "  appends alone:                            %s\n", r)
		}
	}
	return nil
}
