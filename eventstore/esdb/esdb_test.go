package esdb_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	esdbclient "github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/esdb"
	"github.com/ehcledger/ehcledger/eventstore/esdb/fakeserver"
	"github.com/ehcledger/ehcledger/eventstore/storetest"
	"github.com/google/uuid"
)

var esdbCaps = storetest.Capabilities{DensePositions: false, GlobalIDs: false}

// openFake starts the in-process stand-in and opens the adapter on it,
// through the real client library.
func openFake(t *testing.T) (*fakeserver.Server, *esdb.Store) {
	t.Helper()
	srv := fakeserver.StartTest(t)
	s, err := esdb.Open(srv.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	return srv, s
}

// TestConformance runs the store conformance suite through the real client
// library: against the in-process fake server always, and against a real
// KurrentDB when EHC_ESDB_URL names one.
func TestConformance(t *testing.T) {
	t.Run("esdb-fake", func(t *testing.T) {
		storetest.Run(t, esdbCaps, func(t *testing.T) eventstore.Store {
			_, s := openFake(t)
			return s
		})
	})
	t.Run("esdb-real", func(t *testing.T) {
		url := os.Getenv("EHC_ESDB_URL")
		if url == "" {
			t.Skip("EHC_ESDB_URL is not set: no real KurrentDB to test against")
		}
		// A real server keeps its data: the suite writes each case to streams
		// of their own and reads the log from where it stood before the case.
		storetest.Run(t, esdbCaps, func(t *testing.T) eventstore.Store {
			s, err := esdb.Open(url)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}

func TestDiscoverConnectionStringUsesGossip(t *testing.T) {
	srv, err := fakeserver.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	s, err := esdb.Open("esdb+discover://" + srv.Addr() + "?tls=false")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := storetest.NewEvent(t, "a", `{}`)
	if _, err := s.Append(context.Background(), "case-1", eventstore.NoStream, []eventstore.EventData{e}); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableServerIsAClearError(t *testing.T) {
	s, err := esdb.Open("esdb://127.0.0.1:1?tls=false&maxDiscoverAttempts=1&discoveryInterval=10&gossipTimeout=1&retryFor=0s")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id, _ := uuid.NewV7()
	_, err = s.Append(context.Background(), "case-1", eventstore.Any, []eventstore.EventData{{ID: id, Type: "a", Payload: []byte(`{}`)}})
	if domain.ErrorCode(err) != domain.Unavailable || !strings.Contains(err.Error(), "has not answered") {
		t.Fatalf("error %v, want unavailable", err)
	}
}

func TestBadConnectionStringNamesTheField(t *testing.T) {
	if _, err := esdb.Open("postgres://nowhere"); err == nil || !strings.Contains(err.Error(), "store") {
		t.Fatalf("error %v", err)
	}
}

// selfSigned makes a certificate for 127.0.0.1 and writes its PEM to a file.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "eventstoredb-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, _ := x509.MarshalECPrivateKey(key)
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, path
}

func TestTLSSettingsOfTheConnectionString(t *testing.T) {
	cert, caFile := selfSigned(t)
	srv, err := fakeserver.StartTLS("127.0.0.1:0", cert)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	appendOne := func(conn string) error {
		s, err := esdb.Open(conn)
		if err != nil {
			return err
		}
		defer s.Close()
		_, err = s.Append(context.Background(), "case-tls", eventstore.Any, []eventstore.EventData{storetest.NewEvent(t, "a", `{}`)})
		return err
	}
	t.Run("trusted CA file connects", func(t *testing.T) {
		if err := appendOne("esdb://" + srv.Addr() + "?tls=true&tlsCAFile=" + caFile); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("unverified certificate is refused unless verification is off", func(t *testing.T) {
		err := appendOne("esdb://" + srv.Addr() + "?tls=true&maxDiscoverAttempts=1&discoveryInterval=10")
		if err == nil {
			t.Fatal("connected to a server with an unknown certificate")
		}
		if domain.ErrorCode(err) == domain.Unavailable {
			t.Fatalf("an untrusted certificate was retried as an outage: %v", err)
		}
		if err := appendOne("esdb://" + srv.Addr() + "?tls=true&tlsVerifyCert=false"); err != nil {
			t.Fatal(err)
		}
	})
}

// TestReadsStartAtEventsAndAskForTheLeader: reads of $all page through more
// than one server page, starting only at positions the server accepts,
// whether the caller gives an event's own position or the one after it;
// and every call carries the requires-leader header, which the client
// library fails to send.
func TestReadsStartAtEventsAndAskForTheLeader(t *testing.T) {
	ctx := context.Background()
	srv, s := openFake(t)
	defer s.Close()
	const n = 5000
	for i := 0; i < n; i += 100 {
		var evs []eventstore.EventData
		for j := 0; j < 100; j++ {
			evs = append(evs, storetest.NewEvent(t, "paged", `{}`))
		}
		if _, err := s.Append(ctx, "case-paged-"+strconv.Itoa(i%7), eventstore.Any, evs); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.ReadAll(ctx, 1, 2*n)
	if err != nil || len(all) != n {
		t.Fatalf("%d events read of %d: %v", len(all), n, err)
	}
	for i := 1; i < n; i++ {
		if all[i].Position <= all[i-1].Position {
			t.Fatalf("position %d after %d", all[i].Position, all[i-1].Position)
		}
	}
	t.Run("a read from an event's own position includes it", func(t *testing.T) {
		got, err := s.ReadAll(ctx, all[3000].Position, 10)
		if err != nil || len(got) != 10 || got[0].ID != all[3000].ID {
			t.Fatalf("%d %v", len(got), err)
		}
	})
	t.Run("a read from the position after an event starts at the next", func(t *testing.T) {
		got, err := s.ReadAll(ctx, all[3000].Position+1, 10)
		if err != nil || len(got) != 10 || got[0].ID != all[3001].ID {
			t.Fatalf("%d %v", len(got), err)
		}
	})
	t.Run("a subscription from either catches up from the right event", func(t *testing.T) {
		for _, c := range []struct {
			from int64
			want int
		}{{all[4990].Position, 4990}, {all[4990].Position + 1, 4991}, {all[n-1].Position + 1, n}} {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			first := make(chan eventstore.RecordedEvent, 1)
			done := make(chan error, 1)
			go func() {
				done <- s.Subscribe(sctx, c.from, func(e eventstore.RecordedEvent) error {
					select {
					case first <- e:
					default:
					}
					return nil
				})
			}()
			if c.want == n {
				// Nothing stored from there: the next append arrives live.
				time.Sleep(200 * time.Millisecond)
				if _, err := s.Append(ctx, "case-paged-live", eventstore.Any, []eventstore.EventData{storetest.NewEvent(t, "live", `{}`)}); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case e := <-first:
				if c.want < n && e.ID != all[c.want].ID || c.want == n && e.Type != "live" {
					t.Errorf("from %d: first event %s at %d", c.from, e.Type, e.Position)
				}
			case <-sctx.Done():
				t.Errorf("from %d: nothing arrived", c.from)
			}
			cancel()
			<-done
		}
	})
	t.Run("every call asked for the leader", func(t *testing.T) {
		for method, c := range srv.LeaderHeaders() {
			if strings.Contains(method, "ServerFeatures") || strings.Contains(method, "Gossip") {
				continue // the client's own discovery, not ours
			}
			if c[1] > 0 {
				t.Errorf("%s: %d call(s) without requires-leader, %d with", method, c[1], c[0])
			}
			if c[0] == 0 {
				t.Errorf("%s: no call asked for the leader", method)
			}
		}
	})
}

// TestHeadLooksPastOtherStreams: the head is our latest event even when
// more than a page of other applications' events follow it.
func TestHeadLooksPastOtherStreams(t *testing.T) {
	ctx := context.Background()
	srv, s := openFake(t)
	defer s.Close()
	res, err := s.Append(ctx, "case-head-1", eventstore.NoStream, []eventstore.EventData{storetest.NewEvent(t, "ours", `{}`)})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := esdbclient.ParseConnectionString(srv.ConnectionString())
	if err != nil {
		t.Fatal(err)
	}
	conf.Logger = esdbclient.NoopLogging()
	c, err := esdbclient.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 3000; i += 500 {
		var evs []esdbclient.EventData
		for j := 0; j < 500; j++ {
			evs = append(evs, esdbclient.EventData{EventType: "theirs", ContentType: esdbclient.ContentTypeJson, Data: []byte(`{}`)})
		}
		if _, err := c.AppendToStream(ctx, "another-application", esdbclient.AppendToStreamOptions{}, evs...); err != nil {
			t.Fatal(err)
		}
	}
	if head, err := s.Head(ctx); err != nil || head != res.Position {
		t.Fatalf("head %d (%v), want our event's %d", head, err, res.Position)
	}

	t.Run("a subscription catches up past them on the server", func(t *testing.T) {
		for i := range 3 {
			if _, err := s.Append(ctx, "case-head-2", eventstore.Any, []eventstore.EventData{storetest.NewEvent(t, "ours-after", `{"i":`+strconv.Itoa(i)+`}`)}); err != nil {
				t.Fatal(err)
			}
		}
		before := srv.EventsSent()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var got []string
		err := s.Subscribe(sctx, res.Position+1, func(e eventstore.RecordedEvent) error {
			if got = append(got, e.Type); len(got) == 3 {
				cancel()
			}
			return nil
		})
		if len(got) != 3 || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, ended with %v", got, err)
		}
		// Our three and at most a page read to find the first: the 3,000
		// events of the other application stay on the server.
		if sent := srv.EventsSent() - before; sent > 100 {
			t.Fatalf("the server sent %d events to catch up on 3", sent)
		}
	})
}

// TestAFailoverLosesNothing: while a cluster elects a leader, calls wait
// and then succeed; an append whose answer was lost is recorded once; a
// follower sends the client to the leader; and a server that does not come
// back within the retry budget is reported as unavailable, not as a fault.
func TestAFailoverLosesNothing(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.StartTest(t)
	follower, err := srv.AddNode("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Discovery gives up after three quick attempts, as a client does
	// during an election, so the adapter must replace the client.
	// Several seeds after esdb+discover://, as KurrentDB's documentation
	// writes a cluster: the client alone never connects to them.
	s, err := esdb.Open("esdb+discover://" + srv.Addr() + "," + follower +
		"?tls=false&maxDiscoverAttempts=3&discoveryInterval=20&retryFor=20s")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendOne := func(t *testing.T, stream string, e eventstore.EventData) (eventstore.AppendResult, error) {
		t.Helper()
		return s.Append(ctx, stream, eventstore.Any, []eventstore.EventData{e})
	}
	count := func(t *testing.T, stream string) int {
		t.Helper()
		evs, err := s.ReadStream(ctx, stream, 1)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	if _, err := appendOne(t, "case-failover", storetest.NewEvent(t, "before", `{}`)); err != nil {
		t.Fatal(err)
	}

	t.Run("an append during an election waits for the new leader", func(t *testing.T) {
		srv.Elect(-1)
		go func() {
			time.Sleep(1500 * time.Millisecond)
			srv.Elect(1)
		}()
		began := time.Now()
		if _, err := appendOne(t, "case-failover", storetest.NewEvent(t, "during", `{}`)); err != nil {
			t.Fatalf("append during a 1.5 s election: %v", err)
		}
		if waited := time.Since(began); waited < time.Second {
			t.Fatalf("the append returned after %s, before the election ended", waited)
		}
		if n := count(t, "case-failover"); n != 2 {
			t.Fatalf("%d events, want 2", n)
		}
	})

	t.Run("an append whose answer was lost is recorded once", func(t *testing.T) {
		srv.LoseReplies(1)
		e := storetest.NewEvent(t, "lost-reply", `{}`)
		if _, err := appendOne(t, "case-failover", e); err != nil {
			t.Fatal(err)
		}
		if n := count(t, "case-failover"); n != 3 {
			t.Fatalf("%d events, want 3: the retry of a written append was written again", n)
		}
	})

	t.Run("a follower sends the client to the leader", func(t *testing.T) {
		// Connected to the old leader, now a follower, without gossip.
		direct, err := esdb.Open("esdb://" + srv.Addr() + "?tls=false&retryFor=10s")
		if err != nil {
			t.Fatal(err)
		}
		defer direct.Close()
		evs, err := direct.ReadStream(ctx, "case-failover", 1)
		if err != nil || len(evs) != 3 {
			t.Fatalf("%d events read through a follower: %v", len(evs), err)
		}
	})

	t.Run("a server that stays away is unavailable, and nothing is half-written", func(t *testing.T) {
		brief, err := esdb.Open("esdb://" + follower + "?tls=false&retryFor=1s")
		if err != nil {
			t.Fatal(err)
		}
		defer brief.Close()
		srv.Elect(-1)
		defer srv.Elect(1)
		e := storetest.NewEvent(t, "refused", `{}`)
		_, err = brief.Append(ctx, "case-failover", eventstore.Any, []eventstore.EventData{e})
		if domain.ErrorCode(err) != domain.Unavailable || !strings.Contains(err.Error(), "has not answered for") {
			t.Fatalf("error %v (code %s), want unavailable", err, domain.ErrorCode(err))
		}
		// A caller's deadline ends the retries before retryFor does, with
		// the same answer, so that a request is answered in its time.
		tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		began := time.Now()
		_, err = s.Append(tctx, "case-failover", eventstore.Any, []eventstore.EventData{e})
		if domain.ErrorCode(err) != domain.Unavailable || time.Since(began) > 600*time.Millisecond {
			t.Fatalf("with a 0.5 s deadline and a 20 s budget: %v after %s", err, time.Since(began))
		}
		srv.Elect(1)
		if n := count(t, "case-failover"); n != 3 {
			t.Fatalf("%d events, want 3", n)
		}
		// Sent again once the cluster is back, it is recorded once.
		if _, err := brief.Append(ctx, "case-failover", eventstore.Any, []eventstore.EventData{e}); err != nil {
			t.Fatal(err)
		}
		if n := count(t, "case-failover"); n != 4 {
			t.Fatalf("%d events, want 4", n)
		}
	})
}

func TestTheRetrySettingIsChecked(t *testing.T) {
	for _, bad := range []string{"esdb://127.0.0.1:1?retryFor=soon", "esdb://127.0.0.1:1?tls=false&retryFor=-1s", "esdb://127.0.0.1:1?retryFor=2h"} {
		if _, err := esdb.Open(bad); domain.ErrorCode(err) != domain.Invalid || !strings.Contains(err.Error(), "retryFor") {
			t.Errorf("%s: error %v, want one naming retryFor", bad, err)
		}
	}
}

func TestCallsAfterCloseFailAtOnce(t *testing.T) {
	srv := fakeserver.StartTest(t)
	s, err := esdb.Open(srv.ConnectionString() + "&retryFor=10s")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	began := time.Now()
	_, err = s.ReadStream(context.Background(), "case-closed", 1)
	if err == nil || domain.ErrorCode(err) == domain.Unavailable || time.Since(began) > time.Second {
		t.Fatalf("a read after Close: %v (code %s) after %s", err, domain.ErrorCode(err), time.Since(began))
	}
}

// TestANodeThatNeverAnswersCostsSecondsNotMinutes: a call waits, deaf to
// its context, while the client discovers the server; against a node that
// accepts connections and never answers, the client's own discovery
// settings made that 50 s. The adapter bounds it unless told otherwise.
func TestANodeThatNeverAnswersCostsSecondsNotMinutes(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	s, err := esdb.Open("esdb://" + lis.Addr().String() + "?tls=false")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err = s.ReadStream(ctx, "case-silent", 1)
	if took := time.Since(began); err == nil || took > 10*time.Second {
		t.Fatalf("a read with a 0.5 s deadline from a silent node: %v after %s", err, took)
	}
}
