package tests

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/golang-jwt/jwt/v5"
)

// get fetches a page as a manager of the demo LA (who may see all pages).
func get(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+tokenFor(t, auth.Manager, "E09999999"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

// chromium finds Debian's headless browser; make test installs it when it can.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browse loads url in headless Chromium and returns the DOM after scripts
// (there are none) and layout; with shot set it also saves a screenshot.
func browse(t *testing.T, bin, url, shot string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir()}
	out, err := exec.CommandContext(ctx, bin, append(args, "--dump-dom", url)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v", url, err)
	}
	if shot != "" {
		if err := exec.CommandContext(ctx, bin, append(args, "--window-size=1280,1600", "--screenshot="+shot, url)...).Run(); err != nil {
			t.Fatalf("chromium --screenshot: %v", err)
		}
		if st, err := os.Stat(shot); err != nil || st.Size() < 1000 {
			t.Fatalf("screenshot %s was not written (%v)", shot, err)
		}
	}
	return string(out)
}

func TestDashboardPages(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "demo.db"), "--demo")
	anyCase := firstCase(t, s, "status=running,overdue,met,late")
	pages := map[string][]string{
		"/ui/worklist":              {`<h1 class="govuk-heading-l">Worklist</h1>`, `<caption class="govuk-table__caption`, "overdue</div>", `href="/ui/cases/`},
		"/ui/worklist?view=overdue": {`<strong class="govuk-tag govuk-tag--red">overdue</strong>`},
		"/ui/cases/" + anyCase:      {"Case " + anyCase, "Statutory clocks", "Timeline: what happened", "request_received"},
		"/ui/stats":                 {"Timeliness: E09999999", `<svg role="img"`, "Breaches by stage", "within 20 weeks, excluding exceptions"},
		"/ui/stats?la=E09999999":    {"Timeliness: E09999999", "<title id=\"mc-t\">"},
	}
	for path, wants := range pages {
		body := get(t, s.base+path)
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
		if !strings.Contains(body, `<html lang="en"`) || !strings.Contains(body, `<main class="govuk-main-wrapper" id="main">`) ||
			!strings.Contains(body, `<a href="#main" class="govuk-skip-link">`) {
			t.Errorf("%s lacks the accessible page frame", path)
		}
	}
	// Without a token a browser is sent to sign in, then back to the page.
	if resp, err := http.Get(s.base + "/"); err != nil || resp.Request.URL.Path != "/ui/login" || resp.Request.URL.Query().Get("next") != "/ui/worklist" {
		t.Fatalf("/ does not lead to signing in for the worklist: %v %v", err, resp.Request.URL)
	}
	t.Run("signing in sets a cookie the pages accept", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar}
		// The form carries an anti-forgery token, which the post must return.
		formToken := func() string {
			t.Helper()
			form := follow(t, client, "GET", s.base+"/ui/login", nil)
			m := csrfField.FindStringSubmatch(form.body)
			if m == nil {
				t.Fatalf("the sign-in form has no anti-forgery token:\n%s", form.body)
			}
			return m[1]
		}
		resp, err := client.PostForm(s.base+"/ui/login", url.Values{"token": {tokenFor(t, auth.Caseworker, "E09999999")}, "next": {"/ui/worklist?view=overdue"},
			"csrf": {formToken()}})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Request.URL.Path != "/ui/worklist" || !strings.Contains(string(body), `<h1 class="govuk-heading-l">Worklist</h1>`) {
			t.Fatalf("after signing in: %d %s", resp.StatusCode, resp.Request.URL)
		}
		resp, err = client.PostForm(s.base+"/ui/login", url.Values{"token": {"not-a-token"}, "csrf": {formToken()}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("a bad token at sign-in gave %d", resp.StatusCode)
		}
		// A caseworker's cookie does not open the inspectors' page.
		resp, err = client.Get(s.base + "/ui/stats")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("a caseworker opened the stats page: %d", resp.StatusCode)
		}
	})

	t.Run("pages render in headless Chromium", func(t *testing.T) {
		bin := chromium()
		if bin == "" {
			t.Skip("chromium is not installed (Debian package chromium; make test installs it when apt-get is available)")
		}
		dir := os.Getenv("EHC_SCREENSHOTS")
		if dir == "" {
			dir = t.TempDir()
		}
		// The browser reaches the server through a proxy that adds a
		// manager's token, as a signed-in browser's cookie would.
		target, _ := url.Parse(s.base)
		proxy := httputil.NewSingleHostReverseProxy(target)
		token := tokenFor(t, auth.Manager, "E09999999")
		direct := proxy.Director
		proxy.Director = func(r *http.Request) {
			direct(r)
			r.Header.Set("Authorization", "Bearer "+token)
		}
		front := httptest.NewServer(proxy)
		defer front.Close()
		for name, path := range map[string]string{"worklist": "/ui/worklist", "case": "/ui/cases/" + anyCase, "stats": "/ui/stats"} {
			dom := browse(t, bin, front.URL+path, filepath.Join(dir, name+".png"))
			if !strings.Contains(dom, `<table class="govuk-table"`) || !strings.Contains(dom, "EHC Ledger") {
				t.Errorf("%s did not render: %.300s", path, dom)
			}
			if name == "stats" && strings.Count(dom, "<rect") < 2 {
				t.Errorf("the stats charts have no bars")
			}
			// The pages hold no inline style or script, which their
			// Content-Security-Policy would block (and the browser log).
			if _, log := browseLogged(t, bin, front.URL+path, ""); strings.Contains(log, "Content Security Policy") {
				t.Errorf("%s breaks its Content-Security-Policy:\n%s", path, log)
			}
		}
	})
}

// TestDemoServerPrintsATokenForEachRole checks what `make run` shows a new
// user: a development token per role, each of which the server accepts.
func TestDemoServerPrintsATokenForEachRole(t *testing.T) {
	s := startServerAsIs(t, filepath.Join(t.TempDir(), "demo.db"), "--demo")
	if _, err := s.out.ReadString('\n'); err != nil { // the heading
		t.Fatal(err)
	}
	tokens := map[auth.Role]string{}
	for range auth.Roles {
		line, err := s.out.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("token line %q", line)
		}
		tokens[auth.Role(f[0])] = f[1]
	}
	for role, path := range map[auth.Role]string{auth.Caseworker: "/v1/worklist", auth.Manager: "/v1/worklist",
		auth.Auditor: "/v1/rulebooks", auth.Inspector: "/v1/stats?la=E09999999", auth.Admin: "/v1/rulebooks"} {
		code, _, body := s.call("GET", path, "", "Authorization", "Bearer "+tokens[role])
		if code != 200 {
			t.Errorf("the printed %s token was refused at %s: %d %v", role, path, code, body)
		}
	}
}

// TestAServerVerifyingAPublishedKeySet runs the binary as production would:
// tokens signed by an identity provider's key, checked against its key set.
func TestAServerVerifyingAPublishedKeySet(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	coord := func(n *big.Int) string {
		b := make([]byte, 32)
		return base64.RawURLEncoding.EncodeToString(n.FillBytes(b))
	}
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-256", "kid": "idp-1", "use": "sig", "alg": "ES256", "x": coord(key.X), "y": coord(key.Y)}}})
	var idpHits atomic.Int32
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		idpHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(set)
	}))
	defer idp.Close()
	s := startServer(t, filepath.Join(t.TempDir(), "prod.db"), "--auth-jwks-url", idp.URL, "--auth-issuer", "https://idp.example")
	claims := jwt.MapClaims{"sub": "amy", "role": "caseworker", "las": []string{"E09000001"}, "iss": "https://idp.example", "exp": time.Now().Add(time.Hour).Unix()}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = "idp-1"
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	s.must(200, "GET", "/v1/worklist", "", "Authorization", "Bearer "+signed)
	s.must(401, "GET", "/v1/worklist", "", "Authorization", "Bearer "+tokenFor(t, auth.Caseworker, "E09000001"))
	claims["iss"] = "https://elsewhere.example"
	other, _ := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(key)
	s.must(401, "GET", "/v1/worklist", "", "Authorization", "Bearer "+other)
	if idpHits.Load() == 0 {
		t.Fatal("the server never read the published key set")
	}
}
