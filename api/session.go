package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"sort"
	"sync"
	"time"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/domain"
)

// Sessions of the web pages: a browser that has signed in holds an opaque,
// random session ID in a cookie; everything else (who it is, its role and
// LAs, when it ends, its anti-forgery token) stays on the server, so that a
// session can be ended here (sign-out, revocation, expiry) and a stolen
// cookie is worth nothing afterwards. The store is in memory and bounded: a
// restart signs everyone out.

// SessionConfig bounds the sessions a server keeps.
type SessionConfig struct {
	// MaxAge is the longest a session lasts from sign-in, however active.
	MaxAge time.Duration
	// Idle ends a session not used for this long.
	Idle time.Duration
	// Max is how many sessions the server keeps at once; a sign-in beyond
	// it is refused (429) until some end.
	Max int
	// PerSubject is how many sessions one person may hold at once; a new
	// one ends their oldest.
	PerSubject int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// The default session bounds: a working day, an hour idle, room for every
// member of staff of many LAs, and a few browsers each.
const (
	DefaultSessionMaxAge     = 8 * time.Hour
	DefaultSessionIdle       = time.Hour
	DefaultMaxSessions       = 10000
	DefaultSessionsPerPerson = 5
)

// Sessions is the server-side store of signed-in browsers.
type Sessions struct {
	cfg SessionConfig
	mu  sync.Mutex
	// byKey holds sessions by the SHA-256 of their ID, so that the IDs
	// themselves are kept nowhere on the server.
	byKey map[[32]byte]*session
}

// session is one signed-in browser.
type session struct {
	principal auth.Principal
	// csrf is the anti-forgery token of the session's forms (sign-out).
	csrf                      string
	created, lastSeen, expiry time.Time
}

// NewSessions makes a store with the given bounds; zero fields take their
// defaults.
func NewSessions(c SessionConfig) *Sessions {
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultSessionMaxAge
	}
	if c.Idle <= 0 {
		c.Idle = DefaultSessionIdle
	}
	if c.Max <= 0 {
		c.Max = DefaultMaxSessions
	}
	if c.PerSubject <= 0 {
		c.PerSubject = DefaultSessionsPerPerson
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Sessions{cfg: c, byKey: map[[32]byte]*session{}}
}

func sessionKey(id string) [32]byte { return sha256.Sum256([]byte(id)) }

// Start opens a session for p that ends no later than notAfter (zero: the
// store's maximum age) and returns its ID and anti-forgery token.
func (s *Sessions) Start(p auth.Principal, notAfter time.Time) (id, csrf string, err error) {
	id, csrf = auth.RandomToken(), auth.RandomToken()
	now := s.cfg.Now()
	expiry := now.Add(s.cfg.MaxAge)
	if !notAfter.IsZero() && notAfter.Before(expiry) {
		expiry = notAfter
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	// A person's oldest sessions make way for their new one.
	var theirs []*session
	var keys [][32]byte
	for k, x := range s.byKey {
		if x.principal.Subject == p.Subject {
			theirs, keys = append(theirs, x), append(keys, k)
		}
	}
	if len(theirs) >= s.cfg.PerSubject {
		idx := make([]int, len(theirs))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool { return theirs[idx[a]].created.Before(theirs[idx[b]].created) })
		for _, i := range idx[:len(theirs)-s.cfg.PerSubject+1] {
			delete(s.byKey, keys[i])
		}
	}
	if len(s.byKey) >= s.cfg.Max {
		return "", "", &domain.Error{Code: domain.TooMany, Message: "too many people are signed in; try again later"}
	}
	s.byKey[sessionKey(id)] = &session{principal: p, csrf: csrf, created: now, lastSeen: now, expiry: expiry}
	return id, csrf, nil
}

// sweep forgets ended sessions. The caller holds the lock.
func (s *Sessions) sweep(now time.Time) {
	for k, x := range s.byKey {
		if s.ended(x, now) {
			delete(s.byKey, k)
		}
	}
}

func (s *Sessions) ended(x *session, now time.Time) bool {
	return !now.Before(x.expiry) || now.Sub(x.lastSeen) >= s.cfg.Idle
}

// Lookup returns the principal and anti-forgery token of a live session,
// and marks it used; an unknown or ended session is not found.
func (s *Sessions) Lookup(id string) (auth.Principal, string, bool) {
	if id == "" {
		return auth.Principal{}, "", false
	}
	now := s.cfg.Now()
	k := sessionKey(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	x, ok := s.byKey[k]
	if !ok {
		return auth.Principal{}, "", false
	}
	if s.ended(x, now) {
		delete(s.byKey, k)
		return auth.Principal{}, "", false
	}
	x.lastSeen = now
	return x.principal, x.csrf, true
}

// End ends a session (signing out) and reports whether it was live.
func (s *Sessions) End(id string) bool {
	k := sessionKey(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byKey[k]
	delete(s.byKey, k)
	return ok
}

// Revoke ends every session of subject for which within holds (the
// revoker's reach) and returns how many it ended.
func (s *Sessions) Revoke(subject string, within func(auth.Principal) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, x := range s.byKey {
		if x.principal.Subject == subject && within(x.principal) {
			delete(s.byKey, k)
			n++
		}
	}
	return n
}

// Len is how many sessions the store holds, ended ones not yet swept
// included.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byKey)
}

// pendingLogins holds the sign-ins under way with the identity provider,
// by their state, until the browser comes back or they expire. Anyone may
// start a sign-in, so the store is bounded: when full, the oldest makes way.
type pendingLogins struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	now func() time.Time
	m   map[string]pendingLogin
}

type pendingLogin struct {
	login   auth.Login
	next    string
	created time.Time
}

func newPendingLogins(max int, ttl time.Duration, now func() time.Time) *pendingLogins {
	return &pendingLogins{max: max, ttl: ttl, now: now, m: map[string]pendingLogin{}}
}

func (p *pendingLogins) add(l auth.Login, next string) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, x := range p.m {
		if now.Sub(x.created) >= p.ttl {
			delete(p.m, k)
		}
	}
	for len(p.m) >= p.max {
		oldest := ""
		for k, x := range p.m {
			if oldest == "" || x.created.Before(p.m[oldest].created) {
				oldest = k
			}
		}
		delete(p.m, oldest)
	}
	p.m[l.State] = pendingLogin{login: l, next: next, created: now}
}

// take removes and returns the sign-in of state, if it is under way: each
// state is good for one return only.
func (p *pendingLogins) take(state string) (pendingLogin, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	x, ok := p.m[state]
	delete(p.m, state)
	if !ok || p.now().Sub(x.created) >= p.ttl {
		return pendingLogin{}, false
	}
	return x, true
}

// sameToken compares two secrets in constant time.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
