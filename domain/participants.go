package domain

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Families and professionals take part in a case through the portal: a
// caseworker invites a parent, a young person or a professional, who signs
// in once with a link made for them and then sees that case alone. The
// invitation names who they are and, for a professional, the advice they
// are asked for; its link is a secret the application makes and sends, of
// which the step stores only the SHA-256, so the store never holds a way
// in. Using the link is itself an event (invitation_accepted), appended at
// the case's version, so a link opens once however often it is sent.
//
// Documents sent through the portal (advice, views, representations on a
// draft) are kept encrypted with the case's key outside the store; the
// event (document_uploaded) holds their SHA-256, so the case's history
// proves which document was sent, and erasure makes them unreadable.

// The stored names of the portal's events.
const (
	TypeParticipantInvited = "participant_invited"
	TypeInvitationAccepted = "invitation_accepted"
	TypeInvitationRevoked  = "invitation_revoked"
	TypeDocumentUploaded   = "document_uploaded"
)

// The participants a case may invite. Parents and young people are the
// family (s19: their views, wishes and feelings); the others give advice
// for the assessment (reg 6(1)).
const (
	ParticipantParent      = "parent"
	ParticipantYoungPerson = "young_person"
)

// Family reports whether a participant speaks for the family, not as a
// professional.
func Family(participant string) bool {
	return participant == ParticipantParent || participant == ParticipantYoungPerson
}

// ParticipantInvited records an invitation to take part in a case through
// the portal: who (their kind, name and email address, sealed), the advice
// a professional is asked for, and the SHA-256 of the link's secret.
type ParticipantInvited struct {
	// Invitation identifies the invitation within the case: "i" and the
	// version of this event in the case's stream (i7), which a caseworker
	// can read in the timeline and revoke by.
	Invitation  string `json:"invitation"`
	Participant string `json:"participant" enum:"parent,young_person,educational_psychology,health,social_care,school"`
	Name        Text   `json:"name"`
	Contact     Text   `json:"contact"`
	Advice      string `json:"advice,omitempty"`
	TokenSHA256 string `json:"token_sha256"`
}

// EventType implements Event.
func (ParticipantInvited) EventType() string { return TypeParticipantInvited }

// SchemaVersion implements Event.
func (ParticipantInvited) SchemaVersion() int { return 1 }

// Attr implements Event: participant and advice.
func (e ParticipantInvited) Attr(n string) string {
	switch n {
	case "participant":
		return e.Participant
	case "advice":
		return e.Advice
	}
	return ""
}

// Inviter is an event that invites a person, whose link the application
// sends before the event is recorded.
type Inviter interface {
	// Recipient is the address, name and kind of the person invited, from
	// the event's texts while they are still in the clear.
	Recipient() (to, name, participant string)
}

// Recipient implements Inviter.
func (e *ParticipantInvited) Recipient() (to, name, participant string) {
	return strings.TrimSpace(e.Contact.Plain), strings.TrimSpace(e.Name.Plain), e.Participant
}

// InvitationAccepted records an invitation's link being used: the person
// signed in, and the link opens nothing again.
type InvitationAccepted struct {
	Invitation string `json:"invitation"`
}

// EventType implements Event.
func (InvitationAccepted) EventType() string { return TypeInvitationAccepted }

// SchemaVersion implements Event.
func (InvitationAccepted) SchemaVersion() int { return 1 }

// Attr implements Event: it has no attribute a rulebook tests.
func (InvitationAccepted) Attr(string) string { return "" }

// InvitationRevoked records an invitation withdrawn: its link opens
// nothing, and a person signed in with it is signed out.
type InvitationRevoked struct {
	Invitation string `json:"invitation"`
}

// EventType implements Event.
func (InvitationRevoked) EventType() string { return TypeInvitationRevoked }

// SchemaVersion implements Event.
func (InvitationRevoked) SchemaVersion() int { return 1 }

// Attr implements Event: it has no attribute a rulebook tests.
func (InvitationRevoked) Attr(string) string { return "" }

// DocumentUploaded records a document sent for the case: its kind, its
// file name (sealed), its type and size, and the SHA-256 of its content,
// by which the document store finds it and proves it unaltered. Schema 2
// added SharedWithFamily; a schema 1 document is shared with no one.
type DocumentUploaded struct {
	Kind      string `json:"kind" enum:"advice,views,representations,evidence,other"`
	Name      Text   `json:"name"`
	MediaType string `json:"media_type"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	// Advice is the advice a professional's document gives, when it is
	// advice.
	Advice string `json:"advice,omitempty"`
	// SharedWithFamily says the LA sent the document to the family, who
	// then see it in the portal beside their own; a professional sees
	// only what they sent.
	SharedWithFamily bool `json:"shared_with_family,omitempty"`
}

// EventType implements Event.
func (DocumentUploaded) EventType() string { return TypeDocumentUploaded }

// SchemaVersion implements Event.
func (DocumentUploaded) SchemaVersion() int { return 2 }

// Attr implements Event: kind.
func (e DocumentUploaded) Attr(n string) string {
	if n == "kind" {
		return e.Kind
	}
	return ""
}

// Invitation is an invitation as the case holds it.
type Invitation struct {
	ID, Participant, Advice string
	TokenSHA256             string
	Accepted, Revoked       bool
	// Version is the case version the invitation was recorded at.
	Version int64
}

// inviteParticipantData is invite_participant's data.
type inviteParticipantData struct {
	Participant string `json:"participant" enum:"parent,young_person,educational_psychology,health,social_care,school" hint:"a parent or young person takes part as the family; the others as professionals giving advice"`
	Name        Text   `json:"name" form:"line" hint:"the name the invitation is addressed to"`
	Contact     Text   `json:"contact" form:"line" hint:"their email address: the single-use link is sent there"`
	Advice      string `json:"advice,omitempty" hint:"for a professional: the advice requested of them, such as educational_psychology"`
}

// inviteParticipant decides invite_participant: on an open case whose
// personal details stand, with a secret made by the application; a
// professional may be asked for advice the LA has requested (reg 6(1)),
// the family for none.
func inviteParticipant(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d inviteParticipantData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	secret := cmd.SecretHash
	if cmd.replay {
		// Decided again after a correction: the stored step keeps its
		// secret's hash, and its name and address are sealed.
		var stored struct {
			Invitation  string `json:"invitation"`
			TokenSHA256 string `json:"token_sha256"`
		}
		if err := json.Unmarshal(cmd.Data, &stored); err != nil {
			return nil, err
		}
		return []Event{&ParticipantInvited{Invitation: stored.Invitation, Participant: d.Participant,
			Name: d.Name, Contact: d.Contact, Advice: d.Advice, TokenSHA256: stored.TokenSHA256}}, nil
	}
	switch {
	case strings.TrimSpace(d.Name.Plain) == "":
		return nil, FieldErrorf("data.name", "is required: the name the invitation is for")
	case !plausibleEmail(d.Contact.Plain):
		return nil, FieldErrorf("data.contact", "must be an email address, such as name@example.org: the link is sent there")
	case Family(d.Participant) && d.Advice != "":
		return nil, FieldErrorf("data.advice", "is for professionals: a %s gives views, not advice", strings.ReplaceAll(d.Participant, "_", " "))
	case d.Advice != "" && !c.adviceRequested(d.Advice):
		return nil, FieldErrorf("data.advice", "%s advice has not been requested on this case: request it first", d.Advice)
	case c.erased:
		return nil, conflictf("invite_participant: the personal details of this case have been erased")
	case len(secret) != 64:
		return nil, &Error{Code: Internal, Message: "an invitation needs the SHA-256 of its link's secret"}
	}
	for _, inv := range c.invitations {
		if inv.TokenSHA256 == secret {
			return nil, &Error{Code: Internal, Message: "an invitation's secret was made twice"}
		}
	}
	return []Event{&ParticipantInvited{Invitation: "i" + strconv.FormatInt(c.Version+1, 10), Participant: d.Participant,
		Name: d.Name, Contact: d.Contact, Advice: d.Advice, TokenSHA256: secret}}, nil
}

// plausibleEmail checks an address has one @ with something either side
// and no spaces: the notifier's service checks the rest.
func plausibleEmail(s string) bool {
	local, domain, ok := strings.Cut(strings.TrimSpace(s), "@")
	return ok && local != "" && strings.Contains(domain, ".") && !strings.ContainsAny(s, " \t\r\n<>,;") &&
		!strings.Contains(domain, "@") && len(s) <= 254
}

// revokeInvitationData is revoke_invitation's data.
type revokeInvitationData struct {
	Invitation string `json:"invitation"`
}

// revokeInvitation decides revoke_invitation: an invitation of the case not
// already revoked.
func revokeInvitation(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d revokeInvitationData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	inv, ok := c.invitations[d.Invitation]
	switch {
	case d.Invitation == "":
		return nil, FieldErrorf("data.invitation", "is required: the invitation to withdraw")
	case !ok:
		return nil, FieldErrorf("data.invitation", "there is no invitation %q on this case", d.Invitation)
	case inv.Revoked:
		return nil, conflictf("revoke_invitation: invitation %s is already withdrawn", d.Invitation)
	}
	return []Event{&InvitationRevoked{Invitation: d.Invitation}}, nil
}

// AcceptInvitation decides the use of an invitation's link, by the SHA-256
// of its secret: an invitation of the case, not used, not withdrawn, on a
// case whose personal details stand. Whether the link has expired is the
// application's to say (it knows when the invitation was recorded). The
// refusals say only that the link does not open: a guessed link learns
// nothing.
func (c *Case) AcceptInvitation(secretSHA256 string) (*InvitationAccepted, Invitation, error) {
	refused := &Error{Code: Unauthorized, Message: "this link does not open a case: it has been used, withdrawn or is not one we sent; ask your caseworker for a new one"}
	if !c.Exists() || c.erased {
		return nil, Invitation{}, refused
	}
	for _, inv := range c.invitations {
		if inv.TokenSHA256 == secretSHA256 {
			if inv.Accepted || inv.Revoked {
				return nil, Invitation{}, refused
			}
			return &InvitationAccepted{Invitation: inv.ID}, *inv, nil
		}
	}
	return nil, Invitation{}, refused
}

// Invitation returns an invitation of the case by its ID.
func (c *Case) Invitation(id string) (Invitation, bool) {
	inv, ok := c.invitations[id]
	if !ok {
		return Invitation{}, false
	}
	return *inv, true
}

// adviceRequested reports whether the LA asked for the advice.
func (c *Case) adviceRequested(advice string) bool {
	_, ok := c.advice[advice]
	return ok
}

// applyParticipant applies the portal's events to the case.
func (c *Case) applyParticipant(e Event) {
	if c.invitations == nil {
		c.invitations = map[string]*Invitation{}
	}
	switch v := e.(type) {
	case *ParticipantInvited:
		c.invitations[v.Invitation] = &Invitation{ID: v.Invitation, Participant: v.Participant, Advice: v.Advice,
			TokenSHA256: v.TokenSHA256, Version: c.Version}
	case *InvitationAccepted:
		if inv := c.invitations[v.Invitation]; inv != nil {
			inv.Accepted = true
		}
	case *InvitationRevoked:
		if inv := c.invitations[v.Invitation]; inv != nil {
			inv.Revoked = true
		}
	}
}

// ParticipantStep checks a step a person invited to the case sends through
// the portal against their invitation, and returns the data to decide: the
// family sends only the steps the catalog lets the family send, a
// professional only those it lets professionals send, and only about the
// advice their invitation names (the data's advice is the invitation's,
// whatever was sent).
func ParticipantStep(inv Invitation, command string, data json.RawMessage) (json.RawMessage, error) {
	spec := LookupCommand(command)
	sender := SenderProfessional
	if Family(inv.Participant) {
		sender = SenderFamily
	}
	if spec == nil || spec.Scope != ScopeCase || !spec.MaySend(sender) {
		return nil, Errorf(Forbidden, "this is not a step you can take through the portal: ask your caseworker")
	}
	if sender == SenderFamily {
		if CommandEventType(command) == TypeMediationAdviserContacted {
			// Through the portal the family says they want mediation:
			// contacting the adviser only for a certificate is done
			// with the adviser, not here.
			return json.RawMessage(`{"wants_mediation":true}`), nil
		}
		return data, nil
	}
	if inv.Advice == "" {
		return nil, Errorf(Forbidden, "your invitation asks for no advice: ask your caseworker")
	}
	m := map[string]any{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, FieldErrorf("data", "must be a JSON object")
		}
	}
	m["advice"] = inv.Advice
	return json.Marshal(m)
}

// CheckDocumentKind checks what a document sent for a case is said to be.
func CheckDocumentKind(kind string) error {
	return checkEnums(&DocumentUploaded{Kind: kind})
}

// DocumentKinds lists what a participant may send a document as: the
// family their views, representations on a draft and evidence; a
// professional their advice and evidence. Staff send any kind.
func DocumentKinds(participant string) []string {
	if Family(participant) {
		return []string{"views", "representations", "evidence", "other"}
	}
	return []string{"advice", "evidence", "other"}
}
