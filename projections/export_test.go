package projections

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/ehcledger/ehcledger/domain"
)

// Rewind moves the projection's position back without changing what it
// holds, as a snapshot written while events were applied may stand: events
// after pos are then replayed onto cases that already hold some of them.
func Rewind(t *Timeliness, pos int64) {
	t.mu.Lock()
	t.m.Position = pos
	t.mu.Unlock()
}

// SetEveryFirstDue sets the due date of every case's first clock, as a
// damaged model would hold it.
func SetEveryFirstDue(t *Timeliness, due domain.Date) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.m.Cases {
		if len(c.clocks) > 0 {
			c.clocks[0].due = due
		}
	}
}

// SnapshotCases reads a snapshot file and returns each case as JSON, by id:
// its assignment, the rulebooks it was counted under, its clocks with the
// rulebook each started under, its marks and extra.
func SnapshotCases(path string, h domain.Holidays) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := NewTimeliness(h)
	if _, err := t.ReadSnapshot(f); err != nil {
		return nil, err
	}
	m := t.m
	out := map[string]string{}
	for id, c := range m.Cases {
		v := map[string]any{"la": c.LA, "version": c.Version, "assigned": []string{m.strs.items[c.caseworker], m.strs.items[c.team]}}
		var books []string
		for n, b := range m.books.items {
			if c.books&(1<<n) != 0 {
				books = append(books, b)
			}
		}
		v["rulebooks"] = books
		var clocks []string
		for _, p := range c.clocks {
			k := m.unpackClock(p)
			clocks = append(clocks, fmt.Sprintf("%s/%s %q %s %s %s %t", k.Book.ID, k.Name, k.Key, k.Started, k.Due, k.Stopped, k.Ended))
		}
		v["clocks"] = clocks
		var mks []string
		for _, mk := range c.marks {
			mks = append(mks, fmt.Sprintf("%s %s %q", mk.on, marks().kinds[mk.kind()].typ, m.strs.items[mk.label()]))
		}
		v["marks"] = mks
		if x := c.extra; x != nil {
			v["extra"] = []any{x.exceptions, x.schoolAsked, len(x.history), x.corrected}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[id] = string(b)
	}
	return out, nil
}

// RewriteSnapshotHeader edits a snapshot file's header, as JSON, and signs
// the file's digest again, as someone who meant to would.
func RewriteSnapshotHeader(path string, edit func(map[string]any)) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	b = b[:len(b)-sha256.Size]
	rest, ok := bytes.CutPrefix(b, []byte(snapshotMagic))
	if !ok {
		return errors.New("not a snapshot")
	}
	format, n := binary.Uvarint(rest)
	rest = rest[n:]
	size, n := binary.Uvarint(rest)
	rest = rest[n:]
	var h map[string]any
	if err := json.Unmarshal(rest[:size], &h); err != nil {
		return err
	}
	edit(h)
	header, err := json.Marshal(h)
	if err != nil {
		return err
	}
	out := binary.AppendUvarint(binary.AppendUvarint([]byte(snapshotMagic), format), uint64(len(header)))
	out = append(append(out, header...), rest[size:]...)
	sum := sha256.Sum256(out)
	return os.WriteFile(path, append(out, sum[:]...), 0o600)
}
