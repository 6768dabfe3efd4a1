package api

import (
	"reflect"
	"testing"

	"github.com/ehcledger/ehcledger/projections"
)

// table is a total and its LAs' rows with the given requests and plans.
func table(t *testing.T, requests, plans []int) []projections.Stats {
	t.Helper()
	rows := []projections.Stats{{LA: "TOTAL"}}
	for i := range requests {
		rows = append(rows, projections.Stats{LA: string(rune('A' + i)), Requests: requests[i], PlansIssued: plans[i],
			Within20Weeks: plans[i], ShareWithin20Weeks: 1, BreachesByStage: map[string]int{"decide_to_assess": requests[i]}})
		rows[0].Requests += requests[i]
		rows[0].PlansIssued += plans[i]
		rows[0].Within20Weeks += plans[i]
	}
	rows[0].ShareWithin20Weeks = 1
	rows[0].BreachesByStage = map[string]int{"decide_to_assess": rows[0].Requests}
	return rows
}

// column returns one figure of every row as published.
func column(t *testing.T, pub []map[string]any, figure string) []any {
	t.Helper()
	out := make([]any, len(pub))
	for i, m := range pub {
		out[i] = m[figure]
	}
	return out
}

func TestNoHiddenCountIsTheTotalLessTheCountsShown(t *testing.T) {
	pub, err := publishTable(table(t, []int{3, 40, 12, 0}, []int{0, 20, 9, 0}), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("one small count hides the smallest other count of its column", func(t *testing.T) {
		want := []any{55.0, "<5", 40.0, "c", 0.0}
		if got := column(t, pub, "requests"); !reflect.DeepEqual(got, want) {
			t.Fatalf("requests published %v, want %v", got, want)
		}
	})
	t.Run("a column with nothing small is shown as it is", func(t *testing.T) {
		want := []any{29.0, 0.0, 20.0, 9.0, 0.0}
		if got := column(t, pub, "plans_issued"); !reflect.DeepEqual(got, want) {
			t.Fatalf("plans published %v, want %v", got, want)
		}
	})
	t.Run("counts broken down are suppressed the same way", func(t *testing.T) {
		stage := func(i int) any { return pub[i]["breaches_by_stage"].(map[string]any)["decide_to_assess"] }
		if got := []any{stage(1), stage(3)}; !reflect.DeepEqual(got, []any{"<5", "c"}) {
			t.Fatalf("breaches published %v", got)
		}
	})
}

func TestATotalOfOneLAIsHiddenWithIt(t *testing.T) {
	pub, err := publishTable(table(t, []int{7}, []int{6}), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := column(t, pub, "requests"); !reflect.DeepEqual(got, []any{7.0, 7.0}) {
		t.Fatalf("requests published %v", got)
	}
	rows := table(t, []int{3}, []int{3})
	rows[0].Requests = 6 // a total over more LAs than the inspector reads
	if pub, err = publishTable(rows, true); err != nil {
		t.Fatal(err)
	}
	if got := column(t, pub, "requests"); !reflect.DeepEqual(got, []any{confidential, small}) {
		t.Fatalf("requests published %v", got)
	}
}

func TestARateIsLeftOutWhenACountItRestsOnIsHidden(t *testing.T) {
	pub, err := publishTable(table(t, []int{9, 30, 20}, []int{3, 10, 8}), true)
	if err != nil {
		t.Fatal(err)
	}
	// B's and C's plans: 3 is hidden, 8 goes with it, so C's share, which
	// with its plans within 20 weeks (also hidden: 8 is the least after 3)
	// would give them back, is left out; B's stays.
	if got := column(t, pub, "plans_issued"); !reflect.DeepEqual(got, []any{21.0, "<5", 10.0, "c"}) {
		t.Fatalf("plans published %v", got)
	}
	if got := column(t, pub, "share_within_20_weeks"); !reflect.DeepEqual(got, []any{1.0, nil, 1.0, nil}) {
		t.Fatalf("shares published %v", got)
	}
}
