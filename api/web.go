package api

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

//go:embed templates/*.html
var templateFiles embed.FS

// staticFiles are the files served under /ui/static/: the pages' own
// stylesheet, ehcledger.css, and GOV.UK Frontend's, govuk/, when `make
// frontend` compiled it into api/static/govuk/ before the build (it is not
// in the repository). Style is a file, never inline, so that the
// Content-Security-Policy can refuse every inline style and script.
//
//go:embed static
var staticFiles embed.FS

// staticRoot is api/static, as served at /ui/static/.
var staticRoot, _ = fs.Sub(staticFiles, "static")

// govukStylesheet is GOV.UK Frontend's stylesheet within staticRoot.
const govukStylesheet = "govuk/govuk-frontend.min.css"

// govukStyles says whether the binary holds GOV.UK Frontend's stylesheet:
// the pages link it only then, and are styled by ehcledger.css alone
// otherwise.
var govukStyles = func() bool {
	_, err := fs.Stat(staticRoot, govukStylesheet)
	return err == nil
}()

// tagColours are the GOV.UK tag colours of clock statuses (and of the
// portal's due and late).
var tagColours = map[string]string{
	domain.StatusRunning: "govuk-tag--blue", domain.StatusOverdue: "govuk-tag--red", domain.StatusMet: "govuk-tag--green",
	domain.StatusLate: "govuk-tag--orange", domain.StatusEnded: "govuk-tag--grey", "due": "govuk-tag--blue",
}

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"pct":   func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
	"govuk": func() bool { return govukStyles },
	// heading is a page's title as its h1 shows it: "Error: " goes before
	// the title in the browser's tab alone.
	"heading": func(title string) string { return strings.TrimPrefix(title, "Error: ") },
	"tag":     func(status string) string { return tagColours[status] },
	// words writes a code of the vocabulary (needs_met_without_plan) as
	// words; join lists values.
	"words": func(code string) string { return strings.ReplaceAll(code, "_", " ") },
	"join":  strings.Join,
	// instant writes a moment for people, in London's time.
	"instant": func(t time.Time) string { return t.In(domain.London).Format("2 January 2006 at 15:04") },
	// dateInput and reasonInput are the one template each of a date's
	// three boxes and of a step's reason (forms.go), whichever form holds them.
	"dateInput":   newDateInput,
	"reasonInput": func(label, hint, value, errMsg string) reasonInput { return reasonInput{label, hint, value, errMsg} },
}).ParseFS(templateFiles, "templates/*.html"))

func (s *Server) registerPages(e *echo.Echo) {
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/ui/worklist") })
	// What is served here holds nothing personal, so it may be cached.
	e.GET(staticPath+"*", serveStatic)
	e.GET("/ui/login", s.loginPage)
	e.POST("/ui/login", s.login)
	e.GET(auth.CallbackPath, s.signInCallback)
	e.POST("/ui/logout", s.logout)
	ui := e.Group("/ui", s.whenReady, s.authenticate, s.rateLimit)
	ui.GET("/worklist", s.pageWorklist, s.allow(auth.Caseworker, auth.Manager))
	ui.GET("/cases/:id", s.pageCase, s.allow(auth.Caseworker, auth.Manager, auth.Auditor))
	ui.GET("/cases/:id/steps", s.pageSteps, s.allow(auth.Caseworker, auth.Manager))
	ui.GET("/cases/:id/steps/:command", s.pageStep, s.allow(auth.Caseworker, auth.Manager))
	ui.POST("/cases/:id/steps/:command", s.postStep, s.allow(auth.Caseworker, auth.Manager))
	ui.GET("/new-case", s.pageNewCase, s.allow(auth.Caseworker, auth.Manager))
	ui.POST("/new-case", s.postNewCase, s.allow(auth.Caseworker, auth.Manager))
	ui.GET("/cases/:id/corrections/:version", s.pageCorrection, s.allow(auth.Caseworker, auth.Manager))
	ui.POST("/cases/:id/corrections/:version", s.postCorrection, s.allow(auth.Caseworker, auth.Manager))
	ui.POST("/cases/:id/documents", s.postDocument, s.allow(auth.Caseworker, auth.Manager), middleware.BodyLimit(uploadLimit))
	ui.GET("/cases/:id/documents/:sha256", s.getDocument, s.allow(auth.Caseworker, auth.Manager, auth.Auditor))
	ui.GET("/stats", s.pageStats, s.allow(auth.Inspector, auth.Manager))
}

// staticPath is where staticRoot is served.
const staticPath = "/ui/static/"

// staticTypes are the media types of the files staticRoot may hold.
var staticTypes = map[string]string{
	".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon",
	".woff2": "font/woff2", ".woff": "font/woff", ".txt": "text/plain; charset=utf-8",
}

// serveStatic serves a file of staticRoot; anything else is not found.
func serveStatic(c echo.Context) error {
	name := c.Param("*")
	b, err := fs.ReadFile(staticRoot, name)
	ctype, known := staticTypes[filepath.Ext(name)]
	if !fs.ValidPath(name) || err != nil || !known {
		return domain.Errorf(domain.NotFound, "there is no file %s", staticPath+name)
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "max-age=300")
	return c.Blob(http.StatusOK, ctype, b)
}

// reasonInput is the reason a step is recorded late, or corrected, as the
// "reason" template shows it.
type reasonInput struct{ Label, Hint, Value, Error string }

// frame is what every page's layout shows: its title and, for a browser
// signed in with a session, who is signed in and the sign-out form's
// anti-forgery token.
type frame struct {
	Title string
	Who   string
	Role  auth.Role
	CSRF  string
	// Path is the page's own path, which the navigation marks as the
	// current page (aria-current) when it links to it.
	Path string
	// portal marks a page under /portal/, shown to people outside the LA
	// whether or not they are signed in.
	portal bool
}

// Participant reports whether the page is a participant's (the portal's),
// which shows none of the staff's navigation.
func (f frame) Participant() bool {
	return f.Role == auth.Family || f.Role == auth.Professional || f.portal
}

// Worker and Counter say which of the staff's pages the navigation offers:
// the worklist to those who work on cases, the statistics to those who
// count them.
func (f frame) Worker() bool  { return f.Role == auth.Caseworker || f.Role == auth.Manager }
func (f frame) Counter() bool { return f.Role == auth.Inspector || f.Role == auth.Manager }

// LooksBack says whether the reader may see a case as it stood on an
// earlier date (viewTime's rule), so the case page offers the choice.
func (f frame) LooksBack() bool { return f.Role == auth.Auditor || f.Role == auth.Manager }

// Current reports whether href is the page's own path.
func (f frame) Current(href string) bool { return f.Path == href }

// frame is the layout's part of a page for the request's principal.
func (s *Server) frame(c echo.Context, title string) frame {
	p := principal(c)
	csrf, _ := c.Get(csrfKey).(string)
	return frame{Title: title, Who: p.Subject, Role: p.Role, CSRF: csrf, Path: c.Request().URL.Path, portal: strings.HasPrefix(c.Request().URL.Path, "/portal/")}
}

func render(c echo.Context, name string, data any) error {
	return renderStatus(c, http.StatusOK, name, data)
}

func renderStatus(c echo.Context, status int, name string, data any) error {
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	return c.HTML(status, b.String())
}

func (s *Server) pageWorklist(c echo.Context) error {
	f, err := s.worklistFilter(c)
	if err != nil {
		return err
	}
	asOf := f.AsOf
	s.fresh(c)
	all := s.Views.Timeliness.Worklist(f)
	data := struct {
		frame
		F                        projections.WorklistFilter
		AsOf                     domain.Date
		Items                    []projections.WorklistItem
		Truncated                bool
		Overdue, AtRisk, Running int
	}{frame: s.frame(c, "Worklist"), F: f, AsOf: asOf}
	for _, it := range all {
		switch {
		case it.Status == domain.StatusOverdue:
			data.Overdue++
		case it.AtRisk:
			data.AtRisk++
		}
		if it.Status == domain.StatusRunning {
			data.Running++
		}
	}
	data.Items, data.Truncated = all, len(all) > 300
	if data.Truncated {
		data.Items = all[:300]
	}
	if err := s.recordWorklistReads(c, data.Items); err != nil {
		return err
	}
	return render(c, "worklist.html", data)
}

func (s *Server) pageCase(c echo.Context) error {
	asOf, knownAt, err := s.viewTime(c)
	if err != nil {
		return err
	}
	id := c.Param("id")
	view, tl, err := s.Ledger.CaseAndTimeline(c.Request().Context(), id, asOf, knownAt, s.caseGate(c, id))
	if err != nil {
		return err
	}
	if asOf != s.today() || !knownAt.IsZero() {
		// A case as it stood, or as it was known, is for reading only.
		return render(c, "case.html", casePage{frame: s.frame(c, "Case "+view.ID), View: view, Timeline: tl, Documents: documentsOf(tl),
			Proof: s.checkCase(c.Request().Context(), id)})
	}
	return s.renderCase(c, view, tl, nil)
}

// casePage is the case page: the case, its timeline, what a caseworker may
// record next and, after a step, what it did.
type casePage struct {
	frame
	View     app.CaseView
	Timeline []app.TimelineEntry
	// Next are the steps that stop the case's open clocks; Other every
	// other step the reader may record from a form.
	Next     []nextStep
	Other    []nextStep
	Recorded *recorded
	// Documents are those sent for the case; CanUpload says whether the
	// reader may send one.
	Documents []caseDocument
	CanUpload bool
	// Exception is the command recording an exception, when the reader may
	// send it, and Excusable the clocks whose rule lets an exception
	// excuse them: the page offers one beside each such clock running,
	// overdue or stopped late (an exception may excuse lateness found
	// after the event), not beside one met in time or ended.
	Exception string
	Excusable map[string]bool
	// Proof is the case's events checked against the latest signed
	// checkpoint, when the server signs them.
	Proof *CaseCheck
}

// caseDocument is a document sent for the case, as its page lists it.
type caseDocument struct {
	Name, Kind, SHA256 string
	// Actor is who sent it; By names them for people.
	Actor, By string
	On        string
	// Shared says the LA shared the document with the family.
	Shared bool
}

// documentsOf lists the documents a timeline records.
func documentsOf(tl []app.TimelineEntry) []caseDocument {
	var out []caseDocument
	for _, e := range tl {
		if e.Event != domain.TypeDocumentUploaded {
			continue
		}
		d := caseDocument{Actor: e.Actor, By: e.By, On: e.OccurredOn}
		for _, f := range e.Details {
			switch f.Name {
			case "name":
				d.Name = f.Value
			case "kind":
				d.Kind = f.Value
			case "sha256":
				d.SHA256 = f.Value
			case "shared with family":
				d.Shared = true
			}
		}
		out = append(out, d)
	}
	return out
}

// nextStep is a step the case page offers, with what it is for.
type nextStep struct {
	Command, Title, Summary string
	domain.NextStep
}

// renderCase shows the case as it stands today, with the steps its reader
// may record (none for an auditor).
func (s *Server) renderCase(c echo.Context, view app.CaseView, tl []app.TimelineEntry, done *recorded) error {
	page := casePage{frame: s.frame(c, "Case "+view.ID), View: view, Timeline: tl, Recorded: done, Documents: documentsOf(tl),
		Proof: s.checkCase(c.Request().Context(), view.ID)}
	role := string(principal(c).Role)
	page.CanUpload = role == string(auth.Caseworker) || role == string(auth.Manager)
	offered := map[string]bool{}
	if rb, err := domain.LookupRulebook(view.Rulebook); err == nil {
		if cmd := domain.CommandForEvent(domain.TypeExceptionRecorded); domain.LookupCommand(cmd).MaySend(role) {
			page.Exception, page.Excusable = cmd, map[string]bool{}
			for _, row := range view.Clocks {
				if rule := rb.Clock(row.Clock); rule != nil && len(rule.Exceptions) > 0 {
					page.Excusable[row.Clock] = true
				}
			}
		}
		for _, n := range domain.NextSteps(rb, view.Clocks) {
			spec := domain.LookupCommand(n.Command)
			if _, ok := stepFields(spec); !ok || !spec.MaySend(role) || offered[n.Command] {
				continue
			}
			offered[n.Command] = true
			page.Next = append(page.Next, nextStep{Command: n.Command, Title: stepTitle(n.Command), Summary: spec.Summary, NextStep: n})
		}
	}
	for _, spec := range domain.Commands() {
		if spec.Scope != domain.ScopeCase || spec.Opens || offered[spec.Name] || !spec.MaySend(role) {
			continue
		}
		if _, ok := stepFields(&spec); ok {
			page.Other = append(page.Other, nextStep{Command: spec.Name, Title: stepTitle(spec.Name), Summary: spec.Summary})
		}
	}
	return render(c, "case.html", page)
}

// monthRow is one month of the statistics page, as the reader may see it.
type monthRow struct {
	Label                string
	Plans, Excl, Incl    string
	ExclShare, InclShare float64
	// Drawn is set when the month has shares to draw: plans issued, and
	// not hidden.
	Drawn bool
}

// stageRow is one stage's breaches, as the reader may see them; Count and
// Excused draw the bars (0 when hidden).
type stageRow struct {
	Name, Breaches, OfWhichExcused string
	Count, Excused                 int
}

// shownFigures are the page's headline figures as the reader may see them.
type shownFigures struct {
	Requests, Plans, WithinExcl, WithinIncl, Median, P90, ReviewsOnTime string
	Contacts, Held, Appeals, AppealRate, Appealable, Conceded           string
}

func (s *Server) pageStats(c echo.Context) error {
	asOf, p, la, err := s.statsQuery(c)
	if err != nil {
		return err
	}
	s.fresh(c)
	pr := principal(c)
	// The page shows the first row of the table /v1/stats serves for the
	// same query, suppressed the same way, so that no figure here is
	// more exact than there.
	get := func(p projections.Period) (map[string]any, error) {
		pub, err := s.publishedTable(pr, la, p, asOf)
		if err != nil {
			return nil, err
		}
		return pub[0], nil
	}
	st, err := get(p)
	if err != nil {
		return err
	}
	var months []monthRow
	var periods []projections.Period
	for m := p.From.AddDays(1 - dayOf(p.From)); m <= p.To; m = m.AddMonths(1) {
		mp := projections.Period{From: m, To: m.AddMonths(1).AddDays(-1)}
		ms, err := get(mp)
		if err != nil {
			return err
		}
		periods = append(periods, mp)
		row := monthRow{Label: monthLabel(m), Plans: shownCount(ms["plans_issued"]),
			Excl: shownRate(ms, "share_within_20_weeks_excluding_exceptions", "plans_excluding_exceptions", "no plans"),
			Incl: shownRate(ms, "share_within_20_weeks", "plans_issued", "no plans")}
		excl, okE := ms["share_within_20_weeks_excluding_exceptions"].(float64)
		incl, okI := ms["share_within_20_weeks"].(float64)
		plans, okP := ms["plans_issued"].(float64)
		row.ExclShare, row.InclShare, row.Drawn = excl, incl, okE && okI && okP && plans > 0
		months = append(months, row)
	}
	var whatIf *whatIfView
	if id := c.QueryParam("whatif"); id != "" {
		if pr.Role != auth.Manager {
			// A what-if counts the LA's cases again, exactly: its figures
			// are for the LA's own managers.
			return domain.Errorf(domain.Forbidden, "a what-if shows an LA's exact figures: it is for the LA's managers")
		}
		if whatIf, err = s.whatIf(c, la, id, p, periods, asOf); err != nil {
			return err
		}
	}
	stages := shownStages(st)
	title := "Timeliness: England"
	switch {
	case la != "":
		title = "Timeliness: " + la
	case !pr.National():
		title = "Timeliness: " + strings.Join(pr.LAs, ", ")
	}
	period, _ := st["period"].(map[string]any)
	return render(c, "stats.html", struct {
		frame
		LA                     string
		From, To               any
		F                      shownFigures
		Suppressed             bool
		Months                 []monthRow
		Stages                 []stageRow
		MonthChart, StageChart template.HTML
		Rulebooks              []string
		WhatIf                 *whatIfView
		CanWhatIf              bool
	}{frame: s.frame(c, title), LA: la, From: period["from"], To: period["to"], F: shownHeadline(st), Suppressed: st["small_numbers_suppressed"] == true,
		Months: months, Stages: stages, MonthChart: monthChart(months), StageChart: stageChart(stages),
		Rulebooks: domain.RulebookIDs(), WhatIf: whatIf, CanWhatIf: pr.Role == auth.Manager})
}

// shownHeadline formats a published row's headline figures for the page.
func shownHeadline(st map[string]any) shownFigures {
	weeks := func(k string) string {
		if v, ok := st[k].(float64); ok && st["plans_issued"] != 0.0 {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		if st["plans_issued"] == 0.0 {
			return "no plans"
		}
		return "not shown"
	}
	return shownFigures{
		Requests: shownCount(st["requests"]), Plans: shownCount(st["plans_issued"]),
		WithinExcl:    shownRate(st, "share_within_20_weeks_excluding_exceptions", "plans_excluding_exceptions", "no plans"),
		WithinIncl:    shownRate(st, "share_within_20_weeks", "plans_issued", "no plans"),
		Median:        weeks("median_weeks_to_plan"),
		P90:           weeks("p90_weeks_to_plan"),
		ReviewsOnTime: shownRate(st, "share_annual_reviews_on_time", "annual_reviews_due", "none due"),
		Contacts:      shownCount(st["mediation_adviser_contacts"]), Held: shownCount(st["mediations_held"]),
		Appeals: shownCount(st["appeals_lodged"]), Appealable: shownCount(st["appealable_decisions"]),
		AppealRate: shownRate(st, "appeals_per_appealable_decision", "appealable_decisions", "no decisions to appeal"),
		Conceded:   shownCount(st["appeals_conceded"]),
	}
}

// shownRate formats a published rate as a percentage, none when the count
// it is over is zero, or "not shown" when it is left out.
func shownRate(st map[string]any, rate, over, none string) string {
	if st[over] == 0.0 {
		return none
	}
	if v, ok := st[rate].(float64); ok {
		return fmt.Sprintf("%.1f%%", 100*v)
	}
	return "not shown"
}

// shownStages lists a published row's breaches by stage, most first (a
// hidden count counting as none, so the order tells nothing it hides).
func shownStages(st map[string]any) []stageRow {
	breaches, _ := st["breaches_by_stage"].(map[string]any)
	excused, _ := st["excused_by_stage"].(map[string]any)
	var out []stageRow
	for name, v := range breaches {
		r := stageRow{Name: name, Breaches: shownCount(v), OfWhichExcused: shownCount(excused[name])}
		if excused[name] == nil {
			r.OfWhichExcused = "0"
		}
		if n, ok := v.(float64); ok {
			r.Count = int(n)
		}
		if n, ok := excused[name].(float64); ok {
			r.Excused = int(n)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func monthLabel(m domain.Date) string {
	y, mo, _ := m.YMD()
	return fmt.Sprintf("%s %d", mo.String()[:3], y)
}

// whatIfView is an LA's actual figures beside those of its history counted
// under another rulebook on every date, for the statistics page.
type whatIfView struct {
	Rulebook       string
	Version        int
	Cases, Changed int
	Rows           []app.FigureRow
	Months         []whatIfMonth
}

// whatIfMonth is one month of plans issued, actual and what-if.
type whatIfMonth struct {
	Label                    string
	Plans, PlansWhatIf       int
	Excl, ExclWhatIf         float64
	Breaches, BreachesWhatIf int
}

// whatIf counts the LA's history again under rulebook id (?whatif=) for
// the period and each of its months. It needs one LA and a known rulebook.
func (s *Server) whatIf(c echo.Context, la, id string, p projections.Period, months []projections.Period, asOf domain.Date) (*whatIfView, error) {
	if la == "" {
		return nil, domain.FieldErrorf("whatif", "a what-if counts one LA at a time: choose the LA (la)")
	}
	if _, err := domain.LookupRulebook(id); err != nil {
		return nil, &domain.Error{Code: domain.Invalid, Field: "whatif", Message: domain.ErrorMessage(err)}
	}
	release, err := s.replaying(c)
	if err != nil {
		return nil, err
	}
	defer release()
	cmp, rb, err := s.Ledger.WhatIf(c.Request().Context(), la, s.Views.Timeliness.CaseIDs(la), id)
	if err != nil {
		return nil, err
	}
	r := cmp.WhatIfReport(rb, p, asOf, false)
	v := &whatIfView{Rulebook: rb.ID, Version: rb.Version, Cases: r.Cases, Changed: r.ChangedClocks, Rows: app.FigureRows(r.Actual, r.WhatIf)}
	for _, mp := range months {
		a, w := cmp.Stats(mp, asOf)
		v.Months = append(v.Months, whatIfMonth{Label: monthLabel(mp.From), Plans: a.PlansIssued, PlansWhatIf: w.PlansIssued,
			Excl: a.ShareWithin20WeeksExcl, ExclWhatIf: w.ShareWithin20WeeksExcl, Breaches: sum(a.BreachesByStage), BreachesWhatIf: sum(w.BreachesByStage)})
	}
	return v, nil
}

// sum adds up the counts of a map.
func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func dayOf(d domain.Date) int {
	_, _, day := d.YMD()
	return day
}

// monthChart draws the share of plans within 20 weeks by month as SVG bars,
// excluding (dark) and including (light) exception cases.
func monthChart(months []monthRow) template.HTML {
	const w, h, pad = 720, 220, 30
	if len(months) == 0 {
		return ""
	}
	var b strings.Builder
	bw := float64(w-2*pad) / float64(len(months))
	fmt.Fprintf(&b, `<svg role="img" aria-labelledby="mc-t mc-d" viewBox="0 0 %d %d" width="100%%" class="chart">`, w, h+40)
	b.WriteString(`<title id="mc-t">Share of plans issued within 20 weeks, by month</title>`)
	b.WriteString(`<desc id="mc-d">Dark bars exclude cases with exceptions, light bars include them; the table below gives the figures.</desc>`)
	for _, y := range []float64{0, 0.5, 1} {
		yy := float64(pad) + (1-y)*float64(h-pad)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#b1b4b6"/><text x="2" y="%.1f" font-size="11">%.0f%%</text>`, pad, yy, w-pad, yy, yy+4, 100*y)
	}
	for i, m := range months {
		x := float64(pad) + float64(i)*bw
		for j, v := range []float64{m.ExclShare, m.InclShare} {
			if !m.Drawn {
				break
			}
			bh := v * float64(h-pad)
			color := []string{"#1d3557", "#5694ca"}[j]
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %.1f%%</title></rect>`,
				x+2+float64(j)*(bw-4)/2, float64(h)-bh, (bw-4)/2, bh, color, m.Label, 100*v)
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="middle">%s</text>`, x+bw/2, h+14, template.HTMLEscapeString(m.Label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// stageChart draws breaches by stage as horizontal SVG bars.
func stageChart(stages []stageRow) template.HTML {
	if len(stages) == 0 {
		return template.HTML("<p>No breaches in the period.</p>")
	}
	const w, rowH, label = 720, 22, 190
	top := 0
	for _, st := range stages {
		top = max(top, st.Count)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg role="img" aria-labelledby="sc-t sc-d" viewBox="0 0 %d %d" width="100%%" class="chart">`, w, rowH*len(stages)+10)
	b.WriteString(`<title id="sc-t">Breaches by stage</title>`)
	b.WriteString(`<desc id="sc-d">Each bar is a stage's breaches, the dark part of it those excused; the table below gives the figures.</desc>`)
	for i, st := range stages {
		y := i*rowH + 4
		bw := float64(w-label-60) * float64(st.Count) / float64(max(top, 1))
		ew := float64(w-label-60) * float64(st.Excused) / float64(max(top, 1))
		fmt.Fprintf(&b, `<text x="0" y="%d" font-size="12">%s</text>`, y+14, template.HTMLEscapeString(st.Name))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="16" fill="#d4351c"><title>%s: %s breaches</title></rect>`, label, y, bw, template.HTMLEscapeString(st.Name), template.HTMLEscapeString(st.Breaches))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="16" fill="#0b0c0c"><title>%s excused</title></rect>`, label, y, ew, template.HTMLEscapeString(st.OfWhichExcused))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="12">%s</text>`, float64(label)+bw+4, y+14, template.HTMLEscapeString(st.Breaches))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
