package fakeserver_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/ehcledger/ehcledger/eventstore/esdb/fakeserver"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func start(t *testing.T) (*fakeserver.Server, *esdb.Client) {
	t.Helper()
	srv := fakeserver.StartTest(t)
	conf, err := esdb.ParseConnectionString(srv.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

func event(t string) esdb.EventData {
	return esdb.EventData{EventType: t, ContentType: esdb.ContentTypeJson, Data: []byte(`{}`)}
}

func count(t *testing.T, c *esdb.Client, stream string) (int, error) {
	t.Helper()
	rs, err := c.ReadStream(context.Background(), stream, esdb.ReadStreamOptions{}, 100)
	if err != nil {
		return 0, err
	}
	defer rs.Close()
	n := 0
	for {
		if _, err := rs.Recv(); err != nil {
			var e *esdb.Error
			if errors.As(err, &e) {
				return n, err
			}
			return n, nil
		}
		n++
	}
}

func TestDeleteAndTombstoneAsTheServerDoes(t *testing.T) {
	_, c := start(t)
	ctx := context.Background()
	if _, err := c.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{}, event("a"), event("b")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteStream(ctx, "s", esdb.DeleteStreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := count(t, c, "s"); err == nil {
		t.Fatal("a deleted stream is still read")
	}
	r, err := c.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{}, event("c"))
	if err != nil {
		t.Fatalf("writing after a delete: %v", err)
	}
	if r.NextExpectedVersion != 2 {
		t.Fatalf("writing after a delete: %+v %v (revisions continue)", r, err)
	}
	if n, err := count(t, c, "s"); err != nil || n != 1 {
		t.Fatalf("after the delete the stream reads %d events (%v), want 1", n, err)
	}
	if _, err := c.TombstoneStream(ctx, "s", esdb.TombstoneStreamOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.AppendToStream(ctx, "s", esdb.AppendToStreamOptions{}, event("d"))
	var e *esdb.Error
	if !errors.As(err, &e) || e.Code() != esdb.ErrorCodeStreamDeleted {
		t.Fatalf("writing to a tombstoned stream gave %v", err)
	}
}

func TestBatchAppendOverTheWire(t *testing.T) {
	srv, c := start(t)
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := api.NewStreamsClient(conn).BatchAppend(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	corr := &shared.UUID{Value: &shared.UUID_String_{String_: uuid.NewString()}}
	msg := func() *api.BatchAppendReq_ProposedMessage {
		return &api.BatchAppendReq_ProposedMessage{Id: &shared.UUID{Value: &shared.UUID_String_{String_: uuid.NewString()}},
			Metadata: map[string]string{"type": "x", "content-type": "application/json"}, Data: []byte(`{}`)}
	}
	opts := &api.BatchAppendReq_Options{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte("b")},
		ExpectedStreamPosition: &api.BatchAppendReq_Options_NoStream{}}
	if err := stream.Send(&api.BatchAppendReq{CorrelationId: corr, Options: opts, ProposedMessages: []*api.BatchAppendReq_ProposedMessage{msg()}}); err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&api.BatchAppendReq{CorrelationId: corr, ProposedMessages: []*api.BatchAppendReq_ProposedMessage{msg()}, IsFinal: true}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetSuccess() == nil || resp.GetSuccess().GetCurrentRevision() != 1 {
		t.Fatalf("batch append answered %v", resp)
	}
	if n, err := count(t, c, "b"); err != nil || n != 2 {
		t.Fatalf("the batch wrote %d events (%v), want 2", n, err)
	}
	// The same expectation again is now wrong.
	if err := stream.Send(&api.BatchAppendReq{CorrelationId: corr, Options: opts, ProposedMessages: []*api.BatchAppendReq_ProposedMessage{msg()}, IsFinal: true}); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.GetError() == nil {
		t.Fatalf("a wrong expected version answered %v, %v", resp, err)
	}
}

// TestTheStandInRefusesWhatTheServerRefuses: a read of $all from a
// position that is not an event's, and an append above the maximum append
// size, answered with the server's status, message and trailers.
func TestTheStandInRefusesWhatTheServerRefuses(t *testing.T) {
	ctx := context.Background()
	srv, c := start(t)
	wr, err := c.AppendToStream(ctx, "s-1", esdb.AppendToStreamOptions{}, event("a"), event("b"))
	if err != nil {
		t.Fatal(err)
	}
	p := esdb.Position{Commit: wr.CommitPosition, Prepare: wr.PreparePosition}
	read := func(from esdb.AllPosition) error {
		rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{From: from}, 10)
		if err != nil {
			return err
		}
		defer rs.Close()
		for {
			if _, err := rs.Recv(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	}
	t.Run("a read from an event's own position is served", func(t *testing.T) {
		if err := read(p); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a read from inside an event is refused as invalid", func(t *testing.T) {
		err := read(esdb.Position{Commit: p.Commit + 1, Prepare: p.Prepare + 1})
		if err == nil || !strings.Contains(err.Error(), "Trying to read from an invalid position.") {
			t.Fatalf("%v", err)
		}
	})
	t.Run("an append above 1 MiB is refused with the server's trailers", func(t *testing.T) {
		conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var trailer metadata.MD
		stream, err := api.NewStreamsClient(conn).Append(ctx, grpc.Trailer(&trailer))
		if err != nil {
			t.Fatal(err)
		}
		opts := &api.AppendReq{Content: &api.AppendReq_Options_{Options: &api.AppendReq_Options{
			StreamIdentifier:       &shared.StreamIdentifier{StreamName: []byte("s-2")},
			ExpectedStreamRevision: &api.AppendReq_Options_Any{Any: &shared.Empty{}}}}}
		big := &api.AppendReq{Content: &api.AppendReq_ProposedMessage_{ProposedMessage: &api.AppendReq_ProposedMessage{
			Id:       &shared.UUID{Value: &shared.UUID_String_{String_: uuid.NewString()}},
			Metadata: map[string]string{"type": "big", "content-type": "application/json"},
			Data:     make([]byte, fakeserver.MaxAppendSize+1)}}}
		if err := stream.Send(opts); err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(big); err != nil {
			t.Fatal(err)
		}
		_, err = stream.CloseAndRecv()
		st, _ := status.FromError(err)
		if st.Code() != codes.InvalidArgument || st.Message() != "Maximum Append Size of 1048576 Exceeded." ||
			strings.Join(trailer.Get("exception"), "") != "maximum-append-size-exceeded" || strings.Join(trailer.Get("maximum-append-size"), "") != "1048576" {
			t.Fatalf("%v, trailers %v", err, trailer)
		}
	})
}

// TestAQuietSubscriptionOutlivesKeepalivePings: the client pings every 10
// seconds; gRPC's default server policy answers the third ping of a quiet
// connection with too_many_pings, ending the subscription after about 31
// seconds, where the server lets it live. It waits 35 seconds, alongside
// the other tests.
func TestAQuietSubscriptionOutlivesKeepalivePings(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.End{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := make(chan string, 1)
	go func() {
		for {
			ev := sub.Recv()
			switch {
			case ev.SubscriptionDropped != nil:
				got <- "dropped: " + ev.SubscriptionDropped.Error.Error()
				return
			case ev.EventAppeared != nil && ev.EventAppeared.Event != nil:
				got <- ev.EventAppeared.Event.EventType
				return
			}
		}
	}()
	select {
	case g := <-got:
		t.Fatalf("before anything was appended: %s", g)
	case <-time.After(35 * time.Second):
	}
	if _, err := c.AppendToStream(ctx, "s-quiet", esdb.AppendToStreamOptions{}, event("after-the-quiet")); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "after-the-quiet" {
		t.Fatalf("the subscription ended: %s", g)
	}
}

// TestFilteredSubscriptionsSendCheckpoints: a subscription whose filter
// matches nothing still hears how far the server has read, every search
// window times the checkpoint interval.
func TestFilteredSubscriptionsSendCheckpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, c := start(t)
	sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.Start{},
		Filter: &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"wanted-"}}, MaxSearchWindow: 10, CheckpointInterval: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := range 100 {
		if _, err := c.AppendToStream(ctx, "other-"+strconv.Itoa(i%3), esdb.AppendToStreamOptions{}, event("other")); err != nil {
			t.Fatal(err)
		}
	}
	var last uint64
	for n := 0; n < 5; {
		ev := sub.Recv()
		switch {
		case ev.EventAppeared != nil:
			t.Fatalf("an event of %s passed the filter", ev.EventAppeared.Event.StreamID)
		case ev.SubscriptionDropped != nil:
			t.Fatalf("dropped: %v", ev.SubscriptionDropped.Error)
		case ev.CheckPointReached != nil:
			if ev.CheckPointReached.Commit <= last {
				t.Fatalf("checkpoint %d after %d", ev.CheckPointReached.Commit, last)
			}
			last = ev.CheckPointReached.Commit
			n++
		}
	}
}

// TestAnAppendUnderAnyIsDeduplicatedByItsEventIDs: the same events sent
// again with no expected revision are written once, as the server does.
func TestAnAppendUnderAnyIsDeduplicatedByItsEventIDs(t *testing.T) {
	ctx := context.Background()
	_, c := start(t)
	a, b := event("a"), event("b")
	a.EventID, b.EventID = uuid.New(), uuid.New()
	for range 2 {
		if _, err := c.AppendToStream(ctx, "s-any", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, a, b); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := count(t, c, "s-any"); n != 2 {
		t.Fatalf("%d events after the same append twice: %v", n, err)
	}
	if _, err := c.AppendToStream(ctx, "s-any", esdb.AppendToStreamOptions{ExpectedRevision: esdb.StreamExists{}}, a, b); err != nil {
		t.Fatal(err)
	}
	if n, _ := count(t, c, "s-any"); n != 2 {
		t.Fatalf("%d events after the same append under stream-exists", n)
	}
	// Only its first event stored: not a retry, and refused as the server
	// refuses it, not written again.
	_, err := c.AppendToStream(ctx, "s-any", esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, b, event("c"))
	var e *esdb.Error
	if !errors.As(err, &e) || e.Code() != esdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("an append beginning with a stored event: %v", err)
	}
	if n, _ := count(t, c, "s-any"); n != 2 {
		t.Fatalf("%d events after a refused append", n)
	}
}

// TestStreamFiltersTheServerWouldMatchOtherwiseAreRefused: the server's
// regular expressions are .NET's, whose \d matches any Unicode digit.
func TestStreamFiltersTheServerWouldMatchOtherwiseAreRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, c := start(t)
	if _, err := c.AppendToStream(ctx, "case-12", esdb.AppendToStreamOptions{}, event("a")); err != nil {
		t.Fatal(err)
	}
	first := func(regex string) (string, error) {
		sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: esdb.Start{},
			Filter: &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: regex}})
		if err != nil {
			return "", err
		}
		defer sub.Close()
		for {
			ev := sub.Recv()
			switch {
			case ev.SubscriptionDropped != nil:
				return "", ev.SubscriptionDropped.Error
			case ev.EventAppeared != nil:
				return ev.EventAppeared.Event.StreamID, nil
			}
		}
	}
	for _, regex := range []string{`^case-\d+$`, `^case-\w+`, `^[a-z-[aeiou]]+-12$`, `^case-[[:digit:]]+`, `^case-\pN`,
		`^case-\x{31}`, `(?U)^case-.+`, `^\Qcase-\E`} {
		if _, err := first(regex); err == nil || !strings.Contains(err.Error(), ".NET") {
			t.Errorf("%s: %v, want a refusal", regex, err)
		}
	}
	for _, regex := range []string{`^case-[0-9]+$`, `^case-\\?1`, `^[c]ase-[-0-9]+`, `^(?<Used>case)-\p{N}`, `(?i:CASE)-12`} {
		if got, err := first(regex); err != nil || got != "case-12" {
			t.Errorf("%s: %q %v", regex, got, err)
		}
	}
}
