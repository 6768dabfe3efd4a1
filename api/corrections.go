package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// A step is corrected beside what it corrects: the timeline's entry opens a
// form of the step's own fields, filled with what was recorded, with the
// day it happened, a reason (required: a correction says why) and a choice
// to void the step. Only what changed is sent: a new date, new data, or
// the voiding, through the correction command of the catalog, like any
// other step.

// correctionPage is the form correcting one step.
type correctionPage struct {
	stepPage
	// Corrects is the version of the step; Event its type; Corrected
	// says it was corrected before (the form shows it as first recorded).
	Corrects  int64
	Event     string
	Corrected bool
	// Original is the day the step happened as recorded; Void the choice
	// to void it.
	Original string
	Void     bool
}

// correctionOf finds the step a correction form is about, and its form.
func (s *Server) correctionOf(c echo.Context, view app.CaseView, tl []app.TimelineEntry) (*correctionPage, error) {
	v, err := strconv.ParseInt(c.Param("version"), 10, 64)
	if err != nil || v < 1 || v > int64(len(tl)) {
		return nil, domain.Errorf(domain.NotFound, "case %s has no step %s", view.ID, c.Param("version"))
	}
	e := tl[v-1]
	command := domain.CommandForEvent(e.Event)
	spec := domain.LookupCommand(command)
	// The step that opened the case (always #1) is corrected like any
	// other, its personal details with it; a correction is not.
	if spec == nil || spec.Scope != domain.ScopeCase || (spec.Opens && v != 1) || e.Event == domain.TypeStepCorrected {
		return nil, domain.Errorf(domain.NotFound, "%s #%d is not a step that can be corrected: a correction is corrected by another correction of the step", e.Event, v)
	}
	fields, ok := stepFields(spec)
	if !ok {
		return nil, domain.Errorf(domain.NotFound, "%s #%d is corrected through the API", e.Event, v)
	}
	values := map[string]string{}
	for _, d := range e.Details {
		values[d.Name] = d.Value
	}
	if spec.Opens {
		// The personal details are sealed in the event, not among its
		// details: the form shows them as the case holds them now.
		for name, value := range personalValues(view.Person) {
			values[name] = value
		}
	}
	for i := range fields {
		val := values[strings.ReplaceAll(fields[i].Name, "_", " ")]
		switch fields[i].Kind {
		case kindLines:
			val = strings.ReplaceAll(val, ", ", "\n")
		case kindCheckboxes:
			fields[i].Checked = map[string]bool{}
			for _, o := range strings.Split(val, ", ") {
				fields[i].Checked[o] = o != ""
			}
		}
		fields[i].Value = val
	}
	key, err := uuid.NewRandom()
	if err != nil {
		return nil, err
	}
	corr := domain.CommandForEvent(domain.TypeStepCorrected)
	return &correctionPage{stepPage: stepPage{frame: s.frame(c, "Correct "+stepTitle(command)+" (#"+strconv.FormatInt(v, 10)+"): case "+view.ID),
		Case: view.ID, Command: corr, Summary: spec.Summary, Version: view.Version, Key: "form-" + key.String(), On: e.OccurredOn, Fields: fields},
		Corrects: v, Event: e.Event, Corrected: len(e.CorrectedBy) > 0, Original: e.OccurredOn}, nil
}

// correctionForm reads the case and the step a correction form is about,
// for a reader who may correct steps.
func (s *Server) correctionForm(c echo.Context) (*correctionPage, app.CaseView, error) {
	if !domain.LookupCommand(domain.CommandForEvent(domain.TypeStepCorrected)).MaySend(string(principal(c).Role)) {
		return nil, app.CaseView{}, domain.Errorf(domain.Forbidden, "a %s may not correct a step", principal(c).Role)
	}
	id := c.Param("id")
	view, tl, err := s.Ledger.CaseAndTimeline(c.Request().Context(), id, s.today(), time.Time{}, s.caseGate(c, id))
	if err != nil {
		return nil, app.CaseView{}, err
	}
	page, err := s.correctionOf(c, view, tl)
	return page, view, err
}

// pageCorrection shows the form correcting a step.
func (s *Server) pageCorrection(c echo.Context) error {
	page, _, err := s.correctionForm(c)
	if err != nil {
		return err
	}
	return render(c, "correction.html", page)
}

// postCorrection records a correction sent from its form: only what changed
// is corrected.
func (s *Server) postCorrection(c echo.Context) error {
	if err := formFromSite(c); err != nil {
		return err
	}
	page, view, err := s.correctionForm(c)
	if err != nil {
		return err
	}
	id := view.ID
	asRecorded, err := formData(page.Fields)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return domain.FieldErrorf("body", "must be a form")
	}
	fillFields(page.Fields, form)
	page.On, page.Reason, page.Key, page.Void = formDate(form, "on"), form.Get("reason"), form.Get("key"), form.Get("void") != ""
	if page.Version, err = strconv.ParseInt(form.Get("version"), 10, 64); err != nil || page.Version < 0 {
		return domain.FieldErrorf("version", "the form lost the case version it was opened at: open the case and correct the step again")
	}
	res, err := s.recordCorrection(c, page, asRecorded)
	if err != nil {
		return s.correctionRefused(c, page, view, err)
	}
	after, tl, err := s.Ledger.CaseAndTimeline(c.Request().Context(), id, s.today(), time.Time{}, s.caseGate(c, id))
	if err != nil {
		return err
	}
	done := &recorded{Step: "Correction of " + stepTitle(domain.CommandForEvent(page.Event)) + " (#" + strconv.FormatInt(page.Corrects, 10) + ")", Duplicate: res.Duplicate}
	done.Started, done.Stopped = clockChanges(view.Clocks, after.Clocks)
	return s.renderCase(c, after, tl, done)
}

// recordCorrection sends the correction: the new date when it changed, the
// new data when it differs from what was recorded, or the voiding.
func (s *Server) recordCorrection(c echo.Context, page *correctionPage, asRecorded json.RawMessage) (app.CommandResult, error) {
	if strings.TrimSpace(page.Reason) == "" {
		return app.CommandResult{}, domain.FieldErrorf("reason", "is required: say why the step is corrected")
	}
	if err := domain.ValidateID("key", page.Key); err != nil {
		return app.CommandResult{}, domain.FieldErrorf("key", "the form lost its key: open the case and correct the step again")
	}
	body := map[string]any{"version": page.Corrects, "reason": strings.TrimSpace(page.Reason)}
	if page.Void {
		body["void"] = true
	} else {
		if page.On != page.Original {
			on, err := domain.ParseDate(page.On)
			if err != nil {
				return app.CommandResult{}, domain.FieldErrorf("on", realDate)
			}
			body["on"] = on
		}
		data, err := formData(page.Fields)
		if err != nil {
			return app.CommandResult{}, err
		}
		if !bytes.Equal(data, asRecorded) {
			body["data"] = json.RawMessage(data)
		}
		if len(body) == 2 {
			return app.CommandResult{}, domain.FieldErrorf("on", "nothing is corrected: change the date or a detail, or void the step")
		}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return app.CommandResult{}, err
	}
	req := app.CommandRequest{Case: page.Case, Command: page.Command, On: s.today(), Data: raw, Actor: actor(c),
		Expected: eventstore.Exact(page.Version), IdempotencyKey: page.Key}
	req.Authorize = func(la, movingTo string) error { return mayWorkOn(c, req.Case, la, movingTo) }
	return s.Ledger.Execute(c.Request().Context(), req)
}

// correctionRefused shows the correction form again with the problem
// beside its field. The correction names the step's data as data.data.X,
// its date as data.on and its reason as data.reason: the form's fields are
// the step's own, its date and the reason.
func (s *Server) correctionRefused(c echo.Context, page *correctionPage, current app.CaseView, err error) error {
	de, ok := pageRefusal(err)
	if !ok {
		return err
	}
	placed := *de
	switch {
	case strings.HasPrefix(de.Field, "data.data."):
		placed.Field = "data." + strings.TrimPrefix(de.Field, "data.data.")
	case de.Field == "data.on":
		placed.Field = "on"
	case de.Field == "data.reason":
		placed.Field = "reason"
	}
	placeError(&page.stepPage, current, &placed)
	return renderStatus(c, statusTable()[de.Code], "correction.html", page)
}

// personalValues are a case's personal details by their fields' names in
// words, as a correction form of its opening step shows them; none once
// erased.
func personalValues(p app.Person) map[string]string {
	d := p.PersonalDetails
	if d == nil || p.Erased {
		return nil
	}
	out := map[string]string{"forename": d.Forename, "surname": d.Surname, "address": d.Address, "postcode": d.Postcode,
		"sex": d.Sex, "ethnicity": d.Ethnicity, "upn": d.UPN, "uln": d.ULN, "upn unknown": d.UPNUnknown}
	if d.InYouthAccommodation {
		out["in youth accommodation"] = "yes"
	}
	if !d.BirthDate.IsZero() {
		out["birth date"] = d.BirthDate.String()
	}
	return out
}
