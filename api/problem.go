package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/labstack/echo/v4"
)

// statusTable is the one table mapping error codes to HTTP statuses.
func statusTable() map[domain.Code]int {
	return map[domain.Code]int{
		domain.Invalid:      http.StatusUnprocessableEntity,
		domain.NotFound:     http.StatusNotFound,
		domain.Conflict:     http.StatusConflict,
		domain.Forbidden:    http.StatusForbidden,
		domain.Unauthorized: http.StatusUnauthorized,
		domain.Internal:     http.StatusInternalServerError,
		domain.TooMany:      http.StatusTooManyRequests,
		domain.Unavailable:  http.StatusServiceUnavailable,
	}
}

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code"`
	Instance string `json:"instance,omitempty"`
}

// preconditionFailed marks a stale If-Match: the client's precondition, not
// the store, refused the change.
type preconditionFailed struct{ err error }

func (p preconditionFailed) Error() string { return p.err.Error() }
func (p preconditionFailed) Unwrap() error { return p.err }

// errorHandler writes every error as application/problem+json. Internal
// details are logged, never shown.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := Problem{Instance: c.Request().URL.Path}
	var he *echo.HTTPError
	var pf preconditionFailed
	switch {
	case errors.As(err, &he):
		p.Status = he.Code
		p.Code = codeForStatus(he.Code)
		p.Detail = http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok {
			p.Detail = m
		}
	case errors.Is(err, context.DeadlineExceeded) && domain.ErrorCode(err) == domain.Internal:
		// The request's budget ran out (RequestBudget) in work that does
		// not say why: it may succeed when the server is less busy.
		p.Status = http.StatusServiceUnavailable
		p.Code = string(domain.Unavailable)
		p.Detail = "the request took longer than the server allows; try again shortly"
	case errors.As(err, &pf):
		p.Status = http.StatusPreconditionFailed
		p.Code = string(domain.Conflict)
		p.Detail = domain.ErrorMessage(err)
		p.Field = "If-Match"
	default:
		code := domain.ErrorCode(err)
		p.Status = statusTable()[code]
		p.Code = string(code)
		p.Detail = domain.ErrorMessage(err)
		var de *domain.Error
		if errors.As(err, &de) {
			p.Field = de.Field
		}
	}
	if p.Status >= 500 {
		// The route, not the path: a path may hold an invitation's secret.
		s.Logger.Error("request failed", "route", c.Path(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "error", err)
	}
	if p.Status == http.StatusUnauthorized && strings.HasPrefix(c.Request().URL.Path, "/ui/") &&
		(c.Request().Method == http.MethodGet || c.Request().Method == http.MethodPost) {
		// A person at a browser signs in, then comes back: to the page, or
		// to the form a post came from (shown afresh: a session that ended
		// keeps nothing of what was typed).
		_ = c.Redirect(http.StatusSeeOther, "/ui/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		return
	}
	if p.Status == http.StatusServiceUnavailable && c.Response().Header().Get("Retry-After") == "" {
		// A service we need did not answer in time: the same request
		// may succeed in a few seconds.
		c.Response().Header().Set("Retry-After", "5")
	}
	p.Title = http.StatusText(p.Status)
	if page := c.Request().URL.Path; (strings.HasPrefix(page, "/ui/") || strings.HasPrefix(page, "/portal/")) &&
		strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html") {
		// A person at a browser reads a page, in words, not a JSON body.
		_ = renderStatus(c, p.Status, "error.html", errorPage{frame: s.frame(c, errorTitle(p.Status)), Detail: p.Detail,
			Portal: strings.HasPrefix(page, "/portal/")})
		return
	}
	p.Type = "https://ehcledger.example/problems/" + p.Code
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	_ = c.JSON(p.Status, p)
}

func codeForStatus(status int) string {
	for code, st := range statusTable() {
		if st == status {
			return string(code)
		}
	}
	switch {
	case status == http.StatusRequestEntityTooLarge, status == http.StatusBadRequest, status == http.StatusMethodNotAllowed, status == http.StatusUnsupportedMediaType:
		return string(domain.Invalid)
	case status >= 500:
		return string(domain.Internal)
	}
	return string(domain.Invalid)
}

// errorPage is the page a browser is shown for a refused request.
type errorPage struct {
	frame
	Detail string
	// Portal marks a page of the portal, which has no staff links.
	Portal bool
}

// errorTitle says a refusal's kind in words.
func errorTitle(status int) string {
	switch status {
	case http.StatusNotFound:
		return "Page not found"
	case http.StatusUnauthorized:
		return "This link or session does not open the page"
	case http.StatusForbidden:
		return "You cannot do this"
	case http.StatusConflict, http.StatusUnprocessableEntity, http.StatusPreconditionFailed:
		return "This could not be recorded"
	case http.StatusTooManyRequests:
		return "Too many requests: wait a moment"
	case http.StatusServiceUnavailable:
		return "A service we need is not answering"
	}
	return "Sorry, there is a problem with the service"
}
