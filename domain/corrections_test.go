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

func TestCorrectingARequest(t *testing.T) {
	base := stored(t,
		[3]string{"2024-03-01", "receive_request", `{"requester":"parent","birth_date":"2015-05-01","forename":"Ann"}`},
		[3]string{"2024-04-01", "decide_to_assess", ""},
	)
	// As stored: the application sealed the details, so the domain sees
	// none in the clear.
	sealed := func() []Step {
		h := append([]Step(nil), base...)
		r := *h[0].Event.(*RequestReceived)
		r.Details, r.Personal = nil, []byte("sealed-original")
		h[0].Event = &r
		return h
	}
	t.Run("a corrected request date moves the clocks it starts", func(t *testing.T) {
		h, err := correct(t, sealed(), "2024-05-01", `{"version":1,"on":"2024-02-20","reason":"date stamp misread"}`)
		if err != nil {
			t.Fatal(err)
		}
		r := clocksOf(t, h, "2024-05-01")["decide_to_assess/"]
		if r.Started != d("2024-02-20") || r.Due != d("2024-04-02") {
			t.Fatalf("row %+v", r)
		}
		eff, err := Effective(h, currentLaw)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(eff[0].Event.(*RequestReceived).Personal); got != "sealed-original" {
			t.Fatalf("the corrected request lost its sealed details: %q", got)
		}
	})
	t.Run("a request date that makes the person 25 is refused", func(t *testing.T) {
		old := stored(t, [3]string{"2024-03-01", "receive_request", `{"requester":"parent","birth_date":"1999-03-02"}`})
		_, err := correct(t, old, "2024-05-01", `{"version":1,"on":"2024-03-02","reason":"x"}`)
		if e, ok := err.(*Error); !ok || e.Field != "data.on" {
			t.Fatalf("error %v, want one naming data.on", err)
		}
	})
	t.Run("corrected personal details travel beside the data, never in it", func(t *testing.T) {
		h, err := correct(t, sealed(), "2024-05-01", `{"version":1,"data":{"requester":"young_person","forename":"Anne","birth_date":"2008-05-01"},"reason":"name misspelt"}`)
		if err != nil {
			t.Fatal(err)
		}
		fix := h[len(h)-1].Event.(*StepCorrected)
		if fix.Details == nil || fix.Details.Forename != "Anne" || fix.Details.BirthDate != d("2008-05-01") {
			t.Fatalf("details %+v", fix.Details)
		}
		if string(fix.Data) != `{"requester":"young_person"}` {
			t.Fatalf("the stored data holds %s", fix.Data)
		}
		fix.Personal, fix.Details = []byte("sealed-correction"), nil // as the application stores it
		eff, err := Effective(h, currentLaw)
		if err != nil {
			t.Fatal(err)
		}
		r := eff[0].Event.(*RequestReceived)
		if r.Requester != "young_person" || string(r.Personal) != "sealed-correction" {
			t.Fatalf("effective request %+v", r)
		}
	})
	t.Run("corrected data without details keeps the request's own", func(t *testing.T) {
		h, err := correct(t, sealed(), "2024-05-01", `{"version":1,"data":{"requester":"school","school":"S1"},"reason":"the school asked"}`)
		if err != nil {
			t.Fatal(err)
		}
		eff, err := Effective(h, currentLaw)
		if err != nil {
			t.Fatal(err)
		}
		if r := eff[0].Event.(*RequestReceived); r.Requester != "school" || string(r.Personal) != "sealed-original" {
			t.Fatalf("effective request %+v", r)
		}
	})
	t.Run("bad request data names the field inside the correction", func(t *testing.T) {
		for data, field := range map[string]string{
			`{"version":1,"data":{"requester":"parent","shcool":"S1"},"reason":"x"}`:             "data.data",
			`{"version":1,"data":{"requester":"parent","forename":"A"},"reason":"x"}`:            "data.data.birth_date",
			`{"version":1,"data":{"requester":"parent","birth_date":"1990-01-01"},"reason":"x"}`: "data.data.birth_date",
		} {
			_, err := correct(t, sealed(), "2024-05-01", data)
			if e, ok := err.(*Error); !ok || e.Field != field {
				t.Errorf("%s: error %v, want field %s", data, err, field)
			}
		}
	})
}

func TestCorrectionsCompose(t *testing.T) {
	base := stored(t,
		[3]string{"2024-03-01", "receive_request", request},
		[3]string{"2024-04-20", "decide_to_assess", ""},
		[3]string{"2024-04-22", "request_advice", `{"advice":"health"}`},
	)
	h, err := correct(t, base, "2024-05-01", `{"version":3,"data":{"advice":"educational_psychology"},"reason":"wrong advice kind"}`)
	if err != nil {
		t.Fatal(err)
	}
	if h, err = correct(t, h, "2024-05-02", `{"version":3,"on":"2024-04-23","reason":"and the wrong day"}`); err != nil {
		t.Fatal(err)
	}
	t.Run("a later date correction keeps the earlier data correction", func(t *testing.T) {
		r, ok := clocksOf(t, h, "2024-05-02")["advice/educational_psychology"]
		if !ok || r.Started != d("2024-04-23") {
			t.Fatalf("rows %v", clocksOf(t, h, "2024-05-02"))
		}
	})
	t.Run("a void step comes back with a later correction's date", func(t *testing.T) {
		v, err := correct(t, h, "2024-05-03", `{"version":3,"void":true,"reason":"recorded on the wrong case"}`)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := clocksOf(t, v, "2024-05-03")["advice/educational_psychology"]; ok {
			t.Fatal("the void step still runs a clock")
		}
		back, err := correct(t, v, "2024-05-04", `{"version":3,"on":"2024-04-24","reason":"it was this case after all"}`)
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := clocksOf(t, back, "2024-05-04")["advice/health"]; !ok || r.Started != d("2024-04-24") {
			t.Fatalf("rows %v", clocksOf(t, back, "2024-05-04"))
		}
	})
}
