package tests

import (
	"bytes"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// linkInLog waits for the server's development notifier to write the link
// of an invitation to an address, and returns its path.
func linkInLog(t *testing.T, s *server, to string) string {
	t.Helper()
	pattern := regexp.MustCompile(`"to":"` + regexp.QuoteMeta(to) + `".*?https://ehc\.test(/portal/join/[A-Za-z0-9_.-]+/[A-Za-z0-9_-]+)`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := pattern.FindStringSubmatch(s.logs.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no link to %s in the log:\n%s", to, s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAnInvitedProfessionalGivesAdviceThroughTheServer(t *testing.T) {
	dir := t.TempDir()
	docs := filepath.Join(dir, "documents")
	s := startServer(t, filepath.Join(dir, "ehc.db"), "--notify", "log", "--portal-url", "https://ehc.test",
		"--documents", docs, "--no-virus-scan")
	s.must(201, "POST", "/v1/cases", `{"id":"p1","la":"E09000001","on":"2024-03-01","reason":"from the paper file","data":{"requester":"parent","birth_date":"2015-05-01"}}`)
	s.must(201, "POST", "/v1/cases/p1/commands/decide_to_assess", `{"on":"2024-04-05","reason":"from the paper file"}`)
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().In(london).Format("2006-01-02")
	s.must(201, "POST", "/v1/cases/p1/commands/request_advice", `{"on":"`+today+`","data":{"advice":"educational_psychology"}}`)
	s.must(201, "POST", "/v1/cases/p1/commands/invite_participant",
		`{"on":"`+today+`","data":{"participant":"educational_psychology","name":"Dr R Lee","contact":"r.lee@ep.example","advice":"educational_psychology"}}`)
	link := linkInLog(t, s, "r.lee@ep.example")

	browser := newJar(t)
	landing := follow(t, browser, "GET", s.base+link, nil)
	m := csrfField.FindStringSubmatch(landing.body)
	if landing.status != 200 || m == nil {
		t.Fatalf("the link's page answered %d:\n%s", landing.status, landing.body)
	}
	home := follow(t, browser, "POST", s.base+link, url.Values{"csrf": {m[1]}})
	if home.status != 200 || home.final.Path != "/portal/cases/p1" || !strings.Contains(home.body, "educational psychology advice") {
		t.Fatalf("joining ended at %s with %d:\n%s", home.final, home.status, home.body)
	}
	csrf := csrfField.FindStringSubmatch(home.body)[1]

	t.Run("the advice document is kept encrypted, nowhere in the clear", func(t *testing.T) {
		marker := "EHC-PORTAL-MARKER-" + strings.Repeat("Q", 12)
		content := []byte("%PDF-1.4\n% " + marker + "\n%%EOF\n")
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		w.WriteField("csrf", csrf)
		w.WriteField("kind", "advice")
		f, _ := w.CreateFormFile("document", "advice.pdf")
		f.Write(content)
		w.Close()
		req, _ := http.NewRequest("POST", s.base+"/portal/cases/p1/documents", &body)
		req.Header.Set("Content-Type", w.FormDataContentType())
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), "advice.pdf is sent") {
			t.Fatalf("the upload answered %d:\n%s", resp.StatusCode, page)
		}
		found := 0
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(path)
			if bytes.Contains(b, []byte(marker)) {
				t.Errorf("%s holds the document in the clear", path)
			}
			if strings.HasPrefix(path, docs) {
				found++
			}
			return nil
		})
		if found == 0 {
			t.Fatal("nothing was written under --documents")
		}
	})
	t.Run("recording the advice stops its clock, with the professional as actor", func(t *testing.T) {
		v := follow(t, browser, "POST", s.base+"/portal/cases/p1/steps/receive_advice", url.Values{"csrf": {csrf}, "key": {"k0123456789abcdef"}})
		if v.status != 200 || !strings.Contains(v.body, "this is recorded") {
			t.Fatalf("answered %d:\n%s", v.status, v.body)
		}
		view := s.must(200, "GET", "/v1/cases/p1", "")
		if c := clock(t, view, "advice"); c["status"] != "met" {
			t.Fatalf("the advice clock: %v", c)
		}
	})
	t.Run("the link opens nothing again", func(t *testing.T) {
		again := newJar(t)
		l := follow(t, again, "GET", s.base+link, nil)
		v := follow(t, again, "POST", s.base+link, url.Values{"csrf": {csrfField.FindStringSubmatch(l.body)[1]}})
		if v.status != http.StatusUnauthorized {
			t.Fatalf("a second use answered %d", v.status)
		}
	})
	t.Run("the server's log names the route, never the link's secret", func(t *testing.T) {
		secret := link[strings.LastIndex(link, "/")+1:]
		logs := s.logs.String()
		if n := strings.Count(logs, secret); n != 1 { // once: the development notifier's message itself
			t.Fatalf("the secret is in the log %d times", n)
		}
	})
}
