package domain

import (
	"encoding/json"
	"testing"
)

// stored builds a case's stored history from (date, command, data) triples.
func stored(t *testing.T, steps ...[3]string) []Step {
	t.Helper()
	rb, _ := LookupRulebook(DefaultRulebook)
	c := &Case{}
	var out []Step
	for _, s := range steps {
		var raw json.RawMessage
		if s[2] != "" {
			raw = json.RawMessage(s[2])
		}
		evs, err := c.Decide(Command{Name: s[1], On: d(s[0]), Data: raw}, rb)
		if err != nil {
			t.Fatalf("%s: %v", s[1], err)
		}
		for _, e := range evs {
			c.Apply(e, d(s[0]))
			out = append(out, Step{Version: c.Version, On: d(s[0]), Event: e})
		}
	}
	return out
}

func currentLaw(Date) *Rulebook { rb, _ := LookupRulebook(DefaultRulebook); return rb }

func correct(t *testing.T, h []Step, on, data string) ([]Step, error) {
	t.Helper()
	fix, err := Correct(h, Command{Name: "correct_step", On: d(on), Data: json.RawMessage(data)}, currentLaw)
	if err != nil {
		return nil, err
	}
	return append(h, Step{Version: int64(len(h) + 1), On: d(on), Event: fix}), nil
}

func clocksOf(t *testing.T, h []Step, asOf string) map[string]ClockRow {
	t.Helper()
	eff, err := Effective(h, currentLaw)
	if err != nil {
		t.Fatal(err)
	}
	var cc CaseClocks
	for _, s := range eff {
		cc.Apply(currentLaw(s.On), s.Event, s.On, NoHolidays{})
	}
	out := map[string]ClockRow{}
	for _, r := range cc.Rows("c1", d(asOf), nil) {
		out[r.Clock+"/"+r.Key] = r
	}
	return out
}

func TestCorrections(t *testing.T) {
	base := stored(t,
		[3]string{"2024-03-01", "receive_request", request},
		[3]string{"2024-04-20", "decide_to_assess", ""},
		[3]string{"2024-04-22", "request_advice", `{"advice":"health"}`},
	)
	t.Run("a corrected date changes the clock it stopped", func(t *testing.T) {
		h, err := correct(t, base, "2024-05-01", `{"version":2,"on":"2024-04-10","reason":"date mistyped from the decision letter"}`)
		if err != nil {
			t.Fatal(err)
		}
		if r := clocksOf(t, h, "2024-05-01")["decide_to_assess/"]; r.Status != StatusMet || r.Stopped != d("2024-04-10") {
			t.Fatalf("row %+v", r)
		}
		c, err := FoldHistory("c1", h, currentLaw)
		if err != nil || c.Version != 4 {
			t.Fatalf("fold: version %v, %v", c, err)
		}
	})
	t.Run("corrected data replaces the step's content", func(t *testing.T) {
		h, err := correct(t, base, "2024-05-01", `{"version":3,"data":{"advice":"educational_psychology"},"reason":"wrong advice kind"}`)
		if err != nil {
			t.Fatal(err)
		}
		rows := clocksOf(t, h, "2024-05-01")
		if _, ok := rows["advice/health"]; ok {
			t.Fatal("the corrected advice kind is still there")
		}
		if _, ok := rows["advice/educational_psychology"]; !ok {
			t.Fatal("the corrected advice kind is missing")
		}
	})
	t.Run("a void step disappears from the clocks but not from the history", func(t *testing.T) {
		h, err := correct(t, base, "2024-05-01", `{"version":3,"void":true,"reason":"recorded on the wrong case"}`)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := clocksOf(t, h, "2024-05-01")["advice/health"]; ok {
			t.Fatal("the void advice request still runs a clock")
		}
		if len(h) != 4 {
			t.Fatal("history lost a step")
		}
	})
	t.Run("a correction that breaks the history is rejected", func(t *testing.T) {
		withAdvice := stored(t,
			[3]string{"2024-03-01", "receive_request", request},
			[3]string{"2024-04-20", "decide_to_assess", ""},
			[3]string{"2024-04-22", "request_advice", `{"advice":"health"}`},
			[3]string{"2024-05-22", "receive_advice", `{"advice":"health"}`},
		)
		if _, err := correct(t, withAdvice, "2024-06-01", `{"version":3,"void":true,"reason":"x"}`); err == nil || ErrorCode(err) != Conflict {
			t.Fatalf("voiding a request whose answer is recorded gave %v", err)
		}
		if _, err := correct(t, withAdvice, "2024-06-01", `{"version":2,"on":"2024-02-01","reason":"x"}`); err == nil {
			t.Fatal("moving the decision before the request was accepted")
		}
	})
	t.Run("bad corrections name the field", func(t *testing.T) {
		for data, field := range map[string]string{
			`{"version":9,"on":"2024-04-10","reason":"x"}`: "data.version",
			`{"version":2,"on":"2024-04-10"}`:              "data.reason",
			`{"version":2,"reason":"x"}`:                   "data",
			`{"version":1,"void":true,"reason":"x"}`:       "data.void",
			`{"version":2,"on":"2024-06-10","reason":"x"}`: "data.on",
		} {
			_, err := correct(t, base, "2024-05-01", data)
			if e, ok := err.(*Error); !ok || e.Field != field {
				t.Errorf("%s: error %v, want field %s", data, err, field)
			}
		}
	})
}
