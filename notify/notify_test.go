package notify_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/notify"
	"github.com/golang-jwt/jwt/v5"
)

// relay is a mail relay run in the test: it speaks enough SMTP for
// net/smtp (without STARTTLS) and keeps what it was sent.
type relay struct {
	addr string
	mu   sync.Mutex
	from []string
	to   []string
	data []string
}

func startRelay(t *testing.T) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r := &relay{addr: ln.Addr().String()}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go r.serve(conn)
		}
	}()
	return r
}

func (r *relay) serve(conn net.Conn) {
	defer conn.Close()
	in := bufio.NewReader(conn)
	say := func(s string) { conn.Write([]byte(s + "\r\n")) }
	say("220 relay.test ESMTP")
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-relay.test")
			say("250 8BITMIME")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			r.mu.Lock()
			r.from = append(r.from, strings.TrimSpace(line[10:]))
			r.mu.Unlock()
			say("250 OK")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			r.mu.Lock()
			r.to = append(r.to, strings.TrimSpace(line[8:]))
			r.mu.Unlock()
			say("250 OK")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := in.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			r.mu.Lock()
			r.data = append(r.data, b.String())
			r.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 OK")
		}
	}
}

func TestSMTPSendsOneMessageToOneAddress(t *testing.T) {
	r := startRelay(t)
	s := notify.SMTP{Addr: r.addr, From: "ehc@la.example", AllowPlain: true, Timeout: 5 * time.Second}
	err := s.Send(context.Background(), notify.Message{To: "sam@example.org", Subject: "Your case\r\nBcc: evil@example.org", Body: "Open https://ehc.example/portal/join/c1/abc\nThanks"})
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.to) != 1 || r.to[0] != "<sam@example.org>" || !strings.HasPrefix(r.from[0], "<ehc@la.example>") {
		t.Fatalf("envelope from %v to %v", r.from, r.to)
	}
	msg := r.data[0]
	if !strings.Contains(msg, "To: sam@example.org\r\n") || !strings.Contains(msg, "https://ehc.example/portal/join/c1/abc\r\nThanks") {
		t.Fatalf("message:\n%s", msg)
	}
	if strings.Contains(msg, "\r\nBcc:") {
		t.Fatalf("a subject's line break made a header:\n%s", msg)
	}
	t.Run("a relay without STARTTLS is refused unless allowed", func(t *testing.T) {
		s.AllowPlain = false
		if err := s.Send(context.Background(), notify.Message{To: "sam@example.org", Subject: "s", Body: "b"}); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("an address with more in it is refused before anything is sent", func(t *testing.T) {
		for _, to := range []string{"sam@example.org\r\nBcc: x@y.z", "a@b.c, d@e.f", "not an address", ""} {
			if err := s.Send(context.Background(), notify.Message{To: to, Subject: "s", Body: "b"}); err == nil {
				t.Errorf("%q was accepted", to)
			}
		}
	})
}

func TestGOVUKNotifyIsAskedWithASignedToken(t *testing.T) {
	const service, secret = "26785a09-ab16-4eb0-8407-a37497a57506", "3d844edf-8d35-48ac-975b-e847b4f122b0"
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	var got map[string]any
	var status = http.StatusCreated
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := jwt.Parse(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), func(*jwt.Token) (any, error) { return []byte(secret), nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now }))
		if err != nil || r.URL.Path != "/v2/notifications/email" {
			http.Error(w, `{"errors":[{"error":"AuthError"}]}`, http.StatusForbidden)
			return
		}
		if iss, _ := tok.Claims.GetIssuer(); iss != service {
			http.Error(w, "wrong service", http.StatusForbidden)
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(status)
		w.Write([]byte(`{"id":"x"}`))
	}))
	defer srv.Close()
	n := notify.GOVUKNotify{APIKey: "ehcledger-" + service + "-" + secret, TemplateID: "t-1", BaseURL: srv.URL, Now: func() time.Time { return now }}
	if err := n.Send(context.Background(), notify.Message{To: "sam@example.org", Subject: "Your case", Body: "Open the link"}); err != nil {
		t.Fatal(err)
	}
	pers, _ := got["personalisation"].(map[string]any)
	if got["email_address"] != "sam@example.org" || got["template_id"] != "t-1" || pers["body"] != "Open the link" || pers["subject"] != "Your case" {
		t.Fatalf("Notify was sent %v", got)
	}
	t.Run("a refusal by Notify is an error with its status", func(t *testing.T) {
		status = http.StatusBadRequest
		if err := n.Send(context.Background(), notify.Message{To: "sam@example.org", Subject: "s", Body: "b"}); err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a malformed key is refused before anything is sent", func(t *testing.T) {
		bad := notify.GOVUKNotify{APIKey: "short", BaseURL: srv.URL}
		if err := bad.Send(context.Background(), notify.Message{To: "sam@example.org"}); err == nil {
			t.Fatal("a short key was used")
		}
	})
}

func TestTheLogNotifierWritesTheMessageToTheLog(t *testing.T) {
	var buf bytes.Buffer
	l := notify.Log{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	if err := l.Send(context.Background(), notify.Message{To: "sam@example.org", Subject: "s", Body: "https://x/portal/join/c1/abc"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "https://x/portal/join/c1/abc") || !strings.Contains(buf.String(), "DEVELOPMENT") {
		t.Fatalf("log: %s", buf.String())
	}
}
