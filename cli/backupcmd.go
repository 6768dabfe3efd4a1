package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/backup"
	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
)

// backupLocation is the location of --to or --from: s3://BUCKET/PREFIX, or
// a directory.
func backupLocation(flagName, at string, s3 s3Flags) (backup.Location, error) {
	if at == "" {
		return nil, usageError(flagName + " is required: a directory, or s3://BUCKET/PREFIX")
	}
	if bucket, prefix, ok := s3URL(at); ok {
		client, err := s3.client(flagName + " s3://...")
		if err != nil {
			return nil, err
		}
		loc, err := backup.NewBucket(client, bucket, prefix)
		if err != nil {
			return nil, usageError(flagName + ": " + err.Error())
		}
		return loc, nil
	}
	if strings.Contains(at, "://") {
		return nil, usageError(flagName + ": " + at + " is neither a directory nor s3://BUCKET/PREFIX")
	}
	return backup.Dir{Root: at}, nil
}

// listBackups lists the backups of a kind at loc, warning on w of any it
// leaves out because its manifest cannot be read.
func listBackups(ctx context.Context, loc backup.Location, kind string, w io.Writer) ([]backup.Manifest, error) {
	found, skipped, err := backup.List(ctx, loc, kind)
	for _, e := range skipped {
		fmt.Fprintf(w, "WARNING: a backup in %s is left out: %v\n", loc, e)
	}
	return found, err
}

// backupOptions are the options every backup command shares.
func backupOptions(loc backup.Location, tmp string, p *progress) backup.Options {
	return backup.Options{To: loc, Temp: tmp, Now: time.Now, Software: release(), Holidays: calendar.NewEnglandWales(), Progress: p.report}
}

// keptApart refuses to put one kind of backup where the other kind is: a
// key store's copies must not sit beside the data they open (an erasure
// destroys a key in the live store, never in a copy).
func keptApart(ctx context.Context, loc backup.Location, kind string, w io.Writer) error {
	other := backup.KindKeys
	if kind == backup.KindKeys {
		other = backup.KindEvents
	}
	found, err := listBackups(ctx, loc, other, w)
	if err != nil {
		return err
	}
	if len(found) > 0 {
		return usageError(fmt.Sprintf("--to %s holds backups of %s (%s): keep the key store's backups apart from the event store's, "+
			"in another bucket or directory with its own access, so that no one place holds both the data and its keys", loc, other, found[0].ID))
	}
	return nil
}

// backupCmd runs `backup`: a consistent copy of a running event store,
// or with the keys subcommand of its key store, kept in a location.
func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	kind := backup.KindEvents
	if len(args) > 0 && args[0] == "keys" {
		kind, args = backup.KindKeys, args[1:]
	}
	fs := newFlags("backup")
	db := fs.String("db", envOr("EHC_DB", "ehcledger.db"), "event database file (the embedded store)")
	views := fs.String("views", "", "its views, whose last signed checkpoint the manifest keeps (default: DB.views)")
	keysFile := fs.String("keys", envOr("EHC_KEYS", ""), "with backup keys: the case-key store file (default: DB.keys)")
	to := fs.String("to", envOr("EHC_BACKUP_TO", ""), "where to keep the backup: a directory, or s3://BUCKET/PREFIX")
	tmp := fs.String("tmp", "", "directory for the consistent copy before it is compressed (default: the system's; needs room for the database)")
	s3 := addS3Flags(fs, "--to s3://...")
	if err := parse(fs, args); err != nil {
		return err
	}
	source, sourceFlag := *db, "--db"
	if kind == backup.KindKeys {
		if source, sourceFlag = *keysFile, "--keys"; source == "" {
			source, sourceFlag = KeysPath(ViewsPath(*db)), "--db"
		}
	}
	if _, err := os.Stat(source); err != nil {
		return usageError(fmt.Sprintf("%s: %s: there is nothing to back up there", sourceFlag, source))
	}
	loc, err := backupLocation("--to", *to, s3)
	if err != nil {
		return err
	}
	if err := keptApart(ctx, loc, kind, stderr); err != nil {
		return err
	}
	p := newProgress(stderr, "backup")
	defer p.close()
	o := backupOptions(loc, *tmp, p)
	start := time.Now()
	if kind == backup.KindKeys {
		path := source
		m, err := backup.Keys(ctx, path, o)
		if err != nil {
			return err
		}
		p.close()
		fmt.Fprintf(stdout, "backed up the key store %s to %s as %s: %d keys, %d erased, %d bytes stored, in %.1fs\n",
			path, loc, m.ID, m.Keys, m.Erased, m.File.Bytes, time.Since(start).Seconds())
		return nil
	}
	if *views == "" {
		*views = ViewsPath(*db)
	}
	m, err := backup.Events(ctx, *db, *views, o)
	p.close()
	if m.File.Bytes > 0 {
		fmt.Fprintf(stdout, "backed up %s to %s as %s: %d events in %d streams up to position %d, %d bytes stored (%d in the file), in %.1fs\n",
			*db, loc, m.ID, m.Events, m.Streams, m.Head, m.File.Bytes, m.File.RawBytes, time.Since(start).Seconds())
		if m.Checkpoint == "" {
			fmt.Fprintln(stdout, "no signed checkpoint within it was found in the views: the backup is checked against its own manifest only")
		}
	}
	return err
}

// verifyBackups runs `verify --backup LOCATION`: each backup chosen is
// fetched and checked on its own, against its manifest.
func verifyBackups(ctx context.Context, at, id string, all bool, pubFile, tmp string, s3 s3Flags, stdout, stderr io.Writer) error {
	loc, err := backupLocation("--backup", at, s3)
	if err != nil {
		return err
	}
	var pub string
	if pubFile != "" {
		b, err := os.ReadFile(pubFile)
		if err != nil {
			return usageError("--pub: " + err.Error())
		}
		pub = string(b)
	}
	var chosen []backup.Manifest
	for _, kind := range []string{backup.KindEvents, backup.KindKeys} {
		found, err := listBackups(ctx, loc, kind, stdout)
		if err != nil {
			return err
		}
		for _, m := range found {
			if all || m.ID == id || (id == "" && m.ID == found[len(found)-1].ID) {
				chosen = append(chosen, m)
			}
		}
	}
	if len(chosen) == 0 {
		if id != "" {
			return fmt.Errorf("--backup %s holds no finished backup %s", loc, id)
		}
		return fmt.Errorf("--backup %s holds no finished backup", loc)
	}
	p := newProgress(stderr, "verify")
	defer p.close()
	var failed []string
	for _, m := range chosen {
		err := backup.Verify(ctx, loc, m, pub, backupOptions(loc, tmp, p))
		p.close()
		if err == nil && pub != "" && m.Kind == backup.KindEvents && m.Checkpoint == "" {
			// Anyone who can write to the location can write a manifest;
			// only a checkpoint signed with the key says who wrote it.
			err = fmt.Errorf("backup %s: its manifest keeps no signed checkpoint, so nothing proves it was written by the holder of %s", m.ID, pubFile)
		}
		if err != nil {
			fmt.Fprintf(stdout, "BROKEN: %v\n", err)
			failed = append(failed, m.ID)
			continue
		}
		switch {
		case m.Kind == backup.KindKeys:
			fmt.Fprintf(stdout, "backup %s of a key store is intact: %d keys, %d erased\n", m.ID, m.Keys, m.Erased)
		default:
			fmt.Fprintf(stdout, "backup %s is intact: %d events in %d streams up to position %d, every hash chain holds, the tree root and figures (%d cases, on %s) are the manifest's\n",
				m.ID, m.Events, m.Streams, m.Head, m.Figures.Cases, m.Figures.AsOf)
			switch {
			case m.Checkpoint != "" && pub != "":
				fmt.Fprintln(stdout, "  and the log extends the signed checkpoint kept in the manifest")
			case m.Checkpoint != "":
				fmt.Fprintln(stdout, "  (give --pub to check the signed checkpoint kept in the manifest)")
			}
		}
	}
	// The segments after the latest backup of the event store, as a
	// restore would follow them.
	var latest int64
	for _, m := range chosen {
		if m.Kind == backup.KindEvents {
			latest = max(latest, m.Head)
		}
	}
	if last, stopped, err := backup.CheckSegments(ctx, loc, latest, backupOptions(loc, tmp, p)); err != nil {
		fmt.Fprintf(stdout, "BROKEN: the segments after position %d: %v\n", latest, err)
		failed = append(failed, "segments")
	} else {
		if last > latest {
			fmt.Fprintf(stdout, "the segments after position %d are chained up to position %d\n", latest, last)
		}
		if stopped != "" {
			fmt.Fprintf(stdout, "WARNING: the segments after position %d: %s\n", latest, stopped)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d backup(s) failed verification: %s", len(failed), strings.Join(failed, ", "))
	}
	return nil
}

// parseUntil reads --until: a position of the global log, or an RFC 3339
// instant.
func parseUntil(s string) (backup.Until, error) {
	if s == "" {
		return backup.Until{}, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 1 {
			return backup.Until{}, usageError("--until: a position is 1 or more")
		}
		return backup.Until{Position: n}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return backup.Until{}, usageError("--until: give a position of the log (such as 261410) or an instant (such as 2026-12-03T17:00:00Z), not " + strconv.Quote(s))
	}
	return backup.Until{Time: t}, nil
}

// restoreCmd runs `restore`: a new store from a backup, cut at a point in
// time, verified, its views rebuilt and their figures checked, and, given
// a key store's backup, its keys with every erasure the restored events
// record applied again.
func restoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("restore")
	from := fs.String("from", "", "the location of the event store's backups: a directory, or s3://BUCKET/PREFIX")
	id := fs.String("id", "", "the backup to restore (default: the earliest that reaches --until, or the latest)")
	untilFlag := fs.String("until", "", "restore up to this position of the log, or this RFC 3339 instant (default: all the backup holds)")
	db := fs.String("db", "", "the new event database file to restore into (must not exist)")
	views := fs.String("views", "", "its views, rebuilt (default: DB.views; must not exist)")
	keysFrom := fs.String("keys-from", "", "the location of the key store's backups (kept apart from --from)")
	keysID := fs.String("keys-id", "", "the key store's backup to restore (default: the latest)")
	tmp := fs.String("tmp", "", "directory for temporary files (default: the system's)")
	pubFile := fs.String("pub", "", "the public half of the log's checkpoint key (PREFIX.pub): the backup must keep a checkpoint signed with it, which the restored log must extend")
	s3 := addS3Flags(fs, "--from s3://... (and --keys-from, unless the --keys-s3-* flags are given)")
	keysS3 := addS3FlagsAs(fs, "keys-", "EHC_KEYS_", "--keys-from s3://...: the key store's backups, reached with other credentials than the event store's")
	kf := addKeyFlags(fs)
	kf.noDemo = true
	if err := parse(fs, args); err != nil {
		return err
	}
	if *db == "" {
		return usageError("--db is required: the new event database file to restore into")
	}
	until, err := parseUntil(*untilFlag)
	if err != nil {
		return err
	}
	var pub string
	if *pubFile != "" {
		b, err := os.ReadFile(*pubFile)
		if err != nil {
			return usageError("--pub: " + err.Error())
		}
		pub = string(b)
	}
	if *views == "" {
		*views = ViewsPath(*db)
	}
	keysPath := kf.path(*views)
	fresh := []string{*db, *views, SnapshotPath(*views)}
	if *keysFrom != "" {
		fresh = append(fresh, keysPath)
	}
	for _, p := range fresh {
		if _, err := os.Lstat(p); err == nil {
			return usageError("restore: " + p + " already exists: restore into a new path, or move it away first")
		}
	}
	loc, err := backupLocation("--from", *from, s3)
	if err != nil {
		return err
	}
	var master []byte
	var keysLoc backup.Location
	var keysBackup backup.Manifest
	if *keysFrom != "" {
		if keysLoc, err = backupLocation("--keys-from", *keysFrom, keysS3.or(s3)); err != nil {
			if strings.HasPrefix(*keysFrom, "s3://") {
				return fmt.Errorf("%w (or give the key store's own: --keys-s3-endpoint, --keys-s3-access-key, --keys-s3-secret-key-file)", err)
			}
			return err
		}
		found, err := listBackups(ctx, keysLoc, backup.KindKeys, stdout)
		if err != nil {
			return err
		}
		if keysBackup, err = pick(found, keysLoc, backup.KindKeys, *keysID, backup.Until{}); err != nil {
			return err
		}
		// Asked for before the long work, so that a missing key stops it.
		if master, _, err = kf.master(ctx, "restore", []dataFile{{"the event store", *db}, {"the key store", keysPath}}, keysPath, false); err != nil {
			return err
		}
	}
	// Without a backup, a location of segments alone is restored from
	// its first segment.
	var m *backup.Manifest
	events, err := listBackups(ctx, loc, backup.KindEvents, stdout)
	if err != nil {
		return err
	}
	if len(events) > 0 || *id != "" {
		chosen, err := pick(events, loc, backup.KindEvents, *id, until)
		if err != nil {
			return err
		}
		m = &chosen
	}
	for _, dir := range []string{filepath.Dir(*db), filepath.Dir(*views), filepath.Dir(keysPath)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	p := newProgress(stderr, "restore")
	defer p.close()
	o := backupOptions(loc, *tmp, p)
	o.Pub = pub
	start := time.Now()
	r, err := backup.Restore(ctx, loc, m, until, *db, o)
	p.close()
	if err != nil {
		return err
	}
	switch {
	case m == nil:
		fmt.Fprintf(stdout, "restored %s from the segments alone: %d events", *db, r.Replayed)
	case r.Cut:
		fmt.Fprintf(stdout, "restored %s from backup %s, up to position %d of its %d", *db, m.ID, r.Head, m.Head)
	default:
		fmt.Fprintf(stdout, "restored %s from backup %s (%d events), then %d events from the segments after it", *db, m.ID, m.Head, r.Replayed)
	}
	fmt.Fprintf(stdout, ", to position %d: every hash chain holds, in %.1fs\n", r.Head, time.Since(start).Seconds())
	if r.Stopped != "" {
		fmt.Fprintf(stdout, "WARNING: the segments end before what was asked: %s\n", r.Stopped)
	}
	if until.Position > r.Head {
		fmt.Fprintf(stdout, "WARNING: --until %d is past everything the location holds: the store restored ends at position %d\n", until.Position, r.Head)
	}
	if err := rebuildRestored(ctx, *db, *views, r, stdout, newProgress(stderr, "restore")); err != nil {
		return err
	}
	if keysLoc == nil {
		fmt.Fprintf(stdout, "no key store was restored (--keys-from): the cases' personal details stay sealed until one is, into %s\n", keysPath)
		return nil
	}
	s, err := sqlite.Open(*db, sqlite.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	cases, err := backup.CasesOf(ctx, s)
	s.Close()
	if err != nil {
		return err
	}
	// Every erasure the location knows of: those the restored store holds
	// or replayed past, and those of every backup's manifest, newer ones
	// than the one restored included.
	erased := r.Erased
	for _, b := range events {
		erased = append(erased, b.ErasedCases...)
	}
	n, err := backup.RestoreKeys(ctx, keysLoc, keysBackup, keysPath, master, erased, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored the key store %s from backup %s (%d keys); erased again the keys of %d case(s) whose erasure the backup or the segments record after that backup\n",
		keysPath, keysBackup.ID, keysBackup.Keys, n)
	if lost := cases.OpenedAfter(keysBackup.CreatedAt); len(lost) > 0 {
		fmt.Fprintf(stdout, "WARNING: %d case(s) were opened after the key store's backup was taken (%s, the first %s): "+
			"the personal details and free text sealed in them cannot be opened; their steps, clocks and figures are intact\n",
			len(lost), keysBackup.CreatedAt.Format(time.RFC3339), lost[0])
	}
	return nil
}

// pick chooses among the backups of a kind found at loc the one to
// restore: id, or by until.
func pick(found []backup.Manifest, loc backup.Location, kind, id string, until backup.Until) (backup.Manifest, error) {
	if id == "" {
		return backup.Choose(found, until)
	}
	for _, m := range found {
		if m.ID == id {
			return m, nil
		}
	}
	return backup.Manifest{}, fmt.Errorf("%s holds no finished backup %s of %s", loc, id, kind)
}

// rebuildRestored builds the restored store's views from scratch and checks
// that they count the figures the restored events give.
func rebuildRestored(ctx context.Context, db, views string, r backup.Restored, stdout io.Writer, p *progress) error {
	ss, err := existingStore(db, "")
	if err != nil {
		return err
	}
	env, err := openEnv(ctx, ss, views, keysAt{}, time.Now, jsonLogger(io.Discard))
	if err != nil {
		return err
	}
	n, el, err := progressedRebuild(ctx, env, p)
	if err == nil {
		var got = r.Figures
		if got, err = env.Runner.Timeliness.FiguresDigest(r.Figures.AsOf); err == nil && got != r.Figures {
			err = fmt.Errorf("restore: the rebuilt views count other figures (%+v) than the restored events (%+v)", got, r.Figures)
		}
	}
	if cerr := env.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	same := "the figures of the events restored"
	if r.From != nil && !r.Cut && r.Replayed == 0 {
		same = "the figures the backup recorded"
	}
	fmt.Fprintf(stdout, "rebuilt the views %s from %d events in %.1fs: they count %s (%d cases in %d LAs, on %s)\n",
		views, n, el.Seconds(), same, r.Figures.Cases, r.Figures.LAs, r.Figures.AsOf)
	return nil
}
