package api_test

import (
	"strings"
	"testing"
)

func TestWhatIfAndRevisionChangesOverHTTP(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	t.Run("the statistics page shows the what-if figures beside the actual ones", func(t *testing.T) {
		r := h.do("GET", "/ui/stats?la=E09000001&from=2024-01-01&to=2024-12-31&as_of=2024-07-15&whatif=green-paper-2022", "").want(t, 200)
		for _, want := range []string{
			`<h2 class="govuk-heading-m" id="whatif">What if green-paper-2022 had been in force</h2>`,
			`<th scope="col" class="govuk-table__header">Actual</th><th scope="col" class="govuk-table__header">What if green-paper-2022</th>`,
			`<tr class="govuk-table__row"><th scope="row" class="govuk-table__header">requests</th><td class="govuk-table__cell">1</td><td class="govuk-table__cell">1</td></tr>`,
			`(cases counted: 1)`, `0 clocks would have another due date or status`,
			`<option value="green-paper-2022" selected>`,
		} {
			if !strings.Contains(r.raw, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
	})
	t.Run("the page without a what-if shows none", func(t *testing.T) {
		if r := h.do("GET", "/ui/stats?la=E09000001", "").want(t, 200); strings.Contains(r.raw, `id="whatif"`) {
			t.Fatal("a what-if section without asking for one")
		}
	})
	for name, q := range map[string]string{
		"an unknown rulebook is refused naming whatif": "/ui/stats?la=E09000001&whatif=wales-2018",
		"a what-if without an LA is refused":           "/ui/stats?whatif=green-paper-2022",
	} {
		t.Run(name, func(t *testing.T) {
			if r := h.do("GET", q, "").want(t, 422); r.body["field"] != "whatif" {
				t.Fatalf("problem %v", r.body)
			}
		})
	}
	for field, q := range map[string]string{
		"rulebook": "/v1/las/E09000001/rulebook-changes?rulebook=wales-2018",
		"version":  "/v1/las/E09000001/rulebook-changes?version=latest",
		"to":       "/v1/las/E09000001/rulebook-changes?from=2024-05-01&to=2024-04-01",
	} {
		t.Run("a revision report with a bad "+field+" is refused naming it", func(t *testing.T) {
			if r := h.do("GET", q, "").want(t, 422); r.body["field"] != field {
				t.Fatalf("problem %v", r.body)
			}
		})
	}
}
