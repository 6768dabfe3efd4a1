package domain

import (
	"encoding/json"
	"testing"
	"time"
)

func d(s string) Date {
	v, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return v
}

func TestPeriodsFollowStatutoryCounting(t *testing.T) {
	weekdayHolidays := holidaySet{d("2024-03-29"): true, d("2024-04-01"): true, d("2024-12-25"): true, d("2024-12-26"): true}
	cases := []struct {
		name   string
		start  string
		period Period
		want   string
	}{
		{"20 weeks is 140 days", "2024-03-01", Period{Unit: Weeks, N: 20}, "2024-07-19"},
		{"6 weeks", "2024-01-10", Period{Unit: Weeks, N: 6}, "2024-02-21"},
		{"15 days", "2024-06-10", Period{Unit: Days, N: 15}, "2024-06-25"},
		{"weeks across the spring clock change", "2024-03-28", Period{Unit: Weeks, N: 1}, "2024-04-04"},
		{"weeks across the autumn clock change", "2024-10-24", Period{Unit: Weeks, N: 1}, "2024-10-31"},
		{"one month on the same day", "2024-04-25", Period{Unit: Months, N: 1}, "2024-05-25"},
		{"31 January plus one month is 29 February in a leap year", "2024-01-31", Period{Unit: Months, N: 1}, "2024-02-29"},
		{"31 January plus one month is 28 February otherwise", "2023-01-31", Period{Unit: Months, N: 1}, "2023-02-28"},
		{"31 March plus one month is 30 April", "2024-03-31", Period{Unit: Months, N: 1}, "2024-04-30"},
		{"two months across a year end", "2024-12-31", Period{Unit: Months, N: 2}, "2025-02-28"},
		{"12 months from 29 February is 28 February", "2024-02-29", Period{Unit: Months, N: 12}, "2025-02-28"},
		{"12 months from 29 February to a leap year keeps the day", "2024-02-29", Period{Unit: Months, N: 48}, "2028-02-29"},
		{"working days skip the weekend", "2024-04-19", Period{Unit: WorkingDays, N: 3}, "2024-04-24"},
		{"working days skip Easter", "2024-03-28", Period{Unit: WorkingDays, N: 1}, "2024-04-02"},
		{"working days skip Christmas", "2024-12-24", Period{Unit: WorkingDays, N: 3}, "2024-12-31"},
		{"working days from a Saturday", "2024-06-01", Period{Unit: WorkingDays, N: 1}, "2024-06-03"},
		// "beginning with" / "starting with": the start is the first day (statutory.md section 2).
		{"15 days beginning with the draft's day end on day 15 (reg 13(1)(a))", "2024-04-01", Period{Unit: Days, N: 15, Counting: CountBeginningWith}, "2024-04-15"},
		{"12 months starting with 1 May end on 30 April (s44(1))", "2023-05-01", Period{Unit: Months, N: 12, Counting: CountBeginningWith}, "2024-04-30"},
		{"12 months starting with 31 March end on 30 March", "2023-03-31", Period{Unit: Months, N: 12, Counting: CountBeginningWith}, "2024-03-30"},
		{"12 months starting with 1 March end on 29 February in a leap year", "2023-03-01", Period{Unit: Months, N: 12, Counting: CountBeginningWith}, "2024-02-29"},
		{"12 months starting with 29 February run to the end of February", "2024-02-29", Period{Unit: Months, N: 12, Counting: CountBeginningWith}, "2025-02-28"},
		{"3 months starting with 30 November end on 29 February", "2023-11-30", Period{Unit: Months, N: 3, Counting: CountBeginningWith}, "2024-02-29"},
		{"3 months starting with 31 May run to the end of August", "2024-05-31", Period{Unit: Months, N: 3, Counting: CountBeginningWith}, "2024-08-30"},
		{"15 working days beginning with a Monday (reg 15(2))", "2024-03-04", Period{Unit: WorkingDays, N: 15, Counting: CountBeginningWith}, "2024-03-22"},
		{"15 working days beginning with a Saturday start on the Monday", "2024-03-02", Period{Unit: WorkingDays, N: 15, Counting: CountBeginningWith}, "2024-03-22"},
		{"working days beginning with a day before Easter skip its holidays", "2024-03-28", Period{Unit: WorkingDays, N: 2, Counting: CountBeginningWith}, "2024-04-02"},
		// Appeal windows, counted by the tribunal's rules (HESC Rules 2008 r12).
		{"2 months after a notice ending on a Sunday move to Monday (r12(2))", "2024-10-01", Period{Unit: Months, N: 2, TribunalRules: true}, "2024-12-02"},
		{"August is not counted (r12(3)(b))", "2024-07-15", Period{Unit: Months, N: 2, TribunalRules: true}, "2024-10-16"},
		{"a Saturday end moves to Monday", "2024-05-20", Period{Unit: Months, N: 2, TribunalRules: true}, "2024-07-22"},
		{"25 December to 1 January are not counted (r12(3)(a))", "2024-11-20", Period{Unit: Months, N: 2, TribunalRules: true}, "2025-01-28"},
		{"a notice on 24 December counts from 2 January", "2024-12-24", Period{Unit: Months, N: 1, TribunalRules: true}, "2025-02-03"},
		{"a month from 25 November runs past the Christmas days to 2 January", "2024-11-25", Period{Unit: Months, N: 1, TribunalRules: true}, "2025-01-02"},
		{"an end on Good Friday moves past Easter Monday", "2024-01-29", Period{Unit: Months, N: 2, TribunalRules: true}, "2024-04-02"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.period.Due(d(tc.start), nil, weekdayHolidays); got != d(tc.want) {
				t.Fatalf("%s + %+v = %s, want %s", tc.start, tc.period, got, tc.want)
			}
		})
	}
}

type holidaySet map[Date]bool

func (h holidaySet) IsBankHoliday(x Date) bool { return h[x] }

func TestFixedDatePeriodReadsTheYear(t *testing.T) {
	p := Period{Unit: FixedDate, Month: time.February, Day: 15, YearAttr: "year"}
	if got := p.Due(d("2024-09-01"), &PhaseTransferScheduled{Year: 2025, Kind: "school"}, NoHolidays{}); got != d("2025-02-15") {
		t.Fatalf("got %s", got)
	}
}

func TestBeforeAFixedDateIsTheDayBefore(t *testing.T) {
	p := Period{Unit: FixedDate, Month: time.February, Day: 15, YearAttr: "year", Counting: CountBefore}
	if got := p.Due(d("2024-09-01"), &PhaseTransferScheduled{Year: 2025, Kind: "school"}, NoHolidays{}); got != d("2025-02-14") {
		t.Fatalf("before 15 February 2025: got %s, want 2025-02-14 (reg 18(1))", got)
	}
}

func TestAgeInWholeYears(t *testing.T) {
	for _, tc := range []struct {
		born, on string
		want     int
	}{
		{"2000-05-01", "2025-04-30", 24},
		{"2000-05-01", "2025-05-01", 25},
		{"2000-02-29", "2025-02-28", 24},
		{"2000-02-29", "2025-03-01", 25},
		{"2000-02-29", "2028-02-29", 28},
	} {
		if got := Age(d(tc.born), d(tc.on)); got != tc.want {
			t.Errorf("born %s, on %s: age %d, want %d", tc.born, tc.on, got, tc.want)
		}
	}
}

func TestRulebookPeriodsMustNameTheirCounting(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Period
		ok   bool
	}{
		{"weeks of", Period{Unit: Weeks, N: 6, Counting: CountOf}, true},
		{"weeks without a counting", Period{Unit: Weeks, N: 6}, false},
		{"a fixed date counted as weeks are", Period{Unit: FixedDate, Month: 2, Day: 15, Counting: CountOf}, false},
		{"a fixed date before", Period{Unit: FixedDate, Month: 2, Day: 15, Counting: CountBefore}, true},
		{"a later-of with a child missing its counting", Period{Unit: LaterOf, Of: []Period{{Unit: Weeks, N: 1, Counting: CountOf}, {Unit: Months, N: 3}}}, false},
		{"an unknown unit", Period{Unit: "fortnights", N: 1, Counting: CountOf}, false},
	} {
		if err := tc.p.check(); (err == nil) != tc.ok {
			t.Errorf("%s: check() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	for _, id := range RulebookIDs() {
		rb, _ := LookupRulebook(id)
		for _, c := range rb.Clocks {
			worded := c.Period.Wording != "" || len(c.Period.Of) > 0
			for _, q := range c.Period.Of {
				worded = worded && q.Wording != ""
			}
			if c.Period.Rule() == "" || !worded {
				t.Errorf("%s: clock %s shows no counting rule or wording", id, c.Name)
			}
		}
	}
}

func TestInstantsBecomeLondonDates(t *testing.T) {
	cases := []struct {
		name, at, want string
	}{
		{"late evening in summer time is the next day", "2024-03-31T23:30:00Z", "2024-04-01"},
		{"late evening in winter is the same day", "2024-01-31T23:30:00Z", "2024-01-31"},
		{"an hour before the autumn change", "2024-10-26T22:59:59Z", "2024-10-26"},
		{"just after midnight BST", "2024-10-26T23:00:00Z", "2024-10-27"},
		{"an offset instant", "2024-06-30T20:00:00-05:00", "2024-07-01"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if got := DateOf(at); got != d(tc.want) {
				t.Fatalf("DateOf(%s) = %s, want %s", tc.at, got, tc.want)
			}
		})
	}
}

func TestDateJSONRoundTrip(t *testing.T) {
	var v struct {
		A Date `json:"a"`
		B Date `json:"b"`
	}
	if err := json.Unmarshal([]byte(`{"a":"2024-02-29","b":null}`), &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	if string(out) != `{"a":"2024-02-29","b":null}` {
		t.Fatalf("round trip gave %s", out)
	}
	for _, bad := range []string{`{"a":"2023-02-29"}`, `{"a":"29/02/2024"}`, `{"a":20240229}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}
