package tests

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ehcledger/ehcledger/auth"
)

// The journeys of issue 15, driven in headless Chromium through the real
// server: a caseworker from a request to a final plan, a professional's
// advice through their invitation, a family's representations, and the
// links that must not open.

// londonToday is today's date where the server counts it.
func londonToday(t *testing.T) string {
	t.Helper()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return time.Now().In(london).Format("2006-01-02")
}

// newChrome starts a headless Chromium for one test, closed when it ends;
// the test is skipped, saying why, when no Chromium is installed.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	bin := chromium()
	if bin == "" {
		t.Skip("chromium is not installed: make test installs it when it can (Debian's chromium package)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

// drive runs browser actions, failing the test with what the page says.
func drive(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("%s: %v\nthe page says:\n%.1500s", what, err, body)
	}
}

// bodyText returns the text of the page the browser shows.
func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	return body
}

// showing waits until some element of the page holds the text.
func showing(text string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.Search(`//*[contains(text(), "` + text + `")]`))
}

// signInChrome signs the browser in with a development token.
func signInChrome(t *testing.T, ctx context.Context, base, token, next string) {
	t.Helper()
	drive(t, ctx, "signing in",
		chromedp.Navigate(base+"/ui/login?next="+next),
		chromedp.SetValue(chromedp.CSS(`input[name="token"]`), token),
		chromedp.Click(chromedp.CSS(`form[action="/ui/login"] button[type="submit"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`input[name="token"]`)))
}

// fill sets a form's inputs by their names.
func fill(values map[string]string) chromedp.Action[chromedp.Void] {
	var steps []chromedp.Action[chromedp.Void]
	for name, v := range values {
		if d, err := time.Parse("2006-01-02", v); err == nil {
			// A date is typed into its three boxes, as a person does.
			steps = append(steps, typeDate(name, d))
			continue
		}
		steps = append(steps, chromedp.SetValue(chromedp.CSS(`[name="`+name+`"]`), v))
	}
	return chromedp.Steps(steps...)
}

// typeDate types a date into the day, month and year boxes of the date
// named name.
func typeDate(name string, d time.Time) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SetValue(chromedp.CSS(`[name="`+name+`-day"]`), strconv.Itoa(d.Day())),
		chromedp.SetValue(chromedp.CSS(`[name="`+name+`-month"]`), strconv.Itoa(int(d.Month()))),
		chromedp.SetValue(chromedp.CSS(`[name="`+name+`-year"]`), strconv.Itoa(d.Year())))
}

// record opens a step's form on the case page, fills it and sends it,
// and waits for the case page to say it is recorded.
func record(t *testing.T, ctx context.Context, base, caseID, command, title string, values map[string]string) {
	t.Helper()
	drive(t, ctx, "recording "+command,
		chromedp.Navigate(base+"/ui/cases/"+caseID+"/steps/"+command),
		fill(values),
		chromedp.Click(chromedp.CSS(`form[action="/ui/cases/`+caseID+`/steps/`+command+`"] button[type="submit"]`)),
		showing("Recorded: "+title))
}

func TestACaseworkerRecordsARequestThroughToAFinalPlanInTheBrowser(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "ehc.db"))
	ctx := newChrome(t)
	signInChrome(t, ctx, s.base, tokenFor(t, auth.Caseworker, "E09000001"), "/ui/new-case")
	late := "from the paper file"
	drive(t, ctx, "opening the case",
		chromedp.WaitVisible(chromedp.CSS(`form[action="/ui/new-case"]`)),
		fill(map[string]string{"on": "2026-05-01", "data.requester": "parent", "data.birth_date": "2015-05-01",
			"data.forename": "Ada", "data.surname": "Byrne", "reason": late}),
		chromedp.Click(chromedp.CSS(`form[action="/ui/new-case"] button[type="submit"]`)),
		showing("Recorded: Receive request"))
	m := regexp.MustCompile(`case ([0-9a-f-]{36}) opened`).FindStringSubmatch(bodyText(t, ctx))
	if m == nil {
		t.Fatal("the page does not name the new case")
	}
	id := m[1]
	record(t, ctx, s.base, id, "decide_to_assess", "Decide to assess", map[string]string{"on": "2026-06-05", "reason": late})
	record(t, ctx, s.base, id, "request_advice", "Request advice", map[string]string{"on": "2026-06-08", "data.advice": "educational_psychology", "reason": late})
	record(t, ctx, s.base, id, "receive_advice", "Receive advice", map[string]string{"on": "2026-07-10", "data.advice": "educational_psychology", "reason": late})
	record(t, ctx, s.base, id, "send_draft_plan", "Send draft plan", map[string]string{"on": "2026-08-21", "reason": late})
	record(t, ctx, s.base, id, "issue_final_plan", "Issue final plan", map[string]string{"on": "2026-09-11", "data.school": "S1", "reason": late})
	if page := bodyText(t, ctx); !strings.Contains(page, "final_plan") || !strings.Contains(page, "met") {
		t.Fatalf("the page after the final plan:\n%s", page)
	}
	view := s.must(200, "GET", "/v1/cases/"+id, "")
	if c := clock(t, view, "final_plan"); c["status"] != "met" || c["stopped"] != "2026-09-11" {
		t.Fatalf("the 20-week clock: %v", c)
	}
	t.Run("a step refused shows the problem beside its field", func(t *testing.T) {
		drive(t, ctx, "sending a late step without a reason",
			chromedp.Navigate(s.base+"/ui/cases/"+id+"/steps/hold_review_meeting"),
			fill(map[string]string{"on": "2026-10-01"}),
			chromedp.Click(chromedp.CSS(`form[action="/ui/cases/`+id+`/steps/hold_review_meeting"] button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#f-step-reason-error`)))
	})
}

// invitePortal starts a server that writes invitation links to its log and
// takes documents unscanned, and opens a case p1 whose draft plan is sent.
func invitePortal(t *testing.T, extra ...string) *server {
	t.Helper()
	dir := t.TempDir()
	s := startServer(t, filepath.Join(dir, "ehc.db"), append([]string{"--notify", "log", "--portal-url", "https://ehc.test",
		"--documents", filepath.Join(dir, "documents"), "--no-virus-scan"}, extra...)...)
	today := londonToday(t)
	s.must(201, "POST", "/v1/cases", `{"id":"p1","la":"E09000001","on":"2026-09-01","reason":"r","data":{"requester":"parent","birth_date":"2015-05-01"}}`)
	s.must(201, "POST", "/v1/cases/p1/commands/decide_to_assess", `{"on":"2026-10-05","reason":"r"}`)
	s.must(201, "POST", "/v1/cases/p1/commands/request_advice", `{"on":"2026-10-06","reason":"r","data":{"advice":"educational_psychology"}}`)
	s.must(201, "POST", "/v1/cases/p1/commands/send_draft_plan", `{"on":"`+today+`"}`)
	return s
}

// joinChrome opens an invitation's link in the browser and continues.
func joinChrome(t *testing.T, ctx context.Context, base, link string) {
	t.Helper()
	drive(t, ctx, "joining with the link",
		chromedp.Navigate(base+link),
		chromedp.Click(chromedp.CSS(`form[action="`+link+`"] button[type="submit"]`)))
}

func TestAProfessionalSendsAdviceFromTheirInvitationInTheBrowser(t *testing.T) {
	s := invitePortal(t)
	today := londonToday(t)
	s.must(201, "POST", "/v1/cases/p1/commands/invite_participant",
		`{"on":"`+today+`","data":{"participant":"educational_psychology","name":"Dr R Lee","contact":"r.lee@ep.example","advice":"educational_psychology"}}`)
	link := linkInLog(t, s, "r.lee@ep.example")
	ctx := newChrome(t)
	joinChrome(t, ctx, s.base, link)
	drive(t, ctx, "the case in plain English", showing("educational psychology advice"))
	pdf := filepath.Join(t.TempDir(), "EP advice.pdf")
	if err := os.WriteFile(pdf, []byte("%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	drive(t, ctx, "sending the advice document",
		chromedp.SetValue(chromedp.CSS(`select[name="kind"]`), "advice"),
		chromedp.SetUploadFiles(chromedp.CSS(`input[name="document"]`), []string{pdf}),
		chromedp.Click(chromedp.CSS(`form[action="/portal/cases/p1/documents"] button[type="submit"]`)),
		showing("EP advice.pdf is sent"))
	drive(t, ctx, "saying the advice is given",
		chromedp.Click(chromedp.CSS(`form[action="/portal/cases/p1/steps/receive_advice"] button[type="submit"]`)),
		showing("this is recorded"))
	if c := clock(t, s.must(200, "GET", "/v1/cases/p1", ""), "advice"); c["status"] == "running" || c["stopped"] != today {
		t.Fatalf("the advice clock: %v", c)
	}
	t.Run("the used link opens nothing in another browser", func(t *testing.T) {
		other := newChrome(t)
		joinChrome(t, other, s.base, link)
		drive(t, other, "a second use of the link", showing("this link does not open a case"))
	})
}

func TestAFamilySendsRepresentationsAndAnotherFamilyCannotSeeTheirCaseInTheBrowser(t *testing.T) {
	s := invitePortal(t)
	today := londonToday(t)
	s.must(201, "POST", "/v1/cases/p1/commands/invite_participant", `{"on":"`+today+`","data":{"participant":"parent","name":"Sam Byrne","contact":"sam@example.org"}}`)
	s.must(201, "POST", "/v1/cases", `{"id":"p2","la":"E09000001","on":"`+today+`","data":{"requester":"parent","birth_date":"2016-01-01"}}`)
	s.must(201, "POST", "/v1/cases/p2/commands/invite_participant", `{"on":"`+today+`","data":{"participant":"parent","name":"Alex Roe","contact":"alex@example.org"}}`)
	sam := newChrome(t)
	joinChrome(t, sam, s.base, linkInLog(t, s, "sam@example.org"))
	drive(t, sam, "sending representations on the draft",
		showing("Your views on the draft plan"),
		chromedp.Click(chromedp.CSS(`form[action="/portal/cases/p1/steps/receive_representations"] button[type="submit"]`)),
		showing("this is recorded"))
	_, _, tl := s.call("GET", "/v1/cases/p1/timeline", "")
	if raw, _ := json.Marshal(tl); !strings.Contains(string(raw), "participant:p1/i5") {
		t.Fatalf("the representations are not the parent's: %v", tl)
	}
	alex := newChrome(t)
	joinChrome(t, alex, s.base, linkInLog(t, s, "alex@example.org"))
	drive(t, alex, "the other family's own case", showing("What you are asked for"))
	drive(t, alex, "the first family's case", chromedp.Navigate(s.base+"/portal/cases/p1"))
	if page := bodyText(t, alex); !strings.Contains(page, "there is no case p1") || strings.Contains(page, "Sam") {
		t.Fatalf("the other family sees:\n%s", page)
	}
}

func TestAnExpiredLinkOpensNothingInTheBrowser(t *testing.T) {
	s := invitePortal(t, "--invitation-ttl", "2s")
	today := londonToday(t)
	s.must(201, "POST", "/v1/cases/p1/commands/invite_participant", `{"on":"`+today+`","data":{"participant":"parent","name":"Sam Byrne","contact":"sam@example.org"}}`)
	link := linkInLog(t, s, "sam@example.org")
	time.Sleep(3 * time.Second)
	ctx := newChrome(t)
	joinChrome(t, ctx, s.base, link)
	drive(t, ctx, "an expired link", showing("this link does not open a case"))
}
