// Package esdb is the EventStoreDB/KurrentDB backend of the event store,
// through github.com/EventStore/EventStore-Client-Go/v4. Our envelope
// (schema version, occurred-on, recorded-at, actor, LA, correlation,
// causation, reason and the hash chain) travels in each event's metadata; the
// payload is the event's data.
//
// Semantics that differ from the embedded store, and why:
//   - Positions are the server's commit positions: increasing, never
//     contiguous. Callers read on from the position after the last event they
//     saw, which this adapter maps to the server's positions.
//   - Reads of $all start at an event's own position (or the start), as the
//     server refuses any other; a page resumes at the last event read and
//     skips it.
//   - Every call asks for the leader (requires-leader), so that a read after
//     a failover never comes from a stale follower. The client library means
//     to send that header but sets it on the incoming context, where gRPC
//     ignores it; this adapter sets it on the outgoing one.
//   - Idempotency: a retried append is recognised by its event IDs among the
//     stream's most recent events (the last IdempotencyWindow); the server has
//     no global index of IDs, so the same ID in another stream is not detected.
package esdb

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// IdempotencyWindow is how many of a stream's latest events are searched for
// the IDs of an append, to recognise a retry.
const IdempotencyWindow = 256

// pageSize is how many events one read asks the server for.
const pageSize = 2048

// DefaultRetryFor is how long a call is retried while the server is not
// answering: longer than a cluster takes to elect a new leader.
const DefaultRetryFor = 30 * time.Second

// Store is the EventStoreDB adapter. It is safe for concurrent use.
type Store struct {
	conf     *esdb.Configuration
	prefixes []string
	retryFor time.Duration

	mu     sync.Mutex
	client *esdb.Client
	closed bool
}

// Open connects with an esdb:// or esdb+discover:// connection string; TLS
// settings (tls, tlsVerifyCert, tlsCAFile) and credentials are those of the
// connection string, as the client reads them. One setting is this
// adapter's own: retryFor (a Go duration, DefaultRetryFor when absent) is
// how long a call is retried while the server is not answering.
func Open(connection string) (*Store, error) {
	connection, settings, retryFor, err := retrySetting(connection)
	if err != nil {
		return nil, err
	}
	if rest, ok := strings.CutPrefix(connection, "esdb+discover://"); ok {
		hosts, _, _ := strings.Cut(rest, "?")
		hosts = hosts[strings.LastIndex(hosts, "@")+1:] // after any credentials
		if strings.Contains(hosts, ",") {
			// The v4 client takes several hosts after esdb+discover:// as
			// gossip seeds but then discovers through DNS on an empty
			// address, and never connects; after esdb:// it uses them.
			connection = "esdb://" + rest
		}
	}
	conf, err := esdb.ParseConnectionString(connection)
	if err != nil {
		return nil, &domain.Error{Code: domain.Invalid, Field: "store", Message: "not a valid esdb:// connection string: " + err.Error(), Err: err}
	}
	conf.Logger = clientLog
	boundDiscovery(settings, conf)
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("esdb: %w", err)
	}
	return &Store{conf: conf, client: client, prefixes: domain.StreamPrefixes(), retryFor: retryFor}, nil
}

// boundDiscovery shortens the client's discovery, unless the connection
// string sets it. A call waits, deaf to its context, while the client
// discovers the cluster, and by default discovery tries 10 times with 5 s
// for each seed: 50 s against one node that accepts connections but does
// not answer, before the retries (which make a new client and discover
// again) can look at the caller's deadline. Three tries of 2 s bound that
// wait to 6 s a seed.
func boundDiscovery(settings url.Values, conf *esdb.Configuration) {
	set := func(name string) bool {
		for k := range settings {
			if strings.EqualFold(k, name) {
				return true
			}
		}
		return false
	}
	if !set("maxDiscoverAttempts") {
		conf.MaxDiscoverAttempts = 3
	}
	if !set("gossipTimeout") {
		conf.GossipTimeout = 2
	}
}

// retrySetting takes the retryFor setting out of a connection string, and
// returns the string without it and its other settings.
func retrySetting(connection string) (string, url.Values, time.Duration, error) {
	base, query, ok := strings.Cut(connection, "?")
	if !ok {
		return connection, nil, DefaultRetryFor, nil
	}
	values, err := url.ParseQuery(query)
	if err != nil {
		return "", nil, 0, &domain.Error{Code: domain.Invalid, Field: "store", Message: "not a valid esdb:// connection string: " + err.Error(), Err: err}
	}
	retryFor := DefaultRetryFor
	for k, v := range values {
		if !strings.EqualFold(k, "retryFor") {
			continue
		}
		d, err := time.ParseDuration(v[0])
		if err != nil || d < 0 || d > time.Hour {
			return "", nil, 0, &domain.Error{Code: domain.Invalid, Field: "store", Message: "retryFor must be a duration between 0s and 1h, such as 30s"}
		}
		retryFor = d
		delete(values, k)
	}
	if len(values) == 0 {
		return base, nil, retryFor, nil
	}
	return base + "?" + values.Encode(), values, retryFor, nil
}

// clientLog passes the client's warnings and errors to the structured log and
// drops its chatter. (The client hands its arguments over as one slice.)
func clientLog(level esdb.LogLevel, format string, args ...any) {
	if level != esdb.LogError && level != esdb.LogWarn {
		return
	}
	if len(args) == 1 {
		if inner, ok := args[0].([]any); ok {
			args = inner
		}
	}
	slog.Warn("eventstoredb client", "level", level, "message", fmt.Sprintf(format, args...))
}

// Close closes the connection.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.client.Close()
}

// conn is the client to call, and whether the store has been closed.
func (s *Store) conn() (*esdb.Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client, s.closed
}

// errClosed answers a call made after Close.
var errClosed = &domain.Error{Code: domain.Internal, Message: "the event store connection is closed"}

// errReplaced says that the client a call was using was replaced under it.
var errReplaced = errors.New("the event store client was replaced during the call")

// attempt runs fn with c. A call that was waiting on a client that gave
// up, when renew closes that client, panics inside the client library
// ("send on closed channel": its connection loop has stopped, and the call
// was blocked sending to it, deaf to its context). That call is tried
// again with the new client; any other panic is not ours to hide.
func (s *Store) attempt(c *esdb.Client, fn func(*esdb.Client) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			current, closed := s.conn()
			re, ok := r.(runtime.Error)
			if !ok || !strings.Contains(re.Error(), "send on closed channel") || (current == c && !closed) {
				panic(r)
			}
			err = errReplaced
		}
	}()
	return fn(c)
}

// renew replaces a client that has closed itself. The client library gives
// up for good when its discovery attempts fail (a server restarting, a
// cluster electing a leader for longer than about a second), and answers
// every later call "connection is closed": without a new client the store
// would stay unreachable after the server came back. Closing the old one
// releases the calls still blocked in it (see attempt). (The library's
// stopped loop never closes its last gRPC connection: one is left behind
// per such outage.)
func (s *Store) renew(old *esdb.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.client != old {
		return
	}
	c, err := esdb.NewClient(s.conf)
	if err != nil {
		return // the configuration was valid when first used; keep the old one
	}
	_ = old.Close()
	s.client = c
}

// meta is the envelope kept in each event's metadata.
type meta struct {
	SchemaVersion int    `json:"schema_version"`
	OccurredOn    string `json:"occurred_on"`
	RecordedAt    string `json:"recorded_at"`
	Actor         string `json:"actor"`
	LA            string `json:"la"`
	CorrelationID string `json:"correlation_id"`
	CausationID   string `json:"causation_id"`
	Reason        string `json:"reason,omitempty"`
	PrevHash      string `json:"prev_hash"`
	Hash          string `json:"hash"`
}

// leader asks the server for its leader: gRPC sends the outgoing
// metadata, which EventStore-Client-Go v4.2.0 never sets.
func leader(ctx context.Context) context.Context {
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get("requires-leader")) > 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "requires-leader", "true")
}

// unreachable turns a client error into our error type: connection trouble
// is internal (and logged), a wrong expected version a conflict, an append
// above the server's maximum size invalid.
func unreachable(op string, err error) error {
	var e *esdb.Error
	if errors.As(err, &e) && e.Code() == esdb.ErrorCodeWrongExpectedVersion {
		return &domain.Error{Code: domain.Conflict, Message: "the stream has changed since it was read", Err: errors.Join(eventstore.ErrWrongVersion, err)}
	}
	var grpcErr interface{ GRPCStatus() *status.Status }
	if errors.As(err, &grpcErr) {
		if st := grpcErr.GRPCStatus(); st.Code() == codes.InvalidArgument && strings.HasPrefix(st.Message(), "Maximum Append Size") {
			return &domain.Error{Code: domain.Invalid, Field: "events", Message: "the events are larger than the event store takes in one append (" + st.Message() + ")", Err: err}
		}
	}
	return &domain.Error{Code: domain.Internal, Message: "the event store could not be reached (" + op + ")", Err: err}
}

// transient reports whether an operation may succeed if tried again, and
// whether the client has closed itself and must be replaced first.
func transient(err error) (again, dead bool) {
	if errors.Is(err, errReplaced) {
		return true, false
	}
	var e *esdb.Error
	if !errors.As(err, &e) {
		return false, false
	}
	switch text := err.Error(); {
	case strings.Contains(text, "x509:"), strings.Contains(text, "tls:"):
		// A certificate the client does not trust stays untrusted: say so
		// now rather than after the retry budget.
		return false, false
	case e.Code() == esdb.ErrorCodeConnectionClosed,
		strings.Contains(text, "maximum discovery attempt count reached"):
		return true, true
	case e.Code() == esdb.ErrorUnavailable, e.Code() == esdb.ErrorCodeDeadlineExceeded,
		e.Code() == esdb.ErrorCodeNotLeader, e.Code() == esdb.ErrorAborted:
		return true, false
	}
	return false, false
}

// retry runs op until it succeeds, fails for good, or the server has not
// answered for retryFor (or until just before ctx's deadline): a leader
// election takes seconds. Appends are safe to retry because they carry
// their event IDs, and appendOnce finds them when the first try was
// written but its answer lost. When the time runs out the error is
// Unavailable, which a caller can answer with "try again".
func (s *Store) retry(ctx context.Context, op string, fn func(*esdb.Client) error) error {
	began := time.Now()
	deadline := began.Add(s.retryFor)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	wait := 50 * time.Millisecond
	for {
		c, closed := s.conn()
		if closed {
			return errClosed
		}
		err := s.attempt(c, fn)
		again, dead := transient(err)
		if err == nil || !again {
			return err
		}
		if dead {
			s.renew(c)
		}
		if time.Now().Add(wait).After(deadline) {
			msg := fmt.Sprintf("the event store has not answered for %s (%s): try again in a few seconds",
				time.Since(began).Round(100*time.Millisecond), op)
			if op == "append" {
				msg += "; a step sent again with the same Idempotency-Key is recorded once"
			}
			return &domain.Error{Code: domain.Unavailable, Message: msg, Err: err}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

func (s *Store) toRecorded(ev *esdb.RecordedEvent) (eventstore.RecordedEvent, error) {
	var m meta
	if err := json.Unmarshal(ev.UserMetadata, &m); err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("event %s in %s has no envelope: %w", ev.EventID, ev.StreamID, err)
	}
	at, err := time.Parse(time.RFC3339Nano, m.RecordedAt)
	if err != nil {
		return eventstore.RecordedEvent{}, fmt.Errorf("event %s in %s: recorded_at: %w", ev.EventID, ev.StreamID, err)
	}
	return eventstore.RecordedEvent{
		EventData: eventstore.EventData{ID: ev.EventID, Type: ev.EventType, SchemaVersion: m.SchemaVersion,
			OccurredOn: m.OccurredOn, RecordedAt: at, Actor: m.Actor, LA: m.LA, CorrelationID: m.CorrelationID,
			CausationID: m.CausationID, Reason: m.Reason, Payload: ev.Data},
		Stream: ev.StreamID, Version: int64(ev.EventNumber) + 1, Position: int64(ev.Position.Commit),
		PrevHash: m.PrevHash, Hash: m.Hash,
	}, nil
}

func (s *Store) ours(stream string) bool {
	for _, p := range s.prefixes {
		if strings.HasPrefix(stream, p) {
			return true
		}
	}
	return false
}

// tail reads up to n of a stream's latest events, oldest first; none when
// the stream does not exist.
func (s *Store) tail(ctx context.Context, c *esdb.Client, stream string, n uint64) ([]eventstore.RecordedEvent, error) {
	rs, err := c.ReadStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, n)
	if err != nil {
		return nil, err
	}
	var out []eventstore.RecordedEvent
	_, err = drain(rs, func(e *esdb.RecordedEvent) (bool, error) {
		r, err := s.toRecorded(e)
		out = append(out, r)
		return false, err
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(out) // oldest first
	return out, nil
}

// drain hands a read's records to fn until it says stop or they end, and
// returns how many it handed; the read is closed however it ends, and a
// stream that does not exist has no records.
func drain(rs *esdb.ReadStream, fn func(*esdb.RecordedEvent) (stop bool, err error)) (int, error) {
	defer rs.Close()
	n := 0
	for {
		ev, err := rs.Recv()
		var e *esdb.Error
		switch {
		case errors.Is(err, io.EOF), errors.As(err, &e) && e.Code() == esdb.ErrorCodeResourceNotFound:
			return n, nil
		case err != nil:
			return n, err
		}
		n++
		if stop, err := fn(ev.Event); stop || err != nil {
			return n, err
		}
	}
}

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events []eventstore.EventData) (eventstore.AppendResult, error) {
	ctx = leader(ctx)
	if err := eventstore.ValidateAppend(stream, expected, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	var res eventstore.AppendResult
	err := s.retry(ctx, "append", func(c *esdb.Client) error {
		var err error
		res, err = s.appendOnce(ctx, c, stream, expected, events)
		return err
	})
	return res, wrap("append", err)
}

// appendOnce reads the stream's tail (for idempotency, the expected version
// and the hash chain), then appends at exactly that revision, so the chain
// never forks. Under Any a lost race is retried with the new tail.
func (s *Store) appendOnce(ctx context.Context, c *esdb.Client, stream string, expected eventstore.ExpectedVersion, events []eventstore.EventData) (eventstore.AppendResult, error) {
	for race := 0; race < 10; race++ {
		// A short tail gives the version and the last hash, and holds the
		// events of a retry made right after the first try.
		tail, err := s.tail(ctx, c, stream, uint64(len(events))+8)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		var version int64
		if len(tail) > 0 {
			version = tail[len(tail)-1].Version
		}
		// A retry can hide further back only when the stream has moved on
		// from what the caller expected, or when the caller expects nothing.
		stale := expected == eventstore.Any || !expected.MetBy(version)
		window := tail
		if stale && len(tail) == len(events)+8 && IdempotencyWindow > len(tail) {
			// Only ever wider: a retry of a large append lies within the
			// tail already read.
			if window, err = s.tail(ctx, c, stream, IdempotencyWindow); err != nil {
				return eventstore.AppendResult{}, err
			}
		}
		res, err := eventstore.CheckAppend(stream, expected, events,
			func(id uuid.UUID) (eventstore.RecordedEvent, bool) {
				for _, r := range window {
					if r.ID == id {
						return r, true
					}
				}
				return eventstore.RecordedEvent{}, false
			},
			func() (int64, error) { return version, nil })
		if err != nil || res.Duplicate {
			return res, err
		}
		prev := ""
		if len(tail) > 0 {
			prev = tail[len(tail)-1].Hash
		}
		data := make([]esdb.EventData, len(events))
		for i, e := range events {
			v := version + int64(i) + 1
			h := eventstore.Hash(prev, stream, v, e)
			m, err := json.Marshal(meta{SchemaVersion: e.SchemaVersion, OccurredOn: e.OccurredOn,
				RecordedAt: e.RecordedAt.UTC().Format(time.RFC3339Nano), Actor: e.Actor, LA: e.LA,
				CorrelationID: e.CorrelationID, CausationID: e.CausationID, Reason: e.Reason, PrevHash: prev, Hash: h})
			if err != nil {
				return eventstore.AppendResult{}, err
			}
			data[i] = esdb.EventData{EventID: e.ID, EventType: e.Type, ContentType: esdb.ContentTypeJson, Data: e.Payload, Metadata: m}
			prev = h
		}
		var exp esdb.ExpectedRevision = esdb.NoStream{}
		if version > 0 {
			exp = esdb.Revision(uint64(version - 1))
		}
		wr, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: exp}, data...)
		if err != nil {
			var e *esdb.Error
			if errors.As(err, &e) && e.Code() == esdb.ErrorCodeWrongExpectedVersion {
				if expected == eventstore.Any {
					continue // someone appended between our read and write: read again
				}
				return eventstore.AppendResult{}, eventstore.WrongVersion("stream %s changed while appending", stream)
			}
			return eventstore.AppendResult{}, err
		}
		return eventstore.AppendResult{Version: int64(wr.NextExpectedVersion) + 1, Position: int64(wr.CommitPosition)}, nil
	}
	return eventstore.AppendResult{}, eventstore.WrongVersion("stream %s is too busy: gave up after 10 races", stream)
}

// wrapAppendErr hides client details behind our error type.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	return unreachable(op, err)
}

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from int64) ([]eventstore.RecordedEvent, error) {
	ctx = leader(ctx)
	if from < 1 {
		from = 1
	}
	var out []eventstore.RecordedEvent
	err := s.retry(ctx, "read stream", func(c *esdb.Client) error {
		out = nil
		next := uint64(from - 1)
		for {
			n, err := s.streamPage(ctx, c, stream, next, func(e *esdb.RecordedEvent) error {
				r, err := s.toRecorded(e)
				if err != nil {
					return err
				}
				out = append(out, r)
				next = e.EventNumber + 1
				return nil
			})
			if err != nil || n < pageSize {
				return err
			}
		}
	})
	return out, wrap("read stream", err)
}

// streamPage reads a page of a stream from revision from, calling fn with
// each event, and returns how many it read; a stream that does not exist
// has none. The read is closed however it ends.
func (s *Store) streamPage(ctx context.Context, c *esdb.Client, stream string, from uint64, fn func(*esdb.RecordedEvent) error) (int, error) {
	rs, err := c.ReadStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(from)}, pageSize)
	if err != nil {
		return 0, err
	}
	return drain(rs, func(e *esdb.RecordedEvent) (bool, error) { return false, fn(e) })
}

// startsAt lists the server positions a read "from global position from
// on" may start at, most likely first: the server refuses a position that
// is not an event's own. A caller reads on from the position after the
// last event it saw (from-1 is that event's) or from an event's own
// position (from). Events before from are dropped by the caller.
func startsAt(from int64) []esdb.AllPosition {
	if from <= 1 {
		return []esdb.AllPosition{esdb.Start{}}
	}
	// Last, the start of the log: a position that was never this store's
	// (views kept from another store, a store restored from an older
	// backup) is read from the beginning, the events before it dropped,
	// as the embedded store would answer.
	return []esdb.AllPosition{esdb.Position{Commit: uint64(from - 1), Prepare: uint64(from - 1)},
		esdb.Position{Commit: uint64(from), Prepare: uint64(from)}, esdb.Start{}}
}

// invalidPosition reports the server's refusal of a position that is not
// an event's.
func invalidPosition(err error) bool {
	return strings.Contains(err.Error(), "invalid position")
}

// page reads up to count records of $all from a position in a direction,
// calling fn with each until it says stop, and returns how many it read.
func (s *Store) page(ctx context.Context, c *esdb.Client, dir esdb.Direction, from esdb.AllPosition, count uint64, fn func(*esdb.RecordedEvent) (stop bool, err error)) (int, error) {
	rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{Direction: dir, From: from}, count)
	if err != nil {
		return 0, err
	}
	return drain(rs, fn)
}

// mine reports whether a record of $all is one of our events, not a
// system event or another application's.
func (s *Store) mine(e *esdb.RecordedEvent) bool {
	return s.ours(e.StreamID) && !strings.HasPrefix(e.EventType, "$")
}

// ReadAll implements eventstore.Store: up to limit of our events from from,
// skipping system events and other applications' streams.
func (s *Store) ReadAll(ctx context.Context, from int64, limit int) ([]eventstore.RecordedEvent, error) {
	ctx = leader(ctx)
	if limit <= 0 {
		limit = 1000
	}
	var out []eventstore.RecordedEvent
	err := s.retry(ctx, "read all", func(c *esdb.Client) error {
		out = out[:0]
		starts := startsAt(from)
		pos := starts[0]
		// seen is the last position read: a page resumes at that event's
		// own position, which the server sends again.
		var seen uint64
		for len(out) < limit {
			n, err := s.page(ctx, c, esdb.Forwards, pos, pageSize, func(e *esdb.RecordedEvent) (bool, error) {
				if seen > 0 && e.Position.Commit <= seen {
					return false, nil
				}
				pos, seen = e.Position, e.Position.Commit
				if int64(e.Position.Commit) < from || !s.mine(e) || len(out) >= limit {
					return false, nil
				}
				r, err := s.toRecorded(e)
				if err != nil {
					return true, err
				}
				out = append(out, r)
				return false, nil
			})
			if err != nil && seen == 0 && len(starts) > 1 && invalidPosition(err) {
				// from is not the position after an event: it is an
				// event's own, or nothing the server knows.
				starts = starts[1:]
				pos = starts[0]
				continue
			}
			if err != nil || n < pageSize {
				return err
			}
		}
		return nil
	})
	return out, wrap("read all", err)
}

// Head implements eventstore.Store: the position of our latest event. The
// client cannot filter reads on the server, so it reads $all backwards,
// page by page, past other applications' and system events.
func (s *Store) Head(ctx context.Context) (int64, error) {
	ctx = leader(ctx)
	var head int64
	err := s.retry(ctx, "head", func(c *esdb.Client) error {
		head = 0
		var from esdb.AllPosition = esdb.End{}
		for {
			found := false
			n, err := s.page(ctx, c, esdb.Backwards, from, pageSize, func(e *esdb.RecordedEvent) (bool, error) {
				if s.mine(e) {
					head, found = int64(e.Position.Commit), true
					return true, nil
				}
				from = e.Position
				return false, nil
			})
			if err != nil || found || n < pageSize {
				return err
			}
		}
	})
	return head, wrap("head", err)
}

// errNotAnEvent reports a subscription refused because its start is not
// an event's position.
var errNotAnEvent = errors.New("the start is not an event's position")

// Subscribe implements eventstore.Store: it ends with ctx's error once ctx
// is done, whatever it was doing. The server does the catch-up, filtered
// to our streams, so that other applications' events never cross the
// wire. A subscription starts after a position, which must be an event's:
// a caller going on from the event before from (the usual case) is
// subscribed from it; otherwise Subscribe reads our first event at or
// after from with ReadAll (which finds a position the server accepts),
// hands it over, and subscribes from it.
func (s *Store) Subscribe(ctx context.Context, from int64, fn func(eventstore.RecordedEvent) error) error {
	ctx = leader(ctx)
	if from > 1 {
		p := uint64(from - 1)
		if err := s.follow(ctx, esdb.Position{Commit: p, Prepare: p}, from, fn); !errors.Is(err, errNotAnEvent) {
			return err
		}
	}
	var start esdb.AllPosition = esdb.Start{}
	next := from
	// anchor reads our first event from next on, hands it to fn and
	// starts the subscription after it.
	anchor := func() (bool, error) {
		first, err := s.ReadAll(ctx, next, 1)
		if err != nil {
			return false, cmp.Or(ctx.Err(), err)
		}
		if len(first) == 0 {
			return false, nil
		}
		if err := fn(first[0]); err != nil {
			return false, err
		}
		p := uint64(first[0].Position)
		start, next = esdb.Position{Commit: p, Prepare: p}, int64(p)+1
		return true, nil
	}
	found, err := anchor()
	if err != nil {
		return err
	}
	if !found && next > 1 {
		// Nothing of ours at or after from: subscribe from the log's last
		// record, whatever its stream, taken before reading once more so
		// that nothing appended in between is missed.
		p, err := s.lastRecord(ctx)
		if err != nil {
			return cmp.Or(ctx.Err(), err)
		}
		if p != nil {
			start = *p
		}
		if _, err := anchor(); err != nil {
			return err
		}
	}
	if err := s.follow(ctx, start, next, fn); !errors.Is(err, errNotAnEvent) {
		return err
	}
	// Refused although the position is one the server has just given.
	return &domain.Error{Code: domain.Internal, Message: "the event store refused to subscribe from an event's position", Err: errNotAnEvent}
}

// follow subscribes to our streams of $all after start and hands fn every
// event from position next on. It returns errNotAnEvent when the server
// refuses start before sending anything.
func (s *Store) follow(ctx context.Context, start esdb.AllPosition, next int64, fn func(eventstore.RecordedEvent) error) error {
	var sub *esdb.Subscription
	var c *esdb.Client
	err := s.retry(ctx, "subscribe", func(client *esdb.Client) error {
		var err error
		c = client
		sub, err = c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: start, Filter: &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: s.prefixes}})
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if invalidPosition(err) {
			return errNotAnEvent
		}
		return wrap("subscribe", err)
	}
	defer sub.Close()
	delivered := false
	for {
		ev := sub.Recv()
		switch {
		case ev.EventAppeared != nil:
			e := ev.EventAppeared.Event
			if e == nil || int64(e.Position.Commit) < next || strings.HasPrefix(e.EventType, "$") {
				continue
			}
			r, err := s.toRecorded(e)
			if err != nil {
				return err
			}
			delivered = true
			if err := fn(r); err != nil {
				return err
			}
		case ev.SubscriptionDropped != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !delivered && invalidPosition(ev.SubscriptionDropped.Error) {
				return errNotAnEvent
			}
			if _, dead := transient(ev.SubscriptionDropped.Error); dead {
				s.renew(c) // the caller subscribes again, with a working client
			}
			return wrap("subscription dropped", ev.SubscriptionDropped.Error)
		}
	}
}

// lastRecord is the position of the log's last record, of any stream, or
// nil for an empty log.
func (s *Store) lastRecord(ctx context.Context) (*esdb.Position, error) {
	var last *esdb.Position
	err := s.retry(ctx, "read all", func(c *esdb.Client) error {
		_, err := s.page(ctx, c, esdb.Backwards, esdb.End{}, 1, func(e *esdb.RecordedEvent) (bool, error) {
			p := e.Position
			last = &p
			return true, nil
		})
		return err
	})
	return last, wrap("read all", err)
}

var _ eventstore.Store = (*Store)(nil)
