package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/auth"
)

// server is a running `ehcledger serve` process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	logs *logBuffer
	out  *bufio.Reader // what the server prints after its address
	// la is the LA of the tokens sent by requests that bring none: the demo
	// LA for a demo server, E09000001 otherwise. Only admins may hold every
	// LA, so the other roles' tokens name it.
	la string
}

// logBuffer keeps what a server writes to its log, safe to read while it
// runs.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testSecret signs the tokens of the servers the tests start.
const testSecret = "ehc-ledger-end-to-end-test-secret-0123456789"

// tokenFor signs a token for a role in some LAs.
func tokenFor(t *testing.T, role auth.Role, las ...string) string {
	t.Helper()
	return tokenAs(t, "test-"+string(role), role, las...)
}

// tokenAs signs a token for a named person.
func tokenAs(t *testing.T, subject string, role auth.Role, las ...string) string {
	t.Helper()
	tok, err := auth.Issue([]byte(testSecret), auth.Principal{Subject: subject, Role: role, LAs: las}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// roleFor is the role these tests act in for a request that does not send
// its own Authorization header: the role whose work the request is. The
// authorisation tests send their own tokens.
func roleFor(method, path string) auth.Role {
	switch {
	case strings.HasPrefix(path, "/v1/las/"):
		return auth.Admin
	case strings.Contains(path, "/commands/assign_case"):
		return auth.Manager
	case strings.HasPrefix(path, "/v1/stats"):
		return auth.Inspector
	case method == http.MethodGet && strings.HasPrefix(path, "/v1/cases/") && (strings.Contains(path, "as_of=") || strings.Contains(path, "known_at=")):
		return auth.Auditor
	}
	return auth.Caseworker
}

// startServer runs the real binary on port 0 with the given database and
// waits until it is ready. It verifies tokens signed with testSecret unless
// extra says otherwise.
func startServer(t *testing.T, db string, extra ...string) *server {
	t.Helper()
	if !strings.Contains(strings.Join(extra, " "), "--auth-") {
		extra = append(extra, "--auth-secret", testSecret)
	}
	return startServerAsIs(t, db, extra...)
}

// startServerAsIs starts the server with exactly the flags given.
func startServerAsIs(t *testing.T, db string, extra ...string) *server {
	t.Helper()
	return startServerEnv(t, nil, db, extra...)
}

// startServerEnv starts the server with exactly the flags given, in the
// environment env (nil: the tests' own).
func startServerEnv(t *testing.T, env []string, db string, extra ...string) *server {
	t.Helper()
	return startServerWithin(t, 20*time.Second, env, db, extra...)
}

// startServerWithin starts the server and waits up to wait for it to be
// ready: a store of many events takes longer to catch up.
func startServerWithin(t *testing.T, wait time.Duration, env []string, db string, extra ...string) *server {
	t.Helper()
	args := []string{"serve", "--addr", "127.0.0.1:0"}
	if db != "" {
		args = append(args, "--db", db)
	}
	cmd := exec.Command(binary, append(args, extra...)...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, logs: logs, out: bufio.NewReader(stdout), la: "E09000001"}
	if slices.Contains(extra, "--demo") {
		s.la = "E09999999"
	}
	t.Cleanup(func() { s.stop() })
	line, err := s.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("server did not start: %q %v\n%s", line, err, logs)
	}
	s.base = strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
	deadline := time.Now().Add(wait)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never became ready\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			s.t.Errorf("server exited with %v\n%s", err, s.logs)
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		s.t.Errorf("server ignored SIGTERM\n%s", s.logs)
	}
}

func (s *server) call(method, path, body string, headers ...string) (int, http.Header, map[string]any) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	role, las := roleFor(method, path), []string{s.la}
	if role == auth.Admin {
		las = []string{auth.AnyLA}
	}
	req.Header.Set("Authorization", "Bearer "+tokenFor(s.t, role, las...))
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp.StatusCode, resp.Header, m
}

func (s *server) must(status int, method, path, body string, headers ...string) map[string]any {
	s.t.Helper()
	got, _, m := s.call(method, path, body, headers...)
	if got != status {
		s.t.Fatalf("%s %s: status %d, want %d: %v", method, path, got, status, m)
	}
	return m
}

func clock(t *testing.T, view map[string]any, name string) map[string]any {
	t.Helper()
	for _, c := range view["clocks"].([]any) {
		if m := c.(map[string]any); m["clock"] == name {
			return m
		}
	}
	t.Fatalf("no %s clock in %v", name, view)
	return nil
}

func TestServerDrivesACaseEndToEnd(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ledger.db")
	s := startServer(t, db)
	s.must(201, "POST", "/v1/cases", `{"reason":"from the paper file","id":"e2e-1","la":"E09000001","on":"2024-03-01","data":{"requester":"parent","birth_date":"2015-05-01"}}`, "Authorization", "Bearer "+tokenAs(t, "cw-1", auth.Caseworker, "E09000001"))
	s.must(201, "POST", "/v1/cases/e2e-1/commands/decide_to_assess", `{"reason":"from the paper file","on":"2024-04-05"}`, "If-Match", `"1"`, "Authorization", "Bearer "+tokenAs(t, "cw-1", auth.Caseworker, "E09000001"))
	if code, h, m := s.call("POST", "/v1/cases/e2e-1/commands/send_draft_plan", `{"reason":"from the paper file","on":"2024-06-10"}`, "If-Match", `"1"`); code != 412 || !strings.HasPrefix(h.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("stale If-Match gave %d %v", code, m)
	}
	s.must(201, "POST", "/v1/cases/e2e-1/commands/send_draft_plan", `{"reason":"from the paper file","on":"2024-06-10"}`, "Idempotency-Key", "draft-1")
	again := s.must(200, "POST", "/v1/cases/e2e-1/commands/send_draft_plan", `{"reason":"from the paper file","on":"2024-06-10"}`, "Idempotency-Key", "draft-1")
	if again["version"] != float64(3) {
		t.Fatalf("retry %v", again)
	}
	s.must(201, "POST", "/v1/cases/e2e-1/commands/issue_final_plan", `{"reason":"from the paper file","on":"2024-07-12","data":{"school":"S1"}}`)

	view := s.must(200, "GET", "/v1/cases/e2e-1?as_of=2024-07-12", "")
	if fp := clock(t, view, "final_plan"); fp["status"] != "met" || fp["due"] != "2024-07-19" {
		t.Fatalf("final plan %v", fp)
	}
	if view["version"] != float64(4) {
		t.Fatalf("version %v", view["version"])
	}
	hist := s.must(200, "GET", "/v1/cases/e2e-1/history", "")["history"].([]any)
	if len(hist) != 4 || hist[0].(map[string]any)["actor"] != "cw-1" {
		t.Fatalf("history %v", hist)
	}
	wl := s.must(200, "GET", "/v1/worklist?la=E09000001&as_of=2024-07-12", "")["items"].([]any)
	if len(wl) != 2 {
		t.Fatalf("worklist %v", wl)
	}

	t.Run("known_at shows what the system knew and correct_step fixes a step", func(t *testing.T) {
		before := time.Now().UTC()
		time.Sleep(5 * time.Millisecond)
		s.must(201, "POST", "/v1/cases/e2e-1/commands/correct_step", `{"data":{"version":2,"on":"2024-04-03","reason":"date misread from the decision letter"}}`, "Authorization", "Bearer "+tokenAs(t, "manager-1", auth.Manager, "E09000001"))
		now := s.must(200, "GET", "/v1/cases/e2e-1?as_of=2024-07-12", "")
		if d := clock(t, now, "decide_to_assess"); d["stopped"] != "2024-04-03" || now["version"] != float64(5) {
			t.Fatalf("after the correction %v", now)
		}
		then := s.must(200, "GET", "/v1/cases/e2e-1?as_of=2024-07-12&known_at="+before.Format(time.RFC3339Nano), "")
		if d := clock(t, then, "decide_to_assess"); d["stopped"] != "2024-04-05" || then["version"] != float64(4) {
			t.Fatalf("as known before the correction %v", then)
		}
		tl := s.must(200, "GET", "/v1/cases/e2e-1/timeline", "")["timeline"].([]any)
		decision, fix := tl[1].(map[string]any), tl[4].(map[string]any)
		if by := decision["corrected_by"].([]any); len(by) != 1 || by[0] != float64(5) || fix["corrects"] != float64(2) || fix["reason"] != "date misread from the decision letter" {
			t.Fatalf("timeline does not show the correction beside the step: %v / %v", decision, fix)
		}
		if decision["recorded_late"] != true || decision["reason"] != "from the paper file" {
			t.Fatalf("timeline entry %v", decision)
		}
		req, _ := http.NewRequest("GET", s.base+"/v1/cases/e2e-1/timeline?format=csv", nil)
		req.Header.Set("Authorization", "Bearer "+tokenFor(t, auth.Auditor, "E09000001"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		if resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || len(lines) != 6 || !strings.HasPrefix(lines[0], "case,version,position,event") {
			t.Fatalf("CSV export: %s\n%s", resp.Header.Get("Content-Type"), body)
		}
		s.must(422, "GET", "/v1/cases/e2e-1?known_at=yesterday", "")
		s.must(404, "GET", "/v1/cases/e2e-1?known_at=2000-01-01T00:00:00Z", "")
	})

	t.Run("data survives a restart and a rebuild", func(t *testing.T) {
		s.stop()
		out, err := exec.Command(binary, "rebuild", "--db", db).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "rebuilt projections from") {
			t.Fatalf("rebuild: %v %s", err, out)
		}
		out, err = exec.Command(binary, "export", "case", "--db", db, "--format", "csv", "e2e-1").CombinedOutput()
		if err != nil || strings.Count(string(out), "\ne2e-1,") != 5 {
			t.Fatalf("ehcledger export case: %v %s", err, out)
		}
		out, err = exec.Command(binary, "case", "--db", db, "--as-of", "2024-04-04", "e2e-1").CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"stopped": "2024-04-03"`) {
			t.Fatalf("ehcledger case: %v %s", err, out)
		}
		s2 := startServer(t, db)
		again := s2.must(200, "GET", "/v1/cases/e2e-1?as_of=2024-07-12", "")
		if again["version"] != float64(5) || clock(t, again, "final_plan")["status"] != "met" {
			t.Fatalf("after restart %v", again)
		}
		if hist := s2.must(200, "GET", "/v1/cases/e2e-1/history", "")["history"].([]any); len(hist) != 5 {
			t.Fatalf("history after rebuild %v", hist)
		}
		// The command line's read of the case is in the access log too.
		log := s2.must(200, "GET", "/v1/las/E09000001/access-log?case=e2e-1", "", "Authorization", "Bearer "+tokenFor(t, auth.Auditor, "E09000001"))
		found := false
		for _, e := range log["access"].([]any) {
			m := e.(map[string]any)
			found = found || (m["route"] == "cli case" && strings.HasPrefix(m["actor"].(string), "cli:"))
		}
		if !found {
			t.Fatalf("the command line's read is not in the access log: %v", log["access"])
		}
	})
}

func TestDemoServerShowsEveryView(t *testing.T) {
	s := startServer(t, filepath.Join(t.TempDir(), "demo.db"), "--demo")
	for _, status := range []string{"running", "overdue", "met", "late", "ended"} {
		items := s.must(200, "GET", "/v1/worklist?la=E09999999&status="+status, "")["items"].([]any)
		if len(items) == 0 {
			t.Errorf("the demo has no %s clocks", status)
		}
	}
	excused := ""
	for _, it := range s.must(200, "GET", "/v1/worklist?la=E09999999&status=late,overdue&limit=10000", "")["items"].([]any) {
		if m := it.(map[string]any); m["excused"] == true {
			excused = m["case"].(string)
		}
	}
	if excused == "" {
		t.Fatal("the demo has no excused clocks")
	}
	someone := s.must(200, "GET", "/v1/worklist?limit=1", "")["items"].([]any)[0].(map[string]any)
	worker, team := someone["caseworker"].(string), someone["team"].(string)
	for _, view := range []string{"due_this_week", "overdue", "at_risk"} {
		wl := s.must(200, "GET", "/v1/worklist?la=E09999999&caseworker="+worker+"&view="+view+"&risk_days=60", "")
		for _, it := range wl["items"].([]any) {
			m := it.(map[string]any)
			if m["caseworker"] != worker || m["next_step"] == "" {
				t.Fatalf("%s item %v", view, m)
			}
			if view == "at_risk" && m["at_risk"] != true {
				t.Fatalf("at-risk view holds %v", m)
			}
		}
	}
	if wl := s.must(200, "GET", "/v1/worklist?team="+team+"&view=overdue", ""); wl["summary"].(map[string]any)["overdue"] == float64(0) {
		t.Errorf("team %s has no overdue clocks: %v", team, wl["summary"])
	}
	// An inspector's token names its LAs (only admins hold every LA): the
	// figures without ?la= are those LAs together.
	st := s.must(200, "GET", "/v1/stats", "")
	if n := st["total"].(map[string]any); n["requests"].(float64) == 0 || n["plans_issued"].(float64) == 0 || len(st["las"].([]any)) != 1 {
		t.Fatalf("stats of the LAs granted %v", st)
	}
	if one := s.must(200, "GET", "/v1/stats?la=E09999999&from=2020-01-01", ""); one["la"] != "E09999999" {
		t.Fatalf("LA stats %v", one)
	}
	s.must(422, "GET", "/v1/stats?from=2025-01-01&to=2024-01-01", "")
	req, _ := http.NewRequest("GET", s.base+"/v1/stats?format=csv", nil)
	req.Header.Set("Authorization", "Bearer "+tokenFor(t, auth.Inspector, s.la))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	csvBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if lines := strings.Split(strings.TrimSpace(string(csvBody)), "\n"); len(lines) != 3 || !strings.Contains(lines[1], ",GRANTED,") {
		t.Fatalf("stats CSV:\n%s", csvBody)
	}
	view := s.must(200, "GET", "/v1/cases/"+excused, "")
	xs := view["exceptions"].([]any)
	if len(xs) == 0 || xs[0].(map[string]any)["evidence"] == "" {
		t.Fatalf("excused case %s shows no exception with evidence: %v", excused, view)
	}
}
