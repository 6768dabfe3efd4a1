package tests

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Helpers for tests that act as a browser: one that keeps cookies and
// follows redirects, and headless Chromium with its log.

// visit is one browser visit followed through its redirects: where it
// ended, what it showed, and every cookie the server set on the way.
type visit struct {
	status  int
	final   *url.URL
	body    string
	cookies []*http.Cookie
	via     []*url.URL
}

func follow(t *testing.T, client *http.Client, method, u string, form url.Values) visit {
	t.Helper()
	var v visit
	c := *client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		v.cookies = append(v.cookies, req.Response.Cookies()...)
		v.via = append(v.via, req.URL)
		return nil
	}
	var resp *http.Response
	var err error
	if form != nil {
		resp, err = c.PostForm(u, form)
	} else {
		resp, err = c.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	v.status, v.final, v.body = resp.StatusCode, resp.Request.URL, string(b)
	v.cookies = append(v.cookies, resp.Cookies()...)
	return v
}

func newJar(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// hasSession reports whether a visit was given a session.
func hasSession(v visit) bool {
	for _, c := range v.cookies {
		if c.Name == "ehc_session" && c.Value != "" {
			return true
		}
	}
	return false
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browseLogged loads url in a fresh headless Chromium and returns the DOM
// and what the browser logged, which names every Content-Security-Policy
// violation of the page.
func browseLogged(t *testing.T, bin, url, shot string) (dom, log string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0",
		"--user-data-dir=" + t.TempDir()}
	if shot != "" {
		args = append(args, "--window-size=1280,900", "--screenshot="+shot)
	} else {
		args = append(args, "--dump-dom")
	}
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, stderr.String())
	}
	return string(out), stderr.String()
}
