package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/sqlitedb"
	"github.com/ehcledger/ehcledger/tlog"
)

// verify checks every hash chain of a store and names the first altered or
// missing event, reports gaps in the global log and, given checkpoints,
// checks that the log extends each; it exits non-zero when one fails.
func verify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify")
	db, storeFlag := storeFlags(fs)
	views := fs.String("views", "", "the views, whose tree names the first event that differs from a checkpoint (default: beside the store; skipped if missing)")
	checkpointFile := fs.String("checkpoint", "", "a signed checkpoint, or a witness's file of them (ehcledger checkpoint sign, serve --witness): the log must extend each")
	pubFile := fs.String("pub", "", "the checkpoint key's public half (PREFIX.pub), with --checkpoint or --backup")
	backupAt := fs.String("backup", "", "verify backups instead of a store: their location, a directory or s3://BUCKET/PREFIX (the latest of each kind)")
	backupID := fs.String("id", "", "with --backup: the backup to verify")
	all := fs.Bool("all", false, "with --backup: verify every backup there")
	tmp := fs.String("tmp", "", "with --backup: directory for the copy fetched (default: the system's)")
	s3 := addS3Flags(fs, "--backup s3://...")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *backupAt != "" {
		if *checkpointFile != "" {
			return usageError("verify: --backup checks the checkpoint its manifest keeps; --checkpoint is for a store")
		}
		return verifyBackups(ctx, *backupAt, *backupID, *all, *pubFile, *tmp, s3, stdout, stderr)
	}
	if *backupID != "" || *all {
		return usageError("verify: --id and --all go with --backup")
	}
	var cps []tlog.Checkpoint
	if *checkpointFile != "" || *pubFile != "" {
		var skipped int
		var err error
		if cps, skipped, err = readCheckpoints(*checkpointFile, *pubFile); err != nil {
			return err
		}
		if skipped > 0 {
			fmt.Fprintf(stdout, "WARNING: %d entr(ies) of %s skipped: unreadable, or not signed by the key (a write torn by a power cut, or a forgery)\n", skipped, *checkpointFile)
		}
	}
	s, ss, err := openExisting(*db, *storeFlag, true)
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	// Reads of the log are counted, for the progress shown on stderr.
	counted := &readCounter{Store: s}
	p := newProgress(stderr, "verify")
	head, err := s.Head(ctx)
	if err != nil {
		return err
	}
	stop := p.poll("checking every hash chain", "events", func() (int64, int64) { return counted.at.Load(), head })
	rep, err := eventstore.VerifyAll(ctx, counted)
	stop()
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
	// The global log: gapless positions and, against checkpoints, the trees
	// of its first events, compared leaf by leaf with the tree the views
	// grew as events were applied.
	var recorded *tlog.Log
	if len(cps) > 0 {
		viewsPath := *views
		if viewsPath == "" {
			viewsPath = ss.DefaultViews()
		}
		closeViews, log, err := openRecordedTree(ctx, viewsPath)
		if err != nil {
			fmt.Fprintf(stdout, "the views' tree at %s cannot be read (%v): a failure will not name the event\n", viewsPath, err)
		}
		defer closeViews()
		recorded = log
	}
	sizes := make([]int64, len(cps))
	for i, c := range cps {
		sizes[i] = c.Size
	}
	counted.at.Store(0)
	stop = p.poll("hashing the log's tree", "events", func() (int64, int64) { return counted.at.Load(), head })
	sc, err := tlog.Scan(ctx, counted, sizes, recorded)
	stop()
	if err != nil {
		return err
	}
	for _, g := range sc.Gaps {
		fmt.Fprintf(stdout, "GAP: global position %d is missing (the next event found is at %d)\n", g.Want, g.Found)
	}
	if len(sc.Gaps) > 0 {
		failed = append(failed, fmt.Sprintf("%d gap(s) in the global log; the first at position %d", len(sc.Gaps), sc.Gaps[0].Want))
	}
	for _, c := range cps {
		if problem := checkAgainst(ctx, sc, c, recorded); problem != "" {
			fmt.Fprintln(stdout, "CHECKPOINT: "+problem)
			failed = append(failed, fmt.Sprintf("the log does not extend the checkpoint of size %d", c.Size))
		} else {
			fmt.Fprintf(stdout, "the log extends the checkpoint of %s at size %d (now %d events)\n", c.Origin, c.Size, sc.Head)
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// readCheckpoints opens every checkpoint of a file with a public key. It
// refuses a file in which none verifies, or which holds two different
// checkpoints of one size (the key signed two histories), and returns how
// many entries it skipped: unreadable, or not signed by the key.
func readCheckpoints(file, pubFile string) ([]tlog.Checkpoint, int, error) {
	if file == "" || pubFile == "" {
		return nil, 0, usageError("--checkpoint and --pub go together")
	}
	signed, err := os.ReadFile(file)
	if err != nil {
		return nil, 0, usageError("--checkpoint: " + err.Error())
	}
	pub, err := os.ReadFile(pubFile)
	if err != nil {
		return nil, 0, usageError("--pub: " + err.Error())
	}
	notes, skipped := tlog.ReadCheckpoints(signed)
	if len(notes) == 0 {
		return nil, skipped, usageError("--checkpoint: " + file + " holds no signed checkpoint")
	}
	var cps []tlog.Checkpoint
	var firstErr error
	bySize := map[int64][]byte{}
	for i, n := range notes {
		c, err := tlog.Open(n, string(pub))
		if err != nil {
			// Not the key's: a forgery proves nothing, and an entry torn by
			// a power cut holds nothing; either is skipped and counted.
			firstErr = cmp.Or(firstErr, fmt.Errorf("--checkpoint %s, checkpoint %d of %d: %w", file, i+1, len(notes), err))
			skipped++
			continue
		}
		if root, ok := bySize[c.Size]; ok && !bytes.Equal(root, c.Root) {
			return nil, skipped, fmt.Errorf("--checkpoint %s holds two checkpoints of size %d with different roots: the key signed two histories", file, c.Size)
		}
		bySize[c.Size] = c.Root
		cps = append(cps, c)
	}
	if len(cps) == 0 {
		return nil, skipped, firstErr
	}
	return cps, skipped, nil
}

// openRecordedTree opens the tree the views grew, if the views exist.
func openRecordedTree(ctx context.Context, path string) (func(), *tlog.Log, error) {
	if _, err := os.Stat(path); err != nil {
		return func() {}, nil, err
	}
	vdb, err := sqlitedb.OpenRebuildable(path, 2)
	if err != nil {
		return func() {}, nil, err
	}
	if err := sqlitedb.CheckSchema(ctx, vdb, projections.ViewsSchema); err != nil {
		vdb.Close()
		return func() {}, nil, err
	}
	log, err := tlog.OpenLog(ctx, vdb)
	if err != nil {
		vdb.Close()
		return func() {}, nil, err
	}
	return func() { vdb.Close() }, log, nil
}

// checkAgainst says how the log fails to extend a checkpoint, naming the
// first event that differs when the views' tree still hashes to the
// checkpoint's root (its leaves are then those signed); "" when it extends
// it.
func checkAgainst(ctx context.Context, sc tlog.Scanned, c tlog.Checkpoint, recorded *tlog.Log) string {
	err := sc.Check(c)
	if err == nil {
		return ""
	}
	problem := err.Error()
	if recorded == nil {
		return problem
	}
	if size, _ := recorded.Head(); size < c.Size {
		return problem + "; the views' tree is too short to say which"
	}
	was, err := recorded.RootAt(ctx, c.Size)
	if err != nil || !bytes.Equal(was, c.Root) {
		return problem + "; the views' tree does not hash to the checkpoint either (they were rebuilt from the altered log), so the event cannot be named: compare with the witness's earlier checkpoints"
	}
	d := sc.Differs
	if len(sc.Gaps) > 0 && sc.Gaps[0].Want-1 < c.Size && (d == nil || sc.Gaps[0].Want-1 <= d.Leaf) {
		// Positions are leaves on a gapless store: the first leaf that
		// differs is the event deleted, not the one after it.
		return fmt.Sprintf("%s; the first that differs is leaf %d: position %d was deleted", problem, sc.Gaps[0].Want-1, sc.Gaps[0].Want)
	}
	switch {
	case d == nil || d.Leaf >= c.Size:
		return problem
	case d.Position == 0:
		return fmt.Sprintf("%s; the first that differs is leaf %d: the log ends before it", problem, d.Leaf)
	}
	return fmt.Sprintf("%s; the first that differs is leaf %d, where the log now has position %d (%s version %d)", problem, d.Leaf, d.Position, d.Stream, d.Version)
}

// verifyCase checks a case's proof (GET /v1/cases/{id}/proof) against a
// signed checkpoint offline: an auditor needs neither the store nor the
// rest of the log.
func verifyCase(args []string, stdout io.Writer) error {
	fs := newFlags("verify-case")
	caseID := fs.String("case", "", "the case the proof must be of")
	proofFile := fs.String("proof", "", "the case's proof, as GET /v1/cases/{id}/proof served it")
	checkpointFile := fs.String("checkpoint", "", "the signed checkpoint of the proof's size (or a witness's file holding it)")
	pubFile := fs.String("pub", "", "the checkpoint key's public half (PREFIX.pub)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *caseID == "" {
		return usageError("--case: give the case the proof must be of")
	}
	if *proofFile == "" {
		return usageError("--proof: give the case's proof file")
	}
	cps, _, err := readCheckpoints(*checkpointFile, *pubFile)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(*proofFile)
	if err != nil {
		return usageError("--proof: " + err.Error())
	}
	var p tlog.CaseProof
	if err := json.Unmarshal(b, &p); err != nil {
		return usageError("--proof: not a case proof: " + err.Error())
	}
	var cp *tlog.Checkpoint
	for i := range cps {
		if cps[i].Size == p.Checkpoint.Size {
			cp = &cps[i]
		}
	}
	if cp == nil {
		return fmt.Errorf("--checkpoint: no checkpoint of size %d, the proof's, in %s", p.Checkpoint.Size, *checkpointFile)
	}
	n, err := tlog.VerifyCaseProof(p, domain.CaseStream(*caseID), *cp)
	if err != nil {
		return fmt.Errorf("case %s: %d event(s) verified, then: %w", *caseID, n, err)
	}
	fmt.Fprintf(stdout, "case %s: versions 1 to %d, their content and each link to the one before, are in the log of %s as signed at size %d", *caseID, n, cp.Origin, cp.Size)
	if p.Later > 0 {
		fmt.Fprintf(stdout, "; %d later event(s) are after the checkpoint", p.Later)
	}
	fmt.Fprintln(stdout)
	return nil
}
