package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/labstack/echo/v4"
)

// Signing in and out of the pages. With an identity provider configured
// (Server.OIDC), /ui/login sends the browser to it and /ui/auth/callback
// opens a session when it comes back; without one, /ui/login takes a pasted
// development token. Either way the browser then holds only a session ID.

const (
	// sessionCookie holds a signed-in browser's session ID.
	sessionCookie = "ehc_session"
	// stateCookie binds a sign-in under way to the browser that started
	// it: the state the provider returns must be the one it holds.
	stateCookie = "ehc_signin"
	// loginFormCookie holds the nonce the development sign-in form's
	// anti-forgery token is made from.
	loginFormCookie = "ehc_login_form"
	// signInTTL bounds how long a sign-in may take at the provider.
	signInTTL = 10 * time.Minute
	// maxPendingSignIns bounds the sign-ins under way that the server
	// remembers; anyone may start one.
	maxPendingSignIns = 10000
)

// loginData is what the sign-in page shows.
type loginData struct {
	frame
	Next, Error string
	// Form is the development form's anti-forgery token.
	Form string
	// Provider says people sign in with the identity provider.
	Provider bool
	// SignedOut says the browser has just signed out.
	SignedOut bool
}

// cookie makes a cookie that scripts cannot read, sent only over HTTPS
// when the site is reached over HTTPS.
func (s *Server) cookie(c echo.Context, name, value, path string, maxAge int, same http.SameSite) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true, SameSite: same,
		Secure: s.SecureCookies || c.Scheme() == "https"}
}

// session returns the principal and anti-forgery token of the session the
// browser holds, if it is live.
func (s *Server) session(c echo.Context) (auth.Principal, string, bool) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || s.Sessions == nil {
		return auth.Principal{}, "", false
	}
	return s.Sessions.Lookup(ck.Value)
}

// openSession starts a session for p, ending the one the browser held (a
// new sign-in never reuses an ID someone else may have planted), and sets
// its cookie. The cookie has no expiry of its own: it goes when the browser
// closes, and the session ends on the server at the latest at notAfter.
func (s *Server) openSession(c echo.Context, p auth.Principal, notAfter time.Time) error {
	if ck, err := c.Cookie(sessionCookie); err == nil {
		s.Sessions.End(ck.Value)
	}
	id, _, err := s.Sessions.Start(p, notAfter)
	if err != nil {
		return err
	}
	// Lax, not Strict: the browser comes back from the identity provider
	// by a link from another site, and must bring the cookie on the pages
	// it then opens.
	c.SetCookie(s.cookie(c, sessionCookie, id, "/", 0, http.SameSiteLaxMode))
	s.Logger.Info("signed in", "subject", p.Subject, "role", string(p.Role), "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	return nil
}

// loginPage starts a sign-in with the identity provider, or shows the
// development sign-in form.
func (s *Server) loginPage(c echo.Context) error {
	data := loginData{frame: frame{Title: "Sign in"}, Next: safeNext(c.QueryParam("next")), SignedOut: c.QueryParam("signed_out") != ""}
	if s.OIDC != nil {
		if data.SignedOut {
			// Going straight back to the provider would sign the person in
			// again at once, as it still knows them.
			data.Provider = true
			return render(c, "login.html", data)
		}
		to, l := s.OIDC.Begin()
		s.pending.add(l, data.Next)
		c.SetCookie(s.cookie(c, stateCookie, l.State, auth.CallbackPath, int(signInTTL/time.Second), http.SameSiteLaxMode))
		return c.Redirect(http.StatusSeeOther, to)
	}
	return s.renderLoginForm(c, http.StatusOK, data)
}

// renderLoginForm shows the development sign-in form with a fresh
// anti-forgery token: a random nonce in a cookie this site alone sends, and
// its MAC in the form. A forged form from another site has neither the
// cookie (SameSite=Strict) nor a MAC matching one.
func (s *Server) renderLoginForm(c echo.Context, status int, data loginData) error {
	nonce := auth.RandomToken()
	c.SetCookie(s.cookie(c, loginFormCookie, nonce, "/ui/login", 3600, http.SameSiteStrictMode))
	data.Form = s.formToken(nonce)
	return renderStatus(c, status, "login.html", data)
}

// formToken is the MAC of a login form's nonce under the server's key.
func (s *Server) formToken(nonce string) string {
	m := hmac.New(sha256.New, s.formKey)
	m.Write([]byte("ehcledger login form\x00" + nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// login takes a pasted development token: verified, it opens a session no
// longer than the token lives.
func (s *Server) login(c echo.Context) error {
	if s.OIDC != nil {
		return domain.Errorf(domain.NotFound, "this server signs people in with their organisation's account: open /ui/login")
	}
	if s.Auth == nil {
		return errNoVerifier
	}
	data := loginData{frame: frame{Title: "Sign in"}, Next: safeNext(c.FormValue("next"))}
	ck, err := c.Cookie(loginFormCookie)
	if err != nil || !sameToken(c.FormValue("csrf"), s.formToken(ck.Value)) || crossSite(c) {
		data.Error = "This sign-in form has expired or was not sent from this site's sign-in page: sign in again."
		return s.renderLoginForm(c, statusTable()[domain.Forbidden], data)
	}
	p, err := s.Auth.Verify(strings.TrimSpace(c.FormValue("token")))
	if err != nil {
		data.Error = domain.ErrorMessage(err)
		return s.renderLoginForm(c, statusTable()[domain.ErrorCode(err)], data)
	}
	if err := s.openSession(c, p, p.Expires); err != nil {
		return err
	}
	c.SetCookie(s.cookie(c, loginFormCookie, "", "/ui/login", -1, http.SameSiteStrictMode))
	return c.Redirect(http.StatusSeeOther, data.Next)
}

// providerError is the shape of an OAuth error code (RFC 6749 4.1.2.1),
// the only part of a provider's error that is shown.
var providerError = regexp.MustCompile(`^[a-z_]{1,64}$`)

// signInCallback is where the identity provider sends the browser back
// with a code: the sign-in must be one this browser started here, not yet
// finished, and its ID token must map to a role.
func (s *Server) signInCallback(c echo.Context) error {
	if s.Auth == nil {
		return errNoVerifier // a server that cannot verify tokens serves nobody
	}
	if s.OIDC == nil {
		return domain.Errorf(domain.NotFound, "this server does not sign people in with an identity provider")
	}
	c.SetCookie(s.cookie(c, stateCookie, "", auth.CallbackPath, -1, http.SameSiteLaxMode))
	state := c.QueryParam("state")
	ck, err := c.Cookie(stateCookie)
	var pl pendingLogin
	ok := err == nil && sameToken(ck.Value, state)
	if ok {
		pl, ok = s.pending.take(state)
	}
	fail := func(err error) error {
		s.Logger.Warn("sign-in refused", "error", err.Error(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		data := loginData{frame: frame{Title: "Sign in"}, Next: pl.next, Provider: true, Error: domain.ErrorMessage(err)}
		if data.Next == "" {
			data.Next = safeNext("")
		}
		return renderStatus(c, statusTable()[domain.ErrorCode(err)], "login.html", data)
	}
	if !ok {
		return fail(domain.Errorf(domain.Unauthorized, "this sign-in was not started in this browser, has expired or has been used: sign in again"))
	}
	if e := c.QueryParam("error"); e != "" {
		if !providerError.MatchString(e) {
			e = "an error"
		}
		return fail(domain.Errorf(domain.Unauthorized, "your identity provider answered %s: sign in again, or ask your administrator", e))
	}
	p, err := s.OIDC.Finish(c.Request().Context(), pl.login, c.QueryParam("code"))
	if err != nil {
		return fail(err)
	}
	if err := s.openSession(c, p, time.Time{}); err != nil {
		return fail(err)
	}
	return c.Redirect(http.StatusSeeOther, pl.next)
}

// logout ends the browser's session on the server. The form must carry the
// session's anti-forgery token, so another site cannot sign people out.
func (s *Server) logout(c echo.Context) error {
	if s.Auth == nil {
		return errNoVerifier // a server that cannot verify tokens serves nobody
	}
	ended, participant := false, false
	if ck, err := c.Cookie(sessionCookie); err == nil {
		if p, csrf, live := s.Sessions.Lookup(ck.Value); live {
			participant = p.Participant()
			if !sameToken(c.FormValue("csrf"), csrf) || crossSite(c) {
				return domain.Errorf(domain.Forbidden, "the sign-out form was not sent from this site's pages: sign out from a page of this site")
			}
			s.Sessions.End(ck.Value)
			ended = true
			s.Logger.Info("signed out", "subject", p.Subject, "request_id", c.Response().Header().Get(echo.HeaderXRequestID))
		}
	}
	c.SetCookie(s.cookie(c, sessionCookie, "", "/", -1, http.SameSiteLaxMode))
	if participant {
		return c.Redirect(http.StatusSeeOther, "/portal/signed-out")
	}
	if ended && s.OIDC != nil && s.OIDC.LogoutURL() != "" {
		// The identity provider ends its own session too, then sends the
		// browser back to the sign-in page.
		return c.Redirect(http.StatusSeeOther, s.OIDC.LogoutURL())
	}
	return c.Redirect(http.StatusSeeOther, auth.PostLogoutPath)
}

// revokeSessions ends every page session of a person (someone who has left,
// or whose device is lost) that lies within the admin's reach: all of the
// session's LAs must be the admin's. The person's next page asks them to
// sign in again, which their identity provider may then refuse.
func (s *Server) revokeSessions(c echo.Context) error {
	var body struct {
		Subject string `json:"subject"`
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return domain.FieldErrorf("body", "must be {\"subject\": \"...\"}")
	}
	if strings.TrimSpace(body.Subject) == "" || len(body.Subject) > auth.MaxSubjectLen {
		return domain.FieldErrorf("subject", "name the person whose sessions to end (at most %d characters)", auth.MaxSubjectLen)
	}
	admin := principal(c)
	n := s.Sessions.Revoke(body.Subject, func(p auth.Principal) bool {
		if admin.AllLAs() {
			return true
		}
		for _, la := range p.LAs {
			if la == auth.AnyLA || !admin.InLA(la) {
				return false
			}
		}
		return true
	})
	s.Logger.Info("revoked sessions", "subject", body.Subject, "revoked", n, "by", admin.Subject,
		"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	return c.JSON(http.StatusOK, map[string]any{"subject": body.Subject, "revoked": n})
}

// crossSite reports a request a browser says another site sent: a
// defence beside the anti-forgery tokens, for browsers that say.
func crossSite(c echo.Context) bool {
	return c.Request().Header.Get("Sec-Fetch-Site") == "cross-site"
}

// safeNext keeps a post-login redirect on this site's pages.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "/ui/login") || strings.HasPrefix(next, "/ui/auth/") ||
		strings.ContainsAny(next, "\\\r\n") {
		return "/ui/worklist"
	}
	return next
}
