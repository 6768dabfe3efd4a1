package api

import (
	"errors"
	"slices"
	"strings"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/labstack/echo/v4"
)

// Who may do what. Every /v1 route and every page names the roles it allows
// (allow); a handler then checks the LA the request concerns (inLA,
// caseInScope), because only it knows that LA: a path parameter, a query
// parameter, a request body, or the case's stream.

const principalKey = "ehc.principal"

// csrfKey keeps, on a request authenticated by a session, the session's
// anti-forgery token, for the pages' sign-out form.
const csrfKey = "ehc.csrf"

// errNoVerifier refuses every request a server without a token verifier
// gets: with no way to verify a token it grants no role (fail closed). It is
// the server's fault, so the caller sees an internal error and the log the
// cause.
var errNoVerifier = &domain.Error{Code: domain.Internal, Message: "this server cannot verify tokens",
	Err: errors.New("api.Server.Auth is nil: no token verifier is configured, so every route that needs a role is refused")}

// authenticate verifies the bearer token (or, for pages, the session the
// browser holds) and keeps its principal on the request.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.Auth == nil {
			return errNoVerifier
		}
		token, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
		if !ok && strings.HasPrefix(c.Path(), "/ui/") {
			if p, csrf, live := s.session(c); live {
				c.Set(principalKey, p)
				c.Set(csrfKey, csrf)
				return next(c)
			}
		}
		if !ok || strings.TrimSpace(token) == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="ehcledger"`)
			return &domain.Error{Code: domain.Unauthorized, Message: "send a bearer token in the Authorization header"}
		}
		p, err := s.Auth.Verify(strings.TrimSpace(token))
		if err != nil {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="ehcledger", error="invalid_token"`)
			return err
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

// allow lets through only the given roles.
func (s *Server) allow(roles ...auth.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p := principal(c)
			if !slices.Contains(roles, p.Role) {
				return domain.Errorf(domain.Forbidden, "a %s may not do this", p.Role)
			}
			return next(c)
		}
	}
}

// principal returns the request's verified principal. A request that has
// none (a route that authenticate does not guard) gets the zero principal:
// no role, no LA, so every check refuses it.
func principal(c echo.Context) auth.Principal {
	p, _ := c.Get(principalKey).(auth.Principal)
	return p
}

// inLA refuses a request about an LA the principal does not work for.
func inLA(c echo.Context, la string) error {
	if p := principal(c); !p.InLA(la) {
		return domain.Errorf(domain.Forbidden, "%s %s does not work for LA %s", p.Role, p.Subject, la)
	}
	return nil
}

// pathLA reads the LA a route names in its path ({la}) and refuses it when
// it is not a valid code or not the principal's.
func pathLA(c echo.Context) (string, error) {
	la := c.Param("la")
	if err := domain.ValidateID("la", la); err != nil {
		return "", err
	}
	return la, inLA(c, la)
}

// caseInScope refuses a request about a case of another LA, and returns the
// case's LA ("" when there is no such case, which the handler reports).
func (s *Server) caseInScope(c echo.Context, id string) (string, error) {
	la, movingTo, err := s.Ledger.CaseLAs(c.Request().Context(), id)
	if err != nil || la == "" {
		return "", err
	}
	return la, mayWorkOn(c, id, la, movingTo)
}

// mayWorkOn refuses a case of an LA the principal does not work for, as if
// it did not exist. A case being transferred is in scope for the LA it is
// moving to as well.
func mayWorkOn(c echo.Context, id, la, movingTo string) error {
	p := principal(c)
	if p.InLA(la) || (movingTo != "" && p.InLA(movingTo)) {
		return nil
	}
	// Answered as for a case that does not exist: a case of another LA is
	// none of the caller's business, not even that it exists or whose it is.
	return domain.Errorf(domain.NotFound, "there is no case %s", id)
}

// caseGate is the gate of a read of case id by the request's principal: the
// case must be in scope, and the read is recorded in the LA's access log
// before anything is served; a read that cannot be recorded is not served.
func (s *Server) caseGate(c echo.Context, id string) app.Gate {
	return func(la, movingTo string) error {
		if err := mayWorkOn(c, id, la, movingTo); err != nil {
			return err
		}
		p := principal(c)
		return s.Ledger.RecordAccess(c.Request().Context(), la, id, c.Request().Method+" "+c.Path(), string(p.Role), p.Subject)
	}
}

// readCase checks a read of a case's data may go ahead and records it in the
// LA's access log before anything is served: a read that cannot be recorded
// is not served.
func (s *Server) readCase(c echo.Context, id string) error {
	la, err := s.caseInScope(c, id)
	if err != nil {
		return err
	}
	if la == "" {
		// A case that does not exist yet has no LA: refused, rather than
		// read in a race with its opening by someone else's LA.
		return domain.Errorf(domain.NotFound, "there is no case %s", id)
	}
	p := principal(c)
	return s.Ledger.RecordAccess(c.Request().Context(), la, id, c.Request().Method+" "+c.Path(), string(p.Role), p.Subject)
}

// scopeLA settles the LA of a request that may name one (?la): a named LA
// must be the principal's; without one, a principal of one LA gets that LA
// and a principal of every LA gets all (""). A principal of several LAs
// must name one.
func scopeLA(c echo.Context, la string) (string, error) {
	p := principal(c)
	switch {
	case la != "":
		return la, inLA(c, la)
	case p.AllLAs():
		return "", nil
	case len(p.LAs) == 1:
		return p.LAs[0], nil
	}
	return "", domain.FieldErrorf("la", "name one of your LAs (%s)", strings.Join(p.LAs, ", "))
}

// actor names who sent the request: the token's subject.
func actor(c echo.Context) string { return principal(c).Subject }

// recordWorklistReads records, in each LA's access log, the cases a
// worklist shows, before it is served: a worklist names cases and their
// caseworkers, so reading one is reading of those cases.
func (s *Server) recordWorklistReads(c echo.Context, items []projections.WorklistItem) error {
	byLA := map[string][]string{}
	seen := map[string]bool{}
	for _, it := range items {
		if !seen[it.Case] {
			seen[it.Case] = true
			byLA[it.LA] = append(byLA[it.LA], it.Case)
		}
	}
	p := principal(c)
	for la, ids := range byLA {
		if err := s.Ledger.RecordAccesses(c.Request().Context(), la, ids, c.Request().Method+" "+c.Path(), string(p.Role), p.Subject); err != nil {
			return err
		}
	}
	return nil
}
