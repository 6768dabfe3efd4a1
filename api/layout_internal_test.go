package api

import (
	"strings"
	"testing"
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
