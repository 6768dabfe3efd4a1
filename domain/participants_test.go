package domain

import (
	"strings"
	"testing"
)

// invite decides invite_participant with a secret's hash, and applies it.
func (h *history) invite(on, data, secretHash string) (*ParticipantInvited, error) {
	h.t.Helper()
	evs, err := h.c.Decide(Command{Name: "invite_participant", On: d(on), Data: []byte(data), SecretHash: secretHash}, h.rb)
	if err != nil {
		return nil, err
	}
	h.c.Apply(evs[0], d(on))
	return evs[0].(*ParticipantInvited), nil
}

func TestAnInvitationOpensOnceAndNotAfterItIsWithdrawn(t *testing.T) {
	h := newHistory(t, DefaultRulebook)
	h.do("2024-03-01", "receive_request", request).do("2024-04-05", "decide_to_assess", "").
		do("2024-04-08", "request_advice", `{"advice":"educational_psychology"}`)
	ep, err := h.invite("2024-04-08", `{"participant":"educational_psychology","name":"Dr Lee","contact":"lee@ep.example","advice":"educational_psychology"}`, strings.Repeat("a", 64))
	if err != nil {
		t.Fatal(err)
	}
	if ep.Invitation != "i4" || ep.TokenSHA256 != strings.Repeat("a", 64) {
		t.Fatalf("invitation %+v", ep)
	}
	t.Run("the link opens once", func(t *testing.T) {
		acc, inv, err := h.c.AcceptInvitation(strings.Repeat("a", 64))
		if err != nil || acc.Invitation != "i4" || inv.Advice != "educational_psychology" {
			t.Fatalf("%+v %+v %v", acc, inv, err)
		}
		h.c.Apply(acc, d("2024-04-09"))
		if _, _, err := h.c.AcceptInvitation(strings.Repeat("a", 64)); ErrorCode(err) != Unauthorized {
			t.Fatalf("a used link: %v", err)
		}
	})
	t.Run("a link never sent opens nothing", func(t *testing.T) {
		if _, _, err := h.c.AcceptInvitation(strings.Repeat("b", 64)); ErrorCode(err) != Unauthorized {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a withdrawn invitation's link opens nothing", func(t *testing.T) {
		if _, err := h.invite("2024-04-10", `{"participant":"parent","name":"Sam","contact":"sam@example.org"}`, strings.Repeat("c", 64)); err != nil {
			t.Fatal(err)
		}
		h.do("2024-04-11", "revoke_invitation", `{"invitation":"i6"}`)
		if _, _, err := h.c.AcceptInvitation(strings.Repeat("c", 64)); ErrorCode(err) != Unauthorized {
			t.Fatalf("got %v", err)
		}
		h.reject("2024-04-12", "revoke_invitation", `{"invitation":"i6"}`, Conflict, "")
		h.reject("2024-04-12", "revoke_invitation", `{"invitation":"i99"}`, Invalid, "data.invitation")
	})
	t.Run("invitations that cannot be are refused naming the field", func(t *testing.T) {
		for data, field := range map[string]string{
			`{"participant":"health","name":"Nurse","contact":"n@nhs.example","advice":"health"}`:                 "data.advice",
			`{"participant":"parent","name":"Sam","contact":"sam@example.org","advice":"educational_psychology"}`: "data.advice",
			`{"participant":"parent","name":"Sam","contact":"not an address"}`:                                    "data.contact",
			`{"participant":"parent","name":" ","contact":"sam@example.org"}`:                                     "data.name",
			`{"participant":"uncle","name":"Sam","contact":"sam@example.org"}`:                                    "data.participant",
		} {
			if _, err := h.invite("2024-04-12", data, strings.Repeat("d", 64)); err == nil || err.(*Error).Field != field {
				t.Errorf("%s: got %v, want an error naming %s", data, err, field)
			}
		}
	})
}

func TestAParticipantTakesOnlyTheirOwnSteps(t *testing.T) {
	parent := Invitation{ID: "i2", Participant: ParticipantParent}
	ep := Invitation{ID: "i3", Participant: "educational_psychology", Advice: "educational_psychology"}
	t.Run("a professional's advice is the advice they were asked for", func(t *testing.T) {
		data, err := ParticipantStep(ep, "receive_advice", []byte(`{"advice":"health"}`))
		if err != nil || string(data) != `{"advice":"educational_psychology"}` {
			t.Fatalf("%s %v", data, err)
		}
	})
	for _, c := range []struct {
		inv     Invitation
		command string
	}{
		{parent, "receive_advice"}, {parent, "decide_to_assess"}, {ep, "receive_representations"},
		{ep, "contact_mediation_adviser"}, {Invitation{Participant: "health"}, "receive_advice"}, {parent, "no_such_step"},
	} {
		t.Run(c.inv.Participant+" may not "+c.command, func(t *testing.T) {
			if _, err := ParticipantStep(c.inv, c.command, nil); ErrorCode(err) != Forbidden {
				t.Fatalf("got %v", err)
			}
		})
	}
	if _, err := ParticipantStep(parent, "receive_representations", nil); err != nil {
		t.Fatalf("a parent's representations: %v", err)
	}
}

func TestADocumentRecordedBeforeSharingReadsAsNotShared(t *testing.T) {
	// A document_uploaded event as schema 1 stored it, before
	// shared_with_family existed.
	payload := `{"kind":"evidence","name":{"sealed":"eA=="},"media_type":"application/pdf","size":48,"sha256":"` + strings.Repeat("ab", 32) + `"}`
	ev, err := DecodeEvent(TypeDocumentUploaded, 1, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := ev.(*DocumentUploaded)
	if !ok || d.SharedWithFamily || d.SHA256 != strings.Repeat("ab", 32) || d.Kind != "evidence" {
		t.Fatalf("decoded %#v", ev)
	}
	if _, err := DecodeEvent(TypeDocumentUploaded, 3, []byte(payload)); err == nil {
		t.Fatal("a schema this build does not know was decoded")
	}
}
