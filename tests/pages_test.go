package tests

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
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
		"/ui/worklist":              {"<h1>Worklist</h1>", "<caption>", "overdue</div>", `href="/ui/cases/`},
		"/ui/worklist?view=overdue": {`<span class="tag overdue">overdue</span>`},
		"/ui/cases/" + anyCase:      {"Case " + anyCase, "Statutory clocks", "Timeline: what happened", "request_received"},
		"/ui/stats":                 {"Timeliness: England", `<svg role="img"`, "Breaches by stage", "within 20 weeks, excluding exceptions"},
		"/ui/stats?la=E09999999":    {"Timeliness: E09999999", "<title id=\"mc-t\">"},
	}
	for path, wants := range pages {
		body := get(t, s.base+path)
		for _, w := range wants {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
		if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, `<main id="main">`) {
			t.Errorf("%s lacks the accessible page frame", path)
		}
	}
	if resp, err := http.Get(s.base + "/"); err != nil || resp.Request.URL.Path != "/ui/worklist" {
		t.Fatalf("/ does not lead to the worklist: %v", err)
	}

	t.Run("pages render in headless Chromium", func(t *testing.T) {
		bin := chromium()
		if bin == "" {
			t.Skip("chromium is not installed (Debian package chromium; make test installs it when apt-get is available)")
		}
		dir := os.Getenv("EHC_SCREENSHOTS")
		if dir == "" {
			dir = t.TempDir()
		}
		for name, path := range map[string]string{"worklist": "/ui/worklist", "case": "/ui/cases/" + anyCase, "stats": "/ui/stats"} {
			dom := browse(t, bin, s.base+path, filepath.Join(dir, name+".png"))
			if !strings.Contains(dom, "<table>") || !strings.Contains(dom, "EHC Ledger") {
				t.Errorf("%s did not render: %.300s", path, dom)
			}
			if name == "stats" && strings.Count(dom, "<rect") < 2 {
				t.Errorf("the stats charts have no bars")
			}
		}
	})
}
