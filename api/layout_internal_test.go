package api

import (
	"net/url"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/domain"
)

// TestThePagesLinkGOVUKFrontendOnlyWhenTheBinaryHoldsIt renders a page as a
// binary built with and without `make frontend` would.
func TestThePagesLinkGOVUKFrontendOnlyWhenTheBinaryHoldsIt(t *testing.T) {
	was := govukStyles
	defer func() { govukStyles = was }()
	for _, held := range []bool{true, false} {
		govukStyles = held
		var b strings.Builder
		if err := pages.ExecuteTemplate(&b, "portal_out.html", frame{Title: "You are signed out"}); err != nil {
			t.Fatal(err)
		}
		page := b.String()
		linked := strings.Contains(page, `<link rel="stylesheet" href="/ui/static/govuk/govuk-frontend.min.css">`)
		plain := strings.Contains(page, `<html lang="en" class="govuk-template ehc-plain">`)
		if linked != held || plain == held || !strings.Contains(page, `<link rel="stylesheet" href="/ui/static/ehcledger.css">`) {
			t.Errorf("with GOV.UK Frontend held %v, the page links it %v and is marked plain %v:\n%s", held, linked, plain, page)
		}
	}
}

func TestADatesBoxesAreReadAsDigitsOnly(t *testing.T) {
	for _, tc := range []struct {
		day, month, year, want string
	}{
		{"3", "10", "2026", "2026-10-03"},
		{" 03 ", "1", "2026", "2026-01-03"},
		{"3", "10", "+202", "+202-10-3"},
		{"3", "-1", "2026", "2026-1-3"},
		{"3", "10", "26", "26-10-3"},
	} {
		form := url.Values{"on-day": {tc.day}, "on-month": {tc.month}, "on-year": {tc.year}}
		got := formDate(form, "on")
		if got != tc.want {
			t.Errorf("%q %q %q read as %q, want %q", tc.day, tc.month, tc.year, got, tc.want)
		}
		if _, err := domain.ParseDate(got); (err == nil) != (tc.want == "2026-10-03" || tc.want == "2026-01-03") {
			t.Errorf("%q parsed: %v", got, err)
		}
	}
	if got := formDate(url.Values{"on": {"2026-10-03"}}, "on"); got != "2026-10-03" {
		t.Errorf("a whole date read as %q", got)
	}
}
