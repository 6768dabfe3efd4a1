package backup

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
	"github.com/ehcledger/ehcledger/keys"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/sqlitedb"
	"github.com/ehcledger/ehcledger/tlog"
	"github.com/klauspost/compress/zstd"
)

// Kinds of backup: an event store, or a key store. They are kept apart
// (docs/operations.md): a key store's backup holds keys that a later
// erasure destroys in the live store but not in the copy.
const (
	KindEvents = "events"
	KindKeys   = "keys"
)

// idTime is the layout of the instant that begins a backup's ID, to the
// millisecond: two backups of one second must not share an ID.
const idTime = "20060102T150405.000Z"

// manifestFormat is the version of manifest.json this build writes and
// reads.
const manifestFormat = 1

// File describes the database file of a backup: as stored (compressed
// with zstd) and as restored.
type File struct {
	Name      string `json:"name"`
	Bytes     int64  `json:"bytes"`
	SHA256    string `json:"sha256"`
	RawBytes  int64  `json:"raw_bytes"`
	RawSHA256 string `json:"raw_sha256"`
}

// Manifest says what a backup holds, so that it can be checked on its own:
// the file's hashes, and for an event store its head, the root of its
// Merkle tree there, the last checkpoint signed within it, and a digest of
// the figures its events give.
type Manifest struct {
	Format        int       `json:"format"`
	Kind          string    `json:"kind"`
	ID            string    `json:"id"`
	CreatedAt     time.Time `json:"created_at"`
	Software      string    `json:"software,omitempty"`
	Source        string    `json:"source"`
	SchemaVersion int       `json:"schema_version"`
	File          File      `json:"file"`

	// An event store's.
	Head           int64                      `json:"head,omitempty"`
	HeadRecordedAt time.Time                  `json:"head_recorded_at,omitzero"`
	Events         int                        `json:"events,omitempty"`
	Streams        int                        `json:"streams,omitempty"`
	TreeRoot       string                     `json:"tree_root,omitempty"`
	Checkpoint     string                     `json:"checkpoint,omitempty"`
	Figures        *projections.FiguresDigest `json:"figures,omitempty"`
	// ErasedCases lists the cases whose personal details an event of the copy
	// erased: a restore from any backup of the location destroys their
	// keys, a restore to an earlier point included.
	ErasedCases []string `json:"erased_cases,omitempty"`
	// Problems are what verification found wrong in the store copied: a
	// backup of a damaged store is kept, and says so.
	Problems []string `json:"problems,omitempty"`

	// A key store's.
	Keys   int `json:"keys,omitempty"`
	Erased int `json:"erased,omitempty"`
}

// dir is the folder of a backup in its location.
func (m Manifest) dir() string { return "backups/" + m.ID }

// manifestName is the manifest's name in a location.
func manifestName(id string) string { return "backups/" + id + "/manifest.json" }

// Options are what a backup needs besides its source.
type Options struct {
	To Location
	// Temp is the directory for the consistent copy taken before it is
	// compressed and stored (os.TempDir() when empty): it needs room for
	// the database once more.
	Temp     string
	Now      func() time.Time
	Software string
	Holidays domain.Holidays
	// Progress, when set, is told of each stage and how far it has got.
	Progress func(Progress)
	// Pub, when set, is the public half of the log's checkpoint key: a
	// restore then requires the backup's manifest to keep a checkpoint
	// signed with it, and the restored log to extend it.
	Pub string
}

// Progress is how far a long job has got: done of total (total 0 when
// unknown) in the unit of its stage.
type Progress struct {
	Stage       string
	Done, Total int64
	Unit        string // "events" or "bytes"
}

func (o Options) report(p Progress) {
	if o.Progress != nil {
		o.Progress(p)
	}
}

// Events backs up the event store in the file db, which a server may be
// writing: SQLite's VACUUM INTO copies it as of one instant without
// stopping writes. The copy is verified (every hash chain, gapless
// positions, the tree's root), its figures counted, and the last checkpoint
// signed in the views at views ("" for none) within it is kept in the
// manifest. A damaged store is still backed up, and the error says so
// after the backup is stored.
func Events(ctx context.Context, db, views string, o Options) (Manifest, error) {
	m := Manifest{Format: manifestFormat, Kind: KindEvents, CreatedAt: o.Now().UTC(), Software: o.Software, Source: db}
	// The checkpoint is read before the copy is taken: one signed by then
	// signs only events the copy holds.
	var cps []tlog.Signed
	if views != "" {
		if signed, ok, err := latestCheckpoint(ctx, views); err != nil {
			return m, fmt.Errorf("backup: reading the last signed checkpoint from %s: %w", views, err)
		} else if ok {
			cps = append(cps, signed)
		}
	}
	tmp, copyPath, err := consistentCopy(ctx, db, "events.db", sqlite.Schema, o)
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(tmp)
	if m.SchemaVersion, err = fileVersion(ctx, copyPath); err != nil {
		return m, err
	}
	chk, err := checkEvents(ctx, copyPath, cps, o, time.Time{})
	if err != nil {
		return m, err
	}
	m.Head, m.HeadRecordedAt, m.Events, m.Streams, m.TreeRoot, m.Figures, m.ErasedCases, m.Problems =
		chk.head, chk.headAt, chk.events, chk.streams, chk.root, &chk.figures, chk.erased, chk.problems
	// A checkpoint the log does not extend is left out, and said to be.
	switch {
	case len(cps) == 0:
	case cps[0].Size > chk.head:
		// Read before the copy, it cannot sign more than the copy holds
		// unless the views are another store's.
		m.Problems = append(m.Problems, fmt.Sprintf("the last checkpoint signed in %s is of %d events, more than the store holds (%d): the views are not this store's",
			views, cps[0].Size, chk.head))
	case chk.cpErr == nil:
		m.Checkpoint = string(cps[0].Note)
	}
	m.ID = fmt.Sprintf("%s-events-p%016d", m.CreatedAt.Format(idTime), m.Head)
	if err := store(ctx, &m, copyPath, "events.db.zst", o); err != nil {
		return m, err
	}
	if len(m.Problems) > 0 {
		return m, fmt.Errorf("the backup %s was stored, but the store it copies is damaged: %s", m.ID, strings.Join(m.Problems, "; "))
	}
	return m, nil
}

// Keys backs up the key store in the file path, which a server may be
// using. The keys stay wrapped with the master key, which is not copied.
func Keys(ctx context.Context, path string, o Options) (Manifest, error) {
	m := Manifest{Format: manifestFormat, Kind: KindKeys, CreatedAt: o.Now().UTC(), Software: o.Software, Source: path}
	tmp, copyPath, err := consistentCopy(ctx, path, "keys.db", keys.Schema, o)
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(tmp)
	if m.SchemaVersion, err = fileVersion(ctx, copyPath); err != nil {
		return m, err
	}
	if m.Keys, m.Erased, err = countKeys(ctx, copyPath); err != nil {
		return m, err
	}
	m.ID = m.CreatedAt.Format(idTime) + "-keys"
	return m, store(ctx, &m, copyPath, "keys.db.zst", o)
}

// consistentCopy copies the database at src, as of one instant, into a new
// temporary directory, and returns the directory and the copy's path.
func consistentCopy(ctx context.Context, src, name string, s sqlitedb.Schema, o Options) (string, string, error) {
	if _, err := os.Stat(src); err != nil {
		return "", "", fmt.Errorf("backup: %w", err)
	}
	tmp, err := os.MkdirTemp(o.Temp, "ehcledger-backup-")
	if err != nil {
		return "", "", fmt.Errorf("backup: a temporary directory for the copy: %w", err)
	}
	db, err := sqlitedb.Open(src, 1)
	if err != nil {
		os.RemoveAll(tmp)
		return "", "", err
	}
	defer db.Close()
	if err := sqlitedb.CheckSchema(ctx, db, s); err != nil {
		os.RemoveAll(tmp)
		return "", "", err
	}
	o.report(Progress{Stage: "copying " + src})
	dst := filepath.Join(tmp, name)
	if err := sqlitedb.CopyInto(ctx, db, dst); err != nil {
		os.RemoveAll(tmp)
		return "", "", fmt.Errorf("backup: copying %s: %w", src, err)
	}
	return tmp, dst, nil
}

// fileVersion reads the schema version of the database file at path.
func fileVersion(ctx context.Context, path string) (int, error) {
	db, err := sqlitedb.Open(path, 1)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return sqlitedb.Version(ctx, db)
}

// countKeys counts the live and the erased keys of a key store file.
func countKeys(ctx context.Context, path string) (live, erased int, err error) {
	db, err := sqlitedb.Open(path, 1)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	err = db.QueryRowContext(ctx, `SELECT count(wrapped), count(erased_at) FROM case_keys`).Scan(&live, &erased)
	return live, erased, err
}

// latestCheckpoint reads the last checkpoint signed in the views file.
func latestCheckpoint(ctx context.Context, views string) (tlog.Signed, bool, error) {
	if _, err := os.Stat(views); errors.Is(err, os.ErrNotExist) {
		return tlog.Signed{}, false, nil
	}
	db, err := sqlitedb.OpenRebuildable(views, 1)
	if err != nil {
		return tlog.Signed{}, false, err
	}
	defer db.Close()
	if err := sqlitedb.CheckSchema(ctx, db, projections.ViewsSchema); err != nil {
		return tlog.Signed{}, false, err
	}
	l, err := tlog.OpenLog(ctx, db)
	if err != nil {
		return tlog.Signed{}, false, err
	}
	return l.Latest(ctx)
}

// checked is what checkEvents found.
type checked struct {
	head     int64
	headAt   time.Time
	events   int
	streams  int
	root     string
	figures  projections.FiguresDigest
	erased   []string
	problems []string
	// cpErr says how the log fails to extend the checkpoint given.
	cpErr error
}

// checkEvents verifies the event store file at path: every hash chain,
// gapless positions, the tree's root at the head and against each
// checkpoint given; it counts the figures on asOf (the head's date when
// zero).
func checkEvents(ctx context.Context, path string, cps []tlog.Signed, o Options, asOf time.Time) (checked, error) {
	var c checked
	s, err := sqlite.Open(path, sqlite.Options{ReadOnly: true})
	if err != nil {
		return c, err
	}
	defer s.Close()
	head, err := s.Head(ctx)
	if err != nil {
		return c, err
	}
	o.report(Progress{Stage: "verifying every hash chain", Total: head, Unit: "events"})
	rep, err := eventstore.VerifyAll(ctx, s)
	if err != nil {
		return c, err
	}
	c.events, c.streams = rep.Events, rep.Streams
	for _, p := range rep.Problems {
		c.problems = append(c.problems, p.String())
	}
	sizes := []int64{}
	for _, cp := range cps {
		sizes = append(sizes, cp.Size)
	}
	o.report(Progress{Stage: "hashing the tree", Total: head, Unit: "events"})
	sc, err := tlog.Scan(ctx, s, sizes, nil)
	if err != nil {
		return c, err
	}
	c.head, c.root = sc.Head, hex.EncodeToString(sc.HeadRoot)
	for _, g := range sc.Gaps {
		c.problems = append(c.problems, fmt.Sprintf("global position %d is missing", g.Want))
	}
	for _, cp := range cps {
		if cp.Size <= sc.Head {
			if err := sc.Check(cp.Checkpoint); err != nil {
				c.cpErr = err
				c.problems = append(c.problems, "the log does not extend the last signed checkpoint: "+err.Error())
			}
		}
	}
	// The figures, counted as the views count them.
	t := projections.NewTimeliness(o.Holidays)
	err = projections.ReadBatches(ctx, s, 1, 5000, func(batch []eventstore.RecordedEvent) error {
		if err := t.Apply(batch); err != nil {
			return err
		}
		for _, e := range batch {
			if id, ok := domain.CaseIDOf(e.Stream); ok && e.Type == domain.TypePersonalDataErased {
				c.erased = append(c.erased, id)
			}
		}
		last := batch[len(batch)-1]
		c.headAt = last.RecordedAt
		o.report(Progress{Stage: "counting the figures", Done: last.Position, Total: head, Unit: "events"})
		return nil
	})
	if err != nil {
		return c, err
	}
	if asOf.IsZero() {
		asOf = c.headAt
	}
	if c.figures, err = t.FiguresDigest(domain.DateOf(asOf)); err != nil {
		return c, err
	}
	return c, nil
}

// store compresses the file at raw into the backup's folder, then writes
// the manifest, which makes the backup visible.
func store(ctx context.Context, m *Manifest, raw, name string, o Options) error {
	if rc, err := o.To.Get(ctx, manifestName(m.ID)); err == nil {
		rc.Close()
		return fmt.Errorf("backup: %s already holds a backup %s", o.To, m.ID)
	}
	f, err := os.Open(raw)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	m.File = File{Name: name, RawBytes: st.Size()}
	rawHash, storedHash := sha256.New(), sha256.New()
	pr, pw := io.Pipe()
	compressed := make(chan struct{})
	go func() {
		defer close(compressed)
		pw.CloseWithError(compress(pw, io.TeeReader(&progressReader{stage: "compressing and storing", r: f, total: st.Size(), o: o}, rawHash)))
	}()
	counted := &countingWriter{h: storedHash}
	err = o.To.Put(ctx, path.Join(m.dir(), name), io.TeeReader(pr, counted))
	pr.CloseWithError(errors.New("backup: the upload stopped"))
	<-compressed // before the file closes and the hashes are read
	if err != nil {
		return fmt.Errorf("backup: storing %s in %s: %w", name, o.To, err)
	}
	m.File.Bytes, m.File.SHA256, m.File.RawSHA256 = counted.n, hex.EncodeToString(storedHash.Sum(nil)), hex.EncodeToString(rawHash.Sum(nil))
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := o.To.Put(ctx, manifestName(m.ID), strings.NewReader(string(b)+"\n")); err != nil {
		return fmt.Errorf("backup: storing the manifest in %s: %w", o.To, err)
	}
	return nil
}

// compress writes r to w compressed with zstd.
func compress(w io.Writer, r io.Reader) error {
	enc, err := zstd.NewWriter(w)
	if err != nil {
		return err
	}
	if _, err := io.Copy(enc, r); err != nil {
		enc.Close()
		return err
	}
	return enc.Close()
}

// countingWriter hashes and counts what passes through it.
type countingWriter struct {
	h hash.Hash
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

// progressReader reports how much of a file has been read.
type progressReader struct {
	stage       string
	r           io.Reader
	done, total int64
	last        int64
	o           Options
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.done-p.last >= 8<<20 || err == io.EOF {
		p.last = p.done
		p.o.report(Progress{Stage: p.stage, Done: p.done, Total: p.total, Unit: "bytes"})
	}
	return n, err
}

// ReadManifest reads and checks the manifest of the backup id.
func ReadManifest(ctx context.Context, loc Location, id string) (Manifest, error) {
	var m Manifest
	if err := checkName("backups/" + id); err != nil || strings.Contains(id, "/") {
		return m, fmt.Errorf("backup: %q is not a backup's ID", id)
	}
	rc, err := loc.Get(ctx, manifestName(id))
	if err != nil {
		return m, err
	}
	defer rc.Close()
	dec := json.NewDecoder(io.LimitReader(rc, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("backup: the manifest of %s in %s cannot be read: %w", id, loc, err)
	}
	switch {
	case m.Format != manifestFormat:
		return m, fmt.Errorf("backup: the manifest of %s has format %d; this ehcledger reads format %d", id, m.Format, manifestFormat)
	case m.ID != id:
		return m, fmt.Errorf("backup: the manifest in folder %s names backup %q: it was moved or altered", id, m.ID)
	case m.Kind != KindEvents && m.Kind != KindKeys:
		return m, fmt.Errorf("backup: the manifest of %s has kind %q", id, m.Kind)
	case m.File.Bytes < 0 || m.File.RawBytes < 0 || m.Head < 0:
		return m, fmt.Errorf("backup: the manifest of %s gives negative sizes", id)
	case m.File.Name != "events.db.zst" && m.File.Name != "keys.db.zst":
		return m, fmt.Errorf("backup: the manifest of %s names the file %q", id, m.File.Name)
	}
	return m, nil
}

// List returns the manifests of the finished backups of a kind in loc,
// oldest first, and says why it left out any it could not read (a
// damaged manifest, or one of a newer release sharing the location): one
// bad backup must not keep the others from being restored.
func List(ctx context.Context, loc Location, kind string) ([]Manifest, []error, error) {
	names, err := loc.List(ctx, "backups/", "")
	if err != nil {
		return nil, nil, err
	}
	var out []Manifest
	var skipped []error
	for _, n := range names {
		id, ok := strings.CutSuffix(strings.TrimPrefix(n, "backups/"), "/manifest.json")
		if !ok || strings.Contains(id, "/") {
			continue
		}
		m, err := ReadManifest(ctx, loc, id)
		if err != nil {
			skipped = append(skipped, err)
			continue
		}
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	// Oldest first by when they were taken and how far they reach, not by
	// name: an ID written by another build may sort otherwise.
	slices.SortStableFunc(out, func(a, b Manifest) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Head, b.Head))
	})
	return out, skipped, nil
}

// fetch downloads a backup's file into path, decompressed, and checks both
// its hashes and sizes against the manifest; on any failure it removes
// what it wrote.
func fetch(ctx context.Context, loc Location, m Manifest, dst string, o Options) (err error) {
	rc, err := loc.Get(ctx, path.Join(m.dir(), m.File.Name))
	if err != nil {
		return err
	}
	defer rc.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(dst)
		}
	}()
	// The manifest is not trusted to bound what is read: a byte more
	// than it says is read, never more, so that a hostile object cannot
	// fill the disk before its hash is checked.
	stored := &countingWriter{h: sha256.New()}
	body := io.TeeReader(io.LimitReader(rc, max(m.File.Bytes, 0)+1), stored)
	dec, err := zstd.NewReader(body, zstd.WithDecoderMaxMemory(1<<30), zstd.WithDecoderMaxWindow(1<<27))
	if err != nil {
		return err
	}
	defer dec.Close()
	raw := &countingWriter{h: sha256.New()}
	plain := io.LimitReader(readerWithContext{ctx, dec}, max(m.File.RawBytes, 0)+1)
	if _, err := io.Copy(io.MultiWriter(out, raw), &progressReader{stage: "fetching " + m.ID, r: plain, total: m.File.RawBytes, o: o}); err != nil {
		return fmt.Errorf("backup: %s of %s cannot be read: %w", m.File.Name, m.ID, err)
	}
	// The rest of the stored object, past the compressed stream's end, is
	// hashed too: the object must be exactly what was stored.
	if _, err := io.Copy(io.Discard, body); err != nil {
		return err
	}
	switch {
	case stored.n != m.File.Bytes || hex.EncodeToString(stored.h.Sum(nil)) != m.File.SHA256:
		return fmt.Errorf("backup: %s of %s is not the object stored (%d bytes, SHA-256 differs or size %d expected): it was altered or cut", m.File.Name, m.ID, stored.n, m.File.Bytes)
	case raw.n != m.File.RawBytes || hex.EncodeToString(raw.h.Sum(nil)) != m.File.RawSHA256:
		return fmt.Errorf("backup: %s of %s decompresses to other bytes than were backed up", m.File.Name, m.ID)
	}
	return out.Sync()
}
