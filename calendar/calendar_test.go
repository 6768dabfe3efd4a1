package calendar

import (
	"testing"

	"github.com/ehcledger/ehcledger/domain"
)

func TestEnglandWalesBankHolidays(t *testing.T) {
	c := NewEnglandWales()
	cases := []struct {
		name string
		date domain.Date
		want bool
	}{
		{"new year 2024", domain.NewDate(2024, 1, 1), true},
		{"good friday 2024", domain.NewDate(2024, 3, 29), true},
		{"easter monday 2024", domain.NewDate(2024, 4, 1), true},
		{"early may 2024", domain.NewDate(2024, 5, 6), true},
		{"spring 2024", domain.NewDate(2024, 5, 27), true},
		{"summer 2024 (England, not Scotland)", domain.NewDate(2024, 8, 26), true},
		{"scottish summer holiday is not English", domain.NewDate(2024, 8, 5), false},
		{"christmas 2024", domain.NewDate(2024, 12, 25), true},
		{"boxing day 2024", domain.NewDate(2024, 12, 26), true},
		{"substitute boxing day 2026 (26th is Saturday)", domain.NewDate(2026, 12, 28), true},
		{"substitute new year 2022 (1st is Saturday)", domain.NewDate(2022, 1, 3), true},
		{"platinum jubilee 2022", domain.NewDate(2022, 6, 3), true},
		{"state funeral 2022", domain.NewDate(2022, 9, 19), true},
		{"coronation 2023", domain.NewDate(2023, 5, 8), true},
		{"VE day 2020 replaced early may", domain.NewDate(2020, 5, 8), true},
		{"2020 first monday of may was not a holiday", domain.NewDate(2020, 5, 4), false},
		{"diamond jubilee 2012", domain.NewDate(2012, 6, 5), true},
		{"moved spring holiday 2012", domain.NewDate(2012, 5, 28), false},
		{"ordinary tuesday", domain.NewDate(2024, 3, 5), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.IsBankHoliday(tc.date); got != tc.want {
				t.Fatalf("IsBankHoliday(%s) = %v, want %v", tc.date, got, tc.want)
			}
		})
	}
}

func TestWorkingDaysSkipBankHolidays(t *testing.T) {
	c := NewEnglandWales()
	cases := []struct {
		name  string
		start domain.Date
		n     int
		want  domain.Date
	}{
		{"friday plus 3 skips the weekend", domain.NewDate(2024, 4, 19), 3, domain.NewDate(2024, 4, 24)},
		{"maundy thursday plus 1 skips good friday, weekend and easter monday", domain.NewDate(2024, 3, 28), 1, domain.NewDate(2024, 4, 2)},
		{"christmas eve plus 3 skips christmas, boxing day and the weekend", domain.NewDate(2024, 12, 24), 3, domain.NewDate(2024, 12, 31)},
		{"saturday plus 1 is monday", domain.NewDate(2024, 6, 1), 1, domain.NewDate(2024, 6, 3)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.AddWorkingDays(tc.start, tc.n, c); got != tc.want {
				t.Fatalf("AddWorkingDays(%s, %d) = %s, want %s", tc.start, tc.n, got, tc.want)
			}
		})
	}
}
