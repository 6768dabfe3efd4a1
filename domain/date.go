package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// Date is a civil date in Europe/London, held as the number of days since
// 0001-01-01 so that dates compare and subtract as integers. The zero Date means
// "no date".
type Date int32

// unixEpochDays is the Date of 1970-01-01.
const unixEpochDays = 719162

// London is the time zone every statutory date is read in.
var London = mustLoadLondon()

func mustLoadLondon() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		// The tz database is embedded by cmd/ehcledger through time/tzdata, so this
		// only fails in a binary built without it on a machine without zoneinfo.
		panic("domain: cannot load Europe/London: " + err.Error())
	}
	return loc
}

// NewDate returns the Date for a year, month and day, normalising overflow the
// way time.Date does.
func NewDate(y int, m time.Month, d int) Date {
	t := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return Date(t.Unix()/86400 + unixEpochDays)
}

// DateOf returns the civil date in Europe/London of an instant.
func DateOf(t time.Time) Date {
	l := t.In(London)
	return NewDate(l.Year(), l.Month(), l.Day())
}

// ParseDate reads a date written as YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	// Fast path for the stored form, which replay reads for every event.
	if len(s) == 10 && s[4] == '-' && s[7] == '-' {
		y, ok1 := digits(s[0:4])
		m, ok2 := digits(s[5:7])
		dd, ok3 := digits(s[8:10])
		if ok1 && ok2 && ok3 && m >= 1 && m <= 12 && dd >= 1 && dd <= daysIn(y, time.Month(m)) {
			return NewDate(y, time.Month(m), dd), nil
		}
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a date in YYYY-MM-DD form", s)
	}
	return NewDate(t.Year(), t.Month(), t.Day()), nil
}

// IsZero reports whether d is the zero Date ("no date").
func (d Date) IsZero() bool { return d == 0 }

// Time returns midnight UTC of the date, for calendar arithmetic.
func (d Date) Time() time.Time {
	return time.Unix(int64(d-unixEpochDays)*86400, 0).UTC()
}

// YMD returns the year, month and day.
func (d Date) YMD() (int, time.Month, int) { return d.Time().Date() }

// Weekday returns the day of the week.
func (d Date) Weekday() time.Weekday { return d.Time().Weekday() }

// AddDays returns the date n calendar days later (earlier if n is negative).
func (d Date) AddDays(n int) Date { return d + Date(n) }

// AddMonths returns the same day-of-month n months later; when that month is
// too short it returns that month's last day (31 January + 1 month = 28 or 29
// February), as statutory.md section 2 requires.
func (d Date) AddMonths(n int) Date {
	y, m, day := d.YMD()
	first := NewDate(y, m+time.Month(n), 1)
	fy, fm, _ := first.YMD()
	last := NewDate(fy, fm+1, 0)
	_, _, lastDay := last.YMD()
	if day > lastDay {
		day = lastDay
	}
	return NewDate(fy, fm, day)
}

// String formats the date as YYYY-MM-DD, or "" for the zero Date.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Time().Format(time.DateOnly)
}

// MarshalJSON writes the date as "YYYY-MM-DD", or null for the zero Date.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + d.String() + `"`), nil
}

// UnmarshalJSON reads "YYYY-MM-DD" or null.
func (d *Date) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = 0
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a date must be a string in YYYY-MM-DD form")
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Holidays tells which dates are bank holidays. The domain only needs the
// question; the answer comes from an adapter (package calendar) so that the
// domain stays free of third-party code.
type Holidays interface {
	IsBankHoliday(Date) bool
}

// NoHolidays is a Holidays with no bank holidays, for tests of weekend rules.
type NoHolidays struct{}

// IsBankHoliday always reports false.
func (NoHolidays) IsBankHoliday(Date) bool { return false }

// IsWorkingDay reports whether d is neither a weekend day nor a bank holiday.
func IsWorkingDay(d Date, h Holidays) bool {
	switch d.Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	return !h.IsBankHoliday(d)
}

// AddWorkingDays returns the nth working day after d.
func AddWorkingDays(d Date, n int, h Holidays) Date {
	for n > 0 {
		d++
		if IsWorkingDay(d, h) {
			n--
		}
	}
	return d
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(y int, m time.Month) int {
	_, _, d := NewDate(y, m+1, 0).YMD()
	return d
}

// MonthsStartingWith returns the last day of "the period of n months starting
// with" d (s44(1)): d is the period's first day, so the period ends the day
// before the same day of the month n months on; when that month has no such
// day (29 February in a common year, 31 April), the period runs to the end
// of that month (statutory.md section 2).
func (d Date) MonthsStartingWith(n int) Date {
	y, m, day := d.YMD()
	first := NewDate(y, m+time.Month(n), 1)
	fy, fm, _ := first.YMD()
	if day > daysIn(fy, fm) {
		return NewDate(fy, fm+1, 0)
	}
	return NewDate(fy, fm, day) - 1
}

// WorkingDaysBeginningWith returns the last of n working days "beginning
// with" d (reg 15(2)): d is working day 1 when it is a working day, otherwise
// the next working day is.
func WorkingDaysBeginningWith(d Date, n int, h Holidays) Date {
	if n <= 0 {
		return d
	}
	if IsWorkingDay(d, h) {
		return AddWorkingDays(d, n-1, h)
	}
	return AddWorkingDays(d, n, h)
}

// NotCountedByTribunal reports whether the First-tier Tribunal's rules leave
// a day out when counting time in a special educational needs case: 25
// December to 1 January inclusive and every day in August (HESC Rules 2008
// r12(3)).
func NotCountedByTribunal(d Date) bool {
	_, m, day := d.YMD()
	return m == time.August || (m == time.December && day >= 25) || (m == time.January && day == 1)
}

// TribunalDeadline counts a period the way the tribunal's rules do. end is
// the period's last day by ordinary counting from start; each day of the
// period (after start) that the rules do not count moves the end on by one
// counted day (r12(3)), and an end on a day that is not a working day moves
// to the next working day (r12(2)). Notice on 15 July 2024 with two months to
// appeal: 15 September by ordinary counting, plus August's 31 days, 16
// October.
func TribunalDeadline(start, end Date, h Holidays) Date {
	d := start
	for left := int(end - start); left > 0; {
		d++
		if !NotCountedByTribunal(d) {
			left--
		}
	}
	for !IsWorkingDay(d, h) {
		d++
	}
	return d
}

// Age returns the age in whole years on date on of someone born on born: a
// birthday on 29 February falls on 1 March in a common year.
func Age(born, on Date) int {
	by, bm, bd := born.YMD()
	y, m, d := on.YMD()
	age := y - by
	if m < bm || (m == bm && d < bd) {
		age--
	}
	return age
}
