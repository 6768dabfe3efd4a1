package backup

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/klauspost/compress/zstd"
)

// A segment holds the events of positions First to Last of the global log,
// as stored (IDs, versions, hashes), compressed with zstd. Its first line is
// its header; each following line is one event. Each header names the
// SHA-256 of the previous segment's lines, so that the segments form a
// chain: none can be left out, replaced or reordered unseen.
const (
	segmentFormat = 1
	segmentPrefix = "segments/"
	// maxSegmentEvents bounds the events of a segment, so that a restore
	// finds the segment holding a position among the names from that
	// position less this on.
	maxSegmentEvents = 100000
	// maxSegmentBytes bounds a segment as read back: a hostile or damaged
	// object cannot make a restore hold more than this in memory.
	maxSegmentBytes = 1 << 30
)

// SegmentHeader is a segment's first line.
type SegmentHeader struct {
	Format    int       `json:"format"`
	First     int64     `json:"first"`
	Last      int64     `json:"last"`
	Events    int       `json:"events"`
	Prev      string    `json:"prev"`
	CreatedAt time.Time `json:"created_at"`
}

// segmentName is the name of the segment of positions first to last: the
// positions are zero-padded, so that names sort as the log does.
func segmentName(first, last int64) string {
	return fmt.Sprintf("%s%016d-%016d.jsonl.zst", segmentPrefix, first, last)
}

// parseSegmentName reads first and last from a segment's name.
func parseSegmentName(name string) (first, last int64, ok bool) {
	rest, found := strings.CutPrefix(name, segmentPrefix)
	if !found {
		return 0, 0, false
	}
	if _, err := fmt.Sscanf(rest, "%016d-%016d.jsonl.zst", &first, &last); err != nil || segmentName(first, last) != name || first < 1 || last < first {
		return 0, 0, false
	}
	return first, last, true
}

// encodeSegment writes the events, which follow each other in the log, as
// a segment after the one whose digest is prev; it returns the compressed
// segment and the digest of its lines.
func encodeSegment(events []eventstore.RecordedEvent, prev string, now time.Time) ([]byte, string, error) {
	var lines bytes.Buffer
	h := SegmentHeader{Format: segmentFormat, First: events[0].Position, Last: events[len(events)-1].Position, Events: len(events),
		Prev: prev, CreatedAt: now.UTC()}
	enc := json.NewEncoder(&lines)
	if err := enc.Encode(h); err != nil {
		return nil, "", err
	}
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			return nil, "", err
		}
	}
	sum := sha256.Sum256(lines.Bytes())
	var out bytes.Buffer
	zw, err := zstd.NewWriter(&out)
	if err != nil {
		return nil, "", err
	}
	if _, err := zw.Write(lines.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return out.Bytes(), hex.EncodeToString(sum[:]), nil
}

// segment is a segment read back and checked.
type segment struct {
	SegmentHeader
	Digest   string
	Recorded []eventstore.RecordedEvent
}

// readSegment reads and checks the segment name: its header matches its
// name, and it holds exactly the events of its positions, in order.
func readSegment(ctx context.Context, loc Location, name string) (segment, error) {
	first, last, ok := parseSegmentName(name)
	if !ok {
		return segment{}, fmt.Errorf("backup: %q is not a segment's name", name)
	}
	rc, err := loc.Get(ctx, name)
	if err != nil {
		return segment{}, err
	}
	defer rc.Close()
	dec, err := zstd.NewReader(rc, zstd.WithDecoderMaxMemory(maxSegmentBytes), zstd.WithDecoderMaxWindow(1<<27))
	if err != nil {
		return segment{}, err
	}
	defer dec.Close()
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(io.LimitReader(dec, maxSegmentBytes+1), h), 1<<20)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("backup: segment %s in %s: %s", name, loc, fmt.Sprintf(format, args...))
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return segment{}, bad("its header cannot be read: %v", err)
	}
	var s segment
	if err := json.Unmarshal(line, &s.SegmentHeader); err != nil {
		return segment{}, bad("its header cannot be read: %v", err)
	}
	if s.Format != segmentFormat || s.First != first || s.Last != last || int64(s.Events) != last-first+1 || s.Events > maxSegmentEvents {
		return segment{}, bad("its header (format %d, positions %d to %d, %d events) does not match its name", s.Format, s.First, s.Last, s.Events)
	}
	s.Recorded = make([]eventstore.RecordedEvent, 0, s.Events)
	for want := first; ; want++ {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			if want != last+1 {
				return segment{}, bad("it ends at position %d, before %d", want-1, last)
			}
			break
		}
		if err != nil {
			return segment{}, bad("event %d cannot be read: %v", want, err)
		}
		var e eventstore.RecordedEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return segment{}, bad("event %d cannot be read: %v", want, err)
		}
		if e.Position != want || want > last {
			return segment{}, bad("it holds position %d where %d belongs", e.Position, want)
		}
		s.Recorded = append(s.Recorded, e)
	}
	s.Digest = hex.EncodeToString(h.Sum(nil))
	return s, nil
}

// segmentNames lists the segments of loc after the name after ("" for all).
func segmentNames(ctx context.Context, loc Location, after string) ([]string, error) {
	names, err := loc.List(ctx, segmentPrefix, after)
	if err != nil {
		return nil, err
	}
	out := names[:0]
	for _, n := range names {
		if _, _, ok := parseSegmentName(n); ok {
			out = append(out, n)
		}
	}
	return out, nil
}
