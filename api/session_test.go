package api_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/api"
	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/domain"
)

// browser is a cookie-keeping client that does not follow redirects, so a
// test sees each step of signing in and out.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is one answer to a browser.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, headers ...string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// cookie returns the cookie the browser holds for path by name, "" if none.
func (b *browser) cookie(path, name string) string {
	b.t.Helper()
	u, _ := url.Parse(b.base + path)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

var hiddenField = regexp.MustCompile(`name="(csrf)" value="([^"]*)"`)

// formToken reads the anti-forgery token of the form on a page.
func formToken(t *testing.T, body string) string {
	t.Helper()
	m := hiddenField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no anti-forgery token on the page:\n%s", body)
	}
	return m[2]
}

// signIn signs a browser in with a development token through the sign-in
// form, and returns the answer to the form.
func (b *browser) signIn(token, next string) page {
	b.t.Helper()
	form := b.do("GET", "/ui/login?next="+url.QueryEscape(next), nil)
	if form.status != 200 {
		b.t.Fatalf("sign-in page: %d", form.status)
	}
	return b.do("POST", "/ui/login", url.Values{"token": {token}, "next": {next}, "csrf": {formToken(b.t, form.body)}})
}

func bareToken(t *testing.T, role auth.Role, las ...string) string {
	t.Helper()
	return strings.TrimPrefix(sign(t, role, las...), "Bearer ")
}

func TestSigningInWithADevelopmentTokenOpensAServerSideSession(t *testing.T) {
	h := newHarness(t)
	b := newBrowser(t, h.srv.URL)
	got := b.signIn(bareToken(t, auth.Caseworker, homeLA), "/ui/worklist?view=overdue")
	if got.status != http.StatusSeeOther || got.header.Get("Location") != "/ui/worklist?view=overdue" {
		t.Fatalf("signing in answered %d to %q: %s", got.status, got.header.Get("Location"), got.body)
	}
	var set *http.Cookie
	for _, c := range (&http.Response{Header: got.header}).Cookies() {
		if c.Name == "ehc_session" {
			set = c
		}
	}
	t.Run("the cookie holds an opaque ID that scripts cannot read, sent on links from other sites only", func(t *testing.T) {
		if set == nil {
			t.Fatalf("no session cookie: %v", got.header["Set-Cookie"])
		}
		if !set.HttpOnly || set.SameSite != http.SameSiteLaxMode || set.Secure || set.Path != "/" {
			t.Fatalf("session cookie %+v", set)
		}
		if strings.Count(set.Value, ".") == 2 || len(set.Value) < 40 {
			t.Fatalf("the session cookie %q is a token or too short to be unguessable", set.Value)
		}
	})
	t.Run("the session opens the pages its role may see", func(t *testing.T) {
		if p := b.do("GET", "/ui/worklist", nil); p.status != 200 || !strings.Contains(p.body, "Signed in as t-caseworker (caseworker)") {
			t.Fatalf("worklist: %d\n%s", p.status, p.body)
		}
		if p := b.do("GET", "/ui/stats", nil); p.status != 403 {
			t.Fatalf("a caseworker's session opened the statistics page: %d", p.status)
		}
	})
	t.Run("a token in a cookie is not a session", func(t *testing.T) {
		other := newBrowser(t, h.srv.URL)
		for _, name := range []string{"ehc_token", "ehc_session"} {
			p := other.do("GET", "/ui/worklist", nil, "Cookie", name+"="+bareToken(t, auth.Caseworker, homeLA))
			if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/ui/login") {
				t.Fatalf("a token in cookie %s answered %d", name, p.status)
			}
		}
	})
	t.Run("a bad token is refused with a fresh form", func(t *testing.T) {
		other := newBrowser(t, h.srv.URL)
		p := other.signIn("not-a-token", "/ui/worklist")
		if p.status != 401 || other.cookie("/", "ehc_session") != "" || formToken(t, p.body) == "" {
			t.Fatalf("a bad token answered %d", p.status)
		}
	})
}

func TestTheSignInFormRefusesForgedPosts(t *testing.T) {
	h := newHarness(t)
	token := bareToken(t, auth.Caseworker, homeLA)
	refused := func(t *testing.T, b *browser, p page) {
		t.Helper()
		if p.status != 403 || b.cookie("/", "ehc_session") != "" {
			t.Fatalf("answered %d, session %q", p.status, b.cookie("/", "ehc_session"))
		}
	}
	t.Run("a post without the form's token is refused", func(t *testing.T) {
		b := newBrowser(t, h.srv.URL)
		b.do("GET", "/ui/login", nil)
		refused(t, b, b.do("POST", "/ui/login", url.Values{"token": {token}}))
	})
	t.Run("a post with another browser's form token is refused", func(t *testing.T) {
		attacker, victim := newBrowser(t, h.srv.URL), newBrowser(t, h.srv.URL)
		stolen := formToken(t, attacker.do("GET", "/ui/login", nil).body)
		victim.do("GET", "/ui/login", nil)
		refused(t, victim, victim.do("POST", "/ui/login", url.Values{"token": {token}, "csrf": {stolen}}))
	})
	t.Run("a post the browser says came from another site is refused", func(t *testing.T) {
		b := newBrowser(t, h.srv.URL)
		csrf := formToken(t, b.do("GET", "/ui/login", nil).body)
		refused(t, b, b.do("POST", "/ui/login", url.Values{"token": {token}, "csrf": {csrf}}, "Sec-Fetch-Site", "cross-site"))
	})
	t.Run("the sign-in page says it is a development aid", func(t *testing.T) {
		b := newBrowser(t, h.srv.URL)
		if p := b.do("GET", "/ui/login", nil); !strings.Contains(p.body, "development aid, not a login") {
			t.Fatalf("sign-in page:\n%s", p.body)
		}
	})
}

func TestSigningOutEndsTheSessionOnTheServer(t *testing.T) {
	h := newHarness(t)
	b := newBrowser(t, h.srv.URL)
	b.signIn(bareToken(t, auth.Manager, homeLA), "/ui/worklist")
	id := b.cookie("/", "ehc_session")
	worklist := b.do("GET", "/ui/worklist", nil)
	if worklist.status != 200 {
		t.Fatalf("worklist %d", worklist.status)
	}
	csrf := formToken(t, worklist.body)
	t.Run("a sign-out without the session's token is refused and ends nothing", func(t *testing.T) {
		if p := b.do("POST", "/ui/logout", url.Values{}); p.status != 403 {
			t.Fatalf("answered %d", p.status)
		}
		if p := b.do("POST", "/ui/logout", url.Values{"csrf": {bareToken(t, auth.Manager, homeLA)}}); p.status != 403 {
			t.Fatalf("answered %d", p.status)
		}
		if p := b.do("GET", "/ui/worklist", nil); p.status != 200 {
			t.Fatalf("the session ended: %d", p.status)
		}
	})
	t.Run("a sign-out with it ends the session, and its ID opens nothing again", func(t *testing.T) {
		p := b.do("POST", "/ui/logout", url.Values{"csrf": {csrf}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/login?signed_out=1" {
			t.Fatalf("answered %d to %q", p.status, p.header.Get("Location"))
		}
		if b.cookie("/", "ehc_session") != "" {
			t.Fatal("the browser still holds the session cookie")
		}
		replay := newBrowser(t, h.srv.URL)
		if p := replay.do("GET", "/ui/worklist", nil, "Cookie", "ehc_session="+id); p.status != http.StatusSeeOther {
			t.Fatalf("the ended session's ID answered %d", p.status)
		}
		if p := b.do("GET", "/ui/login?signed_out=1", nil); !strings.Contains(p.body, "You have signed out") {
			t.Fatalf("signed-out page:\n%s", p.body)
		}
	})
}

func TestEveryAnswerTellsTheBrowserToKeepItToItself(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	b := newBrowser(t, h.srv.URL)
	b.signIn(bareToken(t, auth.Manager, homeLA), "/ui/worklist")
	paths := []string{"/ui/worklist", "/ui/cases/c1", "/ui/stats", "/ui/login", "/v1/cases/c1", "/v1/cases/c1/timeline?format=csv",
		"/v1/cases/c1/history", "/v1/worklist", "/v1/cases/nobody", "/healthz"}
	for _, path := range paths {
		t.Run(path+" forbids framing, script, sniffing, referrers and storing", func(t *testing.T) {
			var hd http.Header
			if strings.HasPrefix(path, "/ui/") {
				hd = b.do("GET", path, nil).header
			} else {
				hd = h.do("GET", path, "", "Authorization", sign(t, auth.Manager, homeLA)).header
			}
			csp := hd.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "style-src 'self'", "form-action 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
				t.Errorf("Content-Security-Policy %q allows script or inline style", csp)
			}
			if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") != "no-referrer" || hd.Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", hd)
			}
		})
	}
	t.Run("the pages hold no inline script or style", func(t *testing.T) {
		inline := regexp.MustCompile(`(?i)<script|<style|\sstyle=|\son[a-z]+=|javascript:`)
		for _, path := range []string{"/ui/worklist", "/ui/cases/c1", "/ui/stats", "/ui/stats?la=" + homeLA + "&from=2024-01-01&to=2024-12-31", "/ui/login"} {
			if p := b.do("GET", path, nil); p.status != 200 || inline.MatchString(p.body) {
				t.Errorf("%s (%d) holds %q", path, p.status, inline.FindString(p.body))
			}
		}
	})
	t.Run("the stylesheet, which holds nothing personal, may be cached", func(t *testing.T) {
		p := b.do("GET", "/ui/static/ehcledger.css", nil)
		if p.status != 200 || !strings.HasPrefix(p.header.Get("Content-Type"), "text/css") || p.header.Get("Cache-Control") == "no-store" ||
			!strings.Contains(p.body, ".chart{") {
			t.Fatalf("stylesheet %d %v", p.status, p.header)
		}
	})
}

func TestSessionsExpireAndAreBounded(t *testing.T) {
	now := time.Date(2024, 7, 15, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := api.NewSessions(api.SessionConfig{MaxAge: 8 * time.Hour, Idle: time.Hour, Max: 3, PerSubject: 2, Now: clock})
	amy := auth.Principal{Subject: "amy", Role: auth.Caseworker, LAs: []string{homeLA}}
	start := func(p auth.Principal, notAfter time.Time) string {
		t.Helper()
		id, csrf, err := s.Start(p, notAfter)
		if err != nil || id == "" || csrf == "" || id == csrf {
			t.Fatalf("start: %q %q %v", id, csrf, err)
		}
		return id
	}
	live := func(id string) bool {
		_, _, ok := s.Lookup(id)
		return ok
	}
	t.Run("a session used within the idle time lasts until its maximum age, then ends", func(t *testing.T) {
		id := start(amy, time.Time{})
		for range 8 {
			now = now.Add(59 * time.Minute)
			if !live(id) {
				t.Fatalf("ended at %s", now)
			}
		}
		now = now.Add(30 * time.Minute) // 8 h 22 min after sign-in
		if live(id) {
			t.Fatal("outlived its maximum age")
		}
	})
	t.Run("a session left idle ends", func(t *testing.T) {
		id := start(amy, time.Time{})
		now = now.Add(time.Hour)
		if live(id) {
			t.Fatal("outlived its idle time")
		}
	})
	t.Run("a session opened with a token ends when the token does", func(t *testing.T) {
		id := start(amy, now.Add(10*time.Minute))
		now = now.Add(11 * time.Minute)
		if live(id) {
			t.Fatal("outlived its token")
		}
	})
	t.Run("a person's third session ends their oldest", func(t *testing.T) {
		first := start(amy, time.Time{})
		now = now.Add(time.Second)
		second := start(amy, time.Time{})
		now = now.Add(time.Second)
		third := start(amy, time.Time{})
		if live(first) || !live(second) || !live(third) {
			t.Fatalf("first %v second %v third %v", live(first), live(second), live(third))
		}
	})
	t.Run("a sign-in beyond the store's bound is refused", func(t *testing.T) {
		start(auth.Principal{Subject: "bob", Role: auth.Manager, LAs: []string{homeLA}}, time.Time{})
		_, _, err := s.Start(auth.Principal{Subject: "cat", Role: auth.Auditor, LAs: []string{homeLA}}, time.Time{})
		if domain.ErrorCode(err) != domain.TooMany || s.Len() != 3 {
			t.Fatalf("got %v with %d sessions", err, s.Len())
		}
	})
	t.Run("revoking a person's sessions ends them all and no one else's", func(t *testing.T) {
		if n := s.Revoke("amy", func(auth.Principal) bool { return true }); n != 2 {
			t.Fatalf("revoked %d", n)
		}
		if s.Len() != 1 {
			t.Fatalf("%d sessions left", s.Len())
		}
	})
	t.Run("an unknown ID is not a session", func(t *testing.T) {
		if live("") || live("guess") {
			t.Fatal("found")
		}
	})
}

func TestCookiesAreSecureBehindAnHTTPSProxy(t *testing.T) {
	h := newHarnessWith(t, nil, func(s *api.Server) { s.SecureCookies = true })
	b := newBrowser(t, h.srv.URL)
	form := b.do("GET", "/ui/login", nil)
	for _, c := range (&http.Response{Header: form.header}).Cookies() {
		if !c.Secure {
			t.Fatalf("cookie %s is not Secure", c.Name)
		}
	}
}

func TestAnAdminRevokesAPersonsSessionsWithinTheirLAs(t *testing.T) {
	h := newHarness(t)
	b := newBrowser(t, h.srv.URL)
	b.signIn(bareToken(t, auth.Caseworker, homeLA), "/ui/worklist")
	other := newBrowser(t, h.srv.URL)
	other.signIn(signedFor(t, "bob", auth.Caseworker, homeLA), "/ui/worklist")
	revoke := func(admin string, subject string) float64 {
		t.Helper()
		r := h.do("POST", "/v1/sessions/revoke", `{"subject":"`+subject+`"}`, "Authorization", admin).want(t, 200)
		return r.body["revoked"].(float64)
	}
	t.Run("an admin of another LA ends none of them", func(t *testing.T) {
		if n := revoke(sign(t, auth.Admin, otherLA), "t-caseworker"); n != 0 {
			t.Fatalf("revoked %v", n)
		}
		if p := b.do("GET", "/ui/worklist", nil); p.status != 200 {
			t.Fatalf("the session ended: %d", p.status)
		}
	})
	t.Run("an admin of the person's LA ends them, and no one else's", func(t *testing.T) {
		if n := revoke(sign(t, auth.Admin, homeLA), "t-caseworker"); n != 1 {
			t.Fatalf("revoked %v", n)
		}
		if p := b.do("GET", "/ui/worklist", nil); p.status != http.StatusSeeOther {
			t.Fatalf("the revoked session still opens pages: %d", p.status)
		}
		if p := other.do("GET", "/ui/worklist", nil); p.status != 200 {
			t.Fatalf("another person's session ended: %d", p.status)
		}
	})
	t.Run("a request naming nobody is refused", func(t *testing.T) {
		h.do("POST", "/v1/sessions/revoke", `{"subject":""}`, "Authorization", sign(t, auth.Admin, auth.AnyLA)).want(t, 422)
		h.do("POST", "/v1/sessions/revoke", `{"who":"x"}`, "Authorization", sign(t, auth.Admin, auth.AnyLA)).want(t, 422)
	})
}

// signedFor is a bare development token for a named person.
func signedFor(t *testing.T, subject string, role auth.Role, las ...string) string {
	t.Helper()
	return strings.TrimPrefix(signAs(t, subject, role, las...), "Bearer ")
}
