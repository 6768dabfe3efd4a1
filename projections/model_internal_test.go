package projections

import (
	"testing"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
)

func TestIndexMovesACaseBetweenLAsAndKeepsEveryOtherCaseFiled(t *testing.T) {
	m := NewModel(nil)
	cases := map[string]*CaseModel{}
	for _, id := range []string{"a", "b", "c", "d"} {
		c := &CaseModel{ID: id, LA: "A"}
		cases[id] = c
		m.index(c, "")
	}
	move := func(id, to string) {
		c := cases[id]
		old := c.LA
		c.LA = to
		m.index(c, old)
	}
	move("b", "B")
	move("a", "B")
	move("b", "A")
	want := map[string][]string{"A": {"b", "c", "d"}, "B": {"a"}}
	for la, ids := range want {
		list := m.byLA[la]
		if len(list) != len(ids) {
			t.Fatalf("LA %s lists %d cases, want %d", la, len(list), len(ids))
		}
		filed := map[string]bool{}
		for i, c := range list {
			if int(c.slot) != i || c.LA != la {
				t.Fatalf("case %s is at %d of LA %s but thinks it is at %d of %s", c.ID, i, la, c.slot, c.LA)
			}
			filed[c.ID] = true
		}
		for _, id := range ids {
			if !filed[id] {
				t.Fatalf("case %s is missing from LA %s", id, la)
			}
		}
	}
}

func TestEveryRuleOfEveryRulebookFitsAPackedClock(t *testing.T) {
	n := 0
	for _, id := range domain.RulebookIDs() {
		rb, err := domain.LookupRulebook(id)
		if err != nil {
			t.Fatal(err)
		}
		n += len(rb.Clocks)
	}
	if n == 0 || n >= maxRules {
		t.Fatalf("the rulebooks hold %d clock rules; a packed clock numbers up to %d", n, maxRules)
	}
}

func TestPackedClockKeepsEveryField(t *testing.T) {
	p := newPackedClock(700000, 700140, 700100, maxStrings-1, maxRules-1, true)
	if p.key() != maxStrings-1 || p.rule() != maxRules-1 || !p.ended() || p.started != 700000 || p.due != 700140 || p.stopped != 700100 {
		t.Fatalf("packed clock lost a field: %+v", p)
	}
	if q := newPackedClock(1, 2, 0, 0, 0, false); q.key() != 0 || q.rule() != 0 || q.ended() {
		t.Fatalf("empty fields came back set: %+v", q)
	}
	mk := newMark(5, 255, 1<<24-1)
	if mk.kind() != 255 || mk.label() != 1<<24-1 || mk.on != 5 {
		t.Fatalf("mark lost a field: %+v", mk)
	}
}

func TestAReadOfACaseLeavesItsLAsFiguresCached(t *testing.T) {
	m := NewModel(nil)
	m.touch("E09000001", 5)
	e := eventstore.RecordedEvent{Position: 9, Stream: domain.AccessStream("E09000001", "c1"), Version: 1, EventData: eventstore.EventData{
		Type: domain.TypeCaseAccessed, SchemaVersion: 1, LA: "E09000001", OccurredOn: "2024-05-01",
		Payload: []byte(`{"case":"c1","route":"GET /v1/cases/:id","role":"caseworker"}`)}}
	if err := m.Apply(e); err != nil {
		t.Fatal(err)
	}
	if m.Position != 9 || m.laPosition["E09000001"] != 5 {
		t.Fatalf("position %d, LA position %d: a read moved the LA's figures on", m.Position, m.laPosition["E09000001"])
	}
}
