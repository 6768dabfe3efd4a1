package api

import (
	"encoding/json"
	"sort"
	"strconv"

	"github.com/ehcledger/ehcledger/projections"
)

// Small numbers are suppressed in the figures an inspector reads, as the
// Department for Education does in its published statistics: a count from 1
// to 4 of an LA's children could point at a child. An LA's own managers see
// the exact figures: they may see the cases themselves.
//
// Within one table (a total and the LAs it adds up) a hidden count must not
// be worked out by subtraction, so suppression is in two steps, as in the
// Government Statistical Service's guidance on disclosure control:
//
//   - primary: a count from 1 to 4 in any row, the total's included, is
//     shown as "<5";
//   - secondary: where only one LA's count in a column is hidden, the
//     smallest other LA count of that column is hidden too, shown as "c"
//     (or, with no other LA in the table, the total's), so that the total
//     less the counts shown is the sum of at least two hidden counts.
//
// A rate or a weeks figure is left out (null) when a count it rests on is
// hidden, or when it rests on fewer than five cases: otherwise the rate and
// one count would give the other. Tables of different periods or LAs are
// not suppressed against each other: see docs/security.md.

// smallest is the least count shown as it is.
const smallest = 5

// small and confidential are what a hidden count is shown as.
const (
	small        = "<5"
	confidential = "c"
)

// rateParts names the counts each rate or weeks figure rests on: the count
// of cases it is over first.
func rateParts() map[string][]string {
	return map[string][]string{
		"share_within_20_weeks":                      {"plans_issued", "within_20_weeks"},
		"share_within_20_weeks_excluding_exceptions": {"plans_excluding_exceptions", "within_20_weeks_excluding_exceptions"},
		"median_weeks_to_plan":                       {"plans_issued"},
		"p90_weeks_to_plan":                          {"plans_issued"},
		"appeals_per_appealable_decision":            {"appealable_decisions", "appeals_lodged"},
		"share_annual_reviews_on_time":               {"annual_reviews_due", "annual_reviews_on_time"},
	}
}

// cell names one count of a row: a top-level figure, or one entry of a
// figure broken down (breaches by stage).
type cell struct{ figure, entry string }

// raw returns the cell's value in a row: a number, a string when hidden,
// nil when the row has no such count.
func (c cell) raw(row map[string]any) any {
	v := row[c.figure]
	if c.entry != "" {
		m, _ := v.(map[string]any)
		v = m[c.entry]
	}
	return v
}

// get returns the cell's value in a row, and whether it is a number shown.
func (c cell) get(row map[string]any) (float64, bool) {
	f, ok := c.raw(row).(float64)
	return f, ok
}

// set replaces the cell's value in a row.
func (c cell) set(row map[string]any, v any) {
	if c.entry == "" {
		row[c.figure] = v
		return
	}
	row[c.figure].(map[string]any)[c.entry] = v
}

// publishTable returns a table's rows as an inspector reads them. With total
// set, rows[0] is the total of the others.
func publishTable(rows []projections.Stats, total bool) ([]map[string]any, error) {
	out, err := exactRows(rows)
	if err != nil {
		return nil, err
	}
	rates := rateParts()
	cells := countCells(out, rates)
	for _, m := range out {
		for _, c := range cells {
			if v, ok := c.get(m); ok && v > 0 && v < smallest {
				c.set(m, small)
			}
		}
	}
	if total && len(out) > 1 {
		for _, c := range cells {
			secondary(out[0], out[1:], c)
		}
	}
	for _, m := range out {
		for rate, parts := range rates {
			for _, p := range parts {
				if v, ok := (cell{figure: p}).get(m); !ok || (p == parts[0] && v > 0 && v < smallest) {
					m[rate] = nil
				}
			}
		}
		m["small_numbers_suppressed"] = true
	}
	return out, nil
}

// countCells lists every count of the table's rows (every number that is
// not a rate), in a fixed order.
func countCells(rows []map[string]any, rates map[string][]string) []cell {
	seen := map[cell]bool{}
	for _, m := range rows {
		for k, v := range m {
			switch x := v.(type) {
			case float64:
				if _, rate := rates[k]; !rate {
					seen[cell{figure: k}] = true
				}
			case map[string]any:
				for kk, vv := range x {
					if _, ok := vv.(float64); ok {
						seen[cell{figure: k, entry: kk}] = true
					}
				}
			}
		}
	}
	out := make([]cell, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].figure != out[j].figure {
			return out[i].figure < out[j].figure
		}
		return out[i].entry < out[j].entry
	})
	return out
}

// secondary hides a second LA count of one column when only one is hidden
// and the total is shown, so that no hidden count is the total less the
// counts shown.
func secondary(total map[string]any, las []map[string]any, c cell) {
	if _, shown := c.get(total); !shown {
		return
	}
	hidden, pick := 0, -1
	var least float64
	for i, m := range las {
		v, shown := c.get(m)
		if !shown {
			if _, isHidden := c.raw(m).(string); isHidden {
				hidden++
			}
			continue
		}
		// The smallest count shown goes, a zero last: hiding a zero hides
		// less, but still leaves two unknowns.
		if pick < 0 || better(v, least) {
			pick, least = i, v
		}
	}
	if hidden != 1 {
		return
	}
	if pick >= 0 {
		c.set(las[pick], confidential)
		return
	}
	c.set(total, confidential)
}

// better reports whether count a is a better second count to hide than b:
// the smaller, a zero only when nothing else is left.
func better(a, b float64) bool {
	if (a == 0) != (b == 0) {
		return b == 0
	}
	return a < b
}

// exactRows is the rows' JSON values without suppression.
func exactRows(rows []projections.Stats) ([]map[string]any, error) {
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		m, err := exactRow(r)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// exactRow is a row's JSON values without suppression.
func exactRow(st projections.Stats) (map[string]any, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// shownCount formats a count as a page shows it: a number, or how it is
// hidden.
func shownCount(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		return x
	}
	return "not shown"
}
