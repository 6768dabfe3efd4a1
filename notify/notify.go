// Package notify sends the messages EHC Ledger sends to people outside it:
// the link of an invitation to a case's portal. One interface, Notifier,
// and three ways to send: Log (development: the message goes to the
// server's log), SMTP (an LA's mail relay) and GOVUKNotify (the government's
// GOV.UK Notify service, which many LAs already use).
package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/smtp"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Message is one message to one person.
type Message struct {
	// To is the person's email address.
	To string
	// Subject and Body are the message, in plain text.
	Subject, Body string
}

// Notifier sends messages.
type Notifier interface {
	Send(ctx context.Context, m Message) error
}

// check refuses a message that could not be sent safely: an address with
// more than an address in it (a header injection), or an empty one.
func check(m Message) error {
	local, domain, ok := strings.Cut(m.To, "@")
	if !ok || local == "" || !strings.Contains(domain, ".") || strings.ContainsAny(m.To, " \t\r\n<>,;\"") || len(m.To) > 254 {
		return fmt.Errorf("notify: %q is not an email address", m.To)
	}
	return nil
}

// Log writes each message, link and all, to a log: for development and
// demonstrations only, since whoever reads the log can use the link.
type Log struct {
	Logger *slog.Logger
}

// Send implements Notifier.
func (l Log) Send(_ context.Context, m Message) error {
	if err := check(m); err != nil {
		return err
	}
	l.Logger.Warn("DEVELOPMENT NOTIFIER: message not sent, written here", "to", m.To, "subject", m.Subject, "body", m.Body)
	return nil
}

// SMTP sends messages through a mail relay. It uses STARTTLS whenever the
// relay offers it, and refuses to send in the clear unless AllowPlain is
// set (a relay on the same host).
type SMTP struct {
	// Addr is the relay's host:port, such as smtp.example.gov.uk:587.
	Addr string
	// From is the sender's address.
	From string
	// Username and Password, when set, sign in with PLAIN (over TLS only).
	Username, Password string
	// AllowPlain lets a relay without STARTTLS be used.
	AllowPlain bool
	// Timeout bounds one message; 30 s when zero.
	Timeout time.Duration
	// TLS configures STARTTLS; the relay's host name is checked when nil.
	TLS *tls.Config
}

// Send implements Notifier.
func (s SMTP) Send(ctx context.Context, m Message) error {
	if err := check(m); err != nil {
		return err
	}
	if err := check(Message{To: s.From}); err != nil {
		return fmt.Errorf("notify: the sender: %w", err)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("notify: reaching the mail relay: %w", err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("notify: the relay's address %q: %w", s.Addr, err)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("notify: the mail relay: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		cfg := s.TLS
		if cfg == nil {
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(cfg); err != nil {
			return fmt.Errorf("notify: STARTTLS with the mail relay: %w", err)
		}
	} else if !s.AllowPlain {
		return errors.New("notify: the mail relay does not offer STARTTLS, and sending in the clear is not allowed")
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("notify: signing in to the mail relay: %w", err)
		}
	}
	if err := c.Mail(s.From); err != nil {
		return fmt.Errorf("notify: the relay refused the sender: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("notify: the relay refused the recipient: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if _, err := w.Write(message(s.From, m)); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("notify: the relay did not accept the message: %w", err)
	}
	return c.Quit()
}

// message is an RFC 5322 message in plain UTF-8 text; header values carry
// no line breaks (a subject's are removed) and the subject is MIME-encoded.
func message(from string, m Message) []byte {
	id := make([]byte, 12)
	rand.Read(id)
	_, fromDomain, _ := strings.Cut(from, "@")
	subject := strings.NewReplacer("\r", " ", "\n", " ").Replace(m.Subject)
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\n", from, m.To,
		mime.QEncoding.Encode("utf-8", subject), time.Now().UTC().Format(time.RFC1123Z), hex.EncodeToString(id), fromDomain)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	b.WriteString(body)
	b.WriteString("\r\n")
	return b.Bytes()
}

// GOVUKNotify sends messages through GOV.UK Notify's email API, with a
// template whose subject is ((subject)) and whose body is ((body)).
type GOVUKNotify struct {
	// APIKey is the service's API key: its name, the service ID and the
	// secret, joined by hyphens, as Notify gives it.
	APIKey string
	// TemplateID is the email template's ID.
	TemplateID string
	// BaseURL is Notify's API; https://api.notifications.service.gov.uk
	// when empty.
	BaseURL string
	// Client reaches Notify; one with a 30 s timeout when nil.
	Client *http.Client
	// Now is the clock the request's token is issued by; time.Now when nil.
	Now func() time.Time
}

// notifyAPI is GOV.UK Notify's API.
const notifyAPI = "https://api.notifications.service.gov.uk"

// keyParts splits a Notify API key into its service ID and secret: the
// last two UUIDs (36 characters each) of the key.
func keyParts(key string) (service, secret string, err error) {
	if len(key) < 74 || key[len(key)-37] != '-' {
		return "", "", errors.New("notify: the GOV.UK Notify API key is not in the form name-serviceID-secret")
	}
	return key[len(key)-73 : len(key)-37], key[len(key)-36:], nil
}

// Send implements Notifier.
func (n GOVUKNotify) Send(ctx context.Context, m Message) error {
	if err := check(m); err != nil {
		return err
	}
	service, secret, err := keyParts(n.APIKey)
	if err != nil {
		return err
	}
	now := time.Now
	if n.Now != nil {
		now = n.Now
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": service, "iat": now().Unix()}).SignedString([]byte(secret))
	if err != nil {
		return fmt.Errorf("notify: signing the request: %w", err)
	}
	body, err := json.Marshal(map[string]any{"email_address": m.To, "template_id": n.TemplateID,
		"personalisation": map[string]string{"subject": m.Subject, "body": m.Body}})
	if err != nil {
		return err
	}
	base := n.BaseURL
	if base == "" {
		base = notifyAPI
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/v2/notifications/email", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	client := n.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("notify: reaching GOV.UK Notify: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return fmt.Errorf("notify: GOV.UK Notify answered %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// Discard sends nothing: for replaying a recorded history (a scenario),
// where the people it invited are not to be written to again.
type Discard struct{}

// Send implements Notifier.
func (Discard) Send(context.Context, Message) error { return nil }
