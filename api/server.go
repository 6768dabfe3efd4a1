// Package api is the HTTP interface of EHC Ledger, on Echo, under /v1. Errors
// are application/problem+json; /healthz, /readyz, /metrics and the OpenAPI
// document sit beside it.
package api

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OpenAPI is the checked-in OpenAPI 3 document of this interface: its
// routes and their shapes. GET /openapi.json serves it completed from the
// domain's command table (openapi.go).
//
//go:embed openapi.json
var OpenAPI []byte

// Server holds what the handlers need.
type Server struct {
	Ledger *app.Ledger
	Views  *projections.Runner
	Store  eventstore.Store
	// Now is the clock; it decides "today" for steps and views without a date.
	Now      func() time.Time
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Ready reports whether the projections have caught up since start.
	Ready func() bool
	// FreshnessWait bounds how long a read waits for projections to reach the
	// store's head, so a caseworker sees the command they just sent.
	FreshnessWait time.Duration
	// Metrics, when set, records request latency.
	Metrics *Metrics
	// Auth verifies bearer tokens. Without it the server fails closed: it
	// answers the routes that need no role (health, readiness, metrics, the
	// OpenAPI document, the sign-in page) and refuses every other.
	Auth *auth.Verifier
	// MetricsElsewhere serves /metrics only from MetricsHandler, on a
	// listener of its own (serve --metrics-addr), not on the public one.
	MetricsElsewhere bool
	// routeSet holds the route templates Handler registered.
	routeSet map[string]bool
	// OIDC, when set, signs people in to the pages with their LA's identity
	// provider; without it the sign-in page takes a pasted development
	// token. Bearer tokens for /v1 are verified by Auth either way.
	OIDC *auth.OIDC
	// Sessions holds the browsers signed in to the pages; Handler makes a
	// store with the default bounds when it is nil.
	Sessions *Sessions
	// SecureCookies marks cookies Secure whatever the scheme a request
	// came by: for a server reached over HTTPS through a proxy that
	// terminates TLS.
	SecureCookies bool
	// pending holds the sign-ins under way at the identity provider.
	pending *pendingLogins
	// formKey keys the development sign-in form's anti-forgery tokens.
	formKey []byte
	// CheckpointKey is the public key of the log's checkpoints (the text
	// of PREFIX.pub): with it the case page checks each case's events
	// against the latest signed checkpoint.
	CheckpointKey string
	// RequestBudget bounds how long a request may wait on what it needs
	// (the event store while a cluster elects a leader retries until
	// then), so that it is answered 503 with Retry-After before the HTTP
	// server's write timeout cuts it off; zero means no bound.
	RequestBudget time.Duration
	// RateLimit bounds each token's requests; zero means no limit.
	RateLimit RateLimit
	limiters  limiters
	// replays holds a place for each LA history being counted again.
	replays chan struct{}
}

// Handler builds the HTTP handler with every route.
func (s *Server) Handler() *echo.Echo {
	if s.FreshnessWait == 0 {
		s.FreshnessWait = 2 * time.Second
	}
	s.replays = make(chan struct{}, maxReplays)
	if s.Sessions == nil {
		s.Sessions = NewSessions(SessionConfig{Now: s.Now})
	}
	s.pending = newPendingLogins(maxPendingSignIns, signInTTL, time.Now)
	s.formKey = make([]byte, 32)
	rand.Read(s.formKey) // never fails (crypto/rand, Go 1.24 and later)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(middleware.Recover())
	e.Use(s.requestLog)
	e.Use(s.securityHeaders)
	// Requests are small, but for the routes that take a document, which
	// set their own limit.
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "1M",
		Skipper: func(c echo.Context) bool {
			return strings.HasSuffix(c.Path(), "/documents") && c.Request().Method == http.MethodPost
		}}))
	e.Use(s.metricsMiddleware())
	if s.RequestBudget > 0 {
		e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				ctx, cancel := context.WithTimeout(c.Request().Context(), s.RequestBudget)
				defer cancel()
				c.SetRequest(c.Request().WithContext(ctx))
				return next(c)
			}
		})
	}

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if !s.MetricsElsewhere {
		e.GET("/metrics", echo.WrapHandler(s.MetricsHandler()))
	}
	e.GET("/openapi.json", func(c echo.Context) error {
		doc, err := openAPIDocument()
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, "application/json", doc)
	})

	s.registerPages(e)
	s.registerPortal(e)

	reader := s.allow(auth.Caseworker, auth.Manager, auth.Auditor)
	worker := s.allow(auth.Caseworker, auth.Manager)
	anyone := s.allow(auth.Roles...)
	v1 := e.Group("/v1", s.whenReady, s.authenticate, s.rateLimit)
	v1.POST("/cases", s.openCase, worker)
	v1.GET("/cases/:id", s.getCase, reader)
	v1.GET("/cases/:id/clocks", s.getClocks, reader)
	v1.GET("/cases/:id/history", s.getHistory, reader)
	v1.GET("/cases/:id/timeline", s.getTimeline, reader)
	v1.POST("/cases/:id/commands/:command", s.sendCommand, worker)
	v1.POST("/las/:la/commands/:command", s.sendLACommand, s.allow(auth.Admin))
	v1.GET("/worklist", s.worklist, worker)
	v1.GET("/stats", s.stats, s.allow(auth.Inspector, auth.Manager))
	v1.GET("/las/:la/access-log", s.accessLog, s.allow(auth.Auditor))
	v1.POST("/sessions/revoke", s.revokeSessions, s.allow(auth.Admin))
	v1.GET("/las/:la/rulebook-changes", s.rulebookChanges, s.allow(auth.Inspector, auth.Manager, auth.Auditor))
	v1.GET("/las/:la/sen2", s.getSEN2, s.allow(auth.Manager))
	v1.GET("/cases/:id/proof", s.getProof, reader)
	v1.GET("/checkpoint", s.getCheckpoint, anyone)
	v1.GET("/rulebooks", s.listRulebooks, anyone)
	v1.GET("/rulebooks/:id", s.getRulebook, anyone)
	// The metrics label requests by these templates only.
	s.routeSet = map[string]bool{}
	for _, r := range e.Routes() {
		if r.Method != echo.RouteNotFound {
			s.routeSet[r.Path] = true
		}
	}
	return e
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	head, err := s.Store.Head(c.Request().Context())
	// A server without a token verifier answers every route with an error
	// (it fails closed): it is not ready for traffic either.
	if err != nil || (s.Ready != nil && !s.Ready()) || s.Auth == nil {
		return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "not ready", "projection_position": s.Views.Position()})
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready", "head": head, "projection_position": s.Views.Position()})
}

func (s *Server) today() domain.Date { return domain.DateOf(s.Now()) }

// stepBody is the JSON body of a command: when it happened and its data.
type stepBody struct {
	ID   string          `json:"id,omitempty"`
	LA   string          `json:"la,omitempty"`
	On   *domain.Date    `json:"on,omitempty"`
	At   *time.Time      `json:"at,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
	// Reason explains a step recorded after the day it happened.
	Reason string `json:"reason,omitempty"`
	// Opening names how a new case opens: receive_request (the default) or
	// become_responsible; only when opening a case.
	Opening string `json:"opening,omitempty"`
}

func (s *Server) readBody(c echo.Context, allowIdentity bool) (stepBody, domain.Date, error) {
	var b stepBody
	raw, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return b, 0, domain.FieldErrorf("body", "could not be read")
	}
	if len(strings.TrimSpace(string(raw))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			return b, 0, domain.FieldErrorf("body", "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	if !allowIdentity && (b.ID != "" || b.LA != "" || b.Opening != "") {
		return b, 0, domain.FieldErrorf("body", "id, la and opening belong to opening a case (POST /v1/cases)")
	}
	if len(b.Reason) > maxReason {
		return b, 0, domain.FieldErrorf("reason", "is longer than %d characters", maxReason)
	}
	switch {
	case b.On != nil && b.At != nil:
		return b, 0, domain.FieldErrorf("on", "give either on (a date) or at (an instant), not both")
	case b.On != nil:
		return b, *b.On, nil
	case b.At != nil:
		return b, domain.DateOf(*b.At), nil
	}
	return b, s.today(), nil
}

func (s *Server) commandRequest(c echo.Context, caseID, command string, on domain.Date, data json.RawMessage) (app.CommandRequest, error) {
	req := app.CommandRequest{Case: caseID, Command: command, On: on, Data: data, Actor: actor(c),
		Expected: eventstore.Any, IdempotencyKey: c.Request().Header.Get("Idempotency-Key"),
		CorrelationID: c.Request().Header.Get("X-Correlation-ID")}
	// Both are stored with every event of the command: identifiers, bounded.
	if req.IdempotencyKey != "" {
		if err := domain.ValidateID("Idempotency-Key", req.IdempotencyKey); err != nil {
			return req, err
		}
	}
	if req.CorrelationID != "" {
		if err := domain.ValidateID("X-Correlation-ID", req.CorrelationID); err != nil {
			return req, err
		}
	}
	if m := c.Request().Header.Get("If-Match"); m != "" && m != "*" {
		v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(m, "W/"), `"`), 10, 64)
		if err != nil || v < 0 {
			return req, domain.FieldErrorf("If-Match", "must be the case version from its ETag, such as \"3\"")
		}
		req.Expected = eventstore.Exact(v)
	}
	return req, nil
}

func (s *Server) execute(c echo.Context, req app.CommandRequest) error {
	res, err := s.Ledger.Execute(c.Request().Context(), req)
	if err != nil {
		var de *domain.Error
		if req.Expected >= 0 && errorsAs(err, &de) && de.Field == "If-Match" {
			return preconditionFailed{err}
		}
		return err
	}
	c.Response().Header().Set("ETag", strconv.Quote(strconv.FormatInt(res.Version, 10)))
	c.Response().Header().Set("Location", "/v1/cases/"+res.Case)
	status := http.StatusCreated
	if res.Duplicate {
		status = http.StatusOK
	}
	return c.JSON(status, res)
}

func (s *Server) openCase(c echo.Context) error {
	b, on, err := s.readBody(c, true)
	if err != nil {
		return err
	}
	if b.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		b.ID = id.String()
	}
	opening := b.Opening
	if opening == "" {
		opening = domain.CommandReceiveRequest
	}
	if !domain.OpensCase(opening) {
		return domain.FieldErrorf("opening", "a case opens with receive_request or become_responsible, not %q", opening)
	}
	if !domain.LookupCommand(opening).MaySend(string(principal(c).Role)) {
		return domain.Errorf(domain.Forbidden, "a %s may not %s", principal(c).Role, strings.ReplaceAll(opening, "_", " "))
	}
	req, err := s.commandRequest(c, b.ID, opening, on, b.Data)
	req.Reason = b.Reason
	if err != nil {
		return err
	}
	if err := domain.ValidateID("la", b.LA); err != nil {
		return err
	}
	if err := inLA(c, b.LA); err != nil {
		return err
	}
	req.LA = b.LA
	// A new case has no version to match: an If-Match here could only tell
	// the caller something of a case that already exists.
	if req.Expected != eventstore.Any {
		return domain.FieldErrorf("If-Match", "opening a case takes no If-Match: there is no version to match")
	}
	req.Expected = eventstore.NoStream
	// An id already taken by another LA's case is refused without saying
	// whose it is or when it opened.
	req.Authorize = func(la, movingTo string) error {
		if mayWorkOn(c, req.Case, la, movingTo) != nil {
			return domain.Errorf(domain.Conflict, "case %s already exists: choose another id", req.Case)
		}
		return nil
	}
	return s.execute(c, req)
}

func (s *Server) sendCommand(c echo.Context) error {
	b, on, err := s.readBody(c, false)
	if err != nil {
		return err
	}
	// Who may send a command is the catalog's to say; a name that is not a
	// case command is the ledger's to refuse as unknown.
	if spec := domain.LookupCommand(c.Param("command")); spec != nil && spec.Scope == domain.ScopeCase && !spec.MaySend(string(principal(c).Role)) {
		return domain.Errorf(domain.Forbidden, "a %s may not %s", principal(c).Role, strings.ReplaceAll(c.Param("command"), "_", " "))
	}
	req, err := s.commandRequest(c, c.Param("id"), c.Param("command"), on, b.Data)
	req.Reason = b.Reason
	if err != nil {
		return err
	}
	// The ledger reads the case once, and asks about its LA before anything
	// else.
	req.Authorize = func(la, movingTo string) error { return mayWorkOn(c, req.Case, la, movingTo) }
	return s.execute(c, req)
}

func (s *Server) sendLACommand(c echo.Context) error {
	b, on, err := s.readBody(c, false)
	if err != nil {
		return err
	}
	la, err := pathLA(c)
	if err != nil {
		return err
	}
	if spec := domain.LookupCommand(c.Param("command")); spec != nil && spec.Scope == domain.ScopeLA && !spec.MaySend(string(principal(c).Role)) {
		return domain.Errorf(domain.Forbidden, "a %s may not %s", principal(c).Role, strings.ReplaceAll(c.Param("command"), "_", " "))
	}
	if err := s.Ledger.ExecuteLA(c.Request().Context(), la, c.Param("command"), on, b.Data, actor(c)); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]string{"la": la, "command": c.Param("command")})
}

// queryDate is the date a query gives as name: whole (2026-10-03), or in
// a page's three boxes (name-day, name-month, name-year).
func queryDate(c echo.Context, name string) string { return formDate(c.QueryParams(), name) }

// parseQueryDate reads the date a query gives as name; given says whether
// it gives one. A date that is not one is refused in the words of the
// form it came in.
func parseQueryDate(c echo.Context, name string) (d domain.Date, given bool, err error) {
	q := queryDate(c, name)
	if q == "" {
		return 0, false, nil
	}
	if d, err = domain.ParseDate(q); err != nil {
		if c.QueryParam(name) == "" {
			return 0, true, domain.FieldErrorf(name, realDate)
		}
		return 0, true, domain.FieldErrorf(name, "%s", err.Error())
	}
	return d, true, nil
}

// asOf is the day ?as_of asks for, today by default.
func (s *Server) asOf(c echo.Context) (domain.Date, error) {
	d, given, err := parseQueryDate(c, "as_of")
	if !given {
		return s.today(), err
	}
	return d, err
}

// caseView folds the case named in the path as it stood on ?as_of (as far
// as was known at ?known_at). Views of the past are the auditors' and
// managers'.
func (s *Server) caseView(c echo.Context) (app.CaseView, error) {
	asOf, knownAt, err := s.viewTime(c)
	if err != nil {
		return app.CaseView{}, err
	}
	return s.Ledger.Case(c.Request().Context(), c.Param("id"), asOf, knownAt, s.caseGate(c, c.Param("id")))
}

// viewTime reads ?as_of and ?known_at, which only auditors and managers may
// give.
func (s *Server) viewTime(c echo.Context) (domain.Date, time.Time, error) {
	if queryDate(c, "as_of") != "" || c.QueryParam("known_at") != "" {
		if r := principal(c).Role; r != auth.Auditor && r != auth.Manager {
			return 0, time.Time{}, domain.Errorf(domain.Forbidden, "a %s sees cases as they stand today; views of the past are for auditors and managers", r)
		}
	}
	asOf, err := s.asOf(c)
	if err != nil {
		return 0, time.Time{}, err
	}
	var knownAt time.Time
	if q := c.QueryParam("known_at"); q != "" {
		if knownAt, err = time.Parse(time.RFC3339Nano, q); err != nil {
			return 0, time.Time{}, domain.FieldErrorf("known_at", "must be an RFC 3339 instant such as 2024-05-01T12:00:00Z")
		}
		if queryDate(c, "as_of") == "" {
			asOf = domain.DateOf(knownAt)
		}
	}
	return asOf, knownAt, nil
}

func (s *Server) getCase(c echo.Context) error {
	view, err := s.caseView(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", strconv.Quote(strconv.FormatInt(view.Version, 10)))
	return c.JSON(http.StatusOK, view)
}

func (s *Server) getClocks(c echo.Context) error {
	view, err := s.caseView(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"as_of": view.AsOf, "clocks": view.Clocks})
}

// fresh waits, for a bounded time, until the projections have reached the
// store's head as it was when the request arrived.
func (s *Server) fresh(c echo.Context) {
	ctx := c.Request().Context()
	head, err := s.Store.Head(ctx)
	if err != nil {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, s.FreshnessWait)
	defer cancel()
	if err := s.Views.WaitFor(wctx, head); err != nil {
		c.Response().Header().Set("X-Projection-Lag", strconv.FormatInt(head-s.Views.Position(), 10))
	}
}

func (s *Server) getHistory(c echo.Context) error {
	id := c.Param("id")
	if err := s.readCase(c, id); err != nil {
		return err
	}
	s.fresh(c)
	h, err := s.Views.History(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if len(h) == 0 {
		return domain.Errorf(domain.NotFound, "there is no case %s", id)
	}
	for i := range h {
		h[i].Reason = s.Ledger.OpenReason(id, h[i].Reason) // stored sealed
	}
	return c.JSON(http.StatusOK, map[string]any{"case": id, "history": h})
}

// getTimeline serves a case's full audit timeline as JSON, or as CSV with
// ?format=csv (a download).
func (s *Server) getTimeline(c echo.Context) error {
	id := c.Param("id")
	if f := c.QueryParam("format"); f != "" && f != "json" && f != "csv" {
		return domain.FieldErrorf("format", "must be json or csv")
	}
	entries, err := s.Ledger.Timeline(c.Request().Context(), id, s.caseGate(c, id))
	if err != nil {
		return err
	}
	switch c.QueryParam("format") {
	case "", "json":
		return c.JSON(http.StatusOK, map[string]any{"case": id, "timeline": entries})
	case "csv":
		c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="case-`+id+`-timeline.csv"`)
		c.Response().WriteHeader(http.StatusOK)
		return app.WriteTimelineCSV(c.Response(), id, entries)
	}
	return domain.FieldErrorf("format", "must be json or csv")
}

// worklistFilter reads what the worklist and its page share: ?as_of, the LA
// (scoped to the principal's), caseworker, team, clock and view.
func (s *Server) worklistFilter(c echo.Context) (projections.WorklistFilter, error) {
	asOf, err := s.asOf(c)
	if err != nil {
		return projections.WorklistFilter{}, err
	}
	la, err := scopeLA(c, c.QueryParam("la"))
	if err != nil {
		return projections.WorklistFilter{}, err
	}
	f := projections.WorklistFilter{LA: la, Caseworker: c.QueryParam("caseworker"), Team: c.QueryParam("team"),
		Clock: c.QueryParam("clock"), View: c.QueryParam("view"), AsOf: asOf}
	switch f.View {
	case "", "due_this_week", "overdue", "at_risk":
		return f, nil
	}
	return f, domain.FieldErrorf("view", "%q is not a view (due_this_week, overdue, at_risk)", f.View)
}

func (s *Server) worklist(c echo.Context) error {
	f, err := s.worklistFilter(c)
	if err != nil {
		return err
	}
	asOf := f.AsOf
	if v := c.QueryParam("risk_days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 365 {
			return domain.FieldErrorf("risk_days", "must be a number of days from 1 to 365")
		}
		f.RiskDays = n
	}
	if st := c.QueryParam("status"); st != "" {
		f.Statuses = map[string]bool{}
		for _, v := range strings.Split(st, ",") {
			switch v {
			case domain.StatusRunning, domain.StatusOverdue, domain.StatusMet, domain.StatusLate, domain.StatusEnded:
				f.Statuses[v] = true
			default:
				return domain.FieldErrorf("status", "%q is not a status (running, overdue, met, late, ended)", v)
			}
		}
	}
	for _, p := range []struct {
		name string
		dst  *domain.Date
	}{{"due_from", &f.DueFrom}, {"due_to", &f.DueTo}} {
		if v := c.QueryParam(p.name); v != "" {
			d, err := domain.ParseDate(v)
			if err != nil {
				return domain.FieldErrorf(p.name, "%s", err.Error())
			}
			*p.dst = d
		}
	}
	if f.Limit, err = limit(c, 500); err != nil {
		return err
	}
	s.fresh(c)
	items := s.Views.Timeliness.Worklist(f)
	if items == nil {
		items = []projections.WorklistItem{}
	}
	if err := s.recordWorklistReads(c, items); err != nil {
		return err
	}
	summary := map[string]int{"overdue": 0, "at_risk": 0, "running": 0}
	for _, it := range items {
		switch {
		case it.Status == domain.StatusOverdue:
			summary["overdue"]++
		case it.AtRisk:
			summary["at_risk"]++
		}
		if it.Status == domain.StatusRunning {
			summary["running"]++
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"as_of": asOf, "summary": summary, "items": items})
}

// limit reads ?limit, from 1 to 10,000, or returns def without one.
func limit(c echo.Context, def int) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, domain.FieldErrorf("limit", "must be a number from 1 to 10000")
	}
	return n, nil
}

// accessLog serves an LA's record of who read which case, when and how,
// newest first.
func (s *Server) accessLog(c echo.Context) error {
	la, err := pathLA(c)
	if err != nil {
		return err
	}
	f := projections.AccessFilter{LA: la, Case: c.QueryParam("case"), Actor: c.QueryParam("actor")}
	if f.Limit, err = limit(c, 500); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := c.QueryParam(p.name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return domain.FieldErrorf(p.name, "must be an RFC 3339 instant such as 2024-05-01T12:00:00Z")
			}
			*p.dst = t
		}
	}
	s.fresh(c)
	entries, err := s.Views.AccessLog(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"la": la, "access": entries})
}

func (s *Server) listRulebooks(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"rulebooks": domain.RulebookIDs()})
}

func (s *Server) getRulebook(c echo.Context) error {
	rb, err := domain.LookupRulebook(c.Param("id"))
	if err != nil {
		return &domain.Error{Code: domain.NotFound, Message: domain.ErrorMessage(err)}
	}
	return c.JSON(http.StatusOK, rb)
}

// MetricsHandler serves the Prometheus metrics, for a listener of its own.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{})
}

// maxReason bounds the reason a step is recorded late, like every free text.
const maxReason = 2000
