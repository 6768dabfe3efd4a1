package domain_test

import (
	"testing"

	"github.com/ehcledger/ehcledger/domain"
)

func TestTheNextStepsAreThoseThatStopTheOpenClocks(t *testing.T) {
	rb, err := domain.LookupRulebook(domain.DefaultRulebook)
	if err != nil {
		t.Fatal(err)
	}
	due, err := domain.ParseDate("2024-05-13")
	if err != nil {
		t.Fatal(err)
	}
	rows := []domain.ClockRow{
		{Clock: "decide_to_assess", Due: due, Status: domain.StatusRunning},
		{Clock: "final_plan", Due: due.AddDays(98), Status: domain.StatusRunning},
		{Clock: "decide_to_assess", Key: "old", Due: due, Status: domain.StatusMet},
	}
	steps := domain.NextSteps(rb, rows)
	var got []string
	for _, s := range steps {
		got = append(got, s.Command)
		if s.Next == "" || domain.LookupCommand(s.Command) == nil {
			t.Errorf("step %+v has no words or no command", s)
		}
	}
	if len(steps) == 0 || steps[0].Clock != "decide_to_assess" {
		t.Fatalf("the soonest clock's steps come first: %v", steps)
	}
	for _, want := range []string{"decide_to_assess", "refuse_assessment", "send_draft_plan", "issue_final_plan"} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("%s is not offered: %v", want, got)
		}
	}
}

func TestAClockRuleIsStoppedByWhatItWaitsForOnly(t *testing.T) {
	rb, err := domain.LookupRulebook(domain.DefaultRulebook)
	if err != nil {
		t.Fatal(err)
	}
	advice := rb.Clock("advice")
	if advice == nil {
		t.Fatal("the default rulebook has no advice clock")
	}
	if !advice.StoppedBy(domain.TypeAdviceReceived) {
		t.Error("advice received does not stop the advice clock")
	}
	if advice.StoppedBy(domain.TypeAdviceRequested) {
		t.Error("advice requested, which starts the clock, stops it")
	}
}
