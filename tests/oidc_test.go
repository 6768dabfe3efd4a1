package tests

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/oauth2-proxy/mockoidc"
)

// identityProvider is an OpenID Connect provider run in this process
// (github.com/oauth2-proxy/mockoidc: discovery, authorization and token
// endpoints, RS256-signed ID tokens, PKCE), standing for an LA's Entra ID.
// It signs in whichever user a test queues, and records the authorization
// requests browsers make to it.
type identityProvider struct {
	*mockoidc.MockOIDC
	mu         sync.Mutex
	authorizes []url.Values
	logouts    []url.Values
}

// endSessionPath is the provider's end-session endpoint (OpenID Connect
// RP-Initiated Logout 1.0), which mockoidc lacks: the middleware publishes
// it in the discovery document, and a server beside mockoidc answers it as
// a provider does, by sending the browser to the post-logout redirect URI.
const endSessionPath = "/oidc/logout"

func startIdentityProvider(t *testing.T) *identityProvider {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	idp := &identityProvider{MockOIDC: m}
	// mockoidc serves only its own endpoints: the end-session one is beside.
	endSession := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != endSessionPath {
			http.NotFound(w, r)
			return
		}
		idp.mu.Lock()
		idp.logouts = append(idp.logouts, r.URL.Query())
		idp.mu.Unlock()
		http.Redirect(w, r, r.URL.Query().Get("post_logout_redirect_uri"), http.StatusFound)
	}))
	t.Cleanup(endSession.Close)
	m.AddMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, mockoidc.AuthorizationEndpoint):
				idp.mu.Lock()
				idp.authorizes = append(idp.authorizes, r.URL.Query())
				idp.mu.Unlock()
			case strings.HasSuffix(r.URL.Path, mockoidc.DiscoveryEndpoint):
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				var doc map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				doc["end_session_endpoint"] = endSession.URL + endSessionPath
				w.Header().Set("Content-Type", "application/json")
				json.NewEncoder(w).Encode(doc)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return idp
}

// lastLogout is the query of the last end-session request, nil when none.
func (idp *identityProvider) lastLogout() url.Values {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	if len(idp.logouts) == 0 {
		return nil
	}
	return idp.logouts[len(idp.logouts)-1]
}

func (idp *identityProvider) lastAuthorize() url.Values {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	if len(idp.authorizes) == 0 {
		return nil
	}
	return idp.authorizes[len(idp.authorizes)-1]
}

// staff is a person of the demo LA at the identity provider.
func staff(name string, groups ...string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: "oid-" + name, PreferredUsername: name + "@demo-la.example", Groups: groups}
}

// freeAddr finds a loopback port nothing listens on: the server's address
// must be known before it starts, as the redirect URL registered at the
// provider names it.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startSignInServer starts the demo server signing people in with idp:
// the demo LA's caseworkers and managers are two groups.
func startSignInServer(t *testing.T, idp *identityProvider) *server {
	t.Helper()
	dir := t.TempDir()
	cfg := idp.Config()
	secretFile := filepath.Join(dir, "client-secret")
	if err := os.WriteFile(secretFile, []byte(cfg.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rolesFile := filepath.Join(dir, "roles.json")
	roles := `{"claim": "groups", "subject_claim": "preferred_username", "grants": [
		{"value": "ehc-caseworkers", "role": "caseworker", "las": ["E09999999"]},
		{"value": "ehc-managers", "role": "manager", "las": ["E09999999"]}]}`
	if err := os.WriteFile(rolesFile, []byte(roles), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	return startServer(t, filepath.Join(dir, "demo.db"), "--demo", "--addr", addr,
		"--oidc-issuer", cfg.Issuer, "--oidc-client-id", cfg.ClientID, "--oidc-client-secret-file", secretFile,
		"--oidc-redirect-url", "http://"+addr+auth.CallbackPath, "--oidc-scopes", "openid profile groups", "--oidc-roles", rolesFile)
}

func TestSigningInWithTheLAsIdentityProvider(t *testing.T) {
	idp := startIdentityProvider(t)
	s := startSignInServer(t, idp)
	browser := newJar(t)

	idp.QueueUser(staff("amy", "all-staff", "ehc-caseworkers"))
	in := follow(t, browser, "GET", s.base+"/ui/worklist?view=overdue", nil)
	t.Run("a caseworker opening a page is signed in at the provider and comes back to it", func(t *testing.T) {
		if in.status != 200 || in.final.Path != "/ui/worklist" || in.final.RawQuery != "view=overdue" ||
			!strings.Contains(in.body, `<h1 class="govuk-heading-l">Worklist</h1>`) || !strings.Contains(in.body, "Signed in as amy@demo-la.example (caseworker)") {
			t.Fatalf("ended at %s with %d:\n%.600s", in.final, in.status, in.body)
		}
		q := idp.lastAuthorize()
		if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" || q.Get("state") == "" ||
			q.Get("redirect_uri") != s.base+auth.CallbackPath {
			t.Fatalf("authorization request %v", q)
		}
	})
	var session *http.Cookie
	for _, c := range in.cookies {
		if c.Name == "ehc_session" && c.Value != "" {
			session = c
		}
	}
	t.Run("the session cookie is opaque, HttpOnly and SameSite=Lax", func(t *testing.T) {
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure || strings.Count(session.Value, ".") > 0 {
			t.Fatalf("session cookie %+v", session)
		}
	})
	t.Run("the caseworker's session does not open the inspectors' page", func(t *testing.T) {
		if v := follow(t, browser, "GET", s.base+"/ui/stats", nil); v.status != 403 {
			t.Fatalf("answered %d", v.status)
		}
	})
	t.Run("the provider's answer cannot be used twice", func(t *testing.T) {
		var callback *url.URL
		for _, u := range in.via {
			if u.Path == auth.CallbackPath {
				callback = u
			}
		}
		if callback == nil {
			t.Fatalf("no callback among %v", in.via)
		}
		v := follow(t, newJar(t), "GET", callback.String(), nil)
		if v.status != 401 || hasSession(v) {
			t.Fatalf("a replayed callback answered %d", v.status)
		}
	})
	t.Run("pasting a token is not a way in when the provider signs people in", func(t *testing.T) {
		v := follow(t, newJar(t), "POST", s.base+"/ui/login", url.Values{"token": {tokenFor(t, auth.Manager, "E09999999")}})
		if v.status != 404 {
			t.Fatalf("answered %d", v.status)
		}
	})
	t.Run("the API still takes bearer tokens", func(t *testing.T) {
		s.must(200, "GET", "/v1/worklist?la=E09999999&limit=1", "")
	})
	t.Run("signing out ends the session here and at the provider, and does not sign in again at once", func(t *testing.T) {
		m := csrfField.FindStringSubmatch(in.body)
		if m == nil {
			t.Fatal("no sign-out form")
		}
		before := idp.lastAuthorize()
		out := follow(t, browser, "POST", s.base+"/ui/logout", url.Values{"csrf": {m[1]}})
		if out.status != 200 || out.final.Path != "/ui/login" || !strings.Contains(out.body, "You have signed out") || idp.lastAuthorize().Get("state") != before.Get("state") {
			t.Fatalf("signing out ended at %s with %d:\n%.400s", out.final, out.status, out.body)
		}
		if l := idp.lastLogout(); l.Get("client_id") != idp.Config().ClientID || l.Get("post_logout_redirect_uri") != s.base+auth.PostLogoutPath {
			t.Fatalf("the provider's session was not ended: end-session request %v", l)
		}
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("GET", s.base+"/ui/worklist", nil)
		req.AddCookie(&http.Cookie{Name: "ehc_session", Value: session.Value})
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/login") {
			t.Fatalf("the ended session still opens pages: %d", resp.StatusCode)
		}
	})
	t.Run("a person the role map grants nothing is refused and gets no session", func(t *testing.T) {
		idp.QueueUser(staff("bob", "all-staff", "finance"))
		v := follow(t, newJar(t), "GET", s.base+"/ui/worklist", nil)
		if v.status != 403 || !strings.Contains(v.body, "given no role") {
			t.Fatalf("answered %d:\n%.400s", v.status, v.body)
		}
		if hasSession(v) {
			t.Fatal("a session was opened")
		}
	})
	t.Run("a sign-in the provider refuses is reported without its details", func(t *testing.T) {
		client := newJar(t)
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := client.Get(s.base + "/ui/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		to, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in answered %d to %v", resp.StatusCode, to)
		}
		back := url.Values{"state": {to.Query().Get("state")}, "error": {"access_denied"}, "error_description": {"<script>alert(1)</script>"}}
		v := follow(t, client, "GET", s.base+auth.CallbackPath+"?"+back.Encode(), nil)
		if v.status != 401 || !strings.Contains(v.body, "access_denied") || strings.Contains(v.body, "alert(1)") {
			t.Fatalf("answered %d:\n%.400s", v.status, v.body)
		}
	})
}

func TestSigningInWithTheLAsIdentityProviderInChromium(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("chromium is not installed (Debian package chromium; make test installs it when apt-get is available)")
	}
	idp := startIdentityProvider(t)
	s := startSignInServer(t, idp)
	dir := os.Getenv("EHC_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	for i, shot := range []string{"", filepath.Join(dir, "signed-in-stats.png")} {
		idp.QueueUser(staff("meg", "ehc-managers"))
		dom, log := browseLogged(t, bin, s.base+"/ui/stats", shot)
		if strings.Contains(log, "Content Security Policy") || strings.Contains(log, "Refused to") {
			t.Errorf("the page broke its Content-Security-Policy:\n%s", log)
		}
		if i == 0 && (!strings.Contains(dom, "Timeliness: E09999999") || !strings.Contains(dom, "Signed in as meg@demo-la.example (manager)") ||
			!strings.Contains(dom, `action="/ui/logout"`)) {
			t.Fatalf("a manager's browser did not end signed in on the statistics page:\n%.1500s", dom)
		}
	}
	if q := idp.lastAuthorize(); q.Get("code_challenge_method") != "S256" {
		t.Fatalf("the browser's authorization request %v", q)
	}
}
