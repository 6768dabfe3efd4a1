// Package eventstore defines the append-only store of events that every other
// part of EHC Ledger reads and writes. Adapters live in sub-packages: sqlite is
// the embedded default.
package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/google/uuid"
)

// ExpectedVersion is the optimistic-concurrency condition of an append.
type ExpectedVersion int64

const (
	// Any appends whatever the stream's version.
	Any ExpectedVersion = -2
	// NoStream appends only if the stream has no events yet.
	NoStream ExpectedVersion = -1
)

// Exact expects the stream's last version to be v (v >= 1).
func Exact(v int64) ExpectedVersion { return ExpectedVersion(v) }

// EventData is an event to append: everything but the position, version and
// hashes, which the store assigns.
type EventData struct {
	ID            uuid.UUID
	Type          string
	SchemaVersion int
	// OccurredOn is the civil date (YYYY-MM-DD, Europe/London) the step happened.
	OccurredOn string
	// RecordedAt is the UTC instant the system recorded it.
	RecordedAt    time.Time
	Actor         string
	LA            string
	CorrelationID string
	CausationID   string
	// Reason says why the step was recorded as it was, when it needs saying:
	// a step recorded after the day it happened, or a correction.
	Reason  string
	Payload []byte
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	EventData
	Stream string
	// Version is the event's number in its stream, from 1.
	Version int64
	// Position is the event's place in the global order, from 1, gapless.
	Position int64
	// PrevHash is the hash of the previous event of the stream (empty for the
	// first), and Hash this event's, chaining the stream so that an altered or
	// missing event is detectable.
	PrevHash string
	Hash     string
}

// AppendResult tells where an append landed.
type AppendResult struct {
	// Version is the stream's last version after the append.
	Version int64
	// Position is the global position of the last appended event.
	Position int64
	// Duplicate is true when every event was already stored by an earlier
	// append with the same IDs and content (an idempotent retry).
	Duplicate bool
}

// Store is the event store.
type Store interface {
	// Append adds events to a stream atomically if the stream matches
	// expected. Appending events whose IDs are all stored already, with the
	// same content, succeeds without writing; an ID stored with other content
	// is a conflict. Every adapter decides with ValidateAppend and
	// CheckAppend, so the conflicts are ErrWrongVersion and ErrIDConflict.
	Append(ctx context.Context, stream string, expected ExpectedVersion, events []EventData) (AppendResult, error)
	// ReadStream returns a stream's events from version from (1 for all).
	ReadStream(ctx context.Context, stream string, from int64) ([]RecordedEvent, error)
	// ReadAll returns up to limit events from global position from, in order.
	ReadAll(ctx context.Context, from int64, limit int) ([]RecordedEvent, error)
	// Subscribe calls fn for every event from global position from, first the
	// stored ones and then new ones as they are committed, until ctx is done or
	// fn returns an error.
	Subscribe(ctx context.Context, from int64, fn func(RecordedEvent) error) error
	// Head returns the global position of the last event (0 when empty).
	Head(ctx context.Context) (int64, error)
	// Close releases the store.
	Close() error
}

// BatchReader is a Store that reads the global log into a slice the caller
// hands back, as ReadAll does into a new one: a read of the whole log then
// reuses a few batches' memory instead of allocating each, which the
// garbage collector would have to find again.
type BatchReader interface {
	// ReadAllInto returns up to limit events from global position from,
	// in order, in buf's array when it is large enough.
	ReadAllInto(ctx context.Context, buf []RecordedEvent, from int64, limit int) ([]RecordedEvent, error)
}

// appendField appends a field of the chain hash: its length, then itself.
func appendField[T string | []byte](buf []byte, v T) []byte {
	buf = binary.BigEndian.AppendUint64(buf, uint64(len(v)))
	return append(buf, v...)
}

// Hash computes an event's chain hash from the previous hash and the event's
// identity and content. Recorded-at is included so that back-dating a record is
// detectable too.
func Hash(prev string, stream string, version int64, e EventData) string {
	// The fields, each but the numbers after its length, in one buffer
	// hashed at once: every event is hashed when it is appended and again
	// when a rebuild grows the log's tree, and a write per field through
	// hash.Hash allocated a copy of each.
	var stamp [40]byte
	recorded := e.RecordedAt.UTC().AppendFormat(stamp[:0], time.RFC3339Nano)
	fields := len(prev) + len(stream) + len(e.ID) + len(e.Type) + len(e.OccurredOn) + len(recorded) + len(e.Actor) +
		len(e.LA) + len(e.CorrelationID) + len(e.CausationID) + len(e.Reason) + len(e.Payload)
	var stack [1024]byte
	buf := stack[:0]
	if n := fields + 14*8; n > len(stack) {
		buf = make([]byte, 0, n)
	}
	buf = appendField(buf, prev)
	buf = appendField(buf, stream)
	buf = binary.BigEndian.AppendUint64(buf, uint64(version))
	buf = appendField(buf, e.ID[:])
	buf = appendField(buf, e.Type)
	buf = binary.BigEndian.AppendUint64(buf, uint64(e.SchemaVersion))
	buf = appendField(buf, e.OccurredOn)
	buf = appendField(buf, recorded)
	buf = appendField(buf, e.Actor)
	buf = appendField(buf, e.LA)
	buf = appendField(buf, e.CorrelationID)
	buf = appendField(buf, e.CausationID)
	buf = appendField(buf, e.Reason)
	buf = appendField(buf, e.Payload)
	sum := sha256.Sum256(buf)
	var text [2 * sha256.Size]byte
	hex.Encode(text[:], sum[:])
	return string(text[:])
}

// SameContent reports whether two events with one ID carry the same content,
// which decides between an idempotent retry and a conflict.
func SameContent(a, b EventData) bool {
	return a.ID == b.ID && a.Type == b.Type && a.SchemaVersion == b.SchemaVersion &&
		a.OccurredOn == b.OccurredOn && a.Actor == b.Actor && a.LA == b.LA &&
		a.CorrelationID == b.CorrelationID && a.CausationID == b.CausationID && a.Reason == b.Reason &&
		string(a.Payload) == string(b.Payload)
}

// Verify checks one stream's hash chain and versions. It returns the version
// of the first event that is missing or altered, or 0 when the chain holds.
func Verify(events []RecordedEvent) (int64, string) {
	prev := ""
	for i, e := range events {
		want := int64(i + 1)
		if e.Version != want {
			return want, "missing event"
		}
		if e.PrevHash != prev {
			return e.Version, "previous-hash link broken"
		}
		if Hash(prev, e.Stream, e.Version, e.EventData) != e.Hash {
			return e.Version, "content does not match its hash"
		}
		prev = e.Hash
	}
	return 0, ""
}

// Gapless is a store whose global positions count its events from 1 with
// none missing (SQLite's), so that a missing position is an event deleted.
// KurrentDB's positions are offsets in its log, with gaps by design.
type Gapless interface {
	GaplessPositions() bool
}
