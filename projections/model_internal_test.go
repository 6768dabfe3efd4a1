package projections

import (
	"testing"
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
