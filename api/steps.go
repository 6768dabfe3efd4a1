package api

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// A caseworker records a step from the case page: a form generated from the
// command's data (forms.go), posted without JavaScript, and sent through the
// same command path as the API (Ledger.Execute: the same validation, the
// case version the form was opened at as If-Match, and an idempotency key
// made when the form was shown, so sending it twice records it once). A
// form sent from a session carries the session's anti-forgery token.

// stepPage is a step's form, and what went wrong with the last try.
type stepPage struct {
	frame
	Case, Command, Summary string
	// Version is the case version the form was opened at (If-Match), and
	// Key the form's idempotency key.
	Version int64
	Key     string
	On      string
	Reason  string
	Fields  []formField
	// Errors are the problems of the last post: each links to its field
	// (an empty ID when the problem is the step's, not a field's).
	Errors []stepError
	// OnError and ReasonError are the problems of the envelope's fields.
	OnError, ReasonError string
	// For is the clock the form was opened from (?for=CLOCK&for_key=KEY
	// beside the clock on the case page), nil when none.
	For *clockFor
}

// clockFor is the clock a step's form was opened for: the clock as it
// stands and, for an exception, the kinds its rule lets excuse it.
type clockFor struct {
	domain.ClockRow
	Source  string
	Excuses []string
	// Query is the form's own query, kept through a post.
	Query string
}

// clockForm finds the clock a form's ?for= names among the case's clocks;
// nil when the form names none or one the case does not have.
func clockForm(c echo.Context, view app.CaseView) *clockFor {
	name, key := c.QueryParam("for"), c.QueryParam("for_key")
	if name == "" {
		return nil
	}
	rb, err := domain.LookupRulebook(view.Rulebook)
	if err != nil {
		return nil
	}
	for _, row := range view.Clocks {
		if row.Clock != name || row.Key != key {
			continue
		}
		f := &clockFor{ClockRow: row, Query: "?" + url.Values{"for": {name}, "for_key": {key}}.Encode()}
		if rule := rb.Clock(name); rule != nil {
			f.Source = rule.Source
			f.Excuses = exceptionKinds(rule)
		}
		return f
	}
	return nil
}

// exceptionKinds says in words which exceptions a clock's rule lets
// excuse it: "absence (at least 28 days)".
func exceptionKinds(rule *domain.ClockRule) []string {
	var out []string
	for _, e := range rule.Exceptions {
		kind := strings.ReplaceAll(e.Kind, "_", " ")
		if e.MinDays > 0 {
			kind += " (at least " + strconv.Itoa(e.MinDays) + " days in the period)"
		}
		out = append(out, kind)
	}
	return out
}

// formFromSite refuses a form a session sent from anywhere but this site's
// own pages: its anti-forgery token must be the session's. A request with a
// bearer token has no session, and nothing a browser adds by itself.
func formFromSite(c echo.Context) error {
	csrf, _ := c.Get(csrfKey).(string)
	if csrf != "" && (!sameToken(c.FormValue("csrf"), csrf) || crossSite(c)) {
		return domain.Errorf(domain.Forbidden, "this form was not sent from this site's pages: open the page and send it again")
	}
	return nil
}

// pageRefusal reports whether a refusal is the sender's to fix on the form
// (an invalid field, a conflict with the case), to be shown beside it, or is
// answered as the API would (no such case, another LA's, a fault).
func pageRefusal(err error) (*domain.Error, bool) {
	var de *domain.Error
	if !errors.As(err, &de) || de.Code == domain.Internal || de.Code == domain.NotFound || de.Code == domain.Forbidden ||
		de.Code == domain.Unauthorized || de.Code == domain.Unavailable {
		return nil, false
	}
	return de, true
}

// stepError is one line of the error summary.
type stepError struct{ ID, Message string }

// stepSpec finds the command a page step names, refusing what the principal
// may not send and what a form cannot take.
func stepSpec(c echo.Context) (*domain.CommandSpec, []formField, error) {
	name := c.Param("command")
	spec := domain.LookupCommand(name)
	if spec == nil || spec.Scope != domain.ScopeCase || spec.Opens {
		return nil, nil, domain.Errorf(domain.NotFound, "there is no step %q to record on a case", name)
	}
	if !spec.MaySend(string(principal(c).Role)) {
		return nil, nil, domain.Errorf(domain.Forbidden, "a %s may not %s", principal(c).Role, strings.ReplaceAll(name, "_", " "))
	}
	fields, ok := stepFields(spec)
	if !ok {
		return nil, nil, domain.Errorf(domain.NotFound, "%s is recorded through the API (POST /v1/cases/{id}/commands/%s): its data has no form", name, name)
	}
	return spec, fields, nil
}

// pageStep shows a step's form for the case as it stands.
func (s *Server) pageStep(c echo.Context) error {
	spec, fields, err := stepSpec(c)
	if err != nil {
		return err
	}
	id := c.Param("id")
	view, err := s.Ledger.Case(c.Request().Context(), id, s.today(), time.Time{}, s.caseGate(c, id))
	if err != nil {
		return err
	}
	key, err := uuid.NewRandom()
	if err != nil {
		return err
	}
	return render(c, "step.html", stepPage{frame: s.frame(c, stepTitle(spec.Name)+": case "+id), Case: id, Command: spec.Name,
		Summary: spec.Summary, Version: view.Version, Key: "form-" + key.String(), On: s.today().String(), Fields: fields, For: clockForm(c, view)})
}

// stepTitle is a command's name in words.
func stepTitle(command string) string { return label(command) }

// postStep records a step sent from its form, and shows the case with the
// clocks the step started and stopped; a refused step shows the form again
// with the problem beside its field.
func (s *Server) postStep(c echo.Context) error {
	spec, fields, err := stepSpec(c)
	if err != nil {
		return err
	}
	if err := formFromSite(c); err != nil {
		return err
	}
	id := c.Param("id")
	form, err := c.FormParams()
	if err != nil {
		return domain.FieldErrorf("body", "must be a form")
	}
	fillFields(fields, form)
	page := stepPage{frame: s.frame(c, stepTitle(spec.Name)+": case "+id), Case: id, Command: spec.Name, Summary: spec.Summary,
		Key: form.Get("key"), On: formDate(form, "on"), Reason: form.Get("reason"), Fields: fields}
	// The case first: another LA's case is answered as one that does not
	// exist, whatever the form holds. The case is read three times (here,
	// by Execute, and after it for the page): one case's stream is tens of
	// events, and the view before is also what the clocks after are
	// compared with, to say which the step started or stopped.
	before, err := s.Ledger.Case(c.Request().Context(), id, s.today(), time.Time{}, s.caseGate(c, id))
	if err != nil {
		return err
	}
	page.For = clockForm(c, before)
	page.Version, err = strconv.ParseInt(form.Get("version"), 10, 64)
	if err != nil || page.Version < 0 {
		return domain.FieldErrorf("version", "the form lost the case version it was opened at: open the case and record the step again")
	}
	res, err := s.recordStep(c, spec.Name, &page)
	if err != nil {
		return s.stepRefused(c, &page, before, err)
	}
	after, tl, err := s.Ledger.CaseAndTimeline(c.Request().Context(), id, s.today(), time.Time{}, s.caseGate(c, id))
	if err != nil {
		return err
	}
	done := &recorded{Step: stepTitle(spec.Name), Duplicate: res.Duplicate}
	done.Started, done.Stopped = clockChanges(before.Clocks, after.Clocks)
	return s.renderCase(c, after, tl, done)
}

// recordStep sends the form's step through the ledger.
func (s *Server) recordStep(c echo.Context, command string, page *stepPage) (app.CommandResult, error) {
	on, err := domain.ParseDate(strings.TrimSpace(page.On))
	if err != nil {
		return app.CommandResult{}, domain.FieldErrorf("on", realDate)
	}
	if len(page.Reason) > maxReason {
		return app.CommandResult{}, domain.FieldErrorf("reason", "is longer than %d characters", maxReason)
	}
	if err := domain.ValidateID("key", page.Key); err != nil {
		return app.CommandResult{}, domain.FieldErrorf("key", "the form lost its key: open the case and record the step again")
	}
	data, err := formData(page.Fields)
	if err != nil {
		return app.CommandResult{}, err
	}
	req := app.CommandRequest{Case: page.Case, Command: command, On: on, Data: data, Actor: actor(c),
		Expected: eventstore.Exact(page.Version), IdempotencyKey: page.Key, Reason: strings.TrimSpace(page.Reason)}
	req.Authorize = func(la, movingTo string) error { return mayWorkOn(c, req.Case, la, movingTo) }
	return s.Ledger.Execute(c.Request().Context(), req)
}

// stepRefused shows the form again with the problem beside its field, in
// the status the API would answer. A problem that is not the caller's to
// fix (no such case, another LA's, a fault) is answered as the API would.
func (s *Server) stepRefused(c echo.Context, page *stepPage, current app.CaseView, err error) error {
	de, ok := pageRefusal(err)
	if !ok {
		return err
	}
	placeError(page, current, de)
	return renderStatus(c, statusTable()[de.Code], "step.html", page)
}

// placeError puts a refusal beside the field it names (data.X, on or
// reason), or in the summary alone; a form opened before another step is
// moved to the case's version, to be checked and sent again.
func placeError(page *stepPage, current app.CaseView, de *domain.Error) {
	msg := domain.ErrorMessage(de)
	if de.Field != "" {
		msg = strings.TrimPrefix(msg, de.Field+": ")
	}
	field := strings.TrimPrefix(de.Field, "data.")
	switch {
	case de.Field == "If-Match":
		page.Version = current.Version
		page.Errors = append(page.Errors, stepError{Message: "The case has changed since you opened this form (someone recorded another step): check the case and send the form again."})
	case de.Field == "on":
		page.OnError = msg
		page.Errors = append(page.Errors, stepError{ID: "f-on-day", Message: "Date it happened: " + msg})
	case de.Field == "reason":
		page.ReasonError = msg
		page.Errors = append(page.Errors, stepError{ID: "f-step-reason", Message: "Why it is recorded late: " + msg})
	default:
		placed := false
		for i := range page.Fields {
			if page.Fields[i].Name == field || strings.HasPrefix(field, page.Fields[i].Name+"[") {
				page.Fields[i].Error = msg
				page.Errors = append(page.Errors, stepError{ID: page.Fields[i].FocusID(), Message: page.Fields[i].Label + ": " + msg})
				placed = true
				break
			}
		}
		if !placed {
			page.Errors = append(page.Errors, stepError{Message: msg})
		}
	}
	if !strings.HasPrefix(page.Title, "Error: ") {
		page.Title = "Error: " + page.Title
	}
}

// recorded is what the case page says of a step just recorded from it.
type recorded struct {
	Step      string
	Duplicate bool
	// Started and Stopped are the clocks the step started and stopped.
	Started, Stopped []domain.ClockRow
}

// clockChanges compares a case's clocks before and after a step: those that
// are new, and those that were open and are no longer.
func clockChanges(before, after []domain.ClockRow) (started, stopped []domain.ClockRow) {
	type key struct{ clock, key string }
	was := map[key]domain.ClockRow{}
	for _, r := range before {
		was[key{r.Clock, r.Key}] = r
	}
	for _, r := range after {
		old, ok := was[key{r.Clock, r.Key}]
		switch {
		case !ok:
			started = append(started, r)
		case open(old.Status) && !open(r.Status):
			stopped = append(stopped, r)
		}
	}
	return started, stopped
}

// open reports whether a clock status is still running.
func open(status string) bool {
	return status == domain.StatusRunning || status == domain.StatusOverdue
}

// pageSteps sends the "another step" choice of the case page to that
// step's form.
func (s *Server) pageSteps(c echo.Context) error {
	id := c.Param("id")
	if la, err := s.caseInScope(c, id); err != nil {
		return err
	} else if la == "" {
		return domain.Errorf(domain.NotFound, "there is no case %s", id)
	}
	command := c.QueryParam("command")
	if err := domain.ValidateID("command", command); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/ui/cases/"+url.PathEscape(id)+"/steps/"+url.PathEscape(command))
}

// postDocument takes a document a caseworker sends for a case, and shows
// the case again.
func (s *Server) postDocument(c echo.Context) error {
	if err := formFromSite(c); err != nil {
		return err
	}
	id := c.Param("id")
	if la, err := s.caseInScope(c, id); err != nil {
		return err
	} else if la == "" {
		return domain.Errorf(domain.NotFound, "there is no case %s", id)
	}
	up := app.Upload{Case: id, Actor: actor(c), Kind: c.FormValue("kind"), SharedWithFamily: c.FormValue("shared") == "yes"}
	if _, err := s.receiveUpload(c, up); err != nil {
		return err
	}
	view, tl, err := s.Ledger.CaseAndTimeline(c.Request().Context(), id, s.today(), time.Time{}, s.caseGate(c, id))
	if err != nil {
		return err
	}
	return s.renderCase(c, view, tl, nil)
}

// getDocument serves a document of a case, as an attachment: never shown
// in the browser's own viewer as if it were one of this site's pages.
func (s *Server) getDocument(c echo.Context) error {
	id := c.Param("id")
	b, doc, err := s.Ledger.Document(c.Request().Context(), id, c.Param("sha256"), s.caseGate(c, id), nil)
	if err != nil {
		return err
	}
	return sendDocument(c, b, doc)
}

// sendDocument answers with a document as a download, sandboxed so that
// no browser runs what it holds as this site's page.
func sendDocument(c echo.Context, b []byte, doc domain.DocumentUploaded) error {
	name := doc.Name.Plain
	if doc.Name.Erased || name == "" {
		name = "document"
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	c.Response().Header().Set("Content-Security-Policy", "sandbox")
	return c.Blob(http.StatusOK, doc.MediaType, b)
}

// newCasePage is the form opening a case: the step that opens it, the LA
// (of those the reader works for) and the step's own fields.
type newCasePage struct {
	stepPage
	Openings []nextStep
	LA       string
	LAs      []string
	LAError  string
}

// openingSpec is the opening step a new-case form is for (a request
// unless ?opening= names another), refused when the reader may not send it.
func openingSpec(c echo.Context, name string) (*domain.CommandSpec, []formField, error) {
	if name == "" {
		name = domain.CommandReceiveRequest
	}
	spec := domain.LookupCommand(name)
	if spec == nil || !spec.Opens {
		return nil, nil, domain.FieldErrorf("opening", "%q does not open a case", name)
	}
	if !spec.MaySend(string(principal(c).Role)) {
		return nil, nil, domain.Errorf(domain.Forbidden, "a %s may not %s", principal(c).Role, strings.ReplaceAll(name, "_", " "))
	}
	fields, ok := stepFields(spec)
	if !ok {
		return nil, nil, domain.Errorf(domain.NotFound, "%s is recorded through the API", name)
	}
	return spec, fields, nil
}

// newCase builds the new-case page for an opening step.
func (s *Server) newCase(c echo.Context, spec *domain.CommandSpec, fields []formField) (newCasePage, error) {
	key, err := uuid.NewRandom()
	if err != nil {
		return newCasePage{}, err
	}
	p := newCasePage{stepPage: stepPage{frame: s.frame(c, "Open a case: "+stepTitle(spec.Name)), Command: spec.Name, Summary: spec.Summary,
		Key: "form-" + key.String(), On: s.today().String(), Fields: fields}, LAs: principal(c).LAs}
	if len(p.LAs) == 1 {
		p.LA = p.LAs[0]
	}
	for _, o := range domain.Commands() {
		if o.Opens && o.MaySend(string(principal(c).Role)) {
			p.Openings = append(p.Openings, nextStep{Command: o.Name, Title: stepTitle(o.Name), Summary: o.Summary})
		}
	}
	return p, nil
}

// pageNewCase shows the form opening a case.
func (s *Server) pageNewCase(c echo.Context) error {
	spec, fields, err := openingSpec(c, c.QueryParam("opening"))
	if err != nil {
		return err
	}
	p, err := s.newCase(c, spec, fields)
	if err != nil {
		return err
	}
	return render(c, "newcase.html", p)
}

// postNewCase opens a case from its form, with a new ID, and shows it.
func (s *Server) postNewCase(c echo.Context) error {
	if err := formFromSite(c); err != nil {
		return err
	}
	spec, fields, err := openingSpec(c, c.FormValue("opening"))
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return domain.FieldErrorf("body", "must be a form")
	}
	fillFields(fields, form)
	p, err := s.newCase(c, spec, fields)
	if err != nil {
		return err
	}
	p.Key, p.On, p.Reason, p.LA = form.Get("key"), formDate(form, "on"), form.Get("reason"), form.Get("la")
	// The case's ID is made from the form's key, so a form sent twice opens
	// one case.
	id, res, err := s.openFromForm(c, spec.Name, &p)
	if err != nil {
		de, ok := pageRefusal(err)
		if !ok {
			return err
		}
		if de.Field == "la" {
			p.LAError = strings.TrimPrefix(domain.ErrorMessage(de), "la: ")
			p.Errors = append(p.Errors, stepError{ID: "f-la", Message: "LA: " + p.LAError})
			p.Title = "Error: " + p.Title
		} else {
			placeError(&p.stepPage, app.CaseView{}, de)
		}
		return renderStatus(c, statusTable()[de.Code], "newcase.html", p)
	}
	view, tl, err := s.Ledger.CaseAndTimeline(c.Request().Context(), id, s.today(), time.Time{}, s.caseGate(c, id))
	if err != nil {
		return err
	}
	done := &recorded{Step: stepTitle(spec.Name) + ": case " + id + " opened", Duplicate: res.Duplicate}
	done.Started, _ = clockChanges(nil, view.Clocks)
	return s.renderCase(c, view, tl, done)
}

// openFromForm sends the opening step of a new-case form.
func (s *Server) openFromForm(c echo.Context, command string, p *newCasePage) (string, app.CommandResult, error) {
	if err := domain.ValidateID("key", p.Key); err != nil {
		return "", app.CommandResult{}, domain.FieldErrorf("key", "the form lost its key: open the form again")
	}
	if err := domain.ValidateID("la", p.LA); err != nil {
		return "", app.CommandResult{}, domain.FieldErrorf("la", "choose the LA the case is for")
	}
	if err := inLA(c, p.LA); err != nil {
		return "", app.CommandResult{}, domain.FieldErrorf("la", "you do not work for LA %s", p.LA)
	}
	on, err := domain.ParseDate(strings.TrimSpace(p.On))
	if err != nil {
		return "", app.CommandResult{}, domain.FieldErrorf("on", realDate)
	}
	data, err := formData(p.Fields)
	if err != nil {
		return "", app.CommandResult{}, err
	}
	id := uuid.NewSHA1(uuid.NameSpaceURL, []byte("ehcledger:new-case:"+principal(c).Subject+":"+p.Key)).String()
	req := app.CommandRequest{Case: id, LA: p.LA, Command: command, On: on, Data: data, Actor: actor(c),
		Expected: eventstore.NoStream, IdempotencyKey: p.Key, Reason: strings.TrimSpace(p.Reason)}
	req.Authorize = func(la, movingTo string) error {
		if mayWorkOn(c, req.Case, la, movingTo) != nil {
			return domain.Errorf(domain.Conflict, "this form opened a case already: open the form again")
		}
		return nil
	}
	res, err := s.Ledger.Execute(c.Request().Context(), req)
	return id, res, err
}
