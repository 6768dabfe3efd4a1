package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/notify"
)

// DefaultInvitationTTL is how long an invitation's link opens: a week, long
// enough for post read once a week, short enough that a forwarded or
// forgotten email is soon worth nothing.
const DefaultInvitationTTL = 7 * 24 * time.Hour

// newSecret makes a link's secret (32 random bytes, base64url) and its
// SHA-256 in hex, which is all the store keeps.
func newSecret() (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", &domain.Error{Code: domain.Internal, Message: "could not make a secret", Err: err}
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, SecretHash(secret), nil
}

// SecretHash is the hex SHA-256 of a link's secret, as the store keeps it.
func SecretHash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Participant is a person signed in through an invitation: the case, its
// LA, the invitation and whom it was for.
type Participant struct {
	Case, LA, Invitation string
	// Participant is the kind of person (parent, young_person, or a
	// professional's field), Advice the advice a professional was asked
	// for, Name their name as the invitation gave it.
	Participant, Advice, Name string
	// Invited is when the invitation was recorded.
	Invited time.Time
}

// Actor is how a participant is named as the actor of what they do.
func (p Participant) Actor() string { return "participant:" + p.Case + "/" + p.Invitation }

// AcceptInvitation uses an invitation's link: the case's invitation with
// that secret, not used, not withdrawn and not older than InvitationTTL, is
// marked used (invitation_accepted, appended at the case's version, so two
// uses of one link cannot both succeed) and its person returned. Every
// refusal says the same, so a guessed link learns nothing.
func (l *Ledger) AcceptInvitation(ctx context.Context, caseID, secret string) (Participant, error) {
	refused := &domain.Error{Code: domain.Unauthorized, Message: "this link does not open a case: it has been used, withdrawn or has expired, or is not one we sent; ask your caseworker for a new one"}
	if domain.ValidateID("case", caseID) != nil || len(secret) < 40 || len(secret) > 100 {
		return Participant{}, refused
	}
	for attempt := 0; ; attempt++ {
		lc, err := l.load(ctx, caseID, time.Time{})
		if err != nil {
			return Participant{}, err
		}
		ev, inv, err := lc.c.AcceptInvitation(SecretHash(secret))
		if err != nil {
			return Participant{}, refused
		}
		invited := lc.events[inv.Version-1]
		if l.Now().Sub(invited.RecordedAt) > l.invitationTTL() {
			return Participant{}, refused
		}
		p := Participant{Case: caseID, LA: lc.c.LA, Invitation: inv.ID, Participant: inv.Participant, Advice: inv.Advice,
			Invited: invited.RecordedAt, Name: l.invitedName(caseID, lc.history[inv.Version-1].Event)}
		now := l.Now()
		data, err := Envelope([]domain.Event{ev}, Meta{On: domain.DateOf(now), RecordedAt: now, Actor: p.Actor(), LA: lc.c.LA,
			Correlation: "accept-" + inv.ID, Causation: "accept-" + inv.ID})
		if err != nil {
			return Participant{}, err
		}
		_, err = l.Store.Append(ctx, domain.CaseStream(caseID), eventstore.Exact(lc.c.Version), data)
		if errors.Is(err, eventstore.ErrWrongVersion) && attempt == 0 {
			continue // another step came first: look again (the link may now be used)
		}
		if err != nil {
			return Participant{}, err
		}
		return p, nil
	}
}

// ParticipantOf returns a signed-in participant's invitation as the case
// holds it now: refused once it is withdrawn or the case's personal
// details are erased, so withdrawing signs the person out at their next
// request.
func (l *Ledger) ParticipantOf(ctx context.Context, caseID, invitation string) (domain.Invitation, *domain.Case, error) {
	lc, err := l.load(ctx, caseID, time.Time{})
	if err != nil {
		return domain.Invitation{}, nil, err
	}
	inv, ok := lc.c.Invitation(invitation)
	if !ok || inv.Revoked || !inv.Accepted || lc.c.Erased() {
		return domain.Invitation{}, nil, &domain.Error{Code: domain.Unauthorized, Message: "your invitation to this case has been withdrawn: ask your caseworker"}
	}
	return inv, lc.c, nil
}

func (l *Ledger) invitationTTL() time.Duration {
	if l.InvitationTTL > 0 {
		return l.InvitationTTL
	}
	return DefaultInvitationTTL
}

// invitedName opens the name an invitation was for ("" when it cannot be).
func (l *Ledger) invitedName(caseID string, e domain.Event) string {
	inv, ok := e.(*domain.ParticipantInvited)
	if !ok {
		return ""
	}
	copied := *inv
	if err := openTexts(l.Keys, caseID, &copied); err != nil || copied.Name.Erased {
		return ""
	}
	return copied.Name.Plain
}

// JoinPath is where an invitation's link leads: JoinPath + case + "/" +
// secret, under the portal's address.
const JoinPath = "/portal/join/"

// deliver sends the link of the invitation among a step's events, its
// texts still in the clear, to the person it is for.
func (l *Ledger) deliver(ctx context.Context, caseID string, events []domain.Event, secret string) error {
	var inv domain.Inviter
	for _, e := range events {
		if i, ok := e.(domain.Inviter); ok {
			inv = i
		}
	}
	if inv == nil {
		return &domain.Error{Code: domain.Internal, Message: "a step made a secret but invites nobody"}
	}
	if l.Notifier == nil || l.PortalURL == "" {
		return &domain.Error{Code: domain.Unavailable, Message: "this server sends no invitations (it has no email service or portal address configured): nothing was recorded"}
	}
	to, name, participant := inv.Recipient()
	link := strings.TrimRight(l.PortalURL, "/") + JoinPath + url.PathEscape(caseID) + "/" + secret
	lasts := lifetime(l.invitationTTL())
	as := ""
	if !domain.Family(participant) {
		as = " as the " + strings.ReplaceAll(participant, "_", " ") + " professional"
	}
	body := "Hello " + name + ",\n\n" +
		"You are invited to take part" + as + " in an education, health and care (EHC) needs assessment, through EHC Ledger.\n\n" +
		"Open this link to see where the case stands, what is due and what you are asked for:\n\n" + link + "\n\n" +
		"The link works once, for " + lasts + ". If it has expired or been used, ask the caseworker for a new one. " +
		"Please do not forward this email: the link is for you alone.\n"
	if err := l.Notifier.Send(ctx, notify.Message{To: to, Subject: "Your invitation to an EHC needs assessment", Body: body}); err != nil {
		return &domain.Error{Code: domain.Unavailable, Err: err,
			Message: "the invitation could not be sent (the email service did not take it): nothing was recorded; try again later"}
	}
	return nil
}

// lifetime says a link's lifetime in words: days, or hours, or minutes.
func lifetime(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(n) + " " + unit + "s"
	}
	switch {
	case d >= 24*time.Hour:
		return plural(int(d.Hours()/24+0.5), "day")
	case d >= time.Hour:
		return plural(int(d.Hours()+0.5), "hour")
	}
	return plural(max(1, int(d.Minutes()+0.5)), "minute")
}
