package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/api"
	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/cli"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// fixedNow is the injected clock of these tests: 15 July 2024, in London.
func fixedNow() time.Time { return time.Date(2024, 7, 15, 9, 0, 0, 0, time.UTC) }

type harness struct {
	t     *testing.T
	srv   *httptest.Server
	store eventstore.Store
}

// newHarness starts a server that verifies tokens signed with testSecret.
// A request sent without an Authorization header carries a token signed for
// the role whose work it is (roleFor), in homeLA (every LA for an admin),
// held by the X-Actor header's name when there is one.
func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessWith(t, nil)
}

// newHarnessWith starts a server that verifies tokens with v (nil: the
// verifier of tokens signed with testSecret), after the given changes to
// its settings.
func newHarnessWith(t *testing.T, v *auth.Verifier, set ...func(*api.Server)) *harness {
	t.Helper()
	if v == nil {
		var err error
		if v, err = auth.NewVerifier(auth.Config{Secret: []byte(testSecret), Now: fixedNow}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	env, err := cli.OpenEnv(ctx, filepath.Join(t.TempDir(), "events.db"), "", fixedNow, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := api.NewMetrics(reg, env.Store, env.Runner)
	env.Ledger.Store = m.Instrument(env.Store)
	done := make(chan struct{})
	go func() { env.Runner.Run(ctx); close(done) }()
	s := &api.Server{Ledger: env.Ledger, Views: env.Runner, Store: env.Store, Now: fixedNow, Logger: env.Logger,
		Registry: reg, Metrics: m, Ready: func() bool { return true }, Auth: v}
	for _, f := range set {
		f(s)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		env.Close()
	})
	return &harness{t: t, srv: srv, store: env.Store}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (h *harness) do(method, path, body string, headers ...string) reply {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if req.Header.Get("Authorization") == "" {
		role := roleFor(method, path)
		subject := req.Header.Get("X-Actor")
		if subject == "" {
			subject = "t-" + string(role)
		}
		// Only admins may hold every LA; the others' tokens name the LA
		// these tests work in.
		las := []string{homeLA}
		if role == auth.Admin {
			las = []string{auth.AnyLA}
		}
		req.Header.Set("Authorization", signAs(h.t, subject, role, las...))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

// roleFor is the role a request that sends no token of its own is made
// in: the role whose work it is.
func roleFor(method, path string) auth.Role {
	switch {
	case strings.HasPrefix(path, "/v1/las/") && strings.Contains(path, "/commands/"):
		return auth.Admin
	case strings.Contains(path, "/access-log"):
		return auth.Auditor
	case strings.Contains(path, "/rulebook-changes"), strings.Contains(path, "/commands/assign_case"), strings.HasSuffix(strings.Split(path, "?")[0], "/sen2"),
		strings.Contains(path, "/commands/erase_personal_data"):
		return auth.Manager
	case strings.Contains(path, "whatif="):
		return auth.Manager
	case strings.HasPrefix(path, "/v1/stats"), strings.HasPrefix(path, "/ui/stats"):
		return auth.Inspector
	case method == http.MethodGet && (strings.Contains(path, "as_of=") || strings.Contains(path, "known_at=")) &&
		(strings.HasPrefix(path, "/v1/cases/") || strings.HasPrefix(path, "/ui/cases/")):
		return auth.Manager
	}
	return auth.Caseworker
}

func (r reply) want(t *testing.T, status int) reply {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if status >= 400 {
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Fatalf("error content type %q, want application/problem+json", ct)
		}
	}
	return r
}

const openBody = `{"reason":"from the paper file","id":"c1","la":"E09000001","on":"2024-03-01","data":{"requester":"parent","birth_date":"2015-05-01"}}`

func TestCaseLifecycleOverHTTP(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/v1/cases", openBody, "X-Actor", "caseworker-1").want(t, 201)
	if r.header.Get("ETag") != `"1"` || r.header.Get("Location") != "/v1/cases/c1" {
		t.Fatalf("headers %v", r.header)
	}
	t.Run("second request for the same case is a conflict", func(t *testing.T) {
		h.do("POST", "/v1/cases", openBody).want(t, 409)
	})
	h.do("POST", "/v1/cases/c1/commands/decide_to_assess", `{"reason":"from the paper file","on":"2024-04-05"}`, "If-Match", `"1"`).want(t, 201)
	t.Run("stale If-Match gets 412", func(t *testing.T) {
		r := h.do("POST", "/v1/cases/c1/commands/request_advice", `{"reason":"from the paper file","on":"2024-04-08","data":{"advice":"health"}}`, "If-Match", `"1"`).want(t, 412)
		if r.body["field"] != "If-Match" {
			t.Fatalf("problem %v", r.body)
		}
	})
	t.Run("idempotent retry records once", func(t *testing.T) {
		body := `{"reason":"from the paper file","on":"2024-04-08","data":{"advice":"educational_psychology"}}`
		first := h.do("POST", "/v1/cases/c1/commands/request_advice", body, "Idempotency-Key", "k-1").want(t, 201)
		again := h.do("POST", "/v1/cases/c1/commands/request_advice", body, "Idempotency-Key", "k-1").want(t, 200)
		if again.body["duplicate"] != true || again.body["version"] != first.body["version"] {
			t.Fatalf("retry %v, first %v", again.body, first.body)
		}
		h.do("POST", "/v1/cases/c1/commands/send_draft_plan", `{}`, "Idempotency-Key", "k-1").want(t, 409)
	})
	t.Run("invalid data names the field", func(t *testing.T) {
		r := h.do("POST", "/v1/cases/c1/commands/receive_advice", `{"reason":"from the paper file","on":"2024-05-01","data":{}}`).want(t, 422)
		if r.body["field"] != "data.advice" {
			t.Fatalf("problem %v", r.body)
		}
	})
	t.Run("unknown command is rejected", func(t *testing.T) {
		h.do("POST", "/v1/cases/c1/commands/approve_everything", `{}`).want(t, 422)
	})
	t.Run("malformed body is rejected", func(t *testing.T) {
		h.do("POST", "/v1/cases/c1/commands/send_draft_plan", `{"reason":"from the paper file","on":`).want(t, 422)
	})
	h.do("POST", "/v1/cases/c1/commands/receive_advice", `{"reason":"from the paper file","on":"2024-05-24","data":{"advice":"educational_psychology"}}`).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/send_draft_plan", `{"reason":"from the paper file","on":"2024-06-10"}`).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/issue_final_plan", `{"reason":"from the paper file","on":"2024-07-12","data":{"school":"S1"}}`).want(t, 201)

	t.Run("case view shows clocks as of a date", func(t *testing.T) {
		r := h.do("GET", "/v1/cases/c1?as_of=2024-04-01", "").want(t, 200)
		clocks := r.body["clocks"].([]any)
		if len(clocks) != 3 {
			t.Fatalf("on 1 April the case had %d clocks, want 3: %s", len(clocks), r.raw)
		}
		if r.body["version"].(float64) != 6 {
			t.Fatalf("version %v", r.body["version"])
		}
		now := h.do("GET", "/v1/cases/c1/clocks?as_of=2024-07-12", "").want(t, 200)
		found := false
		for _, c := range now.body["clocks"].([]any) {
			m := c.(map[string]any)
			if m["clock"] == "final_plan" {
				found = m["status"] == "met" && m["stopped"] == "2024-07-12"
			}
		}
		if !found {
			t.Fatalf("final plan not met: %s", now.raw)
		}
	})
	t.Run("history lists every event with its actor", func(t *testing.T) {
		r := h.do("GET", "/v1/cases/c1/history", "").want(t, 200)
		hist := r.body["history"].([]any)
		if len(hist) != 6 {
			t.Fatalf("history has %d entries: %s", len(hist), r.raw)
		}
		first := hist[0].(map[string]any)
		if first["event"] != "request_received" || first["actor"] != "caseworker-1" || first["occurred_on"] != "2024-03-01" {
			t.Fatalf("first entry %v", first)
		}
	})
	t.Run("worklist filters by LA and status", func(t *testing.T) {
		r := h.do("GET", "/v1/worklist?la=E09000001&status=running&as_of=2024-07-12", "").want(t, 200)
		items := r.body["items"].([]any)
		if len(items) != 2 {
			t.Fatalf("%d running clocks, want 2 (annual review and appeal window): %s", len(items), r.raw)
		}
		other := []string{"Authorization", sign(t, auth.Caseworker, "E00000000")}
		if r := h.do("GET", "/v1/worklist?la=E00000000", "", other...).want(t, 200); len(r.body["items"].([]any)) != 0 {
			t.Fatalf("another LA's worklist is not empty: %s", r.raw)
		}
		h.do("GET", "/v1/worklist?status=sleeping", "").want(t, 422)
	})
	t.Run("unknown case is 404", func(t *testing.T) {
		h.do("GET", "/v1/cases/nope", "").want(t, 404)
		h.do("GET", "/v1/cases/nope/history", "").want(t, 404)
		h.do("POST", "/v1/cases/nope/commands/decide_to_assess", `{}`).want(t, 404)
	})
	t.Run("metrics expose latency, lag and overdue clocks", func(t *testing.T) {
		r := h.do("GET", "/metrics", "").want(t, 200)
		for _, name := range []string{"ehc_http_request_duration_seconds", "ehc_append_duration_seconds", "ehc_projection_lag_events", `ehc_overdue_clocks{la="E09000001"}`} {
			if !strings.Contains(r.raw, name) {
				t.Errorf("metrics lack %s", name)
			}
		}
	})
	h.do("GET", "/healthz", "").want(t, 200)
	h.do("GET", "/readyz", "").want(t, 200)
	h.do("GET", "/no/such/route", "").want(t, 404)
}

func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	e := (&api.Server{}).Handler()
	for _, r := range e.Routes() {
		if r.Path == "/" || strings.HasPrefix(r.Path, "/ui/") || strings.HasPrefix(r.Path, "/portal/") || r.Method == echo.RouteNotFound {
			continue // the HTML pages (staff's and the portal's) are for people, not part of the API; groups' catch-alls are not routes
		}
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		served[r.Method+" "+strings.Join(parts, "/")] = true
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes not in openapi.json: %v; documented but not served: %v", missing, extra)
	}
}

func TestLateAndFutureStepsOverHTTP(t *testing.T) {
	h := newHarness(t)
	t.Run("a step recorded after its day needs a reason", func(t *testing.T) {
		r := h.do("POST", "/v1/cases", `{"id":"c9","la":"E09000001","on":"2024-06-01","data":{"requester":"parent","birth_date":"2015-05-01"}}`).want(t, 422)
		if r.body["field"] != "reason" {
			t.Fatalf("problem %v", r.body)
		}
	})
	t.Run("a step dated in the future is rejected", func(t *testing.T) {
		h.do("POST", "/v1/cases", `{"id":"c9","la":"E09000001","on":"2024-07-16","data":{"requester":"parent","birth_date":"2015-05-01"}}`).want(t, 422)
	})
	t.Run("a step recorded on its day needs no reason", func(t *testing.T) {
		h.do("POST", "/v1/cases", `{"id":"c9","la":"E09000001","data":{"requester":"parent","birth_date":"2015-05-01"}}`).want(t, 201)
		r := h.do("GET", "/v1/cases/c9/history", "").want(t, 200)
		if e := r.body["history"].([]any)[0].(map[string]any); e["occurred_on"] != "2024-07-15" || e["reason"] != nil {
			t.Fatalf("entry %v", e)
		}
	})
}

func TestRulebookShowsEachClocksCountingRule(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/v1/rulebooks/england-2014", "").want(t, 200)
	rules := map[string]string{}
	for _, c := range r.body["clocks"].([]any) {
		clock := c.(map[string]any)
		period := clock["period"].(map[string]any)
		rule, _ := period["due_rule"].(string)
		if rule == "" {
			t.Errorf("clock %v has no due_rule", clock["name"])
		}
		rules[clock["name"].(string)] = rule
	}
	for clock, words := range map[string]string{
		"draft_comments": "day 1 of 15",
		"annual_review":  "the day before the same day 12 months after",
		"appeal_window":  "HESC Rules 2008 r12",
		"phase_transfer": "the day before 15 February",
		"transfer_plan":  "counting the start as working day 1",
	} {
		if !strings.Contains(rules[clock], words) {
			t.Errorf("%s's rule %q does not say %q", clock, rules[clock], words)
		}
	}
	h.do("GET", "/v1/rulebooks/no-such-book", "").want(t, 404)
}

func TestOpeningACaseWithoutARequest(t *testing.T) {
	h := newHarness(t)
	t.Run("the LA becoming responsible opens a case", func(t *testing.T) {
		h.do("POST", "/v1/cases", `{"id":"r1","la":"E09000001","opening":"become_responsible","data":{"route":"health_body","birth_date":"2022-05-01"}}`).want(t, 201)
		r := h.do("GET", "/v1/cases/r1/history", "").want(t, 200)
		if e := r.body["history"].([]any)[0].(map[string]any); e["event"] != "la_became_responsible" {
			t.Fatalf("entry %v", e)
		}
	})
	t.Run("an unknown opening is refused naming the field", func(t *testing.T) {
		r := h.do("POST", "/v1/cases", `{"id":"r2","la":"E09000001","opening":"decide_to_assess","data":{}}`).want(t, 422)
		if r.body["field"] != "opening" {
			t.Fatalf("problem %v", r.body)
		}
	})
	t.Run("an opening is refused on a case's commands", func(t *testing.T) {
		h.do("POST", "/v1/cases/r1/commands/decide_to_assess", `{"opening":"become_responsible"}`).want(t, 422)
	})
}

func TestAPReviewIntervalWarnsInTheCaseView(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/las/E09000001/commands/adopt_rulebook", `{"data":{"rulebook":"reform-2023","from":"2024-01-01"}}`).want(t, 201)
	t.Run("a bad interval is refused naming the field", func(t *testing.T) {
		for _, body := range []string{`{"data":{"weeks":53}}`, `{"data":{"weeks":-1}}`, `{"data":{}}`} {
			if r := h.do("POST", "/v1/las/E09000001/commands/set_ap_review_interval", body).want(t, 422); r.body["field"] != "data.weeks" {
				t.Fatalf("%s: problem %v", body, r.body)
			}
		}
	})
	h.do("POST", "/v1/las/E09000001/commands/set_ap_review_interval", `{"data":{"weeks":6,"from":"2024-01-01"}}`).want(t, 201)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/decide_to_assess", `{"reason":"from the paper file","on":"2024-04-01"}`).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/start_ap_placement", `{"reason":"from the paper file","on":"2024-04-10","data":{"setting":"AP1","tier":"dual_registered","planned_end":"2024-09-20"}}`).want(t, 201)
	warned := func(asOf string) bool {
		t.Helper()
		for _, w := range h.do("GET", "/v1/cases/c1?as_of="+asOf, "").want(t, 200).body["warnings"].([]any) {
			if w.(map[string]any)["clock"] == "ap_review" {
				return true
			}
		}
		return false
	}
	t.Run("a placement reviewed within the LA's interval is no warning", func(t *testing.T) {
		if warned("2024-05-22") {
			t.Fatal("warned on the last day of the interval")
		}
	})
	t.Run("a placement not reviewed within the LA's interval is a warning", func(t *testing.T) {
		if !warned("2024-05-23") {
			t.Fatal("no warning the day after the interval")
		}
	})
	t.Run("a review restarts the interval", func(t *testing.T) {
		h.do("POST", "/v1/cases/c1/commands/review_ap_placement", `{"reason":"from the paper file","on":"2024-05-20","data":{"setting":"AP1"}}`).want(t, 201)
		if warned("2024-06-30") {
			t.Fatal("warned though reviewed on 20 May")
		}
	})
	t.Run("it is never a clock", func(t *testing.T) {
		for _, c := range h.do("GET", "/v1/cases/c1?as_of=2024-12-31", "").want(t, 200).body["clocks"].([]any) {
			if c.(map[string]any)["clock"] == "ap_review" {
				t.Fatalf("the LA's AP review setting runs a clock: %v", c)
			}
		}
	})
	t.Run("a setting made after the last review counts from the day it takes effect", func(t *testing.T) {
		h.do("POST", "/v1/las/E09000001/commands/set_ap_review_interval", `{"data":{"weeks":2,"from":"2024-07-01"}}`).want(t, 201)
		if warned("2024-07-15") {
			t.Fatal("a placement reviewed on 20 May was held to a 2-week setting made on 1 July from 20 May")
		}
		if !warned("2024-07-16") {
			t.Fatal("no warning two weeks after the setting took effect")
		}
	})
}

func TestOpenAPIDocumentsEveryCommandFromTheTable(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/openapi.json", "").want(t, 200)
	schemas := r.body["components"].(map[string]any)["schemas"].(map[string]any)
	documented := map[string]bool{}
	for _, c := range r.body["x-commands"].([]any) {
		documented[c.(map[string]any)["name"].(string)] = true
	}
	for _, spec := range domain.Commands() {
		if !documented[spec.Name] {
			t.Errorf("command %s is not in the document", spec.Name)
		}
		if spec.Data == nil {
			continue
		}
		s, ok := schemas["Data_"+spec.Name].(map[string]any)
		if !ok {
			t.Errorf("no schema for the data of %s", spec.Name)
			continue
		}
		if _, ok := s["properties"].(map[string]any); !ok {
			t.Errorf("the schema of %s's data has no properties: %v", spec.Name, s)
		}
	}
	req := schemas["Data_receive_request"].(map[string]any)["properties"].(map[string]any)["requester"].(map[string]any)
	if enum, _ := req["enum"].([]any); len(enum) != 6 {
		t.Errorf("the requester's values are not listed: %v", req)
	}
	params := r.body["paths"].(map[string]any)["/v1/cases/{id}/commands/{command}"].(map[string]any)["post"].(map[string]any)["parameters"].([]any)
	for _, p := range params {
		if m := p.(map[string]any); m["name"] == "command" {
			if enum := m["schema"].(map[string]any)["enum"].([]any); len(enum) != len(domain.CommandNames(domain.ScopeCase))-2 {
				t.Errorf("the case route lists %d commands", len(enum))
			}
		}
	}
}

func TestMetricsLabelOnlyKnownMethodsAndRoutes(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 50; i++ {
		req, _ := http.NewRequest(fmt.Sprintf("BOGUS%d", i), h.srv.URL+fmt.Sprintf("/made/up/path/%d", i), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "BOGUS") || strings.Contains(string(body), "made/up") {
		t.Fatal("a made-up method or path became a metrics label")
	}
	if !strings.Contains(string(body), `method="other",route="unmatched"`) {
		t.Fatalf("made-up requests are not folded into one series:\n%s", body)
	}
	t.Run("metrics served elsewhere are not on the public listener", func(t *testing.T) {
		h2 := newHarnessWith(t, nil, func(s *api.Server) { s.MetricsElsewhere = true })
		resp, err := http.Get(h2.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("/metrics answered %d on the public listener", resp.StatusCode)
		}
	})
}

func TestAPeriodLongerThanTenYearsIsRefused(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/v1/stats?la=E09000001&from=0001-01-01&to=9999-12-31", "/ui/stats?la=E09000001&from=2000-01-01&to=2010-01-02"} {
		r := h.do("GET", path, "")
		if r.status != 422 {
			t.Fatalf("%s answered %d", path, r.status)
		}
	}
	h.do("GET", "/v1/stats?la=E09000001&from=2014-09-01&to=2024-08-31", "").want(t, 200)
}

func TestCSVCellsNeverStartAFormula(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/cases", `{"id":"c1","la":"E09000001","on":"2024-03-01","reason":"=HYPERLINK(\"http://evil\",\"x\")","data":{"requester":"parent","birth_date":"2015-05-01"}}`).want(t, 201)
	req, _ := http.NewRequest("GET", h.srv.URL+"/v1/cases/c1/timeline?format=csv", nil)
	req.Header.Set("Authorization", sign(t, auth.Auditor, "E09000001"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `'=HYPERLINK`) {
		t.Fatalf("status %d, body:\n%s", resp.StatusCode, body)
	}
}

func TestStoredStringsFromTheCallerAreBounded(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("x", 2001)
	for name, headers := range map[string][]string{
		"X-Correlation-ID": {"X-Correlation-ID", strings.Repeat("c", 101)},
		"Idempotency-Key":  {"Idempotency-Key", "has spaces in it"},
	} {
		r := h.do("POST", "/v1/cases", openBody, headers...)
		if r.status != 422 || r.body["field"] != name {
			t.Errorf("%s: %d %v", name, r.status, r.body)
		}
	}
	r := h.do("POST", "/v1/cases", `{"id":"c1","la":"E09000001","on":"2024-03-01","reason":"`+long+`","data":{"requester":"parent","birth_date":"2015-05-01"}}`)
	if r.status != 422 || r.body["field"] != "reason" {
		t.Errorf("a long reason: %d %v", r.status, r.body)
	}
	r = h.do("POST", "/v1/cases", `{"id":"c2","la":"E09000001","on":"2024-03-01","reason":"r","data":{"requester":"parent","birth_date":"2015-05-01"}}`)
	if r.status != 201 {
		t.Fatalf("a short reason: %d", r.status)
	}
	r = h.do("POST", "/v1/cases/c2/commands/record_exception", `{"on":"2024-03-02","reason":"r","data":{"kind":"absence","from":"2024-03-01","to":"2024-04-30","evidence":"`+long+`"}}`)
	if r.status != 422 || r.body["field"] != "data.evidence" {
		t.Errorf("a long evidence: %d %v", r.status, r.body)
	}
}

func TestAnIdempotencyKeyReusedForAnotherDayIsRefused(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/decide_to_assess", `{"reason":"r","on":"2024-04-05"}`, "Idempotency-Key", "k-9").want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/decide_to_assess", `{"reason":"r","on":"2024-04-05"}`, "Idempotency-Key", "k-9").want(t, 200)
	if r := h.do("POST", "/v1/cases/c1/commands/decide_to_assess", `{"reason":"r","on":"2024-04-06"}`, "Idempotency-Key", "k-9"); r.status != 422 || r.body["field"] != "Idempotency-Key" {
		t.Fatalf("a reuse for another day: %d %v", r.status, r.body)
	}
}

func TestAnIdempotencyKeyReusedWithOtherDetailsIsRefused(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/decide_to_assess", `{"reason":"from the paper file","on":"2024-04-05"}`).want(t, 201)
	const body = `{"reason":"from the paper file","on":"2024-04-08","data":{"advice":"health"}}`
	first := h.do("POST", "/v1/cases/c1/commands/request_advice", body, "Idempotency-Key", "k-7").want(t, 201)
	t.Run("the same request laid out differently is a retry", func(t *testing.T) {
		again := h.do("POST", "/v1/cases/c1/commands/request_advice",
			"{\n  \"on\": \"2024-04-08\",\n  \"reason\": \"from the paper file\",\n  \"data\": { \"advice\": \"health\" }\n}",
			"Idempotency-Key", "k-7").want(t, 200)
		if again.body["version"] != first.body["version"] {
			t.Fatalf("retry %v, first %v", again.body, first.body)
		}
	})
	for name, other := range map[string]string{
		"other data is refused":     `{"reason":"from the paper file","on":"2024-04-08","data":{"advice":"social_care"}}`,
		"another reason is refused": `{"reason":"typed up late","on":"2024-04-08","data":{"advice":"health"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := h.do("POST", "/v1/cases/c1/commands/request_advice", other, "Idempotency-Key", "k-7")
			if r.status != 422 || r.body["field"] != "Idempotency-Key" {
				t.Fatalf("got %d %v", r.status, r.body)
			}
		})
	}
	t.Run("a retry of an erasure is answered after the key has gone", func(t *testing.T) {
		erase := `{"reason":"from the paper file","on":"2024-04-09","data":{"reason":"the family asked"}}`
		h.do("POST", "/v1/cases/c1/commands/erase_personal_data", erase, "Idempotency-Key", "k-8").want(t, 201)
		h.do("POST", "/v1/cases/c1/commands/erase_personal_data", erase, "Idempotency-Key", "k-8").want(t, 200)
	})
}
