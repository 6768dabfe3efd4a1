package api

import (
	"encoding/json"
	"strconv"

	"github.com/ehcledger/ehcledger/projections"
)

// Small numbers are suppressed in the figures an inspector reads, as the
// Department for Education does in its published statistics: a count from 1
// to 4 of an LA's children could point at a child. A count is shown as
// "<5", and a rate or a weeks figure resting on fewer than five cases is
// left out (null). An LA's own managers see the exact figures: they may see
// the cases themselves.

// smallest is the least count shown as it is.
const smallest = 5

// rateBase names each rate or weeks figure with the count it rests on.
func rateBase() map[string]string {
	return map[string]string{
		"share_within_20_weeks":                      "plans_issued",
		"share_within_20_weeks_excluding_exceptions": "plans_excluding_exceptions",
		"median_weeks_to_plan":                       "plans_issued",
		"p90_weeks_to_plan":                          "plans_issued",
		"appeals_per_appealable_decision":            "appealable_decisions",
		"share_annual_reviews_on_time":               "annual_reviews_due",
	}
}

// publish returns the figures with small numbers suppressed, as JSON values.
func publish(st projections.Stats) (map[string]any, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	rates := rateBase()
	base := map[string]float64{}
	for _, name := range rates {
		if v, ok := m[name].(float64); ok {
			base[name] = v
		}
	}
	for k, v := range m {
		switch x := v.(type) {
		case float64:
			if b, ok := rates[k]; ok {
				if n := base[b]; n > 0 && n < smallest {
					m[k] = nil
				}
				continue
			}
			m[k] = suppressCount(x)
		case map[string]any:
			for kk, vv := range x {
				if f, ok := vv.(float64); ok {
					x[kk] = suppressCount(f)
				}
			}
		}
	}
	m["small_numbers_suppressed"] = true
	return m, nil
}

// suppressCount shows a count from 1 to 4 as "<5".
func suppressCount(n float64) any {
	if n > 0 && n < smallest {
		return "<" + strconv.Itoa(smallest)
	}
	return n
}

// publishAll suppresses small numbers in every row.
func publishAll(rows []projections.Stats) ([]map[string]any, error) {
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		m, err := publish(r)
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}
