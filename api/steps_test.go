package api_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/auth"
)

var formHidden = regexp.MustCompile(`name="(csrf|version|key)" value="([^"]*)"`)

// stepForm opens a step's form in the browser and returns its hidden
// fields, ready to be posted with the step's own.
func stepForm(t *testing.T, b *browser, path string) url.Values {
	t.Helper()
	v := hiddenFields(t, b, path)
	if v.Get("version") == "" {
		t.Fatalf("the form %s does not say the case version it was opened at", path)
	}
	return v
}

// hiddenFields opens a form in the browser and returns its anti-forgery
// token, key and (for a case's form) case version.
func hiddenFields(t *testing.T, b *browser, path string) url.Values {
	t.Helper()
	p := b.do("GET", path, nil)
	if p.status != 200 {
		t.Fatalf("the form %s answered %d:\n%s", path, p.status, p.body)
	}
	v := url.Values{}
	for _, m := range formHidden.FindAllStringSubmatch(p.body, -1) {
		v.Set(m[1], m[2])
	}
	if v.Get("csrf") == "" || v.Get("key") == "" {
		t.Fatalf("the form lacks its hidden fields:\n%s", p.body)
	}
	return v
}

func TestACaseworkerRecordsStepsFromTheCasePage(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	b := newBrowser(t, h.srv.URL)
	b.signIn(bareToken(t, auth.Caseworker, homeLA), "/ui/cases/c1")
	casePage := b.do("GET", "/ui/cases/c1", nil)
	if !strings.Contains(casePage.body, `href="/ui/cases/c1/steps/decide_to_assess"`) || !strings.Contains(casePage.body, "Record a step") {
		t.Fatalf("the case page offers no next step:\n%s", casePage.body)
	}
	form := stepForm(t, b, "/ui/cases/c1/steps/decide_to_assess")
	t.Run("a date that is not a real one is shown again as typed, the summary linking to its day", func(t *testing.T) {
		bad := url.Values{"csrf": form["csrf"], "version": form["version"], "key": form["key"], "reason": {"r"},
			"on-day": {"31"}, "on-month": {"2"}, "on-year": {"2024"}}
		p := b.do("POST", "/ui/cases/c1/steps/decide_to_assess", bad)
		if p.status != 422 || !strings.Contains(p.body, `<a href="#f-on-day">Date it happened: must be a real date`) ||
			!strings.Contains(p.body, `name="on-day" type="text" inputmode="numeric" value="31"`) || !strings.Contains(p.body, `name="on-month" type="text" inputmode="numeric" value="02"`) {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
		bad.Set("on-month", "February")
		if p := b.do("POST", "/ui/cases/c1/steps/decide_to_assess", bad); p.status != 422 || !strings.Contains(p.body, `value="February"`) {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	form.Set("on-day", "5")
	form.Set("on-month", "4")
	form.Set("on-year", "2024")
	t.Run("a step recorded late without a reason is shown again with the problem beside the reason", func(t *testing.T) {
		p := b.do("POST", "/ui/cases/c1/steps/decide_to_assess", form)
		if p.status != 422 || !strings.Contains(p.body, `<a href="#f-step-reason">`) || !strings.Contains(p.body, `id="f-step-reason-error"`) ||
			!strings.Contains(p.body, `name="on-day" type="text" inputmode="numeric" value="5"`) || !strings.Contains(p.body, `autofocus`) {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	t.Run("a form without the session's anti-forgery token records nothing", func(t *testing.T) {
		forged := url.Values{"version": form["version"], "key": form["key"], "on": {"2024-04-05"}, "reason": {"r"}}
		if p := b.do("POST", "/ui/cases/c1/steps/decide_to_assess", forged); p.status != 403 {
			t.Fatalf("answered %d", p.status)
		}
		if v := h.do("GET", "/v1/cases/c1", "").want(t, 200); v.body["version"] != 1.0 {
			t.Fatalf("something was recorded: version %v", v.body["version"])
		}
	})
	form.Set("reason", "from the paper file")
	t.Run("the step is recorded and the page shows the clock it stopped", func(t *testing.T) {
		p := b.do("POST", "/ui/cases/c1/steps/decide_to_assess", form)
		if p.status != 200 || !strings.Contains(p.body, "Recorded: Decide to assess") || !strings.Contains(p.body, "<li>decide_to_assess: met") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
		if v := h.do("GET", "/v1/cases/c1", "").want(t, 200); v.body["version"] != 2.0 {
			t.Fatalf("version %v after the step", v.body["version"])
		}
	})
	t.Run("the same form sent again records nothing more", func(t *testing.T) {
		p := b.do("POST", "/ui/cases/c1/steps/decide_to_assess", form)
		if p.status != 200 || !strings.Contains(p.body, "Already recorded: Decide to assess") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
		if v := h.do("GET", "/v1/cases/c1", "").want(t, 200); v.body["version"] != 2.0 {
			t.Fatalf("version %v after sending twice", v.body["version"])
		}
	})
	t.Run("a field the step needs is named beside it, and the step recorded shows the clock it started", func(t *testing.T) {
		advice := stepForm(t, b, "/ui/cases/c1/steps/request_advice")
		advice.Set("on", "2024-07-15")
		p := b.do("POST", "/ui/cases/c1/steps/request_advice", advice)
		if p.status != 422 || !strings.Contains(p.body, `<a href="#f-advice">Advice:`) || !strings.Contains(p.body, `id="f-advice-error"`) {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
		advice.Set("data.advice", "educational_psychology")
		if p := b.do("POST", "/ui/cases/c1/steps/request_advice", advice); p.status != 200 || !strings.Contains(p.body, "Recorded: Request advice") ||
			!strings.Contains(p.body, `Clocks started:</p><ul class="govuk-list govuk-list--bullet"><li>advice (educational_psychology)`) {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	t.Run("a form opened before another step is refused and shown again at the case's version", func(t *testing.T) {
		stale := stepForm(t, b, "/ui/cases/c1/steps/request_advice")
		h.do("POST", "/v1/cases/c1/commands/request_advice", `{"on":"2024-07-15","data":{"advice":"health"}}`).want(t, 201)
		stale.Set("on", "2024-07-15")
		stale.Set("data.advice", "social_care")
		p := b.do("POST", "/ui/cases/c1/steps/request_advice", stale)
		if p.status != http.StatusPreconditionFailed && p.status != http.StatusConflict || !strings.Contains(p.body, "The case has changed") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	t.Run("an auditor is offered no step and may not open a form", func(t *testing.T) {
		a := newBrowser(t, h.srv.URL)
		a.signIn(bareToken(t, auth.Auditor, homeLA), "/ui/cases/c1")
		if p := a.do("GET", "/ui/cases/c1", nil); p.status != 200 || strings.Contains(p.body, "Record a step") {
			t.Fatalf("an auditor's case page offers steps (%d)", p.status)
		}
		if p := a.do("GET", "/ui/cases/c1/steps/request_advice", nil); p.status != 403 {
			t.Fatalf("an auditor's form answered %d", p.status)
		}
	})
	t.Run("a caseworker is not offered a manager's step", func(t *testing.T) {
		if p := b.do("GET", "/ui/cases/c1/steps/assign_case", nil); p.status != 403 {
			t.Fatalf("a caseworker's assignment form answered %d", p.status)
		}
		if p := b.do("GET", "/ui/cases/c1", nil); strings.Contains(p.body, `value="assign_case"`) {
			t.Fatal("a caseworker is offered assign_case")
		}
	})
}

func TestTheTimelineReadsAsWordsWithTextOpenedAndNeverSealedBytes(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/record_exception",
		`{"on":"2024-07-01","reason":"r","data":{"kind":"absence","from":"2024-07-01","to":"2024-08-31","evidence":"family abroad until September"}}`).want(t, 201)
	b := newBrowser(t, h.srv.URL)
	b.signIn(bareToken(t, auth.Manager, homeLA), "/ui/cases/c1")
	page := b.do("GET", "/ui/cases/c1", nil).body
	for _, want := range []string{"<strong>evidence</strong>: family abroad until September", "<strong>kind</strong>: absence",
		"<strong>requester</strong>: parent", "(exception_recorded)", "A request for an EHC needs assessment (s36) opens a case, 1 March 2024, recorded by "} {
		if !strings.Contains(page, want) {
			t.Errorf("the timeline lacks %q", want)
		}
	}
	if strings.Contains(page, "sealed") || strings.Contains(page, "personal&#34;") || strings.Contains(page, `"personal"`) {
		t.Errorf("the timeline shows sealed bytes:\n%s", page)
	}
	h.do("POST", "/v1/cases/c1/commands/erase_personal_data", `{"on":"2024-07-15","data":{"reason":"the family asked"}}`).want(t, 201)
	page = b.do("GET", "/ui/cases/c1", nil).body
	if strings.Contains(page, "family abroad") || !strings.Contains(page, "<strong>evidence</strong>: (erased)") {
		t.Errorf("after erasure the timeline shows:\n%s", page)
	}
}

func TestAStepIsCorrectedBesideWhatItCorrects(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/decide_to_assess", `{"reason":"from the paper file","on":"2024-04-05"}`).want(t, 201)
	h.do("POST", "/v1/cases/c1/commands/request_advice", `{"reason":"from the paper file","on":"2024-04-08","data":{"advice":"health"}}`).want(t, 201)
	b := newBrowser(t, h.srv.URL)
	b.signIn(bareToken(t, auth.Caseworker, homeLA), "/ui/cases/c1")
	if page := b.do("GET", "/ui/cases/c1", nil).body; !strings.Contains(page, `href="/ui/cases/c1/corrections/2"`) {
		t.Fatal("the timeline offers no correction beside the step")
	}
	form := stepForm(t, b, "/ui/cases/c1/corrections/2")
	if p := b.do("GET", "/ui/cases/c1/corrections/2", nil); !strings.Contains(p.body, `name="on-day" type="text" inputmode="numeric" value="5"`) || !strings.Contains(p.body, `name="on-month" type="text" inputmode="numeric" value="4"`) {
		t.Fatalf("the form does not show the day recorded:\n%s", p.body)
	}
	t.Run("a correction that changes nothing is refused", func(t *testing.T) {
		f := url.Values{"csrf": form["csrf"], "version": form["version"], "key": form["key"], "on": {"2024-04-05"}, "reason": {"checking"}}
		if p := b.do("POST", "/ui/cases/c1/corrections/2", f); p.status != 422 || !strings.Contains(p.body, "nothing is corrected") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	t.Run("a correction without a reason is shown again with the problem beside the reason", func(t *testing.T) {
		f := url.Values{"csrf": form["csrf"], "version": form["version"], "key": form["key"], "on": {"2024-04-03"}}
		if p := b.do("POST", "/ui/cases/c1/corrections/2", f); p.status != 422 || !strings.Contains(p.body, `id="f-step-reason-error"`) {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	t.Run("a new date is recorded as a correction and the timeline shows it beside the step", func(t *testing.T) {
		f := url.Values{"csrf": form["csrf"], "version": form["version"], "key": form["key"], "on": {"2024-04-03"}, "reason": {"date misread from the letter"}}
		p := b.do("POST", "/ui/cases/c1/corrections/2", f)
		if p.status != 200 || !strings.Contains(p.body, "Recorded: Correction of Decide to assess (#2)") || !strings.Contains(p.body, `Corrected by <a class="govuk-link" href="#v4">#4</a>`) {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
		tl := h.do("GET", "/v1/cases/c1/timeline", "").want(t, 200).raw
		if !strings.Contains(tl, `"corrects":2`) || !strings.Contains(tl, "date misread from the letter") {
			t.Fatalf("timeline:\n%s", tl)
		}
	})
	t.Run("a step's data is corrected from its own fields", func(t *testing.T) {
		f := stepForm(t, b, "/ui/cases/c1/corrections/3")
		f.Set("on", "2024-04-08")
		f.Set("data.advice", "social_care")
		f.Set("reason", "the letter asked social care, not health")
		if p := b.do("POST", "/ui/cases/c1/corrections/3", f); p.status != 200 || !strings.Contains(p.body, "advice (social_care)") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	t.Run("the request's personal details are corrected from the case page, sealed like the request's", func(t *testing.T) {
		if page := b.do("GET", "/ui/cases/c1", nil).body; !strings.Contains(page, `href="/ui/cases/c1/corrections/1"`) || !strings.Contains(page, "2015-05-01") {
			t.Fatalf("the case page shows no personal details to correct:\n%s", page)
		}
		f := stepForm(t, b, "/ui/cases/c1/corrections/1")
		if p := b.do("GET", "/ui/cases/c1/corrections/1", nil); !strings.Contains(p.body, `name="data.birth_date-year" type="text" inputmode="numeric" value="2015"`) {
			t.Fatalf("the form does not show the date of birth held:\n%s", p.body)
		}
		f.Set("on", "2024-03-01")
		f.Set("data.requester", "parent")
		f.Set("data.birth_date", "2015-05-01")
		f.Set("data.surname", "Quirke")
		f.Set("reason", "surname left off the request form")
		if p := b.do("POST", "/ui/cases/c1/corrections/1", f); p.status != 200 || !strings.Contains(p.body, "Recorded: Correction of Receive request (#1)") || !strings.Contains(p.body, "Quirke") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
		if v := h.do("GET", "/v1/cases/c1", "").want(t, 200); v.body["person"].(map[string]any)["surname"] != "Quirke" {
			t.Fatalf("the case's person is %v", v.body["person"])
		}
		if tl := h.do("GET", "/v1/cases/c1/timeline", "").want(t, 200).raw; strings.Contains(tl, "Quirke") {
			t.Fatal("the timeline's stored data holds the surname in the clear")
		}
	})
	t.Run("a correction is not corrected from a form of its own", func(t *testing.T) {
		if p := b.do("GET", "/ui/cases/c1/corrections/4", nil); p.status != 404 {
			t.Fatalf("a correction's correction form answered %d", p.status)
		}
	})
}

func TestACaseworkerOpensACaseFromThePage(t *testing.T) {
	h := newHarness(t)
	b := newBrowser(t, h.srv.URL)
	b.signIn(bareToken(t, auth.Caseworker, homeLA), "/ui/new-case")
	form := hiddenFields(t, b, "/ui/new-case")
	form.Set("opening", "receive_request")
	form.Set("la", homeLA)
	form.Set("on", "2024-07-15")
	form.Set("data.requester", "parent")
	form.Set("data.birth_date", "2015-05-01")
	p := b.do("POST", "/ui/new-case", form)
	m := regexp.MustCompile(`Recorded: Receive request: case ([0-9a-f-]{36}) opened`).FindStringSubmatch(p.body)
	if p.status != 200 || m == nil || !strings.Contains(p.body, "Clocks started:") || !strings.Contains(p.body, "decide_to_assess") {
		t.Fatalf("answered %d:\n%s", p.status, p.body)
	}
	if v := h.do("GET", "/v1/cases/"+m[1], "").want(t, 200); v.body["la"] != homeLA {
		t.Fatalf("the case: %v", v.body)
	}
	t.Run("the same form sent again opens no second case", func(t *testing.T) {
		again := b.do("POST", "/ui/new-case", form)
		if again.status != 200 || !strings.Contains(again.body, "Already recorded: Receive request: case "+m[1]) {
			t.Fatalf("answered %d:\n%s", again.status, again.body)
		}
	})
	t.Run("an LA the caseworker does not work for is refused beside the field", func(t *testing.T) {
		other := hiddenFields(t, b, "/ui/new-case")
		other.Set("opening", "receive_request")
		other.Set("la", otherLA)
		other.Set("data.requester", "parent")
		other.Set("data.birth_date", "2015-05-01")
		if p := b.do("POST", "/ui/new-case", other); p.status != 422 || !strings.Contains(p.body, `id="f-la-error"`) {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	t.Run("a missing birth date is named beside its field", func(t *testing.T) {
		f := hiddenFields(t, b, "/ui/new-case")
		f.Set("opening", "receive_request")
		f.Set("la", homeLA)
		f.Set("on", "2024-07-15")
		f.Set("data.requester", "parent")
		if p := b.do("POST", "/ui/new-case", f); p.status != 422 || !strings.Contains(p.body, `id="f-birth-date-error"`) {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
}

func TestAnExceptionIsRecordedFromBesideTheClockItMayExcuse(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	b := newBrowser(t, h.srv.URL)
	b.signIn(bareToken(t, auth.Caseworker, homeLA), "/ui/cases/c1")
	const link = `/ui/cases/c1/steps/record_exception?for=decide_to_assess&amp;for_key=`
	if page := b.do("GET", "/ui/cases/c1", nil).body; !strings.Contains(page, `href="`+link+`"`) {
		t.Fatalf("the case page offers no exception beside the clock:\n%s", page)
	}
	path := strings.ReplaceAll(link, "&amp;", "&")
	form := stepForm(t, b, path)
	if p := b.do("GET", path, nil); !strings.Contains(p.body, "For the clock decide_to_assess") || !strings.Contains(p.body, "school closure") ||
		!strings.Contains(p.body, `action="/ui/cases/c1/steps/record_exception?for=decide_to_assess&amp;for_key="`) {
		t.Fatalf("the form does not say which clock it is for, and what may excuse it:\n%s", p.body)
	}
	form.Set("on", "2024-03-20")
	form.Set("reason", "from the paper file")
	form.Set("data.kind", "school_closure")
	form.Set("data.from-day", "20")
	form.Set("data.from-month", "3")
	form.Set("data.from-year", "2024")
	t.Run("a refused exception keeps the clock it is for", func(t *testing.T) {
		if p := b.do("POST", path, form); p.status != 422 || !strings.Contains(p.body, "For the clock decide_to_assess") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	t.Run("the exception is recorded", func(t *testing.T) {
		form.Set("data.to", "2024-03-27")
		form.Set("data.evidence", "the school was closed for a flood")
		if p := b.do("POST", path, form); p.status != 200 || !strings.Contains(p.body, "Recorded: Record exception") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	t.Run("a clock the case does not have is not shown", func(t *testing.T) {
		if p := b.do("GET", "/ui/cases/c1/steps/record_exception?for=no_such_clock", nil); p.status != 200 || strings.Contains(p.body, "For the clock") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
}

func TestTheDateFiltersTakeTheDayMonthAndYearBoxes(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	manager := newBrowser(t, h.srv.URL)
	manager.signIn(bareToken(t, auth.Manager, homeLA), "/ui/cases/c1")
	t.Run("a manager sees the case as it stood on the day the boxes give", func(t *testing.T) {
		p := manager.do("GET", "/ui/cases/c1?as_of-day=2&as_of-month=3&as_of-year=2024", nil)
		if p.status != 200 || !strings.Contains(p.body, `<dd class="govuk-summary-list__value">2024-03-02</dd>`) ||
			!strings.Contains(p.body, `name="as_of-day" type="text" inputmode="numeric" value="2"`) {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	t.Run("boxes that hold no real date are refused, naming the filter", func(t *testing.T) {
		if p := manager.do("GET", "/ui/worklist?as_of-day=31&as_of-month=2&as_of-year=2024", nil); p.status != 422 || !strings.Contains(p.body, "as_of: must be a real date") {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	t.Run("the statistics' period is read from its boxes", func(t *testing.T) {
		p := manager.do("GET", "/ui/stats?la="+homeLA+"&from-day=1&from-month=1&from-year=2024&to-day=31&to-month=12&to-year=2024", nil)
		if p.status != 200 || !strings.Contains(p.body, `name="from-year" type="text" inputmode="numeric" value="2024"`) ||
			!strings.Contains(p.body, `name="to-day" type="text" inputmode="numeric" value="31"`) {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
	})
	caseworker := newBrowser(t, h.srv.URL)
	caseworker.signIn(bareToken(t, auth.Caseworker, homeLA), "/ui/cases/c1")
	t.Run("a caseworker, who sees cases as they stand, is offered no earlier date and may not ask for one", func(t *testing.T) {
		if p := caseworker.do("GET", "/ui/cases/c1", nil); p.status != 200 || strings.Contains(p.body, `name="as_of-day"`) {
			t.Fatalf("answered %d:\n%s", p.status, p.body)
		}
		if p := caseworker.do("GET", "/ui/cases/c1?as_of-day=2&as_of-month=3&as_of-year=2024", nil); p.status != http.StatusForbidden {
			t.Fatalf("answered %d", p.status)
		}
	})
}

func TestTheReturnsPersonItemsAreRecordedShownAndCorrected(t *testing.T) {
	h := newHarness(t)
	bad := strings.Replace(openBody, `"birth_date":"2015-05-01"`, `"birth_date":"2015-05-01","upn":"A801200005001"`, 1)
	if r := h.do("POST", "/v1/cases", bad).want(t, 422); r.body["field"] != "data.upn" {
		t.Fatalf("a wrong check letter: %v", r.body)
	}
	good := strings.Replace(openBody, `"birth_date":"2015-05-01"`, `"birth_date":"2015-05-01","sex":"F","ethnicity":"WBRI","upn":"B801200005001"`, 1)
	h.do("POST", "/v1/cases", good).want(t, 201)
	b := newBrowser(t, h.srv.URL)
	b.signIn(bareToken(t, auth.Caseworker, homeLA), "/ui/cases/c1")
	if p := b.do("GET", "/ui/cases/c1", nil); !strings.Contains(p.body, "UPN B801200005001") || !strings.Contains(p.body, ">WBRI<") {
		t.Fatalf("the case page does not show the items:\n%s", p.body)
	}
	form := stepForm(t, b, "/ui/cases/c1/corrections/1")
	if p := b.do("GET", "/ui/cases/c1/corrections/1", nil); !strings.Contains(p.body, `value="B801200005001"`) {
		t.Fatalf("the correction form does not hold the UPN:\n%s", p.body)
	}
	form.Set("on", "2024-03-01")
	form.Set("reason", "the UPN was the sibling's")
	form.Set("data.upn", "")
	form.Set("data.upn_unknown", "UN2")
	for k, v := range map[string]string{"data.requester": "parent", "data.birth_date": "2015-05-01", "data.sex": "F", "data.ethnicity": "WBRI"} {
		form.Set(k, v)
	}
	if p := b.do("POST", "/ui/cases/c1/corrections/1", form); p.status != 200 {
		t.Fatalf("the correction answered %d:\n%s", p.status, p.body)
	}
	if p := b.do("GET", "/ui/cases/c1", nil); !strings.Contains(p.body, "none: reason UN2") || strings.Contains(p.body, "UPN B801200005001") {
		t.Fatalf("the correction is not shown:\n%s", p.body)
	}
}

func TestTheCasePageShowsWhatItRecordsForTheReturn(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/v1/cases", openBody).want(t, 201)
	for _, step := range []struct{ command, body string }{
		{"decide_to_assess", `{"on":"2024-04-01","reason":"r"}`},
		{"send_draft_plan", `{"on":"2024-06-03","reason":"r"}`},
		{"issue_final_plan", `{"on":"2024-07-01","reason":"r","data":{"school":"S1"}}`},
		{"record_placement", `{"on":"2024-07-08","reason":"from the paper file","data":{"urn":"100000","rank":1,"named_in_plan":true,"sen_unit":true}}`},
		{"record_placement", `{"on":"2024-07-09","reason":"from the paper file","data":{"setting":"other","setting_other":"hospital education service","rank":2}}`},
		{"end_placement", `{"on":"2024-07-12","reason":"from the paper file","data":{"setting":"other"}}`},
		{"record_sen_needs", `{"on":"2024-07-10","reason":"from the paper file","data":{"primary":"ASD","secondary":"SLCN"}}`},
		{"record_personal_budget", `{"on":"2024-07-11","reason":"from the paper file","data":{"taken_up":true,"direct_payments":["education","social_care"]}}`},
	} {
		h.do("POST", "/v1/cases/c1/commands/"+step.command, step.body).want(t, 201)
	}
	items := h.do("GET", "/v1/cases/c1", "").want(t, 200).body["return_items"].(map[string]any)
	if p := items["placements"].([]any); len(p) != 2 || p[1].(map[string]any)["leaving"] != "2024-07-12" {
		t.Fatalf("the view's placements: %v", items)
	}
	b := newBrowser(t, h.srv.URL)
	b.signIn(bareToken(t, auth.Caseworker, homeLA), "/ui/cases/c1")
	page := b.do("GET", "/ui/cases/c1", nil).body
	for _, want := range []string{"primary ASD, secondary SLCN", "taken up, direct payments for education, social_care",
		"URN 100000", "named in the plan; SEN unit;", "other: hospital education service", "2024-07-12"} {
		if !strings.Contains(page, want) {
			t.Errorf("the case page lacks %q", want)
		}
	}
}
