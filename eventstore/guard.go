package eventstore

import (
	"errors"
	"fmt"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/google/uuid"
)

// The append rules live here, once, so that every adapter answers an append
// the same way; an adapter only finds what the rules need (the stored events
// that carry the append's IDs, the stream's version) and writes what they
// let through. The KurrentDB server has rules of its own, which
// eventstore/esdb/fakeserver imitates: the esdb adapter applies these on top
// of them.

// The conflicts of an append. Each comes wrapped in a *domain.Error with the
// code domain.Conflict and a message for people; callers tell them apart
// with errors.Is.
var (
	// ErrWrongVersion: the stream is not at the version the append expected
	// (it exists when NoStream was expected, or is at another version than
	// the exact one expected), or it kept changing under the append.
	ErrWrongVersion = errors.New("the stream is not at the expected version")
	// ErrIDConflict: an event ID of the append is stored already, with other
	// content or in another stream, or only some of the append's IDs are
	// stored, so the append is neither new nor a retry of one.
	ErrIDConflict = errors.New("an event ID is already stored with other content")
)

// ValidateAppend checks an append's arguments before anything is read: a
// stream, an expectation that is Any, NoStream or Exact, at least one event,
// each with an ID and a type, and no ID twice.
func ValidateAppend(stream string, expected ExpectedVersion, events []EventData) error {
	if n := AppendSize(events); n > MaxAppendBytes {
		return domain.FieldErrorf("events", "the append is about %d bytes, more than the %d an event store takes at once: record it in smaller appends", n, MaxAppendBytes)
	}
	if stream == "" {
		return domain.FieldErrorf("stream", "is required")
	}
	if expected != Any && expected < NoStream {
		return domain.FieldErrorf("expected", "%d is neither Any, NoStream nor an exact version", expected)
	}
	if len(events) == 0 {
		return domain.FieldErrorf("events", "at least one event is required")
	}
	for i, e := range events {
		if e.ID == uuid.Nil || e.Type == "" {
			return domain.FieldErrorf(fmt.Sprintf("events[%d]", i), "an event needs an ID and a type")
		}
		// Appends are a few events, so comparing with the earlier ones is
		// cheaper than building a set.
		for _, earlier := range events[:i] {
			if earlier.ID == e.ID {
				return domain.FieldErrorf(fmt.Sprintf("events[%d]", i), "event %s appears twice in one append", e.ID)
			}
		}
	}
	return nil
}

// MaxAppendBytes bounds one append on every backend: KurrentDB refuses an
// append above its MaxAppendSize, 1 MiB by default, so no backend takes
// one that the other would refuse, and every stored event stays small. A
// server configured with a smaller MaxAppendSize refuses with a field
// error of its own.
const MaxAppendBytes = 1 << 20

// envelopeBytes is an allowance for what an event carries besides its
// type, payload and envelope fields: the hashes and the names of the
// metadata, as the KurrentDB adapter stores them (under 300 bytes).
const envelopeBytes = 512

// AppendSize is an append's size as the limit counts it, never less than
// KurrentDB counts it (Event.SizeOnDisk: data, metadata and twice the
// type's length): each event's type twice, its payload, and its envelope
// fields six times over (the most JSON escaping can make of them) plus
// envelopeBytes.
func AppendSize(events []EventData) int {
	n := 0
	for _, e := range events {
		fields := len(e.Actor) + len(e.LA) + len(e.CorrelationID) + len(e.CausationID) + len(e.Reason) + len(e.OccurredOn)
		n += 2*len(e.Type) + len(e.Payload) + 6*fields + envelopeBytes
	}
	return n
}

// CheckAppend decides a valid append (see ValidateAppend) against what the
// store holds. stored finds the stored event with an ID, when the store
// knows it; version returns the stream's last version (0 when it has no
// events) and is called only when the append is not a retry. The rules, in
// order:
//
//  1. When every event's ID is stored, in this stream with the same content,
//     the append is a retry of one that succeeded: its result is that
//     append's, with Duplicate set, whatever expected says now.
//  2. When some of the IDs are stored, or one is stored with other content or
//     in another stream, the append is refused with ErrIDConflict.
//  3. When the stream's version does not meet expected, the append is
//     refused with ErrWrongVersion.
//
// A zero result and a nil error mean the append may be written after the
// stream's version.
func CheckAppend(stream string, expected ExpectedVersion, events []EventData,
	stored func(uuid.UUID) (RecordedEvent, bool), version func() (int64, error)) (AppendResult, error) {
	// first is the first stored event found, for the message; last the
	// stored event of the append's last event, whose place a retry returns.
	var found int
	var first, last RecordedEvent
	for _, e := range events {
		got, ok := stored(e.ID)
		if !ok {
			continue
		}
		if got.Stream != stream || !SameContent(got.EventData, e) {
			return AppendResult{}, &domain.Error{Code: domain.Conflict, Err: ErrIDConflict,
				Message: fmt.Sprintf("event %s is already stored with different content", e.ID)}
		}
		if found == 0 {
			first = got
		}
		found++
		last = got
	}
	switch {
	case found == len(events):
		return AppendResult{Version: last.Version, Position: last.Position, Duplicate: true}, nil
	case found > 0:
		return AppendResult{}, &domain.Error{Code: domain.Conflict, Err: ErrIDConflict,
			Message: fmt.Sprintf("only some of these events are already stored (%s): a retry must resend the same batch", first.ID)}
	}
	current, err := version()
	if err != nil {
		return AppendResult{}, err
	}
	return AppendResult{}, CheckExpected(stream, expected, current)
}

// MetBy reports whether a stream whose last version is current (0: no
// events) meets the expectation.
func (e ExpectedVersion) MetBy(current int64) bool {
	switch {
	case e == Any:
		return true
	case e == NoStream:
		return current == 0
	}
	return int64(e) == current
}

// CheckExpected reports whether a stream whose last version is current (0:
// no events) meets expected, with ErrWrongVersion when it does not.
func CheckExpected(stream string, expected ExpectedVersion, current int64) error {
	switch {
	case expected.MetBy(current):
		return nil
	case expected == NoStream:
		return &domain.Error{Code: domain.Conflict, Err: ErrWrongVersion,
			Message: fmt.Sprintf("stream %s already exists (version %d)", stream, current)}
	}
	return &domain.Error{Code: domain.Conflict, Err: ErrWrongVersion,
		Message: fmt.Sprintf("stream %s is at version %d, not the expected %d", stream, current, expected)}
}

// WrongVersion is the conflict of an append whose stream changed between
// the adapter's read of it and its write, which the adapter learns from the
// store rather than from CheckExpected.
func WrongVersion(format string, args ...any) error {
	return &domain.Error{Code: domain.Conflict, Err: ErrWrongVersion, Message: fmt.Sprintf(format, args...)}
}
