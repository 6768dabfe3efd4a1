package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/ehcledger/ehcledger/api"
	"github.com/ehcledger/ehcledger/documents"
	"github.com/ehcledger/ehcledger/notify"
)

// mailbox keeps the messages the server sends.
type mailbox struct {
	mu   sync.Mutex
	sent []notify.Message
}

func (m *mailbox) Send(_ context.Context, msg notify.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, msg)
	return nil
}

var portalLink = regexp.MustCompile(`https://ehc\.test(/portal/join/\S+)`)

// linkTo returns the path of the last link sent to an address.
func (m *mailbox) linkTo(t *testing.T, to string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.sent) - 1; i >= 0; i-- {
		if m.sent[i].To == to {
			if l := portalLink.FindStringSubmatch(m.sent[i].Body); l != nil {
				return l[1]
			}
		}
	}
	t.Fatalf("no link was sent to %s", to)
	return ""
}

// portalHarness is a server that sends invitations to a mailbox and keeps
// documents in a directory.
func portalHarness(t *testing.T) (*harness, *mailbox) {
	t.Helper()
	box := &mailbox{}
	h := newHarnessWith(t, nil, func(s *api.Server) {
		dir, err := documents.NewDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		store, err := documents.New(documents.Config{Blobs: dir, Sealer: s.Ledger.Keys, Scanner: documents.NoScan{}})
		if err != nil {
			t.Fatal(err)
		}
		s.Ledger.Notifier, s.Ledger.PortalURL, s.Ledger.Documents = box, "https://ehc.test", store
	})
	return h, box
}

// join opens an invitation's link in a browser and continues, as the
// person would.
func join(t *testing.T, b *browser, link string) page {
	t.Helper()
	landing := b.do("GET", link, nil)
	if landing.status != 200 {
		t.Fatalf("the link's page answered %d", landing.status)
	}
	return b.do("POST", link, url.Values{"csrf": {formToken(t, landing.body)}})
}

// upload sends a file through a form of the browser's page.
func upload(t *testing.T, b *browser, path, csrf, kind, name string, content []byte) page {
	t.Helper()
	return uploadWith(t, b, path, url.Values{"csrf": {csrf}, "kind": {kind}}, name, content)
}

// uploadWith sends a file with the form's other fields.
func uploadWith(t *testing.T, b *browser, path string, fields url.Values, name string, content []byte) page {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	f, _ := w.CreateFormFile("document", name)
	f.Write(content)
	w.Close()
	req, _ := http.NewRequest("POST", b.base+path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// pdf is the smallest file the document store takes as a PDF.
var pdf = []byte("%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")

func TestAProfessionalGivesAdviceThroughTheirInvitation(t *testing.T) {
	h, box := portalHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/decide_to_assess", `{"reason":"from the paper file","on":"2024-04-05"}`).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/request_advice", `{"on":"2024-07-15","data":{"advice":"educational_psychology"}}`).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/invite_participant",
		`{"on":"2024-07-15","data":{"participant":"educational_psychology","name":"Dr R Lee","contact":"r.lee@ep.example","advice":"educational_psychology"}}`).want(t, 201)
	link := box.linkTo(t, "r.lee@ep.example")
	ep := newBrowser(t, h.srv.URL)

	t.Run("opening the link's page uses nothing; continuing signs the person in to that case", func(t *testing.T) {
		ep.do("GET", link, nil)
		in := join(t, ep, link)
		if in.status != http.StatusSeeOther || in.header.Get("Location") != "/portal/cases/c1" {
			t.Fatalf("joining answered %d to %q", in.status, in.header.Get("Location"))
		}
	})
	home := ep.do("GET", "/portal/cases/c1", nil)
	if home.status != 200 || !strings.Contains(home.body, "Your educational psychology advice for the assessment") ||
		!strings.Contains(home.body, "26 August 2024") || strings.Contains(home.body, "Worklist") {
		t.Fatalf("the portal page answered %d:\n%s", home.status, home.body)
	}
	csrf := formToken(t, home.body)
	t.Run("a used link opens nothing", func(t *testing.T) {
		again := newBrowser(t, h.srv.URL)
		if p := join(t, again, link); p.status != http.StatusUnauthorized {
			t.Fatalf("a second use answered %d", p.status)
		}
	})
	t.Run("the advice document is kept and the caseworker reads it", func(t *testing.T) {
		p := upload(t, ep, "/portal/cases/c1/documents", csrf, "advice", "EP advice.pdf", pdf)
		if p.status != 200 || !strings.Contains(p.body, "EP advice.pdf is sent") {
			t.Fatalf("the upload answered %d:\n%s", p.status, p.body)
		}
		cw := newBrowser(t, h.srv.URL)
		cw.signIn(bareToken(t, "caseworker", homeLA), "/ui/cases/c1")
		casePage := cw.do("GET", "/ui/cases/c1", nil).body
		m := regexp.MustCompile(`href="(/ui/cases/c1/documents/[0-9a-f]{64})">EP advice.pdf</a>`).FindStringSubmatch(casePage)
		if m == nil || !strings.Contains(casePage, "<td class=\"govuk-table__cell\">Dr R Lee (educational psychology, invited)</td>") {
			t.Fatalf("the case page does not list the document:\n%s", casePage)
		}
		got := cw.do("GET", m[1], nil)
		if got.status != 200 || got.body != string(pdf) || !strings.Contains(got.header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("the download answered %d %q", got.status, got.header.Get("Content-Disposition"))
		}
	})
	t.Run("a file that is not a document is refused and nothing is recorded", func(t *testing.T) {
		before := h.do("GET", "/v1/cases/c1", "").want(t, 200).body["version"]
		p := upload(t, ep, "/portal/cases/c1/documents", csrf, "advice", "run.exe", []byte("MZ\x90\x00 not a document"))
		if p.status != 422 || !strings.Contains(p.body, "only PDF") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
		if after := h.do("GET", "/v1/cases/c1", "").want(t, 200).body["version"]; after != before {
			t.Fatalf("version %v became %v", before, after)
		}
	})
	t.Run("recording the advice given stops the advice clock, with the professional as actor", func(t *testing.T) {
		p := ep.do("POST", "/portal/cases/c1/steps/receive_advice", url.Values{"csrf": {csrf}, "key": {"k0123456789abcdef"}})
		if p.status != 200 || !strings.Contains(p.body, "this is recorded") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
		clocks := h.do("GET", "/v1/cases/c1", "").want(t, 200).body["clocks"].([]any)
		stopped := false
		for _, c := range clocks {
			row := c.(map[string]any)
			stopped = stopped || (row["clock"] == "advice" && row["key"] == "educational_psychology" && row["status"] == "met")
		}
		if !stopped {
			t.Fatalf("the advice clock did not stop: %v", clocks)
		}
		tl := h.do("GET", "/v1/cases/c1/timeline", "").want(t, 200).raw
		if !strings.Contains(tl, `"actor":"participant:c1/i4"`) {
			t.Fatalf("the step's actor is not the professional:\n%s", tl)
		}
	})
	t.Run("a professional may not take the family's steps nor the LA's", func(t *testing.T) {
		for _, command := range []string{"receive_representations", "decide_to_assess", "contact_mediation_adviser"} {
			if p := ep.do("POST", "/portal/cases/c1/steps/"+command, url.Values{"csrf": {csrf}}); p.status != http.StatusForbidden {
				t.Errorf("%s answered %d", command, p.status)
			}
		}
	})
	t.Run("the portal's session opens no staff page and no other case", func(t *testing.T) {
		if p := ep.do("GET", "/ui/cases/c1", nil); p.status != http.StatusForbidden {
			t.Errorf("the staff's case page answered %d", p.status)
		}
		if p := ep.do("GET", "/portal/cases/c2", nil); p.status != http.StatusNotFound {
			t.Errorf("another case answered %d", p.status)
		}
	})
	t.Run("a withdrawn invitation signs its holder out", func(t *testing.T) {
		h.do("POST", "/v1/cases/c1/commands/revoke_invitation", `{"on":"2024-07-15","data":{"invitation":"i4"}}`).want(t, 201)
		if p := ep.do("GET", "/portal/cases/c1", nil); p.status != http.StatusUnauthorized {
			t.Fatalf("after withdrawal the portal answered %d", p.status)
		}
		if p := ep.do("GET", "/portal/cases/c1", nil); p.status != http.StatusSeeOther {
			t.Fatalf("the session was not ended: %d", p.status)
		}
	})
}

func TestAFamilySendsRepresentationsAndNoOtherFamilysLinkOpensTheirCase(t *testing.T) {
	h, box := portalHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	for _, step := range []struct{ command, body string }{
		{"decide_to_assess", `{"on":"2024-04-01","reason":"r"}`},
		{"send_draft_plan", `{"on":"2024-07-12","reason":"r"}`},
		{"invite_participant", `{"on":"2024-07-15","data":{"participant":"parent","name":"Sam Byrne","contact":"sam@example.org"}}`},
	} {
		h.do("POST", "/v1/cases/c1/commands/"+step.command, step.body).want(t, 201)
	}
	other := strings.Replace(openBody, `"id":"c1"`, `"id":"c2"`, 1)
	h.do("POST", "/v1/cases", other).want(t, 201)
	h.do("POST", "/v1/cases/c2/commands/invite_participant", `{"on":"2024-07-15","data":{"participant":"parent","name":"Alex Roe","contact":"alex@example.org"}}`).want(t, 201)

	sam := newBrowser(t, h.srv.URL)
	join(t, sam, box.linkTo(t, "sam@example.org"))
	home := sam.do("GET", "/portal/cases/c1", nil)
	if home.status != 200 || !strings.Contains(home.body, "Your views on the draft plan") {
		t.Fatalf("the family's page answered %d:\n%s", home.status, home.body)
	}
	t.Run("the representations are recorded with the parent as actor", func(t *testing.T) {
		p := sam.do("POST", "/portal/cases/c1/steps/receive_representations", url.Values{"csrf": {formToken(t, home.body)}, "key": {"k0123456789abcdef"}})
		if p.status != 200 || !strings.Contains(p.body, "this is recorded") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
		if tl := h.do("GET", "/v1/cases/c1/timeline", "").want(t, 200).raw; !strings.Contains(tl, `"actor":"participant:c1/i4"`) {
			t.Fatalf("not recorded as the parent's:\n%s", tl)
		}
	})
	t.Run("another family's link opens their case only", func(t *testing.T) {
		alexLink := box.linkTo(t, "alex@example.org")
		forged := strings.Replace(alexLink, "/portal/join/c2/", "/portal/join/c1/", 1)
		if p := join(t, newBrowser(t, h.srv.URL), forged); p.status != http.StatusUnauthorized {
			t.Fatalf("c2's secret on c1 answered %d", p.status)
		}
		alex := newBrowser(t, h.srv.URL)
		join(t, alex, alexLink)
		if p := alex.do("GET", "/portal/cases/c1", nil); p.status != http.StatusNotFound {
			t.Fatalf("the other family read case c1: %d", p.status)
		}
		if p := alex.do("GET", "/portal/cases/c2", nil); p.status != 200 || strings.Contains(p.body, "Sam") {
			t.Fatalf("their own case answered %d", p.status)
		}
	})
}

func TestTheFamilyReadsWhatTheLASharesAndNobodyReadsAnotherPersonsDocuments(t *testing.T) {
	h, box := portalHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/decide_to_assess", `{"reason":"from the paper file","on":"2024-04-05"}`).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/request_advice", `{"on":"2024-07-15","data":{"advice":"educational_psychology"}}`).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/invite_participant",
		`{"on":"2024-07-15","data":{"participant":"educational_psychology","name":"Dr R Lee","contact":"r.lee@ep.example","advice":"educational_psychology"}}`).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/invite_participant", `{"on":"2024-07-15","data":{"participant":"parent","name":"Sam Byrne","contact":"sam@example.org"}}`).want(t, 201)
	ep, sam := newBrowser(t, h.srv.URL), newBrowser(t, h.srv.URL)
	join(t, ep, box.linkTo(t, "r.lee@ep.example"))
	join(t, sam, box.linkTo(t, "sam@example.org"))
	cw := newBrowser(t, h.srv.URL)
	cw.signIn(bareToken(t, "caseworker", homeLA), "/ui/cases/c1")

	doc := func(label string) []byte { return append(append([]byte{}, pdf...), "% "+label+"\n"...) }
	link := func(content []byte) string {
		sum := sha256.Sum256(content)
		return "/portal/cases/c1/documents/" + hex.EncodeToString(sum[:])
	}
	shared, notes, advice := doc("shared"), doc("notes"), doc("advice")
	send := func(b *browser, path string, fields url.Values, name string, content []byte) {
		t.Helper()
		fields.Set("csrf", formToken(t, b.do("GET", strings.TrimSuffix(path, "/documents"), nil).body))
		if p := uploadWith(t, b, path, fields, name, content); p.status != 200 {
			t.Fatalf("sending %s answered %d:\n%s", name, p.status, p.body)
		}
	}
	send(cw, "/ui/cases/c1/documents", url.Values{"kind": {"evidence"}, "shared": {"yes"}}, "Letter to the family.pdf", shared)
	send(cw, "/ui/cases/c1/documents", url.Values{"kind": {"evidence"}}, "Panel notes.pdf", notes)
	send(ep, "/portal/cases/c1/documents", url.Values{"kind": {"advice"}}, "EP advice.pdf", advice)

	t.Run("the case page marks the shared document", func(t *testing.T) {
		if p := cw.do("GET", "/ui/cases/c1", nil); !strings.Contains(p.body, "shared with the family") {
			t.Fatalf("no mark:\n%s", p.body)
		}
	})
	t.Run("the family sees and downloads the shared document, and nothing else", func(t *testing.T) {
		home := sam.do("GET", "/portal/cases/c1", nil).body
		if !strings.Contains(home, "Letter to the family.pdf</a>, sent by the local authority") || strings.Contains(home, "Panel notes") || strings.Contains(home, "EP advice") {
			t.Fatalf("the family's page lists the wrong documents:\n%s", home)
		}
		got := sam.do("GET", link(shared), nil)
		if got.status != 200 || got.body != string(shared) || !strings.Contains(got.header.Get("Content-Disposition"), "attachment") ||
			got.header.Get("Content-Security-Policy") != "sandbox" {
			t.Fatalf("the download answered %d %v", got.status, got.header)
		}
		for _, hidden := range [][]byte{notes, advice} {
			if p := sam.do("GET", link(hidden), nil); p.status != http.StatusNotFound {
				t.Errorf("an unshared document answered %d", p.status)
			}
		}
	})
	t.Run("a professional sees what they sent and not what the LA shared with the family", func(t *testing.T) {
		home := ep.do("GET", "/portal/cases/c1", nil).body
		if !strings.Contains(home, "EP advice.pdf</a>, sent by you") || strings.Contains(home, "Letter to the family") {
			t.Fatalf("the professional's page lists the wrong documents:\n%s", home)
		}
		if p := ep.do("GET", link(advice), nil); p.status != 200 || p.body != string(advice) {
			t.Errorf("their own document answered %d", p.status)
		}
		for _, hidden := range [][]byte{shared, notes} {
			if p := ep.do("GET", link(hidden), nil); p.status != http.StatusNotFound {
				t.Errorf("another's document answered %d", p.status)
			}
		}
	})
	t.Run("no session downloads nothing", func(t *testing.T) {
		if p := newBrowser(t, h.srv.URL).do("GET", link(shared), nil); p.status != http.StatusSeeOther {
			t.Fatalf("answered %d", p.status)
		}
	})
	t.Run("a withdrawn invitation downloads nothing, not even its holder's own", func(t *testing.T) {
		h.do("POST", "/v1/cases/c1/commands/revoke_invitation", `{"on":"2024-07-15","data":{"invitation":"i4"}}`).want(t, 201)
		if p := ep.do("GET", link(advice), nil); p.status != http.StatusUnauthorized || p.body == string(advice) {
			t.Fatalf("answered %d", p.status)
		}
	})
}

func TestAFamilyAsksForMediationAfterARefusal(t *testing.T) {
	h, box := portalHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/refuse_assessment", `{"on":"2024-07-01","reason":"from the paper file"}`).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/invite_participant", `{"on":"2024-07-15","data":{"participant":"parent","name":"Sam Byrne","contact":"sam@example.org"}}`).want(t, 201)
	sam := newBrowser(t, h.srv.URL)
	join(t, sam, box.linkTo(t, "sam@example.org"))
	home := sam.do("GET", "/portal/cases/c1", nil)
	if home.status != 200 || !strings.Contains(home.body, "ask for mediation before you appeal") {
		t.Fatalf("the family's page answered %d:\n%s", home.status, home.body)
	}
	p := sam.do("POST", "/portal/cases/c1/steps/contact_mediation_adviser", url.Values{"csrf": {formToken(t, home.body)}, "key": {"k0123456789abcdef"}})
	if p.status != 200 || !strings.Contains(p.body, "this is recorded") {
		t.Fatalf("answered %d:\n%s", p.status, p.body)
	}
	tl := h.do("GET", "/v1/cases/c1/timeline", "").want(t, 200).raw
	if !strings.Contains(tl, `"event":"mediation_adviser_contacted"`) || !strings.Contains(tl, `"actor":"participant:c1/i3"`) {
		t.Fatalf("the request for mediation is not the parent's:\n%s", tl)
	}
}

func TestAnErasedCasesDocumentsCannotBeRead(t *testing.T) {
	h, _ := portalHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	cw := newBrowser(t, h.srv.URL)
	cw.signIn(bareToken(t, "manager", homeLA), "/ui/cases/c1")
	page := cw.do("GET", "/ui/cases/c1", nil)
	if p := upload(t, cw, "/ui/cases/c1/documents", formToken(t, page.body), "evidence", "letter.pdf", pdf); p.status != 200 {
		t.Fatalf("the upload answered %d:\n%s", p.status, p.body)
	}
	m := regexp.MustCompile(`href="(/ui/cases/c1/documents/[0-9a-f]{64})"`).FindStringSubmatch(cw.do("GET", "/ui/cases/c1", nil).body)
	if m == nil {
		t.Fatal("the document is not listed")
	}
	if got := cw.do("GET", m[1], nil); got.status != 200 || got.body != string(pdf) {
		t.Fatalf("before erasure: %d", got.status)
	}
	h.do("POST", "/v1/cases/c1/commands/erase_personal_data", `{"on":"2024-07-15","data":{"reason":"the family asked"}}`).want(t, 201)
	if got := cw.do("GET", m[1], nil); got.status != http.StatusConflict || strings.Contains(got.body, "%PDF") {
		t.Fatalf("after erasure the document answered %d", got.status)
	}
	if p := upload(t, cw, "/ui/cases/c1/documents", formToken(t, cw.do("GET", "/ui/cases/c1", nil).body), "evidence", "more.pdf", pdf); p.status != http.StatusConflict {
		t.Fatalf("an erased case took a document: %d", p.status)
	}
}

func TestABrowserIsShownARefusalAsAPageInWords(t *testing.T) {
	h, _ := portalHarness(t)
	b := newBrowser(t, h.srv.URL)
	landing := b.do("GET", "/portal/join/c9/not-a-link-we-sent-but-long-enough-to-try-it", nil)
	p := b.do("POST", "/portal/join/c9/not-a-link-we-sent-but-long-enough-to-try-it", url.Values{"csrf": {formToken(t, landing.body)}}, "Accept", "text/html")
	if p.status != http.StatusUnauthorized || !strings.HasPrefix(p.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(p.body, "this link does not open a case") || strings.Contains(p.body, "/ui/worklist") {
		t.Fatalf("answered %d %s:\n%s", p.status, p.header.Get("Content-Type"), p.body)
	}
	if api := h.do("GET", "/v1/cases/c9", ""); !strings.HasPrefix(api.header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("the API answers %s", api.header.Get("Content-Type"))
	}
}

func TestTheLinksPageIsRateLimitedByAddressAndASignedInPersonByThemselves(t *testing.T) {
	box := &mailbox{}
	h := newHarnessWith(t, nil, func(s *api.Server) {
		s.Ledger.Notifier, s.Ledger.PortalURL = box, "https://ehc.test"
		s.RateLimit = api.RateLimit{Rate: 0.001, Burst: 4}
	})
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/invite_participant", `{"on":"2024-07-15","data":{"participant":"parent","name":"Sam","contact":"sam@example.org"}}`).want(t, 201)
	b := newBrowser(t, h.srv.URL)
	join(t, b, box.linkTo(t, "sam@example.org")) // two requests from this address
	anyone := newBrowser(t, h.srv.URL)
	for i := 0; i < 2; i++ {
		anyone.do("GET", "/portal/join/c1/guess", nil)
	}
	if p := anyone.do("GET", "/portal/join/c1/guess", nil); p.status != http.StatusTooManyRequests || p.header.Get("Retry-After") == "" {
		t.Fatalf("the address's fifth request answered %d", p.status)
	}
	if p := b.do("GET", "/portal/cases/c1", nil); p.status != 200 {
		t.Fatalf("the signed-in person was limited by others' requests: %d", p.status)
	}
}
