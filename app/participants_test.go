package app_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/notify"
)

// outbox is a notifier that keeps what it is given, or fails when told to.
type outbox struct {
	mu   sync.Mutex
	sent []notify.Message
	fail error
}

func (o *outbox) Send(_ context.Context, m notify.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.sent = append(o.sent, m)
	return nil
}

var joinLink = regexp.MustCompile(`https://ehc\.test/portal/join/([^/\s]+)/(\S+)`)

// lastLink returns the case and secret of the last link sent.
func (o *outbox) lastLink(t *testing.T) (string, string) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sent) == 0 {
		t.Fatal("nothing was sent")
	}
	m := joinLink.FindStringSubmatch(o.sent[len(o.sent)-1].Body)
	if m == nil {
		t.Fatalf("no link in %q", o.sent[len(o.sent)-1].Body)
	}
	return m[1], m[2]
}

func TestAnInvitationIsSentThenOpensOnceWithinItsTime(t *testing.T) {
	ctx := context.Background()
	l := startWithKeys(t)
	box := &outbox{}
	clock := now()
	l.Now = func() time.Time { return clock }
	l.Notifier, l.PortalURL = box, "https://ehc.test"
	on := domain.DateOf(clock)
	do := func(command, data string) (app.CommandResult, error) {
		t.Helper()
		return l.Execute(ctx, app.CommandRequest{Case: "c1", LA: "E09000001", Command: command, On: domain.DateOf(clock), Data: []byte(data), Actor: "cw", Expected: eventstore.Any})
	}
	if _, err := do("receive_request", `{"requester":"parent","birth_date":"2015-05-01"}`); err != nil {
		t.Fatal(err)
	}
	invite := `{"participant":"parent","name":"Sam Byrne","contact":"sam@example.org"}`
	t.Run("an invitation the email service does not take records nothing", func(t *testing.T) {
		box.fail = errors.New("relay down")
		if _, err := do("invite_participant", invite); domain.ErrorCode(err) != domain.Unavailable {
			t.Fatalf("got %v", err)
		}
		box.fail = nil
		if v, _ := l.Case(ctx, "c1", on, time.Time{}, nil); v.Version != 1 {
			t.Fatalf("version %d: something was recorded", v.Version)
		}
	})
	res, err := do("invite_participant", invite)
	if err != nil || res.Secret == "" {
		t.Fatalf("%+v %v", res, err)
	}
	caseID, secret := box.lastLink(t)
	if caseID != "c1" || secret != res.Secret || box.sent[0].To != "sam@example.org" || !strings.Contains(box.sent[0].Body, "Hello Sam Byrne") {
		t.Fatalf("sent %+v", box.sent)
	}
	t.Run("the link opens once, as the person invited", func(t *testing.T) {
		p, err := l.AcceptInvitation(ctx, "c1", secret)
		if err != nil || p.Participant != "parent" || p.Name != "Sam Byrne" || p.Invitation != "i2" || p.Actor() != "participant:c1/i2" {
			t.Fatalf("%+v %v", p, err)
		}
		if _, err := l.AcceptInvitation(ctx, "c1", secret); domain.ErrorCode(err) != domain.Unauthorized {
			t.Fatalf("a second use: %v", err)
		}
		if _, _, err := l.ParticipantOf(ctx, "c1", "i2"); err != nil {
			t.Fatalf("the signed-in person: %v", err)
		}
	})
	t.Run("the link opens nothing for another case", func(t *testing.T) {
		if _, err := do("invite_participant", invite); err != nil {
			t.Fatal(err)
		}
		_, s := box.lastLink(t)
		if _, err := l.AcceptInvitation(ctx, "c2", s); domain.ErrorCode(err) != domain.Unauthorized {
			t.Fatalf("another case: %v", err)
		}
	})
	t.Run("a link older than its time opens nothing", func(t *testing.T) {
		if _, err := do("invite_participant", invite); err != nil {
			t.Fatal(err)
		}
		_, s := box.lastLink(t)
		clock = clock.Add(app.DefaultInvitationTTL + time.Minute)
		if _, err := l.AcceptInvitation(ctx, "c1", s); domain.ErrorCode(err) != domain.Unauthorized {
			t.Fatalf("an expired link: %v", err)
		}
	})
	t.Run("a withdrawn invitation signs its holder out", func(t *testing.T) {
		if _, err := do("revoke_invitation", `{"invitation":"i2"}`); err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.ParticipantOf(ctx, "c1", "i2"); domain.ErrorCode(err) != domain.Unauthorized {
			t.Fatalf("after withdrawal: %v", err)
		}
	})
}

func TestTheTimelineNamesThePersonInvited(t *testing.T) {
	ctx := context.Background()
	l := startWithKeys(t)
	box := &outbox{}
	l.Notifier, l.PortalURL = box, "https://ehc.test"
	on := domain.DateOf(now())
	do := func(command, data, actor string) {
		t.Helper()
		if _, err := l.Execute(ctx, app.CommandRequest{Case: "c1", LA: "E09000001", Command: command, On: on, Data: []byte(data), Actor: actor, Expected: eventstore.Any}); err != nil {
			t.Fatal(err)
		}
	}
	do("receive_request", `{"requester":"parent","birth_date":"2015-05-01"}`, "cw")
	do("decide_to_assess", ``, "cw")
	do("send_draft_plan", ``, "cw")
	do("invite_participant", `{"participant":"parent","name":"Sam Byrne","contact":"sam@example.org"}`, "cw")
	_, secret := box.lastLink(t)
	p, err := l.AcceptInvitation(ctx, "c1", secret)
	if err != nil {
		t.Fatal(err)
	}
	do("receive_representations", ``, p.Actor())
	tl, err := l.Timeline(ctx, "c1", nil)
	if err != nil {
		t.Fatal(err)
	}
	last := tl[len(tl)-1]
	if last.By != "Sam Byrne (parent, invited)" || !strings.HasSuffix(last.Sentence, ", 3 December 2026, recorded by Sam Byrne (parent, invited)") {
		t.Fatalf("by %q, sentence %q", last.By, last.Sentence)
	}
	if tl[0].By != "cw" {
		t.Fatalf("a caseworker's step is by %q", tl[0].By)
	}
}
