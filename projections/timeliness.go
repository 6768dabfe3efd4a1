package projections

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
)

// TimelinessName is the timeliness projection's checkpoint name.
const TimelinessName = "timeliness"

// Timeliness is the concurrency-safe timeliness projection.
type Timeliness struct {
	mu sync.RWMutex
	m  *Model

	cacheMu    sync.Mutex
	statsCache map[statsKey]Stats
	// The latest overdue counts, for the metrics scrape.
	overdue    map[string]int
	overdueAt  domain.Date
	overduePos int64

	factsMu sync.Mutex
	facts   map[string]*laFacts
}

// byLA lists the cases of one LA, or of every LA when la is "". Callers hold
// t.mu and must not change the list.
func (t *Timeliness) byLA(la string) []*CaseModel {
	if la != "" {
		return t.m.byLA[la]
	}
	out := make([]*CaseModel, 0, len(t.m.Cases))
	for _, c := range t.m.Cases {
		out = append(out, c)
	}
	return out
}

// LAs lists the LAs that have cases.
func (t *Timeliness) LAs() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]string, 0, len(t.m.byLA))
	for la, cases := range t.m.byLA {
		if len(cases) > 0 {
			out = append(out, la)
		}
	}
	sort.Strings(out)
	return out
}

// cacheStats keeps an answer; the cache is emptied when it grows past a few
// thousand answers (a national roll-up is one per LA), which also drops
// answers about positions passed.
func (t *Timeliness) cacheStats(k statsKey, s Stats) {
	t.cacheMu.Lock()
	defer t.cacheMu.Unlock()
	if t.statsCache == nil || len(t.statsCache) > 4096 {
		t.statsCache = map[statsKey]Stats{}
	}
	t.statsCache[k] = s
}

// NewTimeliness returns an empty timeliness projection.
func NewTimeliness(h domain.Holidays) *Timeliness {
	return &Timeliness{m: NewModel(h)}
}

// SetHistoryLoader gives the projection the way to read a case's earlier
// steps, which it needs when a correction arrives.
func (t *Timeliness) SetHistoryLoader(load HistoryLoader) {
	t.mu.Lock()
	t.m.LoadHistory = load
	t.mu.Unlock()
}

// Name implements Projection.
func (t *Timeliness) Name() string { return TimelinessName }

// Position returns the global position of the last applied event.
func (t *Timeliness) Position() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m.Position
}

// Apply implements Projection. Events at or below the checkpoint are skipped,
// so replaying a batch twice changes nothing.
func (t *Timeliness) Apply(batch []eventstore.RecordedEvent) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range batch {
		if e.Position <= t.m.Position {
			continue
		}
		if err := t.m.Apply(e); err != nil {
			return err
		}
	}
	return nil
}

// CaseVersion returns the number of events of a case's stream the
// projection has applied, and false when the case is unknown.
func (t *Timeliness) CaseVersion(id string) (int64, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c, ok := t.m.Cases[id]
	if !ok {
		return 0, false
	}
	return c.Version, true
}

// CaseClocks returns a case's clocks on asOf, and false when the case is
// unknown.
func (t *Timeliness) CaseClocks(id string, asOf domain.Date) ([]domain.ClockRow, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c, ok := t.m.Cases[id]
	if !ok {
		return nil, false
	}
	return t.m.Rows(c, asOf), true
}

// AllRows returns every clock of every case on asOf, sorted as FORMAT.md says.
func (t *Timeliness) AllRows(asOf domain.Date) []domain.ClockRow {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.m.AllRows(asOf)
}

// WorklistFilter selects clocks for a worklist.
type WorklistFilter struct {
	LA         string
	Caseworker string
	Team       string
	// View narrows to what a caseworker works through: "due_this_week"
	// (running, due from as-of to the Sunday of its week), "overdue", or
	// "at_risk" (running, due within RiskDays with its step not started).
	View     string
	RiskDays int
	Statuses map[string]bool // empty means running and overdue
	DueFrom  domain.Date     // inclusive; zero means no bound
	DueTo    domain.Date     // inclusive; zero means no bound
	Clock    string
	AsOf     domain.Date
	Limit    int
}

// WorklistItem is a clock on a worklist, with the case's LA, assignment,
// whether it is at risk, and the next statutory step.
type WorklistItem struct {
	domain.ClockRow
	LA         string `json:"la"`
	Caseworker string `json:"caseworker,omitempty"`
	Team       string `json:"team,omitempty"`
	AtRisk     bool   `json:"at_risk"`
	NextStep   string `json:"next_step"`
}

// Worklist returns the clocks that match f, soonest due first.
func (t *Timeliness) Worklist(f WorklistFilter) []WorklistItem {
	if len(f.Statuses) == 0 {
		f.Statuses = map[string]bool{domain.StatusRunning: true, domain.StatusOverdue: true}
	}
	openOnly := !f.Statuses[domain.StatusMet] && !f.Statuses[domain.StatusLate] && !f.Statuses[domain.StatusEnded]
	t.mu.RLock()
	var out []WorklistItem
	if f.RiskDays <= 0 {
		f.RiskDays = 10
	}
	weekEnd := f.AsOf.AddDays((7 - int(f.AsOf.Weekday())) % 7)
	for _, c := range t.byLA(f.LA) {
		caseworker, team := t.m.Assignment(c)
		if (f.LA != "" && c.LA != f.LA) || (f.Caseworker != "" && caseworker != f.Caseworker) || (f.Team != "" && team != f.Team) {
			continue
		}
		for _, p := range c.clocks {
			if openOnly && !p.stopped.IsZero() {
				continue
			}
			if (!f.DueFrom.IsZero() && p.due < f.DueFrom) || (!f.DueTo.IsZero() && p.due > f.DueTo) {
				continue
			}
			clock := t.m.unpackClock(p)
			k := &clock
			if f.Clock != "" && k.Name != f.Clock {
				continue
			}
			row := t.m.Row(c, k, f.AsOf)
			if !f.Statuses[row.Status] {
				continue
			}
			item := WorklistItem{ClockRow: row, LA: c.LA, Caseworker: caseworker, Team: team, NextStep: t.m.NextStep(c, k)}
			// A family's window is theirs to use, never the LA's risk.
			item.AtRisk = row.Status == domain.StatusRunning && !k.Rule.LapsesAtDue && k.Due <= f.AsOf.AddDays(f.RiskDays) && !t.m.StepStarted(c, k)
			switch f.View {
			case "due_this_week":
				if row.Status != domain.StatusRunning || k.Due > weekEnd {
					continue
				}
			case "overdue":
				if row.Status != domain.StatusOverdue {
					continue
				}
			case "at_risk":
				if !item.AtRisk {
					continue
				}
			}
			out = append(out, item)
		}
	}
	t.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Due != b.Due {
			return a.Due < b.Due
		}
		if a.Case != b.Case {
			return a.Case < b.Case
		}
		if a.Clock != b.Clock {
			return a.Clock < b.Clock
		}
		return a.Key < b.Key
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out
}

// snapshotFormat numbers the layout of snapshots. A snapshot of another
// format is not read: the projection is replayed from the store instead.
const snapshotFormat = 3

// ErrSnapshotFormat says a snapshot was written in another format, under
// another calendar of bank holidays, or under other versions of rulebooks
// most of its cases were counted under: replaying the store is then the
// quicker way to the views.
var ErrSnapshotFormat = errors.New("timeliness snapshot: written in another format")

// snapshotCase is the stored form of one case: rules are named, not pointed to.
type snapshotCase struct {
	ID          string                     `json:"id"`
	LA          string                     `json:"la"`
	Version     int64                      `json:"version"`
	Caseworker  string                     `json:"caseworker,omitempty"`
	Team        string                     `json:"team,omitempty"`
	Clocks      []snapshotClock            `json:"clocks"`
	Marks       []snapshotMark             `json:"marks,omitempty"`
	Exceptions  []domain.ExceptionRecorded `json:"exceptions,omitempty"`
	SchoolAsked []domain.AdviceAsked       `json:"school_asked,omitempty"`
	// History is kept for corrected cases only.
	History   []snapshotStep `json:"history,omitempty"`
	Corrected bool           `json:"corrected,omitempty"`
	// Rulebooks names the rulebooks the case's events were applied under.
	Rulebooks []string `json:"rulebooks,omitempty"`
}

type snapshotMark struct {
	On    domain.Date `json:"on"`
	Type  string      `json:"t"`
	Label string      `json:"l,omitempty"`
}

type snapshotStep struct {
	Version int64           `json:"v"`
	On      domain.Date     `json:"on"`
	Type    string          `json:"t"`
	Schema  int             `json:"s"`
	Payload json.RawMessage `json:"p"`
}

type snapshotClock struct {
	Name     string      `json:"name"`
	Rulebook string      `json:"rulebook"`
	Key      string      `json:"key"`
	Started  domain.Date `json:"started"`
	Due      domain.Date `json:"due"`
	Stopped  domain.Date `json:"stopped"`
	Ended    bool        `json:"ended,omitempty"`
}

// snapshotHeader is the first record of a snapshot.
type snapshotHeader struct {
	Format int `json:"format"`
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

// WriteSnapshot streams the whole model to w as gzipped JSON lines, a header
// then one line per case, and returns the position the snapshot stands at.
// A national model takes minutes to write, so the lock is held for a few
// thousand cases at a time and events keep being applied in between: a case
// written late may hold events past the snapshot's position, and replaying
// from that position skips them by the case's version (Model.ApplyDecoded).
func (t *Timeliness) WriteSnapshot(w io.Writer) (int64, error) {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	t.mu.RLock()
	m := t.m
	pos := m.Position
	ids := make([]string, 0, len(m.Cases))
	for id := range m.Cases {
		ids = append(ids, id)
	}
	err = enc.Encode(snapshotHeader{Format: snapshotFormat, Rulebooks: domain.RulebookFingerprints(), Default: domain.DefaultRulebook,
		Holidays: holidaysFingerprint(m.Holidays), Position: pos, Closures: m.Closures, Adoptions: m.Adoptions, AdoptedAt: m.adoptedAt, Cases: len(ids)})
	t.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	sort.Strings(ids)
	const chunk = 2000
	for i := 0; i < len(ids); i += chunk {
		if _, err := zw.Write(buf.Bytes()); err != nil {
			return 0, err
		}
		buf.Reset()
		t.mu.RLock()
		if t.m != m {
			t.mu.RUnlock()
			return 0, errors.New("timeliness snapshot: the projection was reset while it was being written")
		}
		for _, id := range ids[i:min(i+chunk, len(ids))] {
			sc, err := m.snapshotOf(m.Cases[id])
			if err == nil {
				err = enc.Encode(sc)
			}
			if err != nil {
				t.mu.RUnlock()
				return 0, err
			}
		}
		t.mu.RUnlock()
	}
	if _, err := zw.Write(buf.Bytes()); err != nil {
		return 0, err
	}
	return pos, zw.Close()
}

func (m *Model) snapshotOf(c *CaseModel) (snapshotCase, error) {
	sc := snapshotCase{ID: c.ID, LA: c.LA, Version: c.Version}
	sc.Caseworker, sc.Team = m.Assignment(c)
	for n, id := range m.books.items {
		if c.books&(1<<n) != 0 || c.books == ^uint32(0) {
			sc.Rulebooks = append(sc.Rulebooks, id)
		}
	}
	if x := c.extra; x != nil {
		sc.Exceptions, sc.SchoolAsked, sc.Corrected = x.exceptions, x.schoolAsked, x.corrected
		for _, st := range x.history {
			p, err := json.Marshal(st.Event)
			if err != nil {
				return sc, err
			}
			sc.History = append(sc.History, snapshotStep{Version: st.Version, On: st.On, Type: st.Event.EventType(), Schema: st.Event.SchemaVersion(), Payload: p})
		}
	}
	for _, mk := range c.marks {
		sc.Marks = append(sc.Marks, snapshotMark{On: mk.on, Type: marks().kinds[mk.kind()].typ, Label: m.strs.items[mk.label()]})
	}
	for _, p := range c.clocks {
		r := m.rules.items[p.rule()]
		sc.Clocks = append(sc.Clocks, snapshotClock{Name: r.rule.Name, Rulebook: r.book.ID, Key: m.strs.items[p.key()], Started: p.started, Due: p.due, Stopped: p.stopped, Ended: p.ended()})
	}
	return sc, nil
}

// ReadSnapshot replaces the model with a snapshot written by WriteSnapshot,
// and returns the cases it left out because they were counted under a
// rulebook that has changed since: count them again with Recompute before
// applying anything else. A snapshot of another format, under another
// calendar of bank holidays, or with most of its cases to count again gives
// ErrSnapshotFormat and changes nothing.
func (t *Timeliness) ReadSnapshot(r io.Reader) (stale []string, err error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("timeliness snapshot: %w", err)
	}
	dec := json.NewDecoder(zr)
	var h snapshotHeader
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("timeliness snapshot: %w", err)
	}
	if h.Format != snapshotFormat {
		return nil, fmt.Errorf("%w (%d, not %d)", ErrSnapshotFormat, h.Format, snapshotFormat)
	}
	if h.Holidays != holidaysFingerprint(t.m.Holidays) {
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
	for la, a := range m.Adoptions {
		if len(m.adoptedAt[la]) != len(a) {
			return nil, fmt.Errorf("%w: LA %s has %d adoptions and %d positions of adoptions", ErrSnapshotFormat, la, len(a), len(m.adoptedAt[la]))
		}
	}
	for i := 0; i < h.Cases; i++ {
		var sc snapshotCase
		if err := dec.Decode(&sc); err != nil {
			return nil, fmt.Errorf("timeliness snapshot: case %d of %d: %w", i+1, h.Cases, err)
		}
		if slices.ContainsFunc(sc.Rulebooks, func(id string) bool { return changed[id] }) {
			stale = append(stale, sc.ID)
			continue
		}
		c, err := m.restoreCase(sc)
		if err != nil {
			return nil, fmt.Errorf("timeliness snapshot: case %s: %w", sc.ID, err)
		}
		m.Cases[sc.ID] = c
		m.index(c, "")
	}
	if len(stale) > h.Cases/2 {
		// Reading each case's stream alone costs a query a case: for more
		// than half the cases, reading the whole store in order is as quick.
		return nil, fmt.Errorf("%w: %d of its %d cases were counted under rulebooks changed since", ErrSnapshotFormat, len(stale), h.Cases)
	}
	t.factsMu.Lock()
	t.facts = nil
	t.factsMu.Unlock()
	t.mu.Lock()
	t.m = m
	t.mu.Unlock()
	return stale, nil
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

func (m *Model) restoreCase(sc snapshotCase) (*CaseModel, error) {
	if err := m.roomForStrings(); err != nil {
		return nil, err
	}
	c := &CaseModel{ID: sc.ID, LA: m.internString(sc.LA), Version: sc.Version,
		caseworker: m.intern(sc.Caseworker), team: m.intern(sc.Team)}
	for _, id := range sc.Rulebooks {
		if n := m.books.number(id); n < 32 {
			c.books |= 1 << n
		} else {
			c.books = ^uint32(0)
		}
	}
	if sc.Corrected || len(sc.Exceptions) > 0 || len(sc.SchoolAsked) > 0 {
		c.extra = &caseExtra{exceptions: sc.Exceptions, schoolAsked: sc.SchoolAsked, corrected: sc.Corrected}
	}
	for _, st := range sc.History {
		ev, err := domain.DecodeEvent(st.Type, st.Schema, st.Payload)
		if err != nil {
			return nil, err
		}
		c.extra.history = append(c.extra.history, domain.Step{Version: st.Version, On: st.On, Event: ev})
	}
	for _, mk := range sc.Marks {
		k, ok := marks().of[mk.Type]
		if !ok {
			return nil, fmt.Errorf("no mark is kept for events of type %q", mk.Type)
		}
		c.marks = append(c.marks, newMark(mk.On, k, m.intern(mk.Label)))
	}
	c.clocks = make([]packedClock, 0, len(sc.Clocks))
	for _, k := range sc.Clocks {
		rb, err := domain.LookupRulebook(k.Rulebook)
		if err != nil {
			return nil, err
		}
		rule := rb.Clock(k.Name)
		if rule == nil {
			return nil, fmt.Errorf("rulebook %s has no clock %q", rb.ID, k.Name)
		}
		c.clocks = append(c.clocks, newPackedClock(k.Started, k.Due, k.Stopped, m.intern(k.Key), m.ruleNumber(rule, rb), k.Ended))
	}
	return c, nil
}

// Reset empties the projection for a rebuild.
func (t *Timeliness) Reset() {
	t.factsMu.Lock()
	t.facts = nil
	t.factsMu.Unlock()
	t.mu.Lock()
	load := t.m.LoadHistory
	t.m = NewModel(t.m.Holidays)
	t.m.LoadHistory = load
	t.mu.Unlock()
}

// OverdueByLA counts each LA's overdue clocks on asOf: the figure operators
// watch. It walks the packed clocks without unpacking them, and keeps its
// answer until the projection moves on or the day changes.
func (t *Timeliness) OverdueByLA(asOf domain.Date) map[string]int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	t.cacheMu.Lock()
	if t.overdue != nil && t.overdueAt == asOf && t.overduePos == t.m.Position {
		out := t.overdue
		t.cacheMu.Unlock()
		return out
	}
	t.cacheMu.Unlock()
	out := make(map[string]int, len(t.m.byLA))
	for la, cases := range t.m.byLA {
		n := 0
		for _, c := range cases {
			for _, p := range c.clocks {
				if p.stopped.IsZero() && p.due < asOf && !t.m.rules.items[p.rule()].rule.LapsesAtDue {
					n++
				}
			}
		}
		if len(cases) > 0 {
			out[la] = n
		}
	}
	t.cacheMu.Lock()
	t.overdue, t.overdueAt, t.overduePos = out, asOf, t.m.Position
	t.cacheMu.Unlock()
	return out
}
