package tests

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ehcledger/ehcledger/auth"
)

// The accessibility of every kind of page, in headless Chromium through the
// real server: axe-core finds no violation of WCAG 2.0, 2.1 and 2.2 at
// levels A and AA; pressing Tab from the top of the page reaches every link
// and form control it shows; and at 320 CSS pixels wide nothing scrolls
// sideways (WCAG 1.4.10, reflow; a table scrolls within its own region).

// axeScript is axe-core as `make frontend` fetches it from npm.
var axeScript = filepath.Join("..", ".build", "npm", "node_modules", "axe-core", "axe.min.js")

// wcagTags are the axe-core rules run: WCAG 2.2 AA, which takes in 2.0 and
// 2.1 at levels A and AA.
const wcagTags = `["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]`

// violation is one axe-core rule a page breaks, with where.
type violation struct {
	ID, Impact, Help string
	Nodes            []struct{ Target, Summary string }
}

// focusables lists what Tab should reach on a page: every link and form
// control shown (a group of radios counts once: Tab enters it, the arrows
// move within it), each marked with a key, and a listener that records
// the keys of what takes the focus.
const focusables = `(() => {
  const describe = el => {
    let d = el.tagName.toLowerCase();
    if (el.id) d += "#" + el.id;
    if (el.getAttribute("href")) d += "[href=" + el.getAttribute("href") + "]";
    if (el.name) d += "[name=" + el.name + "]";
    const text = (el.innerText || el.value || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return text ? d + ' "' + text + '"' : d;
  };
  const want = {};
  let n = 0;
  for (const el of document.querySelectorAll("a[href], area[href], button, input, select, textarea, iframe, summary, [tabindex], [contenteditable]")) {
    if (el.disabled || (el.tagName === "INPUT" && el.type === "hidden")) continue;
    // A link or control taken out of the tab order (tabindex="-1") is
    // still one Tab must reach; other elements count when put in it.
    const native = el.matches("a[href], area[href], button, input, select, textarea, iframe, summary");
    if (!native && el.tabIndex < 0) continue;
    if (getComputedStyle(el).visibility === "hidden" || el.getClientRects().length === 0) continue;
    const key = el.type === "radio" ? "radios " + el.name : "el" + n++;
    el.dataset.a11yKey = key;
    want[key] = want[key] || describe(el);
  }
  window.a11yReached = new Set();
  window.a11yOther = [];
  document.addEventListener("focusin", e => {
    const key = e.target.dataset && e.target.dataset.a11yKey;
    if (key) window.a11yReached.add(key); else window.a11yOther.push(describe(e.target));
  }, true);
  return {want: want, dates: document.querySelectorAll('input[type="date"]').length};
})()`

// overflowing names what sticks out past the viewport's right edge.
const overflowing = `(() => {
  const out = [];
  const edge = document.documentElement.clientWidth + 0.5;
  // A table's scroll region clips what is inside it, except what is
  // positioned against something outside it.
  const inScroll = (n) => {
    const region = n.parentElement && n.parentElement.closest(".ehc-table-scroll");
    if (!region || n.nodeType !== Node.ELEMENT_NODE) return !!region;
    const pos = getComputedStyle(n).position;
    return (pos !== "absolute" && pos !== "fixed") || (n.offsetParent !== null && region.contains(n.offsetParent));
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && el.className.baseVal === undefined ? "." + el.className.trim().split(/\s+/).join(".") : "");
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.right > edge && !inScroll(el)) {
      out.push(name(el) + " right " + Math.round(r.right));
    }
    if (out.length >= 8) return out;
  }
  // Text that does not wrap overflows its element without widening it.
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n && out.length < 8; n = walk.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(n);
    const r = range.getBoundingClientRect();
    if (r.right > edge && !inScroll(n) && !n.parentElement.closest(".govuk-visually-hidden")) {
      out.push("text " + JSON.stringify(n.textContent.trim().slice(0, 40)) + " in " + name(n.parentElement) + " right " + Math.round(r.right));
    }
  }
  return out;
})()`

// a11yBrowser checks pages in one headless Chromium.
type a11yBrowser struct {
	t     *testing.T
	ctx   context.Context
	axe   string
	shots string // where screenshots go, if anywhere
}

// check checks the page the browser has just loaded (its focus still at
// the top), and saves its screenshot as shot (when screenshots are asked
// for and shot is set).
func (b *a11yBrowser) check(name, shot string) {
	b.t.Helper()
	ctx := b.ctx
	b.t.Run(name, func(t *testing.T) {
		// Keyboard: Tab from the top of the page reaches every link and
		// form control it shows.
		type want struct {
			Want  map[string]string `json:"want"`
			Dates int               `json:"dates"`
		}
		w, err := chromedp.Run(ctx, chromedp.Evaluate[want](focusables))
		if err != nil {
			t.Fatalf("listing what Tab should reach: %v", err)
		}
		// A date input takes three presses (day, month, year); a few more
		// go round the end of the page.
		presses := len(w.Want) + 2*w.Dates + 3
		tabs := make([]chromedp.Action[chromedp.Void], presses)
		for i := range tabs {
			tabs[i] = chromedp.KeyEvent("\t")
		}
		if err := chromedp.Do(ctx, tabs...); err != nil {
			t.Fatalf("pressing Tab: %v", err)
		}
		reached, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...window.a11yReached]`))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, k := range reached {
			got[k] = true
		}
		var missed []string
		for k, d := range w.Want {
			if !got[k] {
				missed = append(missed, d)
			}
		}
		sort.Strings(missed)
		if len(missed) > 0 {
			t.Errorf("%d presses of Tab reached %d of the %d links and controls; not:\n  %s", presses, len(got), len(w.Want), strings.Join(missed, "\n  "))
		}

		// axe-core, at 1280 pixels wide and again at 320 (what a phone, or
		// a page zoomed to 400 %, shows: WCAG 1.4.10).
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](b.axe)); err != nil {
			t.Fatalf("loading axe-core: %v", err)
		}
		passed := b.axeCheck(t, "1280 pixels wide")
		t.Logf("Tab reached %d of %d links and controls in %d presses; axe-core: %d rules passed",
			len(w.Want)-len(missed), len(w.Want), presses, passed)

		if b.shots != "" && shot != "" {
			b.screenshot(t, shot)
		}

		// Reflow: nothing scrolls sideways at 320 pixels wide.
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(320, 800)); err != nil {
			t.Fatal(err)
		}
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if width > 320 {
			culprits, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](overflowing))
			if err != nil {
				culprits = []string{err.Error()}
			}
			t.Errorf("at 320 pixels wide the page is %d wide: %s", width, strings.Join(culprits, ", "))
		}
		b.axeCheck(t, "320 pixels wide")
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
			t.Fatal(err)
		}
	})
}

// axeCheck runs axe-core (loaded in the page) over the page as it is
// shown now, reports each violation as an error, and returns the number of
// rules passed.
func (b *a11yBrowser) axeCheck(t *testing.T, shown string) int {
	t.Helper()
	type axeResult struct {
		Violations []violation `json:"violations"`
		Passed     int         `json:"passed"`
	}
	found, err := chromedp.Run(b.ctx, chromedp.Evaluate[axeResult](`axe.run(document, {runOnly: {type: "tag", values: `+wcagTags+`}, resultTypes: ["violations"]}).then(r => ({
  passed: r.passes.length,
  violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({target: n.target.map(String).join(" "), summary: n.failureSummary}))}))}))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("running axe-core: %v", err)
	}
	for _, v := range found.Violations {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, n.Target+": "+strings.ReplaceAll(n.Summary, "\n", " "))
		}
		t.Errorf("axe-core, %s: %s (%s): %s\n  %s", shown, v.ID, v.Impact, v.Help, strings.Join(where, "\n  "))
	}
	return found.Passed
}

// screenshot saves the viewport, 1280 pixels wide, as a small PNG: its
// colours reduced to those the page mostly uses.
func (b *a11yBrowser) screenshot(t *testing.T, name string) {
	t.Helper()
	// The page as it opens: the Tab test leaves the focus somewhere.
	if err := chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)`)); err != nil {
		t.Fatal(err)
	}
	raw, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, reduce(img, 48)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reduce maps an image onto its n most frequent colours.
func reduce(img image.Image, n int) *image.Paletted {
	r := img.Bounds()
	count := map[color.RGBA]int{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			count[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	colours := make([]color.RGBA, 0, len(count))
	for c := range count {
		colours = append(colours, c)
	}
	sort.Slice(colours, func(i, j int) bool {
		if count[colours[i]] != count[colours[j]] {
			return count[colours[i]] > count[colours[j]]
		}
		a, b := colours[i], colours[j]
		return a.R < b.R || a.R == b.R && (a.G < b.G || a.G == b.G && a.B < b.B)
	})
	pal := color.Palette{}
	for _, c := range colours[:min(n, len(colours))] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(r, pal)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			out.Set(x, y, img.At(x, y))
		}
	}
	return out
}

func TestEveryPageIsAccessible(t *testing.T) {
	axe, err := os.ReadFile(axeScript)
	if err != nil {
		t.Skipf("axe-core is not installed (make frontend fetches it with npm into .build/npm): %v", err)
	}
	shots := os.Getenv("EHC_SCREENSHOTS")
	if shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := startServer(t, filepath.Join(t.TempDir(), "demo.db"), "--demo", "--portal-url", "https://ehc.test")
	ctx := newChrome(t)
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	b := &a11yBrowser{t: t, ctx: ctx, axe: string(axe), shots: shots}
	visit := func(path, name, shot string) {
		t.Helper()
		drive(t, ctx, "opening "+path, chromedp.Navigate(s.base+path))
		b.check(name, shot)
	}

	// A case of the demo LA with an excused clock (its exceptions shown),
	// and a case of this test's own, to record steps on and invite people to.
	demoCase := firstCase(t, s, "status=running,overdue,met,late")
	for _, it := range s.must(200, "GET", "/v1/worklist?status=late,overdue&limit=10000", "")["items"].([]any) {
		if m := it.(map[string]any); m["excused"] == true {
			demoCase = m["case"].(string)
			break
		}
	}
	today := londonToday(t)
	now, _ := time.Parse("2006-01-02", today)
	s.must(201, "POST", "/v1/cases", `{"id":"a11y","la":"`+s.la+`","on":"2026-09-01","reason":"from the paper file","data":{"requester":"parent","birth_date":"2015-05-01","forename":"Ada","surname":"Byrne"}}`)
	s.must(201, "POST", "/v1/cases/a11y/commands/decide_to_assess", `{"on":"2026-10-05","reason":"from the paper file"}`)
	s.must(201, "POST", "/v1/cases/a11y/commands/request_advice", `{"on":"2026-10-06","reason":"from the paper file","data":{"advice":"educational_psychology"}}`)
	s.must(201, "POST", "/v1/cases/a11y/commands/send_draft_plan", `{"on":"`+today+`"}`)

	visit("/ui/login", "the sign-in page", "login")
	signInChrome(t, ctx, s.base, tokenFor(t, auth.Manager, s.la), "/ui/worklist")
	b.check("the worklist", "worklist")
	visit("/ui/cases/"+demoCase, "a case", "case")
	visit("/ui/new-case", "the form opening a case", "new-case")
	visit("/ui/cases/a11y/steps/request_advice", "a step's form", "step")
	// Every other kind of input a step's form has.
	for _, step := range []string{"record_exception", "schedule_phase_transfer", "notify_review_decision", "panel_decision", "offer_tailored_list", "express_preference", "record_placement", "record_personal_budget"} {
		visit("/ui/cases/a11y/steps/"+step, "the form of "+step, "")
	}
	drive(t, ctx, "sending a step's form empty, late, without a reason",
		chromedp.Navigate(s.base+"/ui/cases/a11y/steps/request_advice"),
		typeDate("on", now.AddDate(0, 0, -1)),
		chromedp.Click(chromedp.CSS(`form[action="/ui/cases/a11y/steps/request_advice"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.govuk-error-summary`)))
	b.check("a step's form shown again with its errors", "step-errors")
	drive(t, ctx, "recording a step",
		chromedp.Navigate(s.base+"/ui/cases/a11y/steps/request_advice"),
		chromedp.SetValue(chromedp.CSS(`#f-advice`), "health"),
		chromedp.Click(chromedp.CSS(`form[action="/ui/cases/a11y/steps/request_advice"] button[type="submit"]`)),
		showing("Recorded: Request advice"))
	b.check("the case page saying what a step did", "case-recorded")
	letter := filepath.Join(t.TempDir(), "Letter to the family.pdf")
	if err := os.WriteFile(letter, []byte("%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	drive(t, ctx, "sharing a document with the family, ticking its box with the keyboard",
		chromedp.SetUploadFiles(chromedp.CSS(`#doc-file`), []string{letter}),
		chromedp.Focus(chromedp.CSS(`#doc-shared`)),
		chromedp.KeyEvent(" "),
		chromedp.Click(chromedp.CSS(`form[action="/ui/cases/a11y/documents"] button[type="submit"]`)),
		showing("shared with the family"))
	visit("/ui/cases/a11y/corrections/2", "the form correcting a step", "correction")
	visit("/ui/cases/a11y/steps/record_exception?for=advice&for_key=educational_psychology", "the form of an exception beside its clock", "exception")
	visit("/ui/cases/no-such-case", "a page saying what went wrong", "error")
	visit("/ui/stats", "the statistics, as a manager", "stats")
	visit("/ui/stats?la="+s.la+"&whatif=green-paper-2022", "the statistics with a what-if, as a manager", "stats-whatif")
	signInChrome(t, ctx, s.base, tokenFor(t, auth.Inspector, s.la), "/ui/stats")
	b.check("the statistics, as an inspector", "")

	// The portal: a family and a professional invited to the case.
	s.must(201, "POST", "/v1/cases/a11y/commands/invite_participant", `{"on":"`+today+`","data":{"participant":"parent","name":"Sam Byrne","contact":"sam@example.org"}}`)
	s.must(201, "POST", "/v1/cases/a11y/commands/invite_participant",
		`{"on":"`+today+`","data":{"participant":"educational_psychology","name":"Dr R Lee","contact":"r.lee@ep.example","advice":"educational_psychology"}}`)
	family := linkInLog(t, s, "sam@example.org")
	visit(family, "the portal's invitation page", "portal-join")
	drive(t, ctx, "joining as the family", chromedp.Click(chromedp.CSS(`form[action="`+family+`"] button[type="submit"]`)), showing("Letter to the family.pdf"))
	b.check("the portal's case page, for the family", "portal-family")
	professional := linkInLog(t, s, "r.lee@ep.example")
	drive(t, ctx, "joining as the professional", chromedp.Navigate(s.base+professional),
		chromedp.Click(chromedp.CSS(`form[action="`+professional+`"] button[type="submit"]`)), showing("educational psychology advice"))
	b.check("the portal's case page, for a professional", "portal-professional")
	drive(t, ctx, "signing out of the portal", chromedp.Click(chromedp.CSS(`form[action="/ui/logout"] button[type="submit"]`)), showing("You are signed out of the case"))
	b.check("the portal's signed-out page", "portal-signed-out")
	if shots != "" {
		t.Logf("screenshots in %s", shots)
	}
}
