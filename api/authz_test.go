package api_test

import (
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/api"
	"github.com/ehcledger/ehcledger/auth"
	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

const (
	testSecret = "api-authorisation-test-secret-0123456789"
	homeLA     = "E09000001"
	otherLA    = "E09000002"
)

func sign(t *testing.T, role auth.Role, las ...string) string {
	t.Helper()
	return signAs(t, "t-"+string(role), role, las...)
}

// signAs signs a token for a named person, as an Authorization header value.
func signAs(t *testing.T, subject string, role auth.Role, las ...string) string {
	t.Helper()
	tok, err := auth.Issue([]byte(testSecret), auth.Principal{Subject: subject, Role: role, LAs: las}, time.Hour, fixedNow())
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}

// verifiedHarness starts a server that verifies tokens signed with
// testSecret, for tests that sign each request's token themselves.
func verifiedHarness(t *testing.T) *harness {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{Secret: []byte(testSecret), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	return newHarnessWith(t, v)
}

// route is one request of the authorisation table: who may send it.
type route struct {
	method, pattern, path, body string
	public                      bool // anyone, with or without a token
	page                        bool // a browser page: no token sends you to sign in
	// portal marks the portal's routes, which no token opens: want is what
	// they answer without the invitation's session, with or without one.
	portal bool
	want   int
	roles  []auth.Role
	anyLA  bool // about no LA: the law is the same for all
}

func TestEveryRouteAgainstEveryRoleInAndOutOfItsLA(t *testing.T) {
	h := verifiedHarness(t)
	cw := []string{"Authorization", sign(t, auth.Caseworker, homeLA)}
	h.do("POST", "/v1/cases", openBody, cw...).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/decide_to_assess", `{"on":"2024-04-01","reason":"from the paper file"}`, cw...).want(t, 201)

	workers := []auth.Role{auth.Caseworker, auth.Manager}
	readers := []auth.Role{auth.Caseworker, auth.Manager, auth.Auditor}
	table := []route{
		{method: "GET", pattern: "/healthz", path: "/healthz", public: true},
		{method: "GET", pattern: "/readyz", path: "/readyz", public: true},
		{method: "GET", pattern: "/metrics", path: "/metrics", public: true},
		{method: "GET", pattern: "/openapi.json", path: "/openapi.json", public: true},
		{method: "GET", pattern: "/", path: "/", public: true},
		{method: "GET", pattern: "/ui/login", path: "/ui/login", public: true},
		{method: "POST", pattern: "/ui/login", path: "/ui/login", public: true}, // a form without its anti-forgery token: 403
		{method: "GET", pattern: "/ui/static/*", path: "/ui/static/ehcledger.css", public: true},
		{method: "GET", pattern: "/ui/auth/callback", path: "/ui/auth/callback?code=c&state=s", public: true}, // no provider here: 404
		{method: "POST", pattern: "/ui/logout", path: "/ui/logout", public: true},                             // no session to end: back to sign-in
		{method: "GET", pattern: "/ui/worklist", path: "/ui/worklist?la=" + homeLA, page: true, roles: workers},
		{method: "GET", pattern: "/ui/cases/:id", path: "/ui/cases/c1", page: true, roles: readers},
		{method: "GET", pattern: "/ui/cases/:id/steps", path: "/ui/cases/c1/steps?command=request_advice", page: true, roles: workers},
		{method: "GET", pattern: "/ui/cases/:id/steps/:command", path: "/ui/cases/c1/steps/request_advice", page: true, roles: workers},
		{method: "POST", pattern: "/ui/cases/:id/steps/:command", path: "/ui/cases/c1/steps/request_advice", page: true, roles: workers},
		{method: "POST", pattern: "/ui/cases/:id/documents", path: "/ui/cases/c1/documents", page: true, roles: workers},
		{method: "GET", pattern: "/ui/new-case", path: "/ui/new-case", page: true, roles: workers, anyLA: true},
		{method: "POST", pattern: "/ui/new-case", path: "/ui/new-case", page: true, roles: workers, anyLA: true},
		{method: "GET", pattern: "/ui/cases/:id/corrections/:version", path: "/ui/cases/c1/corrections/2", page: true, roles: workers},
		{method: "POST", pattern: "/ui/cases/:id/corrections/:version", path: "/ui/cases/c1/corrections/2", page: true, roles: workers},
		{method: "GET", pattern: "/ui/cases/:id/documents/:sha256", path: "/ui/cases/c1/documents/" + strings.Repeat("ab", 32), page: true, roles: readers},
		{method: "GET", pattern: "/portal/join/:case/:secret", path: "/portal/join/c1/not-a-secret-we-sent", portal: true, want: 200},
		{method: "POST", pattern: "/portal/join/:case/:secret", path: "/portal/join/c1/not-a-secret-we-sent", portal: true, want: 403},
		{method: "GET", pattern: "/portal/signed-out", path: "/portal/signed-out", portal: true, want: 200},
		{method: "GET", pattern: "/portal/cases/:id", path: "/portal/cases/c1", portal: true, want: http.StatusSeeOther},
		{method: "POST", pattern: "/portal/cases/:id/steps/:command", path: "/portal/cases/c1/steps/receive_representations", portal: true, want: http.StatusSeeOther},
		{method: "POST", pattern: "/portal/cases/:id/documents", path: "/portal/cases/c1/documents", portal: true, want: http.StatusSeeOther},
		{method: "GET", pattern: "/portal/cases/:id/documents/:sha256", path: "/portal/cases/c1/documents/" + strings.Repeat("a", 64), portal: true, want: http.StatusSeeOther},
		{method: "GET", pattern: "/v1/las/:la/sen2", path: "/v1/las/" + homeLA + "/sen2?year=2025", roles: []auth.Role{auth.Manager}},
		{method: "GET", pattern: "/ui/stats", path: "/ui/stats?la=" + homeLA, page: true, roles: []auth.Role{auth.Inspector, auth.Manager}},
		{method: "GET", pattern: "/ui/stats", path: "/ui/stats?la=" + homeLA + "&whatif=green-paper-2022", page: true, roles: []auth.Role{auth.Manager}},
		{method: "POST", pattern: "/v1/cases", path: "/v1/cases", roles: workers,
			body: `{"la":"` + homeLA + `","on":"2024-07-01","data":{"requester":"parent","birth_date":"2015-05-01"}}`},
		{method: "GET", pattern: "/v1/cases/:id", path: "/v1/cases/c1", roles: readers},
		{method: "GET", pattern: "/v1/cases/:id", path: "/v1/cases/c1?as_of=2024-03-15", roles: []auth.Role{auth.Auditor, auth.Manager}},
		{method: "GET", pattern: "/v1/cases/:id/clocks", path: "/v1/cases/c1/clocks", roles: readers},
		{method: "GET", pattern: "/v1/cases/:id/history", path: "/v1/cases/c1/history", roles: readers},
		{method: "GET", pattern: "/v1/cases/:id/timeline", path: "/v1/cases/c1/timeline", roles: readers},
		{method: "GET", pattern: "/v1/cases/:id/proof", path: "/v1/cases/c1/proof?checkpoint=1", roles: readers},
		{method: "GET", pattern: "/v1/checkpoint", path: "/v1/checkpoint", roles: auth.Roles, anyLA: true},
		{method: "POST", pattern: "/v1/cases/:id/commands/:command", path: "/v1/cases/c1/commands/request_advice", roles: workers,
			body: `{"on":"2024-04-02","data":{"kind":"educational"}}`},
		{method: "POST", pattern: "/v1/cases/:id/commands/:command", path: "/v1/cases/c1/commands/assign_case", roles: []auth.Role{auth.Manager},
			body: `{"data":{"caseworker":"cw-9","team":"north"}}`},
		{method: "POST", pattern: "/v1/cases/:id/commands/:command", path: "/v1/cases/c1/commands/erase_personal_data", roles: []auth.Role{auth.Manager},
			body: `{"data":{"reason":"the family asked"}}`},
		{method: "POST", pattern: "/v1/las/:la/commands/:command", path: "/v1/las/" + homeLA + "/commands/record_school_closure", roles: []auth.Role{auth.Admin},
			body: `{"data":{"school":"S1","first_day":"2024-07-22","reopens":"2024-09-02"}}`},
		{method: "GET", pattern: "/v1/las/:la/access-log", path: "/v1/las/" + homeLA + "/access-log", roles: []auth.Role{auth.Auditor}},
		{method: "POST", pattern: "/v1/sessions/revoke", path: "/v1/sessions/revoke", roles: []auth.Role{auth.Admin}, anyLA: true, body: `{"subject":"amy"}`},
		{method: "GET", pattern: "/v1/las/:la/rulebook-changes", path: "/v1/las/" + homeLA + "/rulebook-changes", roles: []auth.Role{auth.Inspector, auth.Manager, auth.Auditor}},
		{method: "GET", pattern: "/v1/las/:la/rulebook-changes", path: "/v1/las/" + homeLA + "/rulebook-changes?rulebook=reform-2023&version=3&as_of=2024-07-01", roles: []auth.Role{auth.Inspector, auth.Manager, auth.Auditor}},
		{method: "GET", pattern: "/v1/worklist", path: "/v1/worklist?la=" + homeLA, roles: workers},
		{method: "GET", pattern: "/v1/stats", path: "/v1/stats?la=" + homeLA, roles: []auth.Role{auth.Inspector, auth.Manager}},
		{method: "GET", pattern: "/v1/stats", path: "/v1/stats", roles: []auth.Role{auth.Inspector, auth.Manager}, anyLA: true},
		{method: "GET", pattern: "/v1/rulebooks", path: "/v1/rulebooks", roles: auth.Roles, anyLA: true},
		{method: "GET", pattern: "/v1/rulebooks/:id", path: "/v1/rulebooks/england-2014", roles: auth.Roles, anyLA: true},
	}

	// The table must name every route the server has.
	e := (&api.Server{}).Handler()
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound {
			continue // a group's catch-all, not a route
		}
		if !slices.ContainsFunc(table, func(x route) bool { return x.method == r.Method && x.pattern == r.Path }) {
			t.Errorf("route %s %s is missing from the authorisation table", r.Method, r.Path)
		}
	}

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(r route, authz string) int {
		t.Helper()
		req, _ := http.NewRequest(r.method, h.srv.URL+r.path, strings.NewReader(r.body))
		req.Header.Set("Content-Type", "application/json")
		if r.pattern == "/ui/login" && r.method == "POST" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Body = http.NoBody
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, r := range table {
		name := r.method + " " + r.path
		if r.portal {
			// No staff token opens the portal, whatever its role and LA.
			for _, authz := range []string{"", sign(t, auth.Manager, homeLA), sign(t, auth.Admin, auth.AnyLA)} {
				t.Run(name+" without the invitation's session answers "+strconv.Itoa(r.want), func(t *testing.T) {
					if got := send(r, authz); got != r.want {
						t.Fatalf("answered %d", got)
					}
				})
			}
			continue
		}
		t.Run(name+" without a token", func(t *testing.T) {
			got := send(r, "")
			switch {
			case r.pattern == "/ui/login" && r.method == "POST":
				if got != 403 {
					t.Fatalf("signing in without the form's anti-forgery token answered %d, want 403", got)
				}
			case r.public && (got == 401 || got == 403):
				t.Fatalf("a public route answered %d", got)
			case r.page && got != http.StatusSeeOther:
				t.Fatalf("a page answered %d, not a redirect to sign in", got)
			case !r.public && !r.page && got != 401:
				t.Fatalf("answered %d, want 401", got)
			}
		})
		if r.public {
			continue
		}
		t.Run(name+" with a forged token is refused", func(t *testing.T) {
			forged := sign(t, auth.Admin, "*") + "x"
			if got := send(r, forged); got != 401 && !(r.page && got == http.StatusSeeOther) {
				t.Fatalf("answered %d to a forged token", got)
			}
		})
		for _, role := range auth.Roles {
			for _, scope := range []struct {
				name string
				las  []string
			}{{"in its LA", []string{homeLA}}, {"outside its LA", []string{otherLA}}, {"with every LA", []string{auth.AnyLA}}} {
				if scope.las[0] == auth.AnyLA && role != auth.Admin {
					// Only admins may hold every LA: another role's token
					// granting it is not a token at all.
					t.Run(name+" as "+string(role)+" "+scope.name+" is refused as unauthenticated", func(t *testing.T) {
						if got := send(r, forgeEveryLA(t, role)); got != 401 && !(r.page && got == http.StatusSeeOther) {
							t.Fatalf("answered %d, want 401", got)
						}
					})
					continue
				}
				allowed := slices.Contains(r.roles, role) && (r.anyLA || scope.las[0] != otherLA)
				verdict := "is refused"
				if allowed {
					verdict = "is let through"
				}
				t.Run(name+" as "+string(role)+" "+scope.name+" "+verdict, func(t *testing.T) {
					got := send(r, sign(t, role, scope.las...))
					if allowed && (got == 401 || got == 403) {
						t.Fatalf("answered %d", got)
					}
					// A role that may use the route but not for this case's LA
					// is told what it would be told of a case that does not
					// exist: nothing of the case, not even that it exists.
					want := 403
					if slices.Contains(r.roles, role) && strings.Contains(r.pattern, "/cases/:id") {
						want = 404
					}
					if !allowed && got != want {
						t.Fatalf("answered %d, want %d", got, want)
					}
				})
			}
		}
	}
}

func TestEveryReadOfACaseIsInItsLAsAccessLog(t *testing.T) {
	h := verifiedHarness(t)
	cw := sign(t, auth.Caseworker, homeLA)
	h.do("POST", "/v1/cases", openBody, "Authorization", cw).want(t, 201)
	for _, path := range []string{"/v1/cases/c1", "/v1/cases/c1/clocks", "/v1/cases/c1/history", "/v1/cases/c1/timeline"} {
		h.do("GET", path, "", "Authorization", cw).want(t, 200)
	}
	// Refused reads are not reads: nothing was served.
	h.do("GET", "/v1/cases/c1", "", "Authorization", sign(t, auth.Caseworker, otherLA)).want(t, 404)
	h.do("GET", "/v1/cases/c1/timeline?format=xml", "", "Authorization", cw).want(t, 422)
	h.do("GET", "/v1/cases/nobody", "", "Authorization", cw).want(t, 404)

	auditor := sign(t, auth.Auditor, homeLA)
	log := h.do("GET", "/v1/las/"+homeLA+"/access-log?case=c1", "", "Authorization", auditor).want(t, 200)
	entries, _ := log.body["access"].([]any)
	var routes []string
	for _, e := range entries {
		m := e.(map[string]any)
		if m["actor"] != "t-caseworker" || m["role"] != "caseworker" || m["case"] != "c1" || m["recorded_at"] == "" {
			t.Fatalf("access entry %v", m)
		}
		routes = append(routes, m["route"].(string))
	}
	want := []string{"GET /v1/cases/:id/timeline", "GET /v1/cases/:id/history", "GET /v1/cases/:id/clocks", "GET /v1/cases/:id"}
	if !slices.Equal(routes, want) {
		t.Fatalf("access log routes %v, want %v (newest first)", routes, want)
	}
	// The auditor's own read of the log is not a read of a case; reading
	// the case is.
	h.do("GET", "/v1/cases/c1/timeline", "", "Authorization", auditor).want(t, 200)
	log = h.do("GET", "/v1/las/"+homeLA+"/access-log?actor=t-auditor", "", "Authorization", auditor).want(t, 200)
	if got, _ := log.body["access"].([]any); len(got) != 1 {
		t.Fatalf("the auditor's reads: %v", got)
	}
	h.do("GET", "/v1/las/"+homeLA+"/access-log?from=yesterday", "", "Authorization", auditor).want(t, 422)
	h.do("GET", "/v1/las/"+otherLA+"/access-log", "", "Authorization", auditor).want(t, 403)
}

func TestATokenBeyondItsRateIsToldToWait(t *testing.T) {
	v, err := auth.NewVerifier(auth.Config{Secret: []byte(testSecret), Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, v, func(s *api.Server) { s.RateLimit = api.RateLimit{Rate: 0.01, Burst: 2} })
	busy := sign(t, auth.Inspector, homeLA)
	h.do("GET", "/v1/rulebooks", "", "Authorization", busy).want(t, 200)
	h.do("GET", "/v1/rulebooks", "", "Authorization", busy).want(t, 200)
	r := h.do("GET", "/v1/rulebooks", "", "Authorization", busy).want(t, 429)
	if r.header.Get("Retry-After") == "" || r.body["code"] != "too_many_requests" {
		t.Fatalf("429 without Retry-After or code: %v %v", r.header, r.body)
	}
	other, _ := auth.Issue([]byte(testSecret), auth.Principal{Subject: "someone-else", Role: auth.Auditor, LAs: []string{homeLA}}, time.Hour, fixedNow())
	h.do("GET", "/v1/rulebooks", "", "Authorization", "Bearer "+other).want(t, 200)
	if id := r.header.Get("X-Request-ID"); id == "" {
		t.Fatal("no request ID")
	}
}

func TestViewsAnswer503UntilTheProjectionsHaveCaughtUp(t *testing.T) {
	var ready atomic.Bool
	h := newHarnessWith(t, nil, func(s *api.Server) { s.Ready = ready.Load })
	h.do("GET", "/healthz", "").want(t, 200)
	if r := h.do("GET", "/readyz", ""); r.status != 503 || r.body["status"] != "not ready" {
		t.Fatalf("readyz while catching up: %d %v", r.status, r.body)
	}
	r := h.do("GET", "/v1/worklist", "").want(t, 503)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	h.do("GET", "/ui/worklist", "").want(t, 503)
	ready.Store(true)
	h.do("GET", "/readyz", "").want(t, 200)
	h.do("GET", "/v1/worklist", "").want(t, 200)
}

func TestABodyOverTheLimitIsRefusedAndRecordsNothing(t *testing.T) {
	h := newHarness(t)
	big := `{"id":"big","la":"E09000001","on":"2024-03-01","reason":"` + strings.Repeat("x", 2<<20) + `","data":{"requester":"parent","birth_date":"2015-05-01"}}`
	r := h.do("POST", "/v1/cases", big).want(t, 413)
	if r.body["code"] != "invalid" {
		t.Fatalf("problem %v", r.body)
	}
	h.do("GET", "/v1/cases/big", "").want(t, 404)
}

// TestAnInspectorOfSomeLAsSeesThoseTogetherNotEngland: an inspector sees the
// LAs its token names together; a token granting an inspector every LA is
// refused, for only admins may hold every LA.
func TestAnInspectorOfSomeLAsSeesThoseTogetherNotEngland(t *testing.T) {
	h := verifiedHarness(t)
	for _, la := range []string{homeLA, otherLA, "E09000003"} {
		body := strings.Replace(openBody, `"id":"c1","la":"E09000001"`, `"id":"c-`+la+`","la":"`+la+`"`, 1)
		h.do("POST", "/v1/cases", body, "Authorization", sign(t, auth.Caseworker, la)).want(t, 201)
	}
	q := "/v1/stats?from=2024-01-01&to=2024-12-31"
	some := h.do("GET", q, "", "Authorization", sign(t, auth.Inspector, homeLA, otherLA)).want(t, 200)
	total, _ := some.body["total"].(map[string]any)
	if some.body["national"] != nil || total["requests"] != "<5" || len(some.body["las"].([]any)) != 2 {
		t.Fatalf("an inspector of two LAs got %v", some.body)
	}
	h.do("GET", q, "", "Authorization", forgeEveryLA(t, auth.Inspector)).want(t, 401)
	t.Run("an inspector granted the national figures reads England's and every LA's", func(t *testing.T) {
		national := sign(t, auth.Inspector, auth.England)
		all := h.do("GET", q, "", "Authorization", national).want(t, 200)
		england, _ := all.body["national"].(map[string]any)
		if england["la"] != "ENGLAND" || england["requests"] != "<5" || len(all.body["las"].([]any)) != 3 {
			t.Fatalf("the national figures: %v", all.body)
		}
		h.do("GET", q+"&la=E09000003", "", "Authorization", national).want(t, 200)
		if page := h.do("GET", "/ui/stats?from=2024-01-01&to=2024-12-31", "", "Authorization", national).want(t, 200).raw; !strings.Contains(page, "Timeliness: England") {
			t.Fatal("the page of the national figures is not England's")
		}
		h.do("GET", "/v1/cases/c-E09000003", "", "Authorization", national).want(t, 403)
	})
}

// forgeEveryLA signs, with the test secret, a token granting role every LA,
// which auth.Issue refuses to make for any role but admin: what a
// misconfigured identity provider might send.
func forgeEveryLA(t *testing.T, role auth.Role) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "t-" + string(role), "role": string(role),
		"las": []string{auth.AnyLA}, "iat": fixedNow().Unix(), "exp": fixedNow().Add(time.Hour).Unix()}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}

func TestOpeningACaseIDTakenByAnotherLASaysNothingOfIt(t *testing.T) {
	h := verifiedHarness(t)
	h.do("POST", "/v1/cases", openBody, "Authorization", sign(t, auth.Caseworker, homeLA)).want(t, 201)
	for _, body := range []string{
		`{"reason":"r","id":"c1","la":"` + otherLA + `","on":"2024-03-01","data":{"requester":"parent","birth_date":"2015-05-01"}}`,
		`{"opening":"become_responsible","reason":"r","id":"c1","la":"` + otherLA + `","on":"2024-03-01","data":{"route":"health_body","birth_date":"2015-05-01"}}`,
	} {
		r := h.do("POST", "/v1/cases", body, "Authorization", sign(t, auth.Caseworker, otherLA)).want(t, 409)
		if detail, _ := r.body["detail"].(string); strings.Contains(detail, homeLA) || strings.Contains(detail, "2024-03-01") {
			t.Fatalf("the refusal tells another LA whose case it is: %q", detail)
		}
	}
}

// planMoving records case c1 in homeLA, as the caseworker whose
// Authorization header home is, up to its plan's transfer to otherLA.
func planMoving(t *testing.T, h *harness, home []string) {
	t.Helper()
	h.do("POST", "/v1/cases", openBody, home...).want(t, 201)
	for _, step := range []struct{ command, body string }{
		{"decide_to_assess", `{"on":"2024-04-01","reason":"r"}`},
		{"send_draft_plan", `{"on":"2024-06-03","reason":"r"}`},
		{"issue_final_plan", `{"on":"2024-06-24","reason":"r","data":{"school":"S1"}}`},
		{"transfer_out", `{"on":"2024-07-01","reason":"r","data":{"to_la":"` + otherLA + `","move_date":"2024-07-22"}}`},
	} {
		h.do("POST", "/v1/cases/c1/commands/"+step.command, step.body, home...).want(t, 201)
	}
}

// TestACaseInTransferIsActedOnByTheLAThatOwnsEachStep: after transfer_out
// the LA the plan leaves keeps every step but the acceptance, which only the
// LA it moves to may record; after acceptance only the new LA acts.
func TestACaseInTransferIsActedOnByTheLAThatOwnsEachStep(t *testing.T) {
	h := verifiedHarness(t)
	home := []string{"Authorization", sign(t, auth.Caseworker, homeLA)}
	away := []string{"Authorization", sign(t, auth.Caseworker, otherLA)}
	awayManager := []string{"Authorization", sign(t, auth.Manager, otherLA)}
	planMoving(t, h, home)
	t.Run("the LA the plan leaves may not accept it", func(t *testing.T) {
		h.do("POST", "/v1/cases/c1/commands/transfer_in", `{"on":"2024-07-05","reason":"r"}`, home...).want(t, 403)
	})
	t.Run("the LA it moves to may not act on it before accepting it", func(t *testing.T) {
		h.do("POST", "/v1/cases/c1/commands/hold_review_meeting", `{"on":"2024-07-05","reason":"r"}`, away...).want(t, 403)
		h.do("POST", "/v1/cases/c1/commands/erase_personal_data", `{"on":"2024-07-05","reason":"r","data":{"reason":"asked"}}`, awayManager...).want(t, 403)
	})
	t.Run("the LA it moves to accepts it, and from then on only it acts", func(t *testing.T) {
		h.do("POST", "/v1/cases/c1/commands/transfer_in", `{"on":"2024-07-08","reason":"r"}`, away...).want(t, 201)
		h.do("POST", "/v1/cases/c1/commands/hold_review_meeting", `{"on":"2024-07-09","reason":"r"}`, home...).want(t, 404) // no longer its case at all
		h.do("POST", "/v1/cases/c1/commands/hold_review_meeting", `{"on":"2024-07-09","reason":"r"}`, away...).want(t, 201)
	})
}

// TestEveryCaseRouteAgainstEveryRoleWhileItsPlanMoves is the role x route x
// LA table for a case in transfer: both LAs read it; the LA the plan leaves
// records every step but the acceptance, which is the receiving LA's alone;
// a third LA is told nothing of it. A command let through is sent for a day
// to come, so that it is refused after the authorisation and changes
// nothing for the rows after it.
func TestEveryCaseRouteAgainstEveryRoleWhileItsPlanMoves(t *testing.T) {
	h := verifiedHarness(t)
	home := []string{"Authorization", sign(t, auth.Caseworker, homeLA)}
	planMoving(t, h, home)
	const thirdLA = "E09000003"
	workers := []auth.Role{auth.Caseworker, auth.Manager}
	readers := []auth.Role{auth.Caseworker, auth.Manager, auth.Auditor}
	later := `{"on":"2099-01-01","reason":"r","data":{"reason":"asked","caseworker":"cw-9"}}`
	table := []struct {
		method, path string
		roles        []auth.Role
		owner        string // the one LA that may send it; "" for both
	}{
		{"GET", "/ui/cases/c1", readers, ""},
		{"GET", "/v1/cases/c1", readers, ""},
		{"GET", "/v1/cases/c1?as_of=2024-07-10", []auth.Role{auth.Auditor, auth.Manager}, ""},
		{"GET", "/v1/cases/c1/clocks", readers, ""},
		{"GET", "/v1/cases/c1/history", readers, ""},
		{"GET", "/v1/cases/c1/timeline", readers, ""},
		{"POST", "/v1/cases/c1/commands/hold_review_meeting", workers, homeLA},
		{"POST", "/v1/cases/c1/commands/transfer_out", workers, homeLA},
		{"POST", "/v1/cases/c1/commands/assign_case", []auth.Role{auth.Manager}, homeLA},
		{"POST", "/v1/cases/c1/commands/erase_personal_data", []auth.Role{auth.Manager}, homeLA},
		{"POST", "/v1/cases/c1/commands/transfer_in", workers, otherLA},
	}
	for _, r := range table {
		for _, role := range auth.Roles {
			if role == auth.Admin {
				continue // admins act on LAs, not on cases
			}
			for _, la := range []string{homeLA, otherLA, thirdLA} {
				may := slices.Contains(r.roles, role)
				want := 0 // let through
				switch {
				case !may:
					want = 403
				case la == thirdLA:
					want = 404 // nothing of the case, not even that it exists
				case r.owner != "" && la != r.owner:
					want = 403 // the case is in its scope, the step is not its to take
				}
				verdict := "is let through"
				if want != 0 {
					verdict = "is refused with " + strconv.Itoa(want)
				}
				t.Run(r.method+" "+r.path+" as "+string(role)+" of "+la+" "+verdict, func(t *testing.T) {
					body := ""
					if r.method == "POST" {
						body = later
					}
					got := h.do(r.method, r.path, body, "Authorization", sign(t, role, la)).status
					switch {
					case want == 0 && (got == 401 || got == 403 || got == 404):
						t.Fatalf("answered %d", got)
					case want == 0 && got < 300 && r.method == "POST":
						t.Fatalf("a step for 2099 was recorded (%d): the table's later rows test another case", got)
					case want != 0 && got != want:
						t.Fatalf("answered %d, want %d", got, want)
					}
				})
			}
		}
	}
}

func TestAWorklistReadIsInItsLAsAccessLog(t *testing.T) {
	h := verifiedHarness(t)
	cw := sign(t, auth.Caseworker, homeLA)
	h.do("POST", "/v1/cases", openBody, "Authorization", cw).want(t, 201)
	if items := h.do("GET", "/v1/worklist?la="+homeLA, "", "Authorization", cw).want(t, 200).body["items"].([]any); len(items) == 0 {
		t.Fatal("the worklist is empty: the test proves nothing")
	}
	log := h.do("GET", "/v1/las/"+homeLA+"/access-log?case=c1", "", "Authorization", sign(t, auth.Auditor, homeLA)).want(t, 200)
	found := false
	for _, e := range log.body["access"].([]any) {
		found = found || e.(map[string]any)["route"] == "GET /v1/worklist"
	}
	if !found {
		t.Fatalf("the worklist read is not in the access log: %v", log.body)
	}
}

func TestSmallNumbersAreSuppressedForInspectorsNotManagers(t *testing.T) {
	h := verifiedHarness(t)
	h.do("POST", "/v1/cases", openBody, "Authorization", sign(t, auth.Caseworker, homeLA)).want(t, 201)
	q := "/v1/stats?la=" + homeLA + "&from=2024-01-01&to=2024-12-31"
	inspected := h.do("GET", q, "", "Authorization", sign(t, auth.Inspector, homeLA)).want(t, 200).body
	if inspected["requests"] != "<5" || inspected["small_numbers_suppressed"] != true || inspected["plans_issued"] != 0.0 {
		t.Fatalf("an inspector read %v", inspected)
	}
	managed := h.do("GET", q, "", "Authorization", sign(t, auth.Manager, homeLA)).want(t, 200).body
	if managed["requests"] != 1.0 {
		t.Fatalf("the LA's manager read %v", managed["requests"])
	}
	req, _ := http.NewRequest("GET", h.srv.URL+q+"&format=csv", nil)
	req.Header.Set("Authorization", sign(t, auth.Inspector, homeLA))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "<5") {
		t.Fatalf("the inspector's CSV shows small numbers:\n%s", body)
	}
	page := func(role auth.Role, q string) string {
		t.Helper()
		return h.do("GET", q, "", "Authorization", sign(t, role, homeLA)).want(t, 200).raw
	}
	for q, want := range map[string]string{
		"/ui/stats?la=" + homeLA + "&from=2024-01-01&to=2024-12-31": "<strong>&lt;5</strong> requests",
		// The LAs granted together are this one LA: their total is it.
		"/ui/stats?from=2024-01-01&to=2024-12-31": "<strong>&lt;5</strong> requests",
	} {
		if got := page(auth.Inspector, q); !strings.Contains(got, want) || strings.Contains(got, "<strong>1</strong>") || !strings.Contains(got, `id="suppression"`) {
			t.Errorf("an inspector's page %s shows small numbers:\n%s", q, got)
		}
	}
	if got := page(auth.Manager, "/ui/stats?la="+homeLA+"&from=2024-01-01&to=2024-12-31"); !strings.Contains(got, "<strong>1</strong> requests") {
		t.Errorf("the LA's manager's page hides its figures:\n%s", got)
	}
}
