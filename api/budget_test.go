package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/api"
)

// TestARequestOverItsBudgetIsAnsweredUnavailable: work cut off by the
// request's budget is answered 503 with Retry-After, not as a fault.
func TestARequestOverItsBudgetIsAnsweredUnavailable(t *testing.T) {
	h := newHarnessWith(t, nil, func(s *api.Server) { s.RequestBudget = time.Nanosecond })
	got := h.do("GET", "/v1/cases/c1", "").want(t, http.StatusServiceUnavailable)
	if got.body["code"] != "unavailable" || got.header.Get("Retry-After") == "" {
		t.Fatalf("problem %v, Retry-After %q", got.body, got.header.Get("Retry-After"))
	}
}
