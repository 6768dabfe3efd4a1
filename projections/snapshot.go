package projections

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
)

// A snapshot is the timeliness model in a file, so that a restart reads it
// back in seconds instead of replaying the store. A national model holds over
// a million cases and twenty million clocks: they are written as they are
// packed in memory, in varints, rather than as JSON, which took over a minute
// to read back and half of one to write.
//
// The file is snapshotMagic, the format as a uvarint, the header's length
// and the header as JSON, then records, each a tag byte:
//
//   - tagString: a string (uvarint length, bytes), numbered from 0 in the
//     order defined;
//   - tagRule: a clock rule, as the numbers of its rulebook's id and its name,
//     numbered from 0 in the order defined;
//   - tagCase: a case (uvarint length, then the case; see writeCase), whose
//     strings and rules are defined before it;
//   - tagEnd: the number of cases written, as a uvarint, then the SHA-256 of
//     every byte of the file before it.
//
// The digest lets the reader refuse a damaged file, which it checks before
// the model it read is used.
const (
	snapshotMagic  = "ehcledger timeliness snapshot\n"
	snapshotFormat = 4

	tagString byte = 1
	tagRule   byte = 2
	tagCase   byte = 3
	tagEnd    byte = 4

	// Bounds a damaged file cannot make the reader allocate past.
	maxSnapshotHeader = 256 << 20
	maxSnapshotRecord = 64 << 20
)

// ErrSnapshotFormat says a snapshot was written in another format, cannot
// be read, was written under another calendar of bank holidays, or under
// other versions of rulebooks most of its cases were counted under:
// replaying the store is then the way to the views.
var ErrSnapshotFormat = errors.New("timeliness snapshot: written in another format")

// snapshotHeader is the first record of a snapshot.
type snapshotHeader struct {
	// Rulebooks are the fingerprints, by id, of the rulebooks the clocks
	// were counted under, and Default the id of the rulebook in force
	// where an LA adopted none: the cases counted under a rulebook whose
	// fingerprint has changed since (a corrected rulebook) are counted
	// again from their streams, and only they.
	Rulebooks map[string]string `json:"rulebooks"`
	Default   string            `json:"default_rulebook"`
	// Holidays fingerprints the bank holidays every due date was counted
	// with: under another calendar, the snapshot is not read.
	Holidays  string                                       `json:"holidays"`
	Position  int64                                        `json:"position"`
	Closures  map[string]map[string][]domain.ClosureWindow `json:"closures"`
	Adoptions map[string][]domain.RulebookAdopted          `json:"adoptions"`
	AdoptedAt map[string][]int64                           `json:"adopted_at"`
	Cases     int                                          `json:"cases"`
}

// snapshotExtra is what few cases have (caseExtra), written as JSON.
type snapshotExtra struct {
	Exceptions  []domain.ExceptionRecorded `json:"exceptions,omitempty"`
	SchoolAsked []domain.AdviceAsked       `json:"school_asked,omitempty"`
	// History is kept for corrected cases only.
	History   []snapshotStep `json:"history,omitempty"`
	Corrected bool           `json:"corrected,omitempty"`
}

type snapshotStep struct {
	Version int64           `json:"v"`
	On      domain.Date     `json:"on"`
	Type    string          `json:"t"`
	Schema  int             `json:"s"`
	Payload json.RawMessage `json:"p"`
}

// holidaysFingerprint identifies a calendar of bank holidays by the
// holidays it holds from 1990 to 2100.
func holidaysFingerprint(h domain.Holidays) string {
	sum := sha256.New()
	for d := domain.NewDate(1990, 1, 1); d <= domain.NewDate(2100, 12, 31); d = d.AddDays(1) {
		if h.IsBankHoliday(d) {
			fmt.Fprintf(sum, "%s\n", d)
		}
	}
	return hex.EncodeToString(sum.Sum(nil))
}

// WriteSnapshot writes the whole model to w and returns the position the
// snapshot stands at. A national model takes seconds to write, so the lock
// is held for a few thousand cases at a time and events keep being applied
// in between: a case written late may hold events past the snapshot's
// position, and replaying from that position skips them by the case's
// version (Model.ApplyDecoded).
func (t *Timeliness) WriteSnapshot(w io.Writer) (int64, error) {
	sum := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 1<<20)
	t.mu.RLock()
	m := t.m
	pos := m.Position
	ids := make([]string, 0, len(m.Cases))
	for id := range m.Cases {
		ids = append(ids, id)
	}
	header, err := json.Marshal(snapshotHeader{Rulebooks: domain.RulebookFingerprints(), Default: domain.DefaultRulebook,
		Holidays: t.holidaysFingerprint(), Position: pos, Closures: m.Closures, Adoptions: m.Adoptions, AdoptedAt: m.adoptedAt, Cases: len(ids)})
	t.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	sort.Strings(ids)
	bw.WriteString(snapshotMagic)
	bw.Write(binary.AppendUvarint(binary.AppendUvarint(nil, snapshotFormat), uint64(len(header))))
	bw.Write(header)
	sw := &snapshotWriter{w: bw, m: m, texts: map[string]uint64{}}
	const chunk = 2000
	for i := 0; i < len(ids); i += chunk {
		t.mu.RLock()
		if t.m != m {
			t.mu.RUnlock()
			return 0, errors.New("timeliness snapshot: the projection was reset while it was being written")
		}
		for _, id := range ids[i:min(i+chunk, len(ids))] {
			if err := sw.writeCase(m.Cases[id]); err != nil {
				t.mu.RUnlock()
				return 0, err
			}
		}
		t.mu.RUnlock()
	}
	bw.WriteByte(tagEnd)
	bw.Write(binary.AppendUvarint(nil, uint64(len(ids))))
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	_, err = w.Write(sum.Sum(nil))
	return pos, err
}

// snapshotWriter numbers the strings and rules of the cases it writes,
// defining each before the first case that uses it.
type snapshotWriter struct {
	w *bufio.Writer
	m *Model
	// strs holds, by the model's string number, the snapshot's number
	// plus one (0: not yet defined); texts the numbers of other strings.
	strs  []uint64
	texts map[string]uint64
	n     uint64
	// rules holds, by the model's rule number, the snapshot's plus one.
	rules  []uint64
	nrules uint64
	// kinds holds, by mark kind, the snapshot's number of its event type
	// plus one.
	kinds []uint64
	rec   []byte
}

func (sw *snapshotWriter) define(s string) uint64 {
	var b [binary.MaxVarintLen64 + 1]byte
	sw.w.Write(binary.AppendUvarint(append(b[:0], tagString), uint64(len(s))))
	sw.w.WriteString(s)
	sw.n++
	return sw.n - 1
}

// str numbers a string of the model's table.
func (sw *snapshotWriter) str(n uint32) uint64 {
	if int(n) >= len(sw.strs) {
		sw.strs = slices.Grow(sw.strs, int(n)+1-len(sw.strs))[:n+1]
	}
	if sw.strs[n] == 0 {
		sw.strs[n] = sw.define(sw.m.strs.items[n]) + 1
	}
	return sw.strs[n] - 1
}

// text numbers any other string.
func (sw *snapshotWriter) text(s string) uint64 {
	if v, ok := sw.texts[s]; ok {
		return v
	}
	v := sw.define(s)
	sw.texts[s] = v
	return v
}

func (sw *snapshotWriter) rule(n uint16) uint64 {
	if int(n) >= len(sw.rules) {
		sw.rules = slices.Grow(sw.rules, int(n)+1-len(sw.rules))[:n+1]
	}
	if sw.rules[n] == 0 {
		r := sw.m.rules.items[n]
		book, name := sw.text(r.book.ID), sw.text(r.rule.Name)
		b := binary.AppendUvarint(binary.AppendUvarint([]byte{tagRule}, book), name)
		sw.w.Write(b)
		sw.nrules++
		sw.rules[n] = sw.nrules
	}
	return sw.rules[n] - 1
}

func (sw *snapshotWriter) kind(k uint8) uint64 {
	if int(k) >= len(sw.kinds) {
		sw.kinds = slices.Grow(sw.kinds, int(k)+1-len(sw.kinds))[:k+1]
	}
	if sw.kinds[k] == 0 {
		sw.kinds[k] = sw.text(marks().kinds[k].typ) + 1
	}
	return sw.kinds[k] - 1
}

// writeCase writes a case: its id, LA, version, caseworker and team, the
// rulebooks it was counted under, its clocks (start, then due and stop as
// days after it, key and rule), its marks and, as JSON, its extra.
func (sw *snapshotWriter) writeCase(c *CaseModel) error {
	m := sw.m
	b := sw.rec[:0]
	b = binary.AppendUvarint(b, uint64(len(c.ID)))
	b = append(b, c.ID...)
	b = binary.AppendUvarint(b, sw.text(c.LA))
	b = binary.AppendUvarint(b, uint64(c.Version))
	b = binary.AppendUvarint(b, sw.str(c.caseworker))
	b = binary.AppendUvarint(b, sw.str(c.team))
	var books []uint64
	for n, id := range m.books.items {
		if c.books&(1<<n) != 0 || c.books == ^uint32(0) {
			books = append(books, sw.text(id))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(books)))
	for _, n := range books {
		b = binary.AppendUvarint(b, n)
	}
	b = binary.AppendUvarint(b, uint64(len(c.clocks)))
	for _, p := range c.clocks {
		flags := uint64(0)
		if p.ended() {
			flags |= 1
		}
		if !p.stopped.IsZero() {
			flags |= 2
		}
		b = binary.AppendUvarint(b, flags)
		b = binary.AppendVarint(b, int64(p.started))
		b = binary.AppendVarint(b, int64(p.due)-int64(p.started))
		if !p.stopped.IsZero() {
			b = binary.AppendVarint(b, int64(p.stopped)-int64(p.started))
		}
		b = binary.AppendUvarint(b, sw.str(p.key()))
		b = binary.AppendUvarint(b, sw.rule(p.rule()))
	}
	b = binary.AppendUvarint(b, uint64(len(c.marks)))
	for _, mk := range c.marks {
		b = binary.AppendVarint(b, int64(mk.on))
		b = binary.AppendUvarint(b, sw.kind(mk.kind()))
		b = binary.AppendUvarint(b, sw.str(mk.label()))
	}
	var extra []byte
	if x := c.extra; x != nil {
		se := snapshotExtra{Exceptions: x.exceptions, SchoolAsked: x.schoolAsked, Corrected: x.corrected}
		for _, st := range x.history {
			p, err := json.Marshal(st.Event)
			if err != nil {
				return err
			}
			se.History = append(se.History, snapshotStep{Version: st.Version, On: st.On, Type: st.Event.EventType(), Schema: st.Event.SchemaVersion(), Payload: p})
		}
		var err error
		if extra, err = json.Marshal(se); err != nil {
			return err
		}
	}
	b = binary.AppendUvarint(b, uint64(len(extra)))
	b = append(b, extra...)
	if len(b) > maxSnapshotRecord {
		return fmt.Errorf("timeliness snapshot: case %s takes %d bytes, more than a snapshot's record may", c.ID, len(b))
	}
	var head [binary.MaxVarintLen64 + 1]byte
	sw.w.Write(binary.AppendUvarint(append(head[:0], tagCase), uint64(len(b))))
	_, err := sw.w.Write(b)
	sw.rec = b
	return err
}

// errSnapshotDamaged is a snapshot cut short or changed: it is not read, and
// the store is replayed instead.
var errSnapshotDamaged = fmt.Errorf("%w: it is damaged", ErrSnapshotFormat)

// ReadSnapshot replaces the model with a snapshot written by WriteSnapshot,
// and returns the cases it left out because they were counted under a
// rulebook that has changed since: count them again with Recompute before
// applying anything else. A snapshot of another format, damaged, under
// another calendar of bank holidays, or with most of its cases to count
// again gives ErrSnapshotFormat and changes nothing.
func (t *Timeliness) ReadSnapshot(r io.Reader) (stale []string, err error) {
	// Every byte read is hashed, and the digest that ends the file checked,
	// before the model read is used.
	sum := sha256.New()
	br := &hashingReader{r: bufio.NewReaderSize(r, 1<<20), h: sum}
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("timeliness snapshot: %w", err)
		}
		return nil, fmt.Errorf("%w: not a snapshot of this layout", ErrSnapshotFormat)
	}
	if format, err := binary.ReadUvarint(br); err != nil || format != snapshotFormat {
		return nil, fmt.Errorf("%w (%d, not %d)", ErrSnapshotFormat, format, snapshotFormat)
	}
	size, err := binary.ReadUvarint(br)
	if err != nil || size > maxSnapshotHeader {
		return nil, errSnapshotDamaged
	}
	raw, err := readExactly(br, size)
	if err != nil {
		return nil, err
	}
	var h snapshotHeader
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, errSnapshotDamaged
	}
	if h.Holidays != t.holidaysFingerprint() {
		return nil, fmt.Errorf("%w: written under another calendar of bank holidays", ErrSnapshotFormat)
	}
	// The rulebooks whose rules are not what they were: corrected, gone
	// from this build, or no longer the default.
	changed := map[string]bool{}
	now := domain.RulebookFingerprints()
	for id, fp := range h.Rulebooks {
		if now[id] != fp {
			changed[id] = true
		}
	}
	if h.Default != domain.DefaultRulebook {
		changed[h.Default] = true
	}
	m := NewModel(t.m.Holidays)
	m.LoadHistory = t.m.LoadHistory
	m.Position = h.Position
	if h.Closures != nil {
		m.Closures = h.Closures
	}
	if h.Adoptions != nil {
		m.Adoptions = h.Adoptions
	}
	if h.AdoptedAt != nil {
		m.adoptedAt = h.AdoptedAt
	}
	// Each LA's adoptions have their positions, in order, up to the
	// snapshot's: counting a case again looks them up by position.
	if len(m.adoptedAt) != len(m.Adoptions) {
		return nil, errSnapshotDamaged
	}
	for la, a := range m.Adoptions {
		at, ok := m.adoptedAt[la]
		if !ok || len(at) != len(a) || !slices.IsSorted(at) || (len(at) > 0 && (at[0] < 1 || at[len(at)-1] > h.Position)) {
			return nil, errSnapshotDamaged
		}
	}
	// A rulebook this build has and the snapshot's did not: an LA that
	// adopted it had its cases counted under the default then.
	for id := range now {
		if _, ok := h.Rulebooks[id]; ok {
			continue
		}
		for _, a := range m.Adoptions {
			if slices.ContainsFunc(a, func(ad domain.RulebookAdopted) bool { return ad.Rulebook == id }) {
				changed[h.Default] = true
			}
		}
	}
	sr := &snapshotReader{m: m, changed: changed}
	cases := 0
	for {
		tag, err := br.ReadByte()
		if err != nil {
			return nil, errSnapshotDamaged
		}
		if tag == tagEnd {
			if n, err := binary.ReadUvarint(br); err != nil || n != uint64(cases) {
				return nil, errSnapshotDamaged
			}
			want := sum.Sum(nil)
			got := make([]byte, sha256.Size)
			if _, err := io.ReadFull(br.r, got); err != nil || !bytes.Equal(got, want) {
				return nil, errSnapshotDamaged
			}
			if _, err := br.r.ReadByte(); err != io.EOF {
				return nil, errSnapshotDamaged
			}
			break
		}
		if err := sr.read(br, tag); err != nil {
			return nil, err
		}
		if tag == tagCase {
			cases++
		}
	}
	if len(sr.stale) > cases/2 {
		// Reading each case's stream alone costs a query a case: for more
		// than half the cases, reading the whole store in order is as quick.
		return nil, fmt.Errorf("%w: %d of its %d cases were counted under rulebooks changed since", ErrSnapshotFormat, len(sr.stale), cases)
	}
	t.factsMu.Lock()
	t.facts = nil
	t.factsMu.Unlock()
	t.mu.Lock()
	t.m = m
	t.mu.Unlock()
	return sr.stale, nil
}

// snapshotReader reads a snapshot's records into a model.
type snapshotReader struct {
	m       *Model
	changed map[string]bool
	texts   []string
	// interned holds, by the snapshot's string number, the model's plus
	// one (0: not interned yet).
	interned []uint32
	rules    [][2]uint64
	// ruleNums holds, by the snapshot's rule number, the model's plus one.
	ruleNums []uint32
	// kinds holds, by the snapshot's string number, its mark kind plus one.
	kinds []uint8
	stale []string
	rec   []byte
	// full says the model's string table could take no more.
	full bool
}

// hashingReader hashes the bytes read through it, and only those: a
// buffered reader below it reads ahead.
type hashingReader struct {
	r   *bufio.Reader
	h   io.Writer
	one [1]byte
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	return n, err
}

func (hr *hashingReader) ReadByte() (byte, error) {
	b, err := hr.r.ReadByte()
	if err == nil {
		hr.one[0] = b
		hr.h.Write(hr.one[:])
	}
	return b, err
}

// read reads one record, its tag read already.
func (sr *snapshotReader) read(br *hashingReader, tag byte) error {
	switch tag {
	case tagString:
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return errSnapshotDamaged
		}
		b, err := readExactly(br, n)
		if err != nil {
			return err
		}
		sr.texts = append(sr.texts, string(b))
		sr.interned = append(sr.interned, 0)
		sr.kinds = append(sr.kinds, 0)
	case tagRule:
		book, err1 := binary.ReadUvarint(br)
		name, err2 := binary.ReadUvarint(br)
		if err1 != nil || err2 != nil || book >= uint64(len(sr.texts)) || name >= uint64(len(sr.texts)) {
			return errSnapshotDamaged
		}
		sr.rules = append(sr.rules, [2]uint64{book, name})
		sr.ruleNums = append(sr.ruleNums, 0)
	case tagCase:
		n, err := binary.ReadUvarint(br)
		if err != nil || n > maxSnapshotRecord {
			return errSnapshotDamaged
		}
		if uint64(cap(sr.rec)) < n {
			// Grown as the bytes arrive, not by the length a damaged
			// file may claim.
			b, err := readExactly(br, n)
			if err != nil {
				return err
			}
			sr.rec = b
		} else {
			sr.rec = sr.rec[:n]
			if _, err := io.ReadFull(br, sr.rec); err != nil {
				return errSnapshotDamaged
			}
		}
		return sr.readCase(&cursor{b: sr.rec})
	default:
		return errSnapshotDamaged
	}
	return nil
}

// readExactly reads n bytes, allocating as they arrive: a damaged length
// cannot make it allocate more than the file holds.
func readExactly(r io.Reader, n uint64) ([]byte, error) {
	if n > maxSnapshotHeader {
		return nil, errSnapshotDamaged
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil || uint64(len(b)) != n {
		return nil, errSnapshotDamaged
	}
	return b, nil
}

// cursor reads varints from a record; past its end, or on a bad varint, it
// reads zeros and remembers the damage.
type cursor struct {
	b       []byte
	damaged bool
}

// next reads one varint with decode (binary.Uvarint or binary.Varint).
func next[T uint64 | int64](c *cursor, decode func([]byte) (T, int)) T {
	v, n := decode(c.b)
	if n <= 0 {
		c.damaged, c.b = true, nil
		return 0
	}
	c.b = c.b[n:]
	return v
}

func (c *cursor) uvarint() uint64 { return next(c, binary.Uvarint) }

func (c *cursor) varint() int64 { return next(c, binary.Varint) }

// count reads a number of items, each of at least size bytes.
func (c *cursor) count(size int) int {
	n := c.uvarint()
	if n > uint64(len(c.b)/size) {
		c.damaged, c.b = true, nil
		return 0
	}
	return int(n)
}

func (c *cursor) bytes() []byte {
	n := c.count(1)
	b := c.b[:n]
	c.b = c.b[n:]
	return b
}

func (c *cursor) date() domain.Date { return domain.Date(c.varint()) }

// text reads a string number.
func (sr *snapshotReader) text(c *cursor) (uint64, string) {
	n := c.uvarint()
	if n >= uint64(len(sr.texts)) {
		c.damaged = true
		return 0, ""
	}
	return n, sr.texts[n]
}

// str reads a string number and returns the model's number of the string.
func (sr *snapshotReader) str(c *cursor) uint32 {
	n, s := sr.text(c)
	if c.damaged {
		return 0
	}
	if sr.interned[n] == 0 {
		if sr.m.roomForStrings() != nil {
			sr.full = true // the case is refused once read
			return 0
		}
		sr.interned[n] = sr.m.intern(s) + 1
	}
	return sr.interned[n] - 1
}

// rule reads a rule number and returns the model's number of the rule.
func (sr *snapshotReader) rule(c *cursor) (uint16, error) {
	n := c.uvarint()
	if n >= uint64(len(sr.rules)) {
		c.damaged = true
		return 0, nil
	}
	if sr.ruleNums[n] == 0 {
		book, name := sr.texts[sr.rules[n][0]], sr.texts[sr.rules[n][1]]
		rb, err := domain.LookupRulebook(book)
		if err != nil {
			return 0, err
		}
		rule := rb.Clock(name)
		if rule == nil {
			return 0, fmt.Errorf("rulebook %s has no clock %q", rb.ID, name)
		}
		sr.ruleNums[n] = uint32(sr.m.ruleNumber(rule, rb)) + 1
	}
	return uint16(sr.ruleNums[n] - 1), nil
}

// readCase restores a case, unless a rulebook it was counted under has
// changed: it is then left to be counted again.
func (sr *snapshotReader) readCase(c *cursor) error {
	m := sr.m
	id := string(c.bytes())
	_, la := sr.text(c)
	version := int64(c.uvarint())
	cw, team := sr.str(c), sr.str(c)
	cm := &CaseModel{ID: id, LA: m.internString(la), Version: version, caseworker: cw, team: team}
	stale := false
	for range c.count(1) {
		_, book := sr.text(c)
		stale = stale || sr.changed[book]
		if n := m.books.number(book); n < 32 {
			cm.books |= 1 << n
		} else {
			cm.books = ^uint32(0)
		}
	}
	if c.damaged || id == "" {
		return errSnapshotDamaged
	}
	if stale {
		sr.stale = append(sr.stale, id)
		return nil
	}
	// A clock takes at least five bytes: its flags, start, due, key and
	// rule; a mark three.
	cm.clocks = make([]packedClock, c.count(5))
	for i := range cm.clocks {
		flags := c.uvarint()
		started := c.date()
		due := started + c.date()
		var stopped domain.Date
		if flags&2 != 0 {
			stopped = started + c.date()
		}
		key := sr.str(c)
		rule, err := sr.rule(c)
		if err != nil {
			return fmt.Errorf("%w: case %s: %v", errSnapshotDamaged, id, err)
		}
		cm.clocks[i] = newPackedClock(started, due, stopped, key, rule, flags&1 != 0)
	}
	if n := c.count(3); n > 0 {
		cm.marks = make([]mark, n)
	}
	for i := range cm.marks {
		on := c.date()
		k, typ := sr.text(c)
		if c.damaged {
			return errSnapshotDamaged
		}
		if sr.kinds[k] == 0 {
			kind, ok := marks().of[typ]
			if !ok {
				return fmt.Errorf("%w: case %s: no mark is kept for events of type %q", errSnapshotDamaged, id, typ)
			}
			sr.kinds[k] = kind + 1
		}
		cm.marks[i] = newMark(on, sr.kinds[k]-1, sr.str(c))
	}
	if extra := c.bytes(); len(extra) > 0 {
		var se snapshotExtra
		if err := json.Unmarshal(extra, &se); err != nil {
			return errSnapshotDamaged
		}
		cm.extra = &caseExtra{exceptions: se.Exceptions, schoolAsked: se.SchoolAsked, corrected: se.Corrected}
		for _, st := range se.History {
			ev, err := domain.DecodeEvent(st.Type, st.Schema, st.Payload)
			if err != nil {
				return fmt.Errorf("%w: case %s: %v", errSnapshotDamaged, id, err)
			}
			cm.extra.history = append(cm.extra.history, domain.Step{Version: st.Version, On: st.On, Event: ev})
		}
	}
	if sr.full {
		return fmt.Errorf("%w: %v", errSnapshotDamaged, m.roomForStrings())
	}
	if c.damaged || len(c.b) != 0 {
		return errSnapshotDamaged
	}
	if m.Cases[id] != nil {
		return errSnapshotDamaged
	}
	m.Cases[id] = cm
	m.index(cm, "")
	return nil
}

// Recompute counts cases again from their streams, which read returns in
// version order: each event up to the projection's position is applied as
// a replay of the whole store would have applied it, under the adoptions
// recorded before it. The events after the position are left to catching
// up, as for every other case.
func (t *Timeliness) Recompute(ids []string, read func(caseID string) ([]eventstore.RecordedEvent, error)) error {
	t.factsMu.Lock()
	t.facts = nil
	t.factsMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.m
	// Applying an old event notes its position as its LA's latest; the
	// LAs keep the latest they had (the cached figures were dropped).
	latest := maps.Clone(m.laPosition)
	defer func() {
		m.horizon = 0
		for la, pos := range latest {
			m.laPosition[la] = max(m.laPosition[la], pos)
		}
	}()
	for _, id := range ids {
		if c := m.Cases[id]; c != nil {
			m.unfile(c, c.LA)
			delete(m.Cases, id)
		}
		events, err := read(id)
		if err != nil {
			return fmt.Errorf("count case %s again: %w", id, err)
		}
		for _, e := range events {
			if e.Position > m.Position {
				break
			}
			m.horizon = e.Position
			if err := m.Apply(e); err != nil {
				return fmt.Errorf("count case %s again: %w", id, err)
			}
		}
	}
	return nil
}
