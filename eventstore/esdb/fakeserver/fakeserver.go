// Package fakeserver is an in-process EventStoreDB/KurrentDB server that
// speaks the real gRPC protocol of the client module's public protos
// (streams: read, append, delete, tombstone; server features; gossip), with
// events held in memory. It exists so that the esdb adapter is tested through
// the real client library on every test run, on machines that have no
// KurrentDB server. It implements the parts of the protocol the client calls,
// with the server's semantics for expected revisions, idempotent appends,
// reads, catch-up subscriptions with filters, and deletion.
//
// Its append checks are the server's, not EHC Ledger's (eventstore.CheckAppend):
// the server recognises a retry only at the same expected revision, knows an
// "exists" expectation and soft deletes. The esdb adapter applies our rules
// on top of the server's, and only a fake that answers as the server does
// tests that it does so.
package fakeserver

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// positionStep spaces the positions of consecutive events, as a real log's
// byte offsets are spaced, so that clients never rely on dense positions.
const positionStep = 97

// MaxAppendSize is the server's default largest append, in bytes of the
// events' data and metadata and twice their types' lengths (KurrentDB's
// MaxAppendSize, 1 MiB, over Event.SizeOnDisk).
const MaxAppendSize = 1 << 20

type record struct {
	id       uuid.UUID
	stream   string
	revision uint64
	position uint64
	meta     map[string]string
	custom   []byte
	data     []byte
}

type stream struct {
	events         []*record
	truncateBefore uint64 // a soft delete hides the events before this revision
	deleted        bool
	tombstoned     bool
}

// Server is the fake server. Its zero value is not usable; call Start.
type Server struct {
	api.UnimplementedStreamsServer
	serverfeatures.UnimplementedServerFeaturesServer

	mu      sync.Mutex
	adding  sync.Mutex // held while a node is added
	streams map[string]*stream
	all     []*record
	changed chan struct{}

	tls *tls.Config
	// nodes are the cluster's members, all serving this one log; the
	// first is the leader until Elect says otherwise.
	nodes []*node
	// leaderNode indexes the leader in nodes; -1 while an election is
	// held, when every node answers "Server Is Not Ready".
	leaderNode int
	// lostReplies counts appends still to be written and then answered
	// with a dropped connection, as when a leader fails after its commit.
	lostReplies int
	// sent counts the events sent by reads and subscriptions.
	sent int
	// wrongVersions counts appends refused for a wrong expected revision:
	// how often writers raced for one stream.
	wrongVersions int

	// leader counts, by gRPC method, the calls that carried the
	// requires-leader header and those that did not.
	leader map[string][2]int
}

// LeaderHeaders returns, for each gRPC method called, how many calls sent
// the requires-leader header and how many did not: a client that does not
// send it may be served stale reads by a follower after a failover.
func (s *Server) LeaderHeaders() map[string][2]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][2]int{}
	for k, v := range s.leader {
		out[k] = v
	}
	return out
}

// noteLeader records whether a call's incoming metadata asks for the leader.
func (s *Server) noteLeader(ctx context.Context, method string) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.leader[method]
	if v := md.Get("requires-leader"); len(v) > 0 && v[0] == "true" {
		c[0]++
	} else {
		c[1]++
	}
	s.leader[method] = c
}

// StartTest starts a stand-in on a free loopback port for a test, and
// stops it when the test ends.
func StartTest(t testing.TB) *Server {
	t.Helper()
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// node is one member of the cluster: a listener and its gRPC server.
type node struct {
	lis  net.Listener
	grpc *grpc.Server
}

// Start listens on addr (use "127.0.0.1:0") and serves until Stop.
func Start(addr string) (*Server, error) { return start(addr, nil) }

// StartTLS is Start with TLS, for testing the client's TLS settings.
func StartTLS(addr string, cert tls.Certificate) (*Server, error) {
	return start(addr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
}

func start(addr string, tlsConf *tls.Config) (*Server, error) {
	s := &Server{streams: map[string]*stream{}, changed: make(chan struct{}), leader: map[string][2]int{}, tls: tlsConf}
	if _, err := s.AddNode(addr); err != nil {
		return nil, err
	}
	return s, nil
}

// AddNode starts another member of the cluster on addr, a follower serving
// the same log, and returns its address. Followers serve reads that do not
// ask for the leader and answer the others as the server does: not-leader,
// naming the leader, so that the client reconnects to it.
func (s *Server) AddNode(addr string) (string, error) {
	s.adding.Lock() // one node at a time: each knows its index
	defer s.adding.Unlock()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	i := len(s.nodes)
	s.mu.Unlock()
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(17 << 20),
		// The server lets clients ping as often as their keep-alive
		// setting says (10 s by default, and on idle connections); gRPC's
		// default policy would end a quiet subscription with
		// too_many_pings after its second ping.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 100 * time.Millisecond, PermitWithoutStream: true}),
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := s.gate(ctx, i, info.FullMethod, func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) }); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := s.gate(ss.Context(), i, info.FullMethod, ss.SetTrailer); err != nil {
				return err
			}
			return h(srv, ss)
		})}
	if s.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tls)))
	}
	n := &node{lis: lis, grpc: grpc.NewServer(opts...)}
	api.RegisterStreamsServer(n.grpc, s)
	gossip.RegisterGossipServer(n.grpc, gossipService{s: s})
	serverfeatures.RegisterServerFeaturesServer(n.grpc, s)
	s.mu.Lock()
	s.nodes = append(s.nodes, n)
	s.mu.Unlock()
	go n.grpc.Serve(lis)
	return lis.Addr().String(), nil
}

// Elect makes the node at index i (in the order the nodes were started)
// the leader; -1 holds an election, during which every node answers every
// call "Server Is Not Ready" and gossip names no leader, as in the seconds
// a real cluster takes to elect one.
func (s *Server) Elect(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < -1 || i >= len(s.nodes) {
		panic(fmt.Sprintf("fakeserver: Elect(%d) with %d nodes", i, len(s.nodes)))
	}
	s.leaderNode = i
}

// LoseReplies makes the next n appends be written and then answered with
// a dropped connection (Unavailable), as when a leader fails between its
// commit and its reply: only a client that recognises its own retry
// records them once.
func (s *Server) LoseReplies(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lostReplies = n
}

// EventsSent is how many events reads and subscriptions have sent: what
// crossed the wire.
func (s *Server) EventsSent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// WrongExpectedVersions is how many appends were refused for a wrong
// expected revision: the races between writers of one stream.
func (s *Server) WrongExpectedVersions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wrongVersions
}

// gate answers a call as the cluster's state requires before it is served:
// not ready during an election, not-leader from a follower for a call that
// asks for the leader. Gossip and server features are always answered.
func (s *Server) gate(ctx context.Context, i int, method string, trailer func(metadata.MD)) error {
	s.noteLeader(ctx, method)
	if !strings.HasPrefix(method, "/event_store.client.streams.") {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	requires := len(md.Get("requires-leader")) > 0 && md.Get("requires-leader")[0] == "true"
	s.mu.Lock()
	leader := s.leaderNode
	var leaderAddr string
	if leader >= 0 {
		leaderAddr = s.nodes[leader].lis.Addr().String()
	}
	s.mu.Unlock()
	switch {
	case leader < 0:
		return status.Error(codes.Unavailable, "Server Is Not Ready")
	case requires && leader != i:
		host, port, _ := net.SplitHostPort(leaderAddr)
		trailer(metadata.Pairs("exception", "not-leader", "leader-endpoint-host", host, "leader-endpoint-port", port))
		return status.Error(codes.NotFound, "Leader info available")
	}
	return nil
}

// Addr is the address the first node listens on.
func (s *Server) Addr() string { return s.nodes[0].lis.Addr().String() }

// ConnectionString is an esdb:// connection string for the first node.
func (s *Server) ConnectionString() string {
	return "esdb://" + s.Addr() + "?tls=false"
}

// Stop stops every node, ending open subscriptions.
func (s *Server) Stop() {
	s.mu.Lock()
	nodes := s.nodes
	s.mu.Unlock()
	for _, n := range nodes {
		n.grpc.Stop()
	}
}

// GetSupportedMethods implements the server-features service.
func (s *Server) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	m := &serverfeatures.SupportedMethods{EventStoreServerVersion: "24.10.0"}
	for _, name := range []string{"read", "append", "batchappend", "delete", "tombstone"} {
		m.Methods = append(m.Methods, &serverfeatures.SupportedMethod{ServiceName: "event_store.client.streams.streams", MethodName: name})
	}
	return m, nil
}

// gossipService answers gossip for esdb+discover:// connection strings.
type gossipService struct {
	gossip.UnimplementedGossipServer
	s *Server
}

// Read implements gossip: every node, the leader as such, or none while
// an election is held.
func (g gossipService) Read(_ context.Context, _ *shared.Empty) (*gossip.ClusterInfo, error) {
	g.s.mu.Lock()
	defer g.s.mu.Unlock()
	info := &gossip.ClusterInfo{}
	for i, n := range g.s.nodes {
		host, portText, _ := net.SplitHostPort(n.lis.Addr().String())
		port, _ := strconv.Atoi(portText)
		most, least := split(uuid.New())
		state := gossip.MemberInfo_Follower
		switch {
		case g.s.leaderNode < 0:
			state = gossip.MemberInfo_Unknown
		case g.s.leaderNode == i:
			state = gossip.MemberInfo_Leader
		}
		info.Members = append(info.Members, &gossip.MemberInfo{
			InstanceId: &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{MostSignificantBits: most, LeastSignificantBits: least}}},
			TimeStamp:  time.Now().UnixNano(), State: state, IsAlive: true,
			HttpEndPoint: &gossip.EndPoint{Address: host, Port: uint32(port)},
		})
	}
	return info, nil
}

func split(id uuid.UUID) (int64, int64) {
	return int64(binary.BigEndian.Uint64(id[:8])), int64(binary.BigEndian.Uint64(id[8:]))
}

func parseID(u *shared.UUID) (uuid.UUID, error) {
	if st := u.GetStructured(); st != nil {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], uint64(st.MostSignificantBits))
		binary.BigEndian.PutUint64(b[8:], uint64(st.LeastSignificantBits))
		return uuid.FromBytes(b[:])
	}
	return uuid.Parse(u.GetString_())
}

// expectation is an expected stream revision: any, no stream, exists, or exact.
type expectation struct {
	kind     string // "any", "no_stream", "exists", "revision"
	revision uint64
}

// expect reads an expected revision from a call's options, which offer
// the same four choices under getters of their own.
func expect(noStream, exists, any bool, revision uint64) expectation {
	switch {
	case noStream:
		return expectation{kind: "no_stream"}
	case exists:
		return expectation{kind: "exists"}
	case any:
		return expectation{kind: "any"}
	}
	return expectation{kind: "revision", revision: revision}
}

func (s *Server) check(st *stream, exp expectation) bool {
	exists := st != nil && len(st.events) > 0 && !st.deleted
	switch exp.kind {
	case "no_stream":
		return !exists
	case "exists":
		return exists
	case "revision":
		return st != nil && len(st.events) > 0 && uint64(len(st.events)-1) == exp.revision
	}
	return true
}

// refusal is the server's refusal of a call: its status, the trailers
// with which the classic calls name the exception, and the detail the
// batch append packs into its status instead (clients of the batch append
// read the detail, and fail on a status without one).
type refusal struct {
	code    codes.Code
	message string
	trailer metadata.MD
	detail  proto.Message
}

// Error implements error, for the calls that answer with a status.
func (r *refusal) Error() string { return r.message }

// GRPCStatus is the status the classic calls answer with.
func (r *refusal) GRPCStatus() *status.Status { return status.New(r.code, r.message) }

// send sets the trailers on a classic call and returns its error.
func (r *refusal) send(ctx context.Context) error {
	_ = grpc.SetTrailer(ctx, r.trailer)
	return status.Error(r.code, r.message)
}

// batch is the refusal as a batch append's result.
func (r *refusal) batch() *rpcstatus.Status {
	out := &rpcstatus.Status{Code: int32(r.code), Message: r.message}
	if r.detail != nil {
		// One detail: KurrentDB's status.proto has a single Any where
		// google.rpc.Status has a repeated one, encoded alike for one.
		if d, err := anypb.New(r.detail); err == nil {
			out.Details = []*anypb.Any{d}
		}
	}
	return out
}

// streamDeleted is the server's refusal of a tombstoned stream.
func streamDeleted(name string) *refusal {
	return &refusal{code: codes.FailedPrecondition, message: fmt.Sprintf("Event stream '%s' is deleted.", name),
		trailer: metadata.Pairs("exception", "stream-deleted", "stream-name", name),
		detail:  &shared.StreamDeleted{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}}}
}

// tooLarge is the server's refusal of an append above MaxAppendSize.
func tooLarge() *refusal {
	return &refusal{code: codes.InvalidArgument, message: fmt.Sprintf("Maximum Append Size of %d Exceeded.", MaxAppendSize),
		trailer: metadata.Pairs("exception", "maximum-append-size-exceeded", "maximum-append-size", strconv.Itoa(MaxAppendSize)),
		detail:  &shared.MaximumAppendSizeExceeded{MaxAppendSize: MaxAppendSize}}
}

// Append implements the streams append: options first, then the events.
func (s *Server) Append(srv api.Streams_AppendServer) error {
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "the first append message must carry the options")
	}
	name := string(opts.GetStreamIdentifier().GetStreamName())
	exp := expect(opts.GetNoStream() != nil, opts.GetStreamExists() != nil, opts.GetAny() != nil, opts.GetRevision())
	var proposed []*api.AppendReq_ProposedMessage
	for {
		m, err := srv.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if pm := m.GetProposedMessage(); pm != nil {
			proposed = append(proposed, pm)
		}
	}
	resp, r := s.append(name, exp, proposed)
	if r != nil {
		return r.send(srv.Context())
	}
	return srv.SendAndClose(resp)
}

// append appends as the server does, answering a wrong expected revision
// as the classic append's response does, and refusing otherwise.
func (s *Server) append(name string, exp expectation, proposed []*api.AppendReq_ProposedMessage) (*api.AppendResp, *refusal) {
	size := 0
	for _, pm := range proposed {
		// Event.SizeOnDisk: the type counts twice (UTF-16), then data and
		// metadata.
		size += 2*len(pm.GetMetadata()["type"]) + len(pm.GetData()) + len(pm.GetCustomMetadata())
	}
	if size > MaxAppendSize {
		// As the server refuses it: InvalidArgument, with the exception and
		// the limit in the trailers (or the detail).
		return nil, tooLarge()
	}
	ids := make([]uuid.UUID, len(proposed))
	for i, pm := range proposed {
		id, err := parseID(pm.GetId())
		if err != nil {
			return nil, &refusal{code: codes.InvalidArgument, message: "bad event id"}
		}
		ids[i] = id
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[name]
	if st != nil && st.tombstoned {
		return nil, streamDeleted(name)
	}
	// Idempotency as the server does it: events written again under "any"
	// or "exists" whose first ID the stream holds are a retry. When the
	// rest follow it, the retry succeeds without writing; when they do
	// not, the server refuses the append as a wrong expected version (the
	// server looks the IDs up among recent writes; the stand-in remembers
	// every write).
	if (exp.kind == "any" || exp.kind == "exists") && st != nil && len(ids) > 0 {
		for i, r := range st.events {
			if r.id != ids[0] {
				continue
			}
			same := i+len(ids) <= len(st.events)
			for j := 1; same && j < len(ids); j++ {
				same = st.events[i+j].id == ids[j]
			}
			if same {
				return success(st.events[i+len(ids)-1]), nil
			}
			return wrongVersionResp(st, exp), nil
		}
	}
	// The same events written again at the same expected revision succeed
	// without being written twice.
	if exp.kind == "revision" || exp.kind == "no_stream" {
		start := uint64(0)
		if exp.kind == "revision" {
			start = exp.revision + 1
		}
		if st != nil && len(proposed) > 0 && start+uint64(len(ids)) <= uint64(len(st.events)) {
			same := true
			for i, id := range ids {
				if st.events[start+uint64(i)].id != id {
					same = false
					break
				}
			}
			if same {
				last := st.events[start+uint64(len(ids))-1]
				return success(last), nil
			}
		}
	}
	if !s.check(st, exp) {
		s.wrongVersions++
		return wrongVersionResp(st, exp), nil
	}
	if st == nil {
		st = &stream{}
		s.streams[name] = st
	}
	st.deleted = false
	created := strconv.FormatInt(time.Now().UnixNano()/100, 10)
	var last *record
	for i, pm := range proposed {
		meta := map[string]string{"created": created}
		for k, v := range pm.GetMetadata() {
			meta[k] = v
		}
		last = &record{id: ids[i], stream: name, revision: uint64(len(st.events)),
			position: uint64(len(s.all)+1) * positionStep, meta: meta, custom: pm.GetCustomMetadata(), data: pm.GetData()}
		st.events = append(st.events, last)
		s.all = append(s.all, last)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	if s.lostReplies > 0 {
		s.lostReplies--
		return nil, &refusal{code: codes.Unavailable, message: "connection lost after the append was written"}
	}
	if last == nil {
		return &api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
			CurrentRevisionOption: &api.AppendResp_Success_NoStream{NoStream: &shared.Empty{}},
			PositionOption:        &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}}}}, nil
	}
	return success(last), nil
}

// wrongVersionResp is the classic append's answer to a wrong expected
// revision.
func wrongVersionResp(st *stream, exp expectation) *api.AppendResp {
	w := &api.AppendResp_WrongExpectedVersion{}
	if st == nil || len(st.events) == 0 {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
	} else {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(len(st.events) - 1)}
	}
	switch exp.kind {
	case "no_stream":
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case "exists":
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
	case "any":
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
	default:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: exp.revision}
	}
	return &api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
}

func success(last *record) *api.AppendResp {
	return &api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
		CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: last.revision},
		PositionOption: &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{
			CommitPosition: last.position, PreparePosition: last.position}},
	}}}
}

// Delete implements a soft delete: reads find no stream until it is
// written again, continuing its revisions. As on the server, the expected
// revision is checked, and a stream that does not exist is deleted
// without complaint when none is expected.
func (s *Server) Delete(ctx context.Context, req *api.DeleteReq) (*api.DeleteResp, error) {
	o := req.GetOptions()
	name := string(o.GetStreamIdentifier().GetStreamName())
	exp := expect(o.GetNoStream() != nil, o.GetStreamExists() != nil, o.GetAny() != nil, o.GetRevision())
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[name]
	if st != nil && st.tombstoned {
		return nil, streamDeleted(name).send(ctx)
	}
	if !s.check(st, exp) {
		return nil, deleteConflict(name, st, exp).send(ctx)
	}
	if st != nil {
		st.deleted, st.truncateBefore = true, uint64(len(st.events))
	}
	p := s.logEnd()
	return &api.DeleteResp{PositionOption: &api.DeleteResp_Position_{Position: &api.DeleteResp_Position{CommitPosition: p, PreparePosition: p}}}, nil
}

// Tombstone deletes a stream for good, checking the expected revision as
// Delete does.
func (s *Server) Tombstone(ctx context.Context, req *api.TombstoneReq) (*api.TombstoneResp, error) {
	o := req.GetOptions()
	name := string(o.GetStreamIdentifier().GetStreamName())
	exp := expect(o.GetNoStream() != nil, o.GetStreamExists() != nil, o.GetAny() != nil, o.GetRevision())
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[name]
	if st != nil && st.tombstoned {
		return nil, streamDeleted(name).send(ctx)
	}
	if !s.check(st, exp) {
		return nil, deleteConflict(name, st, exp).send(ctx)
	}
	if st == nil {
		st = &stream{}
		s.streams[name] = st
	}
	st.tombstoned = true
	p := s.logEnd()
	return &api.TombstoneResp{PositionOption: &api.TombstoneResp_Position_{Position: &api.TombstoneResp_Position{CommitPosition: p, PreparePosition: p}}}, nil
}

// deleteConflict is the server's refusal of a delete or tombstone at a
// wrong expected revision: the versions travel in the trailers, as numbers
// (-1 no stream, -2 any, -4 stream exists).
func deleteConflict(name string, st *stream, exp expectation) *refusal {
	expected := strconv.FormatUint(exp.revision, 10)
	switch exp.kind {
	case "no_stream":
		expected = "-1"
	case "any":
		expected = "-2"
	case "exists":
		expected = "-4"
	}
	actual := "-1"
	if st != nil && len(st.events) > 0 {
		actual = strconv.Itoa(len(st.events) - 1)
	}
	return &refusal{code: codes.FailedPrecondition,
		message: fmt.Sprintf("Append failed due to WrongExpectedVersion. Stream: %s, Expected version: %s, Actual version: %s", name, expected, actual),
		trailer: metadata.Pairs("exception", "wrong-expected-version", "stream-name", name, "expected-version", expected, "actual-version", actual)}
}

// errInvalidPosition is the server's answer to a read or subscription of
// $all from a position that is not an event's (KurrentDB PRs #3991, #4128).
var errInvalidPosition = status.Error(codes.InvalidArgument, "Trying to read from an invalid position.")

// eventBoundary reports whether a position is an event's own, or the end
// of the log: the only places a read of $all may start. Commit and prepare
// positions are equal for events written without explicit transactions.
func (s *Server) eventBoundary(commit, prepare uint64) bool {
	if commit != prepare {
		return false
	}
	if commit == s.logEnd() {
		return true
	}
	i := commit/positionStep - 1
	return commit%positionStep == 0 && commit > 0 && i < uint64(len(s.all)) && s.all[i].position == commit
}

// logEnd is the position after the last event, which the server reports for
// a deletion (the client reads it). Callers hold s.mu.
func (s *Server) logEnd() uint64 { return uint64(len(s.all)+1) * positionStep }

// flagsOf returns the flags at the start of a group's options, "(?"
// already read: the letters before ")" or ":".
func flagsOf(rest string) string {
	i := 0
	for i < len(rest) && (rest[i] == '-' || 'a' <= rest[i] && rest[i] <= 'z' || 'A' <= rest[i] && rest[i] <= 'Z') {
		i++
	}
	if i < len(rest) && (rest[i] == ':' || rest[i] == ')') {
		return rest[:i]
	}
	return ""
}

// dotNetOnly reports whether a .NET regular expression means otherwise
// than Go's: it holds \d, \w, \s or \b (or their negations, which match
// Unicode in .NET and ASCII in Go), a class subtraction ("-[" inside a
// class), a POSIX class, or what only Go knows (\Q, \x{...}, \pN, the U
// flag).
func dotNetOnly(expr string) bool {
	inClass := false
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case c == '\\' && i+1 < len(expr):
			next := expr[i+1]
			// \Q...\E and \x{...} are Go's alone; \pN without braces too.
			if strings.IndexByte("dwsbDWSBQ", next) >= 0 ||
				next == 'x' && i+2 < len(expr) && expr[i+2] == '{' ||
				(next == 'p' || next == 'P') && (i+2 >= len(expr) || expr[i+2] != '{') {
				return true
			}
			i++
		case c == '[' && inClass && i+1 < len(expr) && expr[i+1] == ':':
			return true // [[:digit:]]: a POSIX class in Go, a literal set in .NET
		case c == '(' && strings.HasPrefix(expr[i:], "(?") && strings.ContainsRune(flagsOf(expr[i+2:]), 'U'):
			return true // ungreedy: Go's flag alone
		case c == '[' && !inClass:
			inClass = true
			if i+1 < len(expr) && expr[i+1] == ']' {
				i++ // a "]" first in a class is a member
			}
		case c == ']':
			inClass = false
		case c == '-' && inClass && i+1 < len(expr) && expr[i+1] == '[':
			return true
		}
	}
	return false
}

// filter selects events of $all by stream name or event type.
type filter struct {
	byType   bool
	prefixes []string
	re       *regexp.Regexp
}

func newFilter(f *api.ReadReq_Options_FilterOptions) (*filter, error) {
	if f == nil {
		return nil, nil
	}
	out := &filter{}
	expr := f.GetStreamIdentifier()
	if expr == nil {
		out.byType = true
		expr = f.GetEventType()
	}
	out.prefixes = expr.GetPrefix()
	if r := expr.GetRegex(); r != "" {
		// The server matches .NET regular expressions. Go's differ: \d, \w,
		// \s and \b match only ASCII here and any Unicode letter or digit
		// there, and a class subtraction ([a-z-[aeiou]]) means something
		// else. Refuse those rather than match other streams than the
		// server would; what Go cannot compile at all (lookarounds,
		// backreferences) is refused too.
		if dotNetOnly(r) {
			return nil, status.Errorf(codes.InvalidArgument, "the stand-in cannot match the filter %q as the server's .NET regular expressions would", r)
		}
		re, err := regexp.Compile(r)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "the stand-in cannot match the filter %q: %v", r, err)
		}
		out.re = re
	}
	return out, nil
}

func (f *filter) match(r *record) bool {
	if f == nil {
		return true
	}
	v := r.stream
	if f.byType {
		v = r.meta["type"]
	}
	if f.re != nil && !f.re.MatchString(v) {
		return false
	}
	if len(f.prefixes) == 0 {
		return true
	}
	for _, p := range f.prefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

func toProto(r *record, structured bool) *api.ReadResp {
	id := &shared.UUID{Value: &shared.UUID_String_{String_: r.id.String()}}
	if structured {
		most, least := split(r.id)
		id = &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{MostSignificantBits: most, LeastSignificantBits: least}}}
	}
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{Id: id, StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(r.stream)},
			StreamRevision: r.revision, PreparePosition: r.position, CommitPosition: r.position,
			Metadata: r.meta, CustomMetadata: r.custom, Data: r.data},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: r.position},
	}}}
}

// Read implements reads and subscriptions of a stream or of $all.
func (s *Server) Read(req *api.ReadReq, srv api.Streams_ReadServer) error {
	o := req.GetOptions()
	structured := o.GetUuidOption().GetStructured() != nil
	f, err := newFilter(o.GetFilter())
	if err != nil {
		return err
	}
	backwards := o.GetReadDirection() == api.ReadReq_Options_Backwards
	if o.GetSubscription() != nil {
		return s.subscribe(o, f, structured, srv)
	}
	count := o.GetCount()
	s.mu.Lock()
	var out []*record
	if so := o.GetStream(); so != nil {
		name := string(so.GetStreamIdentifier().GetStreamName())
		st := s.streams[name]
		if st != nil && st.tombstoned {
			s.mu.Unlock()
			return streamDeleted(name).send(srv.Context())
		}
		if st == nil || st.deleted || len(st.events) == 0 {
			s.mu.Unlock()
			return srv.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
				StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}}}})
		}
		evs := st.events[st.truncateBefore:]
		out = pick(evs, backwards, count, func(r *record) bool {
			switch {
			case so.GetStart() != nil, so.GetEnd() != nil:
				return true
			case backwards:
				return r.revision <= so.GetRevision()
			default:
				return r.revision >= so.GetRevision()
			}
		})
	} else {
		ao := o.GetAll()
		if p := ao.GetPosition(); p != nil && !s.eventBoundary(p.GetCommitPosition(), p.GetPreparePosition()) {
			s.mu.Unlock()
			return errInvalidPosition
		}
		out = pick(s.all, backwards, count, func(r *record) bool {
			if !f.match(r) {
				return false
			}
			switch {
			case ao.GetStart() != nil, ao.GetEnd() != nil:
				return true
			case backwards:
				return r.position < ao.GetPosition().GetCommitPosition()
			default:
				return r.position >= ao.GetPosition().GetCommitPosition()
			}
		})
	}
	s.sent += len(out)
	s.mu.Unlock()
	for _, r := range out {
		if err := srv.Send(toProto(r, structured)); err != nil {
			return err
		}
	}
	return nil
}

func pick(evs []*record, backwards bool, count uint64, keep func(*record) bool) []*record {
	var out []*record
	n := len(evs)
	for i := 0; i < n && uint64(len(out)) < count; i++ {
		r := evs[i]
		if backwards {
			r = evs[n-1-i]
		}
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// subscribe sends the confirmation, the events after the starting point,
// a caught-up marker, then new events as they are appended.
func (s *Server) subscribe(o *api.ReadReq_Options, f *filter, structured bool, srv api.Streams_ReadServer) error {
	if err := srv.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{SubscriptionId: uuid.NewString()}}}); err != nil {
		return err
	}
	so, ao := o.GetStream(), o.GetAll()
	name := string(so.GetStreamIdentifier().GetStreamName())
	// next is the index in s.all (for $all) or in the stream of the next event to send.
	s.mu.Lock()
	next := 0
	switch {
	case so != nil && so.GetEnd() != nil:
		if st := s.streams[name]; st != nil {
			next = len(st.events)
		}
	case so != nil && so.GetStart() == nil:
		next = int(so.GetRevision()) + 1
	case ao != nil && ao.GetEnd() != nil:
		next = len(s.all)
	case ao != nil && ao.GetPosition() != nil:
		if !s.eventBoundary(ao.GetPosition().GetCommitPosition(), ao.GetPosition().GetPreparePosition()) {
			s.mu.Unlock()
			return errInvalidPosition
		}
		p := ao.GetPosition().GetCommitPosition()
		for next < len(s.all) && s.all[next].position <= p {
			next++
		}
	}
	s.mu.Unlock()
	// A filtered subscription of $all sends a checkpoint each time it has
	// looked at its interval's worth of events, matching or not, so that a
	// client whose events are rare still learns how far the server read.
	interval, scanned := 0, 0
	if f != nil && ao != nil {
		interval = checkpointInterval(o.GetFilter())
	}
	caughtUp := false
	for {
		s.mu.Lock()
		var batch []*api.ReadResp
		if so != nil {
			if st := s.streams[name]; st != nil && next < len(st.events) {
				for _, r := range st.events[next:] {
					batch = append(batch, toProto(r, structured))
				}
				next = len(st.events)
			}
		} else if next < len(s.all) {
			for _, r := range s.all[next:] {
				if f.match(r) {
					batch = append(batch, toProto(r, structured))
				}
				if scanned++; interval > 0 && scanned == interval {
					scanned = 0
					batch = append(batch, &api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: &api.ReadResp_Checkpoint{
						CommitPosition: r.position, PreparePosition: r.position}}})
				}
			}
			next = len(s.all)
		}
		wait := s.changed
		for _, m := range batch {
			if m.GetEvent() != nil {
				s.sent++
			}
		}
		s.mu.Unlock()
		for _, m := range batch {
			if err := srv.Send(m); err != nil {
				return err
			}
		}
		if !caughtUp {
			caughtUp = true
			if err := srv.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		select {
		case <-srv.Context().Done():
			return srv.Context().Err()
		case <-wait:
		}
	}
}

// checkpointInterval is how many events a filtered subscription looks at
// between checkpoints: the search window (32 when the client leaves it to
// the server) times the client's multiplier.
func checkpointInterval(f *api.ReadReq_Options_FilterOptions) int {
	window := int(f.GetMax())
	if window == 0 {
		window = 32
	}
	return window * max(int(f.GetCheckpointIntervalMultiplier()), 1)
}

// BatchAppend implements the batched append: requests carry a correlation
// ID, options on their first chunk and proposed messages; the chunk marked
// final is appended and answered. The v4 client does not call it, but the
// server advertises it, so the fake answers it like the server.
func (s *Server) BatchAppend(srv api.Streams_BatchAppendServer) error {
	type pending struct {
		opts     *api.BatchAppendReq_Options
		messages []*api.AppendReq_ProposedMessage
	}
	open := map[string]*pending{}
	for {
		req, err := srv.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		key := req.GetCorrelationId().String()
		p := open[key]
		if p == nil {
			p = &pending{}
			open[key] = p
		}
		if req.GetOptions() != nil {
			p.opts = req.GetOptions()
		}
		for _, m := range req.GetProposedMessages() {
			p.messages = append(p.messages, &api.AppendReq_ProposedMessage{Id: m.GetId(), Metadata: m.GetMetadata(), CustomMetadata: m.GetCustomMetadata(), Data: m.GetData()})
		}
		if !req.GetIsFinal() {
			continue
		}
		delete(open, key)
		resp := &api.BatchAppendResp{CorrelationId: req.GetCorrelationId()}
		if p.opts == nil {
			resp.Result = &api.BatchAppendResp_Error{Error: rpcStatus(codes.InvalidArgument, "the first chunk must carry the options")}
			if err := srv.Send(resp); err != nil {
				return err
			}
			continue
		}
		resp.StreamIdentifier = p.opts.GetStreamIdentifier()
		o := p.opts
		exp := expect(o.GetNoStream() != nil, o.GetStreamExists() != nil, o.GetAny() != nil, o.GetStreamPosition())
		r, refused := s.append(string(p.opts.GetStreamIdentifier().GetStreamName()), exp, p.messages)
		switch {
		case refused != nil:
			resp.Result = &api.BatchAppendResp_Error{Error: refused.batch()}
		case r.GetWrongExpectedVersion() != nil:
			resp.Result = &api.BatchAppendResp_Error{Error: wrongVersion(r.GetWrongExpectedVersion()).batch()}
		default:
			ok := r.GetSuccess()
			pos := ok.GetPosition()
			resp.Result = &api.BatchAppendResp_Success_{Success: &api.BatchAppendResp_Success{
				CurrentRevisionOption: &api.BatchAppendResp_Success_CurrentRevision{CurrentRevision: ok.GetCurrentRevision()},
				PositionOption: &api.BatchAppendResp_Success_Position{Position: &shared.AllStreamPosition{
					CommitPosition: pos.GetCommitPosition(), PreparePosition: pos.GetPreparePosition()}},
			}}
		}
		if err := srv.Send(resp); err != nil {
			return err
		}
	}
}

// wrongVersion is the batch append's refusal of a wrong expected
// revision, with the revisions in its detail.
func wrongVersion(w *api.AppendResp_WrongExpectedVersion) *refusal {
	d := &shared.WrongExpectedVersion{}
	if w.GetCurrentNoStream() != nil {
		d.CurrentStreamRevisionOption = &shared.WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &emptypb.Empty{}}
	} else {
		d.CurrentStreamRevisionOption = &shared.WrongExpectedVersion_CurrentStreamRevision{CurrentStreamRevision: w.GetCurrentRevision()}
	}
	switch {
	case w.GetExpectedNoStream() != nil:
		d.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &emptypb.Empty{}}
	case w.GetExpectedStreamExists() != nil:
		d.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &emptypb.Empty{}}
	case w.GetExpectedAny() != nil:
		d.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedAny{ExpectedAny: &emptypb.Empty{}}
	default:
		d.ExpectedStreamPositionOption = &shared.WrongExpectedVersion_ExpectedStreamPosition{ExpectedStreamPosition: w.GetExpectedRevision()}
	}
	return &refusal{code: codes.FailedPrecondition, message: "Append failed due to WrongExpectedVersion.", detail: d}
}

func rpcStatus(code codes.Code, msg string) *rpcstatus.Status {
	return &rpcstatus.Status{Code: int32(code), Message: msg}
}
