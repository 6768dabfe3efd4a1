package domain_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/internal/randhist"
)

// FuzzCommandSequences feeds random command sequences to a case under either
// rulebook. Nothing may panic, and the accepted events, stored as JSON and
// read back, must rebuild the same case and the same clocks.
func FuzzCommandSequences(f *testing.F) {
	for _, seed := range []uint64{1, 2, 3, 42, 2014, 2023, 99991} {
		var b [9]byte
		binary.LittleEndian.PutUint64(b[:8], seed)
		b[8] = byte(seed % 2)
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 9 {
			return
		}
		r := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(in[:8]), 7))
		rbID := domain.DefaultRulebook
		if in[8]%2 == 1 {
			rbID = "reform-2023"
		}
		rb, err := domain.LookupRulebook(rbID)
		if err != nil {
			t.Fatal(err)
		}
		rules := func(domain.Date) *domain.Rulebook { return rb }
		c := &domain.Case{ID: "c1", LA: "E09000001"}
		var history []domain.Step
		on := domain.NewDate(2024, 1, 15)
		for _, s := range randhist.Sequence(r, 40) {
			on = on.AddDays(s.After)
			cmd := domain.Command{Name: s.Command, On: on, Data: s.Data, History: history, RulesAt: rules}
			if spec := domain.LookupCommand(s.Command); spec != nil && spec.IssuesSecret {
				cmd.SecretHash = fmt.Sprintf("%016x%016x%016x%016x", r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64())
			}
			var evs []domain.Event
			if evs, err = c.Decide(cmd, rb); err != nil {
				if domain.ErrorCode(err) == domain.Internal {
					t.Fatalf("%s gave an internal error: %v", s.Command, err)
				}
				continue
			}
			for _, e := range evs {
				sealTextsForTest(e)
				history = append(history, domain.Step{Version: int64(len(history) + 1), On: on, Event: e})
			}
			if c, err = domain.FoldHistory("c1", history, rules); err != nil {
				t.Fatalf("accepted history does not fold: %v", err)
			}
			if c.LA == "" {
				c.LA = "E09000001" // the application sets it from the envelope
			}
		}
		// Store and read back every event, as the event store would.
		var stored []domain.Step
		for _, s := range history {
			b, err := json.Marshal(s.Event)
			if err != nil {
				t.Fatal(err)
			}
			e, err := domain.DecodeEvent(s.Event.EventType(), s.Event.SchemaVersion(), b)
			if err != nil {
				t.Fatalf("stored %s does not decode: %v", s.Event.EventType(), err)
			}
			stored = append(stored, domain.Step{Version: s.Version, On: s.On, Event: e})
		}
		again, err := domain.FoldHistory("c1", stored, rules)
		if err != nil {
			t.Fatalf("replayed history does not fold: %v", err)
		}
		if again.LA == "" {
			again.LA = "E09000001"
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("replay changed the case:\n%+v\n%+v", c, again)
		}
		if a, b := clocks(t, history, rules), clocks(t, stored, rules); !reflect.DeepEqual(a, b) {
			t.Fatalf("replay changed the clocks:\n%v\n%v", a, b)
		}
	})
}

func clocks(t *testing.T, h []domain.Step, rules func(domain.Date) *domain.Rulebook) []domain.ClockRow {
	t.Helper()
	eff := h
	if domain.HasCorrections(h) {
		var err error
		if eff, err = domain.Effective(h, rules); err != nil {
			t.Fatal(err)
		}
	}
	var cc domain.CaseClocks
	for _, s := range eff {
		cc.Apply(rules(s.On), s.Event, s.On, domain.NoHolidays{})
	}
	return cc.Rows("c1", domain.NewDate(2027, 1, 1), nil)
}

// FuzzCommandData sends arbitrary JSON as the data of every command to cases
// at several stages. Nothing may panic; a refusal is always an invalid or
// conflict error naming what is wrong, never an internal one; and what is
// accepted must store as JSON and decode back to the same event.
func FuzzCommandData(f *testing.F) {
	for _, seed := range []string{`{}`, `null`, `[]`, `{"requester":"parent","birth_date":"2015-01-01"}`,
		`{"advice":"educational"}`, `{"school":"S1"}`, `{"decision":"amend"}`, `{"kind":"refusal_to_assess"}`,
		`{"version":1,"reason":"r","void":true}`, `{"birth_date":"2015-02-30"}`, `{"requester":7}`, `{"x":` + "\x00" + `}`} {
		for i := range domain.CommandNames() {
			f.Add(uint8(i), uint8(i*7), []byte(seed))
		}
	}
	rb, err := domain.LookupRulebook(domain.DefaultRulebook)
	if err != nil {
		f.Fatal(err)
	}
	rules := func(domain.Date) *domain.Rulebook { return rb }
	// Cases at a few stages, built through the domain.
	var stages [][]domain.Step
	var history []domain.Step
	on := domain.NewDate(2024, 1, 15)
	for _, s := range []struct{ cmd, data string }{{"receive_request", `{"requester":"parent","birth_date":"2015-01-01"}`},
		{"decide_to_assess", ``}, {"send_draft_plan", ``}, {"issue_final_plan", `{"school":"S1"}`}} {
		c, err := domain.FoldHistory("c1", history, rules)
		if err != nil {
			f.Fatal(err)
		}
		stages = append(stages, append([]domain.Step(nil), history...))
		evs, err := c.Decide(domain.Command{Name: s.cmd, On: on, Data: json.RawMessage(s.data)}, rb)
		if err != nil {
			f.Fatalf("%s: %v", s.cmd, err)
		}
		for _, e := range evs {
			history = append(history, domain.Step{Version: int64(len(history) + 1), On: on, Event: e})
		}
		on = on.AddDays(20)
	}
	stages = append(stages, history)
	names := domain.CommandNames(domain.ScopeCase)
	f.Fuzz(func(t *testing.T, which, stage uint8, data []byte) {
		h := stages[int(stage)%len(stages)]
		c, err := domain.FoldHistory("c1", h, rules)
		if err != nil {
			t.Fatal(err)
		}
		c.LA = "E09000001"
		cmd := domain.Command{Name: names[int(which)%len(names)], On: domain.NewDate(2024, 6, 1), Data: data, History: h, RulesAt: rules}
		evs, err := c.Decide(cmd, rb)
		checkRefusal(t, cmd.Name, err)
		for _, e := range evs {
			sealTextsForTest(e)
			if r, ok := e.(*domain.RequestReceived); ok && r.Details != nil {
				// The application seals the personal details; they travel
				// as their own JSON, and the rest of the event as usual.
				b, err := json.Marshal(r.Details)
				if err != nil {
					t.Fatal(err)
				}
				var back domain.PersonalDetails
				if err := json.Unmarshal(b, &back); err != nil || back != *r.Details {
					t.Fatalf("personal details changed on the way through sealing: %v", err)
				}
				sealed := *r
				sealed.Details, sealed.Personal = nil, []byte("sealed")
				e = &sealed
			}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("%s: accepted event does not store: %v", cmd.Name, err)
			}
			back, err := domain.DecodeEvent(e.EventType(), e.SchemaVersion(), b)
			if err != nil {
				t.Fatalf("%s: stored event does not decode: %v", cmd.Name, err)
			}
			if !reflect.DeepEqual(back, e) {
				t.Fatalf("%s: event changed on the way through storage:\n%#v\n%#v", cmd.Name, e, back)
			}
		}
	})
}

func checkRefusal(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if code := domain.ErrorCode(err); code != domain.Invalid && code != domain.Conflict && code != domain.NotFound {
		t.Fatalf("%s: refused with a %s error: %v", name, code, err)
	}
	if domain.ErrorMessage(err) == "" {
		t.Fatalf("%s: refused without saying why", name)
	}
}

// sealTextsForTest does to an event's free text what the application's
// sealing does (app.Seal): the text leaves the clear. The bytes stand for
// the sealed form; the domain never reads them.
func sealTextsForTest(e domain.Event) {
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			if t, ok := v.Addr().Interface().(*domain.Text); ok {
				if t.Plain != "" {
					t.Sealed, t.Plain = []byte(t.Plain), ""
				}
				return
			}
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		}
	}
	walk(reflect.ValueOf(e))
}
