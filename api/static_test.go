package api_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// cssURL finds the url(...) references of a stylesheet.
var cssURL = regexp.MustCompile(`url\(\s*["']?([^"')]+)["']?\s*\)`)

func TestTheStylesheetsAndWhatTheyReferToAreServedFromThisSite(t *testing.T) {
	h := newHarness(t)
	login := h.do("GET", "/ui/login", "", "Authorization", "")
	links := regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)">`).FindAllStringSubmatch(login.raw, -1)
	var sheets []string
	for _, m := range links {
		sheets = append(sheets, m[1])
	}
	govuk := strings.Contains(login.raw, `href="/ui/static/govuk/govuk-frontend.min.css"`)
	if !govuk {
		// A binary built without `make frontend` has ehcledger.css alone,
		// and says so to it.
		t.Log("this binary holds no GOV.UK Frontend stylesheet (make frontend was not run before the build)")
		if !strings.Contains(login.raw, `class="govuk-template ehc-plain"`) || len(sheets) != 1 {
			t.Fatalf("a page without GOV.UK Frontend's stylesheet is not marked for ehcledger.css alone: %v", sheets)
		}
	} else if strings.Contains(login.raw, "ehc-plain") || len(sheets) != 2 || sheets[1] != "/ui/static/ehcledger.css" {
		t.Fatalf("a page links %v", sheets)
	}
	csp := login.header.Get("Content-Security-Policy")
	for _, sheet := range sheets {
		css := h.do("GET", sheet, "", "Authorization", "")
		if css.status != 200 || css.header.Get("Content-Type") != "text/css; charset=utf-8" || css.header.Get("Cache-Control") != "max-age=300" {
			t.Fatalf("%s: %d %v", sheet, css.status, css.header)
		}
		for _, m := range cssURL.FindAllStringSubmatch(css.raw, -1) {
			ref := m[1]
			// Each file is this site's, under /ui/static/, which the
			// Content-Security-Policy allows for its kind ('self' and
			// nothing else).
			if !strings.HasPrefix(ref, "/ui/static/") {
				t.Errorf("%s refers to %s, not a file of this site's /ui/static/", sheet, ref)
				continue
			}
			kind := "img-src 'self'"
			if regexp.MustCompile(`\.(woff2?|ttf|otf)$`).MatchString(ref) {
				kind = "font-src 'self'"
			}
			if !strings.Contains(csp, kind+";") && !strings.HasSuffix(csp, kind) {
				t.Errorf("%s refers to %s, which the Content-Security-Policy %q blocks", sheet, ref, csp)
			}
			if got := h.do("GET", ref, "", "Authorization", ""); got.status != 200 {
				t.Errorf("%s refers to %s, which answers %d", sheet, ref, got.status)
			}
		}
	}
	for _, src := range regexp.MustCompile(`[a-z-]+-src [^;]+`).FindAllString(csp, -1) {
		if f := strings.Fields(src); len(f) != 2 || (f[1] != "'self'" && f[1] != "'none'") {
			t.Errorf("the Content-Security-Policy lets a page load from elsewhere: %s", src)
		}
	}
	t.Run("nothing else under /ui/static/ is served", func(t *testing.T) {
		for _, path := range []string{"/ui/static/", "/ui/static/govuk", "/ui/static/nothing.css", "/ui/static/../web.go",
			"/ui/static/%2e%2e/web.go", "/ui/static/ehcledger.css/x"} {
			if got := h.do("GET", path, "", "Authorization", ""); got.status != http.StatusNotFound {
				t.Errorf("%s answered %d", path, got.status)
			}
		}
	})
}
