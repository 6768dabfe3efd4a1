package api

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// The portal is where families and professionals invited to a case take
// part: they sign in once with their invitation's link and then see that
// case alone, in plain English, and take the steps the catalog lets them
// take (ParticipantStep), each recorded with them as its actor. Their
// session is the staff's kind of session, with a principal that names the
// case (auth.Principal.Case) and a role no staff route allows.

const (
	// joinFormCookie holds the nonce of a join page's form.
	joinFormCookie = "ehc_join_form"
	// participantSession bounds a portal session: a working day.
	participantSession = 8 * time.Hour
)

func (s *Server) registerPortal(e *echo.Echo) {
	p := e.Group("/portal", s.failClosed, s.whenReady)
	p.GET("/join/:case/:secret", s.joinPage, s.rateLimitByAddress)
	p.POST("/join/:case/:secret", s.join, s.rateLimitByAddress)
	p.GET("/signed-out", s.portalSignedOut, s.rateLimitByAddress)
	// Each person's requests count against their own share.
	in := p.Group("/cases/:id", s.participantOnly, s.rateLimit)
	in.GET("", s.portalCase)
	in.POST("/steps/:command", s.portalStep)
	in.POST("/documents", s.portalUpload, middleware.BodyLimit(uploadLimit))
	in.GET("/documents/:sha256", s.portalDocument)
}

// seesDocument says whether a person in the portal may have a document: one
// they sent, or, for the family, one the LA shared with them. Nobody sees
// another participant's document, so a professional's advice reaches the
// family only if the LA shares it.
func seesDocument(p auth.Principal, actor string, shared bool) bool {
	return actor == p.Subject || (p.Role == auth.Family && shared && !strings.HasPrefix(actor, "participant:"))
}

// portalDocument serves a document the person may have, as an attachment;
// any other is not found, as if it had never been sent.
func (s *Server) portalDocument(c echo.Context) error {
	if _, err := s.invitationOf(c); err != nil {
		return err
	}
	p := principal(c)
	gate := s.participantGate(c)
	may := func(actor string, d *domain.DocumentUploaded) bool { return seesDocument(p, actor, d.SharedWithFamily) }
	b, doc, err := s.Ledger.Document(c.Request().Context(), p.Case, c.Param("sha256"), gate, may)
	if err != nil {
		return err
	}
	return sendDocument(c, b, doc)
}

// participantGate records each reading of the case by the person in the
// access log, as the staff's reads are.
func (s *Server) participantGate(c echo.Context) app.Gate {
	p := principal(c)
	return func(la, _ string) error {
		return s.Ledger.RecordAccess(c.Request().Context(), la, p.Case, c.Request().Method+" "+c.Path(), string(p.Role), p.Subject)
	}
}

// uploadLimit bounds a request that sends a document: the document store's
// largest document and the form around it.
const uploadLimit = "21M"

// portalUpload takes a document the person sends, as one of the kinds
// their invitation allows.
func (s *Server) portalUpload(c echo.Context) error {
	inv, err := s.participantForm(c)
	if err != nil {
		return err
	}
	kind := c.FormValue("kind")
	if !slices.Contains(domain.DocumentKinds(inv.Participant), kind) {
		return s.renderPortal(c, "", "Choose what the document is from the list.", http.StatusUnprocessableEntity)
	}
	advice := ""
	if kind == "advice" {
		advice = inv.Advice
	}
	p := principal(c)
	up, err := s.receiveUpload(c, app.Upload{Case: p.Case, Actor: p.Subject, Kind: kind, Advice: advice})
	if err != nil {
		var de *domain.Error
		if errorsAs(err, &de) && de.Code == domain.Invalid {
			return s.renderPortal(c, "", domain.ErrorMessage(err), http.StatusUnprocessableEntity)
		}
		return err
	}
	return s.renderPortal(c, "Thank you: "+up.Name.Plain+" is sent, and your caseworker can see it.", "", http.StatusOK)
}

// receiveUpload reads the form's document and hands it to the ledger.
func (s *Server) receiveUpload(c echo.Context, u app.Upload) (domain.DocumentUploaded, error) {
	fh, err := c.FormFile("document")
	if err != nil {
		return domain.DocumentUploaded{}, domain.FieldErrorf("document", "choose a file to send")
	}
	f, err := fh.Open()
	if err != nil {
		return domain.DocumentUploaded{}, domain.FieldErrorf("document", "the file could not be read: send it again")
	}
	defer f.Close()
	u.Name, u.Content = fh.Filename, f
	return s.Ledger.UploadDocument(c.Request().Context(), u)
}

// failClosed refuses every request of a server that cannot verify tokens,
// as the staff's routes do: such a server is misconfigured, and serves
// nobody rather than some.
func (s *Server) failClosed(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.Auth == nil {
			return errNoVerifier
		}
		return next(c)
	}
}

// joinPage shows the link's landing page: a button to continue, which
// uses the link. Opening the page uses nothing, so an email scanner that
// follows links does not spend it.
func (s *Server) joinPage(c echo.Context) error {
	nonce := auth.RandomToken()
	c.SetCookie(s.cookie(c, joinFormCookie, nonce, "/portal/join/", 3600, http.SameSiteStrictMode))
	return render(c, "join.html", struct {
		frame
		Action, Form string
	}{frame: frame{Title: "Your invitation"}, Action: c.Request().URL.Path, Form: s.joinToken(nonce)})
}

// joinToken is the MAC of a join form's nonce under the server's key.
func (s *Server) joinToken(nonce string) string { return s.formToken("join\x00" + nonce) }

// join uses the link: the invitation is marked used and a session opened
// for the person, for that case only.
func (s *Server) join(c echo.Context) error {
	ck, err := c.Cookie(joinFormCookie)
	if err != nil || !sameToken(c.FormValue("csrf"), s.joinToken(ck.Value)) || crossSite(c) {
		return domain.Errorf(domain.Forbidden, "this page has expired or was not sent from this site: open the link in your email again")
	}
	p, err := s.Ledger.AcceptInvitation(c.Request().Context(), c.Param("case"), c.Param("secret"))
	if err != nil {
		return err
	}
	role := auth.Professional
	if domain.Family(p.Participant) {
		role = auth.Family
	}
	pr := auth.Principal{Subject: p.Actor(), Role: role, LAs: []string{p.LA}, Case: p.Case, TokenID: p.Actor()}
	if err := s.openSession(c, pr, s.Now().Add(participantSession)); err != nil {
		return err
	}
	c.SetCookie(s.cookie(c, joinFormCookie, "", "/portal/join/", -1, http.SameSiteStrictMode))
	return c.Redirect(http.StatusSeeOther, "/portal/cases/"+url.PathEscape(p.Case))
}

// portalSignedOut is where a participant lands after signing out or when
// their session has ended: only a new link lets them in again.
func (s *Server) portalSignedOut(c echo.Context) error {
	return render(c, "portal_out.html", frame{Title: "You are signed out"})
}

// participantOnly lets through a participant's session for its own case:
// anything else is answered as for a case that does not exist, and no
// session sends the browser to the signed-out page.
func (s *Server) participantOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, csrf, live := s.session(c)
		if !live {
			return c.Redirect(http.StatusSeeOther, "/portal/signed-out")
		}
		if !p.Participant() || p.Case != c.Param("id") {
			return domain.Errorf(domain.NotFound, "there is no case %s", c.Param("id"))
		}
		c.Set(principalKey, p)
		c.Set(csrfKey, csrf)
		return next(c)
	}
}

// participantForm checks a form the person sent from their case's page
// (the portal's sessions always carry an anti-forgery token) and returns
// their invitation as it stands.
func (s *Server) participantForm(c echo.Context) (domain.Invitation, error) {
	if err := formFromSite(c); err != nil {
		return domain.Invitation{}, err
	}
	return s.invitationOf(c)
}

// invitationOf is the signed-in participant's invitation as the case holds
// it now; a withdrawn one ends the session.
func (s *Server) invitationOf(c echo.Context) (domain.Invitation, error) {
	p := principal(c)
	_, id, _ := strings.Cut(strings.TrimPrefix(p.Subject, "participant:"), "/")
	inv, _, err := s.Ledger.ParticipantOf(c.Request().Context(), p.Case, id)
	if err != nil {
		if ck, cerr := c.Cookie(sessionCookie); cerr == nil {
			s.Sessions.End(ck.Value)
		}
		return domain.Invitation{}, err
	}
	return inv, nil
}

// portalView is the portal's page of a case.
type portalView struct {
	frame
	Case, Child string
	Family      bool
	// Due are the case's open time limits in words, soonest first.
	Due []dueItem
	// Asked are what the person is asked for, each with its step.
	Asked []askedItem
	// Done says what the person just did.
	Done  string
	Error string
	// Kinds are what the person may send a document as; Documents those
	// they may read (seesDocument); FormKey the idempotency key of the
	// page's step forms.
	Kinds     []string
	Documents []portalDocumentRow
	FormKey   string
}

// portalDocumentRow is a document as the portal lists it: who sent it
// ("you" or "the local authority") and when.
type portalDocumentRow struct{ Name, SHA256, From, On string }

// dueItem is one open time limit in words.
type dueItem struct{ What, When, Status string }

// askedItem is one thing the person is asked for: what, by when, and the
// step that records it done.
type askedItem struct{ What, By, Command, Button string }

// portalCase shows the case in plain English.
func (s *Server) portalCase(c echo.Context) error {
	return s.renderPortal(c, "", "", http.StatusOK)
}

func (s *Server) renderPortal(c echo.Context, done, problem string, status int) error {
	inv, err := s.invitationOf(c)
	if err != nil {
		return err
	}
	p := principal(c)
	view, tl, err := s.Ledger.CaseAndTimeline(c.Request().Context(), p.Case, s.today(), time.Time{}, s.participantGate(c))
	if err != nil {
		return err
	}
	v := portalView{frame: s.frame(c, "Your EHC needs assessment"), Case: p.Case, Family: p.Role == auth.Family, Done: done, Error: problem,
		Kinds: domain.DocumentKinds(inv.Participant), FormKey: auth.RandomToken()[:32]}
	for _, d := range documentsOf(tl) {
		if !seesDocument(p, d.Actor, d.Shared) {
			continue
		}
		from := "you"
		if d.Actor != p.Subject {
			from = "the local authority"
		}
		on := d.On
		if day, err := domain.ParseDate(d.On); err == nil {
			on = longDate(day)
		}
		v.Documents = append(v.Documents, portalDocumentRow{Name: d.Name, SHA256: d.SHA256, From: from, On: on})
	}
	if d := view.Person.PersonalDetails; d != nil {
		v.Child = strings.TrimSpace(d.Forename + " " + d.Surname)
	}
	rb, err := domain.LookupRulebook(view.Rulebook)
	if err != nil {
		return err
	}
	for _, row := range view.Clocks {
		rule := rb.Clock(row.Clock)
		if rule == nil || (row.Status != domain.StatusRunning && row.Status != domain.StatusOverdue) {
			continue
		}
		what := plainStep(rule.NextStep(row.Key, true))
		item := dueItem{What: what, When: longDate(row.Due), Status: "due"}
		if row.Status == domain.StatusOverdue {
			item.Status = "late"
		}
		v.Due = append(v.Due, item)
		switch {
		case !v.Family && row.Key == inv.Advice && rule.StoppedBy(domain.TypeAdviceReceived):
			v.Asked = append(v.Asked, askedItem{What: "Your " + strings.ReplaceAll(inv.Advice, "_", " ") + " advice for the assessment", By: longDate(row.Due),
				Command: domain.CommandForEvent(domain.TypeAdviceReceived), Button: "I have sent my advice"})
		case v.Family && rule.StoppedBy(domain.TypeRepresentationsReceived):
			v.Asked = append(v.Asked, askedItem{What: "Your views on the draft plan (you may also ask for a meeting, and name the school you want)", By: longDate(row.Due),
				Command: domain.CommandForEvent(domain.TypeRepresentationsReceived), Button: "I have sent my views on the draft"})
		case v.Family && rule.Role == domain.RoleAppealWindow:
			v.Asked = append(v.Asked, askedItem{What: "If you disagree with the decision, you can ask for mediation before you appeal", By: longDate(row.Due),
				Command: domain.CommandForEvent(domain.TypeMediationAdviserContacted), Button: "I want mediation"})
		}
	}
	return renderStatus(c, status, "portal.html", v)
}

// portalStep records a step the person takes, with them as its actor.
func (s *Server) portalStep(c echo.Context) error {
	inv, err := s.participantForm(c)
	if err != nil {
		return err
	}
	command := c.Param("command")
	data, err := domain.ParticipantStep(inv, command, nil)
	if err != nil {
		return err
	}
	p := principal(c)
	req := app.CommandRequest{Case: p.Case, Command: command, On: s.today(), Data: data, Actor: p.Subject, Expected: eventstore.Any,
		IdempotencyKey: portalKey(c.FormValue("key"))}
	if _, err := s.Ledger.Execute(c.Request().Context(), req); err != nil {
		var de *domain.Error
		if errorsAs(err, &de) && (de.Code == domain.Conflict || de.Code == domain.Invalid) {
			return s.renderPortal(c, "", "This could not be recorded: "+domain.ErrorMessage(err), statusTable()[de.Code])
		}
		return err
	}
	return s.renderPortal(c, "Thank you: this is recorded, and your caseworker can see it.", "", http.StatusOK)
}

// portalKeyPattern is what a portal form's idempotency key looks like.
var portalKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

// portalKey keeps a form's key when it looks like one the page made.
func portalKey(k string) string {
	if portalKeyPattern.MatchString(k) {
		return "portal-" + k
	}
	return ""
}

// plainStep turns a rulebook's next step into words for people outside
// the LA: the command names in brackets go, underscores become spaces.
func plainStep(s string) string {
	if i := strings.Index(s, " ("); i > 0 && strings.Contains(s[i:], "_") {
		s = s[:i]
	}
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// longDate writes a date as people read it: 3 October 2026.
func longDate(d domain.Date) string {
	y, m, day := d.YMD()
	return time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Format("2 January 2006")
}
