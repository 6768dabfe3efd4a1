package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
	"github.com/ehcledger/ehcledger/keys"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/sqlitedb"
	"github.com/ehcledger/ehcledger/tlog"
)

// Verify fetches a backup into a temporary directory and checks it on its
// own: the file is the one stored, and for an event store every hash chain
// holds, positions are gapless, the head, the tree's root, the counts and
// the figures are those of the manifest, and the log extends the checkpoint
// kept (signed by pub's key, when pub, the key's public half, is given).
func Verify(ctx context.Context, loc Location, m Manifest, pub string, o Options) error {
	tmp, err := os.MkdirTemp(o.Temp, "ehcledger-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, "copy.db")
	o.report(Progress{Stage: "fetching " + m.ID, Total: m.File.RawBytes, Unit: "bytes"})
	if err := fetch(ctx, loc, m, file, o); err != nil {
		return err
	}
	if m.Kind == KindKeys {
		live, erased, err := countKeys(ctx, file)
		if err != nil {
			return err
		}
		if live != m.Keys || erased != m.Erased {
			return fmt.Errorf("backup %s holds %d keys and %d erasures; its manifest says %d and %d", m.ID, live, erased, m.Keys, m.Erased)
		}
		return nil
	}
	var cps []tlog.Signed
	if m.Checkpoint != "" && pub != "" {
		c, err := tlog.Open([]byte(m.Checkpoint), pub)
		if err != nil {
			return fmt.Errorf("backup %s: the checkpoint kept in its manifest: %w", m.ID, err)
		}
		cps = append(cps, tlog.Signed{Checkpoint: c, Note: []byte(m.Checkpoint)})
	}
	asOf := time.Time{}
	if m.Figures != nil {
		asOf = m.Figures.AsOf.Time()
	}
	chk, err := checkEvents(ctx, file, cps, o, asOf)
	if err != nil {
		return err
	}
	return compare(m, chk)
}

// compare says how what checkEvents found differs from a manifest.
func compare(m Manifest, chk checked) error {
	var diffs []error
	if len(chk.problems) > 0 {
		diffs = append(diffs, fmt.Errorf("the store it holds is damaged: %v", chk.problems))
	}
	if chk.head != m.Head || chk.events != m.Events || chk.streams != m.Streams {
		diffs = append(diffs, fmt.Errorf("it holds %d events in %d streams up to position %d; its manifest says %d in %d up to %d",
			chk.events, chk.streams, chk.head, m.Events, m.Streams, m.Head))
	}
	if chk.root != m.TreeRoot {
		diffs = append(diffs, fmt.Errorf("its log hashes to the tree root %s; its manifest says %s", chk.root, m.TreeRoot))
	}
	if !slices.Equal(chk.erased, m.ErasedCases) {
		diffs = append(diffs, fmt.Errorf("its events erase %d case(s); its manifest lists %d", len(chk.erased), len(m.ErasedCases)))
	}
	if m.Figures == nil || chk.figures != *m.Figures {
		diffs = append(diffs, fmt.Errorf("its events give other figures than its manifest records (%+v, not %+v)", chk.figures, m.Figures))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("backup %s: %w", m.ID, errors.Join(diffs...))
	}
	return nil
}

// Until is the point in time a restore stops at: a position of the global
// log, or an instant (every event recorded by then). The zero Until
// restores everything the backup holds.
type Until struct {
	Position int64
	Time     time.Time
}

// IsZero reports whether u restores everything.
func (u Until) IsZero() bool { return u.Position == 0 && u.Time.IsZero() }

// Choose picks the backup a restore to u starts from: the earliest backup
// that holds every event up to u (its head at or past the position, or an
// event recorded after the instant, so that the cut falls inside it), so
// that the least is cut away; the latest when u is zero or no backup
// reaches it, to be followed by segments.
func Choose(backups []Manifest, u Until) (Manifest, error) {
	if len(backups) == 0 {
		return Manifest{}, errors.New("backup: the location holds no finished backup of this kind")
	}
	if !u.IsZero() {
		for _, m := range backups {
			if (u.Position > 0 && m.Head >= u.Position) || (!u.Time.IsZero() && m.HeadRecordedAt.After(u.Time)) {
				return m, nil
			}
		}
	}
	return backups[len(backups)-1], nil
}

// Restored says what Restore did.
type Restored struct {
	// From is the backup restored from; nil when the store was restored
	// from segments alone.
	From *Manifest
	// Head is the restored store's last position; Cut is true when events
	// of the backup after u were left out.
	Head int64
	Cut  bool
	// Replayed counts the events restored from segments, after the
	// backup's; Stopped says why the segments were not followed further
	// when a gap or a broken link ended them before u ("" otherwise).
	Replayed int64
	Stopped  string
	// Erased lists the cases whose erasure the backup or the segments
	// record, after u too: a key store restored beside the store must
	// destroy their keys (RestoreKeys).
	Erased []string
	// Figures are the figures the restored events give, on the backup's
	// date (the head's without a backup): the backup's unless the restore
	// was cut or events were replayed after it.
	Figures projections.FiguresDigest
}

// Restore writes a new store into the file db: the event store of backup
// m from loc (none when m is nil), cut after u, followed by the events
// of the segments loc holds after it up to u (to the last segment when u
// is zero). It verifies the result as Verify does; on any failure it
// leaves no file at db. It refuses to overwrite a file.
func Restore(ctx context.Context, loc Location, m *Manifest, u Until, db string, o Options) (r Restored, err error) {
	r.From = m
	t, err := newTarget("the store being restored", db)
	if err != nil {
		return r, err
	}
	defer func() { t.done(err) }()
	partial := t.partial
	var head int64
	var erased []string
	if m != nil {
		o.report(Progress{Stage: "fetching " + m.ID, Total: m.File.RawBytes, Unit: "bytes"})
		if err := fetch(ctx, loc, *m, partial, o); err != nil {
			return r, err
		}
		head = m.Head
		if !u.IsZero() {
			cut, err := cutPosition(ctx, partial, u)
			if err != nil {
				return r, err
			}
			if cut == 0 {
				return r, fmt.Errorf("restore: backup %s has no event recorded by %s: nothing would be restored", m.ID, u.Time.Format(time.RFC3339))
			}
			if cut < m.Head {
				// The erasures of the events cut away are kept: read them
				// first. Without a cut, the check below reads them all.
				if erased, err = erasedIn(ctx, partial); err != nil {
					return r, err
				}
				if err := sqlite.TruncateCopy(partial, cut); err != nil {
					return r, err
				}
				r.Cut, head = true, cut
			}
		}
	}
	// Segments follow the backup; after a cut they are read only for
	// their erasures.
	from := head
	if m != nil {
		from = m.Head
	}
	rep, err := replaySegments(ctx, loc, partial, from, u, !r.Cut, o)
	if err != nil {
		return r, err
	}
	r.Replayed, r.Stopped = rep.events, rep.stopped
	if m == nil && r.Replayed == 0 {
		return r, fmt.Errorf("restore: %s holds neither a backup nor a segment to restore from", loc)
	}
	asOf := time.Time{}
	if m != nil && m.Figures != nil {
		asOf = m.Figures.AsOf.Time()
	}
	var cps []tlog.Signed
	if o.Pub != "" {
		if cps, err = signedBy(m, o.Pub); err != nil {
			return r, err
		}
	}
	chk, err := checkEvents(ctx, partial, cps, o, asOf)
	if err != nil {
		return r, err
	}
	r.Head, r.Figures = chk.head, chk.figures
	erased = append(append(erased, chk.erased...), rep.erased...)
	slices.Sort(erased)
	r.Erased = slices.Compact(erased)
	if m != nil && !r.Cut && r.Replayed == 0 {
		if err := compare(*m, chk); err != nil {
			return r, err
		}
	} else if len(chk.problems) > 0 {
		return r, fmt.Errorf("restore: the store restored from %s is damaged: %v", loc, chk.problems)
	}
	return r, t.publish(ctx)
}

// target is a database file being restored: its path is locked and must
// not exist, and it is written beside it, as partial, until published.
type target struct {
	path, partial string
	lock          *sqlitedb.Lock
}

// newTarget locks path for the restore (no server can open it meanwhile),
// checks that nothing is there, and removes what an interrupted restore
// left of the partial file.
func newTarget(what, path string) (*target, error) {
	lock, err := sqlitedb.LockExclusive(what, path)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Lstat(p); err == nil {
			lock.Release()
			return nil, fmt.Errorf("restore: %s already exists: restore into a new path, or move it away first", p)
		}
	}
	t := &target{path: path, partial: path + ".restoring", lock: lock}
	t.removePartial()
	return t, nil
}

func (t *target) removePartial() {
	for _, p := range []string{t.partial, t.partial + "-wal", t.partial + "-shm", sqlitedb.LockPath(t.partial)} {
		os.Remove(p)
	}
}

// done releases the target; after a failure (err set) it removes all the
// restore wrote, its lock file included: a failed restore leaves nothing.
func (t *target) done(err error) {
	t.lock.Release()
	if err != nil {
		t.removePartial()
		os.Remove(sqlitedb.LockPath(t.path))
	}
}

// signedBy is the checkpoint kept in the manifest of m, which must be
// signed with the key whose public half is pub: without it, nothing proves
// who wrote the backup.
func signedBy(m *Manifest, pub string) ([]tlog.Signed, error) {
	if m == nil || m.Checkpoint == "" {
		return nil, errors.New("restore: the backup keeps no signed checkpoint, so nothing proves who wrote it (leave out --pub to restore it anyway)")
	}
	c, err := tlog.Open([]byte(m.Checkpoint), pub)
	if err != nil {
		return nil, fmt.Errorf("restore: the checkpoint kept by backup %s: %w", m.ID, err)
	}
	return []tlog.Signed{{Checkpoint: c, Note: []byte(m.Checkpoint)}}, nil
}

// erasedIn lists the cases an event of the store file at path erases.
func erasedIn(ctx context.Context, path string) ([]string, error) {
	s, err := sqlite.Open(path, sqlite.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	c, err := CasesOf(ctx, s)
	return c.Erased, err
}

// publish puts the finished partial file in place: its log folded in,
// linked (which fails if a file is there, rather than replace it) and
// synced.
func (t *target) publish(ctx context.Context) error {
	if err := settle(ctx, t.partial); err != nil {
		return err
	}
	if err := os.Link(t.partial, t.path); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	os.Remove(t.partial)
	return syncDir(filepath.Dir(t.path))
}

// settle folds the write-ahead log of the database file at path into the
// file, before it is renamed: a log left beside the old name would hold
// commits the renamed file lacks.
func settle(ctx context.Context, path string) error {
	db, err := sqlitedb.Open(path, 1)
	if err != nil {
		return err
	}
	var busy, pages, done int
	err = db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &pages, &done)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil && busy != 0 {
		err = errors.New("another connection holds it")
	}
	if err == nil {
		if st, serr := os.Stat(path + "-wal"); serr == nil && st.Size() > 0 {
			err = fmt.Errorf("its write-ahead log still holds %d bytes", st.Size())
		}
	}
	if err != nil {
		return fmt.Errorf("restore: folding the write-ahead log into %s: %w", path, err)
	}
	for _, p := range []string{path + "-wal", path + "-shm", path + ".lock"} {
		os.Remove(p)
	}
	return nil
}

// CheckSegments reads the segments of loc that follow position head, as a
// restore from a backup of that head would, and says where their chain
// ends: the last position they hold, and why they stop there when a gap,
// a broken link or the loss of the last segments ends them.
func CheckSegments(ctx context.Context, loc Location, head int64, o Options) (last int64, stopped string, err error) {
	res, err := replaySegments(ctx, loc, "", head, Until{}, false, o)
	if err != nil || res.stopped != "" {
		return res.last, res.stopped, err
	}
	// The replicator names its last segment: the chain must reach it.
	if rc, err := loc.Get(ctx, pointerName); err == nil {
		var p pointer
		derr := json.NewDecoder(io.LimitReader(rc, 4096)).Decode(&p)
		rc.Close()
		if _, pl, ok := parseSegmentName(p.Last); derr == nil && ok && pl > res.last {
			return res.last, fmt.Sprintf("the replicator's last segment, %s, is not there: segments after position %d were removed", p.Last, res.last), nil
		}
	}
	return res.last, "", nil
}

// replayed is what replaySegments did.
type replayed struct {
	events int64
	// last is the last position the segments read hold, in a chain.
	last    int64
	stopped string
	// erased are the cases an erasure event of the segments read names,
	// those after u included: an erasure is kept even by a restore to an
	// earlier point.
	erased []string
}

// replaySegments appends to the store file at path, whose head is head,
// the events of loc's segments that follow it, up to u; with apply false
// it only reads them, for their erasures. The segments must follow each
// other and each name the digest of the one before; the first gap or
// broken link ends the replay, and stopped says where. Each event is
// checked to land where it was, with the hash it had.
func replaySegments(ctx context.Context, loc Location, path string, head int64, u Until, apply bool, o Options) (res replayed, err error) {
	after := segmentPrefix + fmt.Sprintf("%016d", max(0, head+1-maxSegmentEvents))
	names, err := segmentNames(ctx, loc, after)
	if err != nil {
		return res, err
	}
	var s *sqlite.Store
	if apply {
		if s, err = sqlite.Open(path, sqlite.Options{}); err != nil {
			return res, err
		}
		defer func() {
			if cerr := s.Close(); err == nil {
				err = cerr
			}
		}()
	}
	prev := ""
	next := head + 1
	defer func() { res.last = next - 1 }()
	erasures := func(events []eventstore.RecordedEvent) {
		for _, e := range events {
			if id, ok := domain.CaseIDOf(e.Stream); ok && e.Type == domain.TypePersonalDataErased {
				res.erased = append(res.erased, id)
			}
		}
	}
	broken := false
	for i := 0; i < len(names); {
		first, last, _ := parseSegmentName(names[i])
		if last < next {
			i++
			continue
		}
		if broken {
			// Past a gap or a broken link nothing is replayed, but every
			// erasure found is kept: erring towards erasure is the duty.
			if seg, err := readSegment(ctx, loc, names[i]); err == nil {
				erasures(seg.Recorded)
			}
			i++
			continue
		}
		if first > next {
			res.stopped = fmt.Sprintf("no segment holds position %d (the next one, %s, begins at %d)", next, names[i], first)
			broken = true
			continue
		}
		// The segments that hold next: one, unless an upload that seemed
		// to fail was stored after all and the replicator shipped a longer
		// one from the same place. The chain follows the one linked to
		// the segment before, the longest when none is known yet.
		var chosen *segment
		j := i
		for ; j < len(names); j++ {
			f, l, _ := parseSegmentName(names[j])
			if f > next {
				break
			}
			if l < next {
				continue
			}
			seg, err := readSegment(ctx, loc, names[j])
			if err != nil {
				return res, err
			}
			if (prev == "" || seg.Prev == prev) && (chosen == nil || seg.Last > chosen.Last) {
				chosen = &seg
			}
		}
		if chosen == nil {
			res.stopped = fmt.Sprintf("segment %s does not name the digest of the one before it: the chain is broken there", names[i])
			broken = true
			continue
		}
		i = j
		avail := chosen.Recorded[next-chosen.First:]
		erasures(avail)
		var take []eventstore.RecordedEvent
		for _, e := range avail {
			if !apply || (u.Position > 0 && e.Position > u.Position) || (!u.Time.IsZero() && e.RecordedAt.After(u.Time)) {
				break
			}
			take = append(take, e)
		}
		if len(take) > 0 {
			if err := appendAsRecorded(ctx, s, take); err != nil {
				return res, err
			}
			res.events += int64(len(take))
			o.report(Progress{Stage: "replaying the segments", Done: res.events, Unit: "events"})
		}
		if len(take) < len(avail) {
			apply = false // u is reached: the rest is read for its erasures
		}
		next, prev = chosen.Last+1, chosen.Digest
	}
	return res, nil
}

// appendAsRecorded appends events as they were recorded, each stream's run
// in one append, and checks that each landed at its position with its
// hash.
func appendAsRecorded(ctx context.Context, s *sqlite.Store, events []eventstore.RecordedEvent) error {
	for i := 0; i < len(events); {
		j := i + 1
		for j < len(events) && events[j].Stream == events[i].Stream && j-i < 500 {
			j++
		}
		run := events[i:j]
		expected := eventstore.NoStream
		if run[0].Version > 1 {
			expected = eventstore.Exact(run[0].Version - 1)
		}
		data := make([]eventstore.EventData, len(run))
		for k, e := range run {
			data[k] = e.EventData
		}
		res, err := s.Append(ctx, run[0].Stream, expected, data)
		if err != nil {
			return fmt.Errorf("restore: replaying position %d (stream %s, version %d): %w", run[0].Position, run[0].Stream, run[0].Version, err)
		}
		if res.Position != run[len(run)-1].Position || res.Version != run[len(run)-1].Version {
			return fmt.Errorf("restore: position %d landed at %d: the segments do not continue the backup", run[len(run)-1].Position, res.Position)
		}
		i = j
	}
	if len(events) == 0 {
		return nil
	}
	got, err := s.ReadAll(ctx, events[0].Position, len(events))
	if err != nil {
		return err
	}
	for k, e := range events {
		if k >= len(got) || got[k].Position != e.Position || got[k].Hash != e.Hash || got[k].ID != e.ID {
			return fmt.Errorf("restore: the event replayed at position %d does not hash as it did when it was recorded", e.Position)
		}
	}
	return nil
}

// cutPosition is the last position of the store file at path that u keeps.
func cutPosition(ctx context.Context, path string, u Until) (int64, error) {
	s, err := sqlite.Open(path, sqlite.Options{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	head, err := s.Head(ctx)
	if err != nil {
		return 0, err
	}
	if u.Time.IsZero() {
		return min(u.Position, head), nil
	}
	// The first event recorded after the instant ends what is kept: one
	// recorded earlier after it (an import, another clock) was not in the
	// store at that instant either.
	cut := head
	stop := errors.New("found")
	err = projections.ReadBatches(ctx, s, 1, 5000, func(batch []eventstore.RecordedEvent) error {
		for _, e := range batch {
			if e.RecordedAt.After(u.Time) {
				cut = e.Position - 1
				return stop
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, stop) {
		return 0, err
	}
	if u.Position > 0 {
		cut = min(cut, u.Position)
	}
	return cut, nil
}

// Cases is what a restored store says of its cases, for the key store
// restored beside it.
type Cases struct {
	// Erased are the cases whose personal details an event erased.
	Erased []string
	// Opened is when each case's first event was recorded.
	Opened map[string]time.Time
}

// OpenedAfter lists the cases opened after t, sorted: a key store backed
// up at t holds no key of theirs.
func (c Cases) OpenedAfter(t time.Time) []string {
	var ids []string
	for id, at := range c.Opened {
		if at.After(t) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// CasesOf reads the store's cases: which were erased, and when each was
// opened.
func CasesOf(ctx context.Context, s eventstore.Store) (Cases, error) {
	c := Cases{Opened: map[string]time.Time{}}
	seen := map[string]bool{}
	err := projections.ReadBatches(ctx, s, 1, 5000, func(batch []eventstore.RecordedEvent) error {
		for _, e := range batch {
			id, ok := domain.CaseIDOf(e.Stream)
			if !ok {
				continue
			}
			if e.Version == 1 {
				c.Opened[id] = e.RecordedAt
			}
			if e.Type == domain.TypePersonalDataErased && !seen[id] {
				seen[id] = true
				c.Erased = append(c.Erased, id)
			}
		}
		return nil
	})
	return c, err
}

// RestoreKeys writes the key store of backup m from loc into the new file
// path, checks that master opens it, and destroys the key of every case in
// erased: an erasure recorded after the key store's backup was taken must
// survive the restore. It returns how many of those cases the backup did
// not yet have erased.
func RestoreKeys(ctx context.Context, loc Location, m Manifest, path string, master []byte, erased []string, o Options) (n int, err error) {
	if m.Kind != KindKeys {
		return 0, fmt.Errorf("restore: backup %s is of %s, not of a key store", m.ID, m.Kind)
	}
	t, err := newTarget("the key store being restored", path)
	if err != nil {
		return 0, err
	}
	defer func() { t.done(err) }()
	partial := t.partial
	if err := fetch(ctx, loc, m, partial, o); err != nil {
		return 0, err
	}
	ks, err := keys.Open(partial, master, o.Now)
	if err != nil {
		return 0, err
	}
	for _, id := range erased {
		was, err := ks.Erased(id)
		if err != nil {
			ks.Close()
			return n, err
		}
		if err := ks.Erase(id); err != nil {
			ks.Close()
			return n, err
		}
		if !was {
			n++
		}
	}
	if err := ks.Close(); err != nil {
		return n, err
	}
	return n, t.publish(ctx)
}
