// Package calendar answers which days are bank holidays in England and Wales,
// using the maintained holiday definitions of github.com/rickar/cal/v2.
package calendar

import (
	"sync"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/rickar/cal/v2/gb"
)

// oneOffs are England-and-Wales bank holidays proclaimed for a single year that
// the library's list lacks (checked against the library at v2.1.13). Each
// entry adds a holiday; moved holidays also remove the usual date.
var oneOffs = []struct {
	add    []domain.Date
	remove []domain.Date
}{
	// 2012: Spring bank holiday moved to 4 June and Diamond Jubilee on 5 June.
	{add: []domain.Date{domain.NewDate(2012, 6, 4), domain.NewDate(2012, 6, 5)}, remove: []domain.Date{domain.NewDate(2012, 5, 28)}},
	// 2022: State funeral of Queen Elizabeth II.
	{add: []domain.Date{domain.NewDate(2022, 9, 19)}},
}

// EnglandWales is the bank-holiday calendar of England and Wales, including
// substitute days. It caches each year's holidays; it is safe for concurrent
// use.
type EnglandWales struct {
	mu    sync.RWMutex
	years map[int]map[domain.Date]string
}

// NewEnglandWales returns the England-and-Wales calendar.
func NewEnglandWales() *EnglandWales {
	return &EnglandWales{years: map[int]map[domain.Date]string{}}
}

// IsBankHoliday reports whether d is a bank holiday (observed date).
func (c *EnglandWales) IsBankHoliday(d domain.Date) bool {
	y, _, _ := d.YMD()
	_, ok := c.year(y)[d]
	return ok
}

// Holidays returns the bank holidays of a year with their names.
func (c *EnglandWales) Holidays(year int) map[domain.Date]string {
	src := c.year(year)
	out := make(map[domain.Date]string, len(src))
	for d, n := range src {
		out[d] = n
	}
	return out
}

func (c *EnglandWales) year(y int) map[domain.Date]string {
	c.mu.RLock()
	m, ok := c.years[y]
	c.mu.RUnlock()
	if ok {
		return m
	}
	m = map[domain.Date]string{}
	for _, h := range gb.Holidays {
		_, observed := h.Calc(y)
		if observed.IsZero() {
			continue
		}
		m[domain.NewDate(observed.Year(), observed.Month(), observed.Day())] = h.Name
	}
	for _, o := range oneOffs {
		for _, d := range o.remove {
			if dy, _, _ := d.YMD(); dy == y {
				delete(m, d)
			}
		}
		for _, d := range o.add {
			if dy, _, _ := d.YMD(); dy == y {
				m[d] = "Bank holiday"
			}
		}
	}
	c.mu.Lock()
	c.years[y] = m
	c.mu.Unlock()
	return m
}

var _ domain.Holidays = (*EnglandWales)(nil)
