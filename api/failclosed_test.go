package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/api"
	"github.com/ehcledger/ehcledger/auth"
	"github.com/labstack/echo/v4"
)

// TestAServerWithoutAVerifierGrantsNoRole checks that a server left without
// a token verifier fails closed: every route that needs a role refuses every
// token, whatever its role, and records nothing, while the routes that need
// none still answer; /readyz says the server is not ready, so that no load
// balancer sends it traffic.
func TestAServerWithoutAVerifierGrantsNoRole(t *testing.T) {
	h := newHarnessWith(t, nil, func(s *api.Server) { s.Auth = nil })
	public := map[string]bool{"GET /healthz": true, "GET /metrics": true,
		"GET /openapi.json": true, "GET /": true, "GET /ui/login": true, "GET /ui/static/*": true}
	params := strings.NewReplacer(":id", "c1", ":la", homeLA, ":command", "decide_to_assess", "*", "ehcledger.css")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	routes := (&api.Server{}).Handler().Routes()
	for _, r := range routes {
		if r.Method == echo.RouteNotFound {
			continue // a group's catch-all, not a route
		}
		name := r.Method + " " + r.Path
		path := params.Replace(r.Path)
		if name == "GET /readyz" {
			continue // below
		}
		if public[name] {
			t.Run(name+" needs no role and is answered", func(t *testing.T) {
				req, _ := http.NewRequest(r.Method, h.srv.URL+path, nil)
				resp, err := noRedirect.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode >= 400 {
					t.Fatalf("answered %d", resp.StatusCode)
				}
			})
			continue
		}
		for _, role := range auth.Roles {
			t.Run(name+" as "+string(role)+" of its LA is refused", func(t *testing.T) {
				body := `{"id":"c1","la":"` + homeLA + `","on":"2024-07-15","data":{"requester":"parent","birth_date":"2015-05-01"}}`
				headers := []string{"Authorization", sign(t, role, homeLA)}
				if r.Path == "/ui/login" {
					body = "token=" + strings.TrimPrefix(sign(t, role, homeLA), "Bearer ")
					headers = append(headers, "Content-Type", "application/x-www-form-urlencoded")
				}
				got := h.do(r.Method, path, body, headers...).want(t, http.StatusInternalServerError)
				if got.body["code"] != "internal" || got.body["detail"] != "internal error" {
					t.Fatalf("problem %v", got.body)
				}
				if c := got.header.Get("Set-Cookie"); c != "" {
					t.Fatalf("a cookie was set: %s", c)
				}
			})
		}
	}
	resp, err := http.Get(h.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz answered %d, want 503: a server that refuses every route is not ready", resp.StatusCode)
	}
	if head, err := h.store.Head(context.Background()); err != nil || head != 0 {
		t.Fatalf("the store's head is %d after every request was refused, want 0 (%v)", head, err)
	}
}
