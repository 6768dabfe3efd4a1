package domain

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestCatalogHoldsTogether walks the command table, the event table, the
// rulebooks' clocks and the vocabulary document against each other, so that
// a statutory step missing any of its parts fails here.
func TestCatalogHoldsTogether(t *testing.T) {
	emitted := map[string]bool{}
	names := map[string]bool{}
	for _, s := range Commands() {
		t.Run(s.Name, func(t *testing.T) {
			if names[s.Name] {
				t.Fatal("the command is in the table twice")
			}
			names[s.Name] = true
			if (s.decide == nil) == (s.decideLA == nil) || (s.Scope == ScopeLA) != (s.decideLA != nil) {
				t.Fatalf("scope %s needs exactly its kind of decision function", s.Scope)
			}
			if len(s.Emits) == 0 || len(s.Senders) == 0 || s.Summary == "" {
				t.Fatal("a command names its events, its senders and a summary")
			}
			for _, e := range s.Emits {
				if theCatalog().byType[e] == nil {
					t.Errorf("emits %q, which the event table lacks", e)
				}
				emitted[e] = true
			}
			for _, r := range s.Senders {
				if r != SenderCaseworker && r != SenderManager && r != SenderAdmin && r != SenderFamily && r != SenderProfessional {
					t.Errorf("unknown sender %q", r)
				}
			}
			if s.Data == nil {
				if s.Example != "" {
					t.Error("an example for a command without data")
				}
				return
			}
			if reflect.TypeOf(s.Data).Kind() != reflect.Struct {
				t.Fatalf("data %T is not a struct", s.Data)
			}
			if s.Example != "" {
				d := reflect.New(reflect.TypeOf(s.Data)).Interface()
				if err := DecodeData(json.RawMessage(s.Example), d); err != nil {
					t.Errorf("the example does not decode into %T: %v", s.Data, err)
				}
			}
		})
	}
	types := map[string]bool{}
	for _, e := range Events() {
		if types[e.Type] {
			t.Errorf("event %s is in the table twice", e.Type)
		}
		types[e.Type] = true
		ev := e.New()
		if ev.EventType() != e.Type {
			t.Errorf("event %s makes a %s", e.Type, ev.EventType())
		}
		for _, o := range e.Older {
			if o >= ev.SchemaVersion() {
				t.Errorf("event %s lists schema %d as older than %d", e.Type, o, ev.SchemaVersion())
			}
		}
		if e.System == emitted[e.Type] {
			t.Errorf("event %s: system %v, emitted by a command %v", e.Type, e.System, emitted[e.Type])
		}
	}
	owns := map[string]string{}
	for _, s := range Commands() {
		if other, ok := owns[s.Emits[0]]; ok {
			t.Errorf("commands %s and %s both have %s as their own event: a correction could not tell them apart", other, s.Name, s.Emits[0])
		}
		owns[s.Emits[0]] = s.Name
	}
	used := map[string]bool{}
	for _, id := range RulebookIDs() {
		rb, _ := LookupRulebook(id)
		for _, c := range rb.Clocks {
			for _, s := range c.Starts {
				if !emitted[s.Event] {
					t.Errorf("rulebook %s: clock %s starts on %s, which no command emits", id, c.Name, s.Event)
				}
				used[s.Event] = true
			}
			for _, ts := range [][]Target{c.Stops, c.Ends} {
				for _, x := range ts {
					used[x.Event] = true
				}
			}
			for _, x := range c.Extends {
				used[x.Event] = true
			}
			used[c.StartedBy] = true
			for _, er := range c.Exceptions {
				for _, via := range er.AskedBy {
					used[via] = true
				}
			}
		}
	}
	for _, e := range Events() {
		clockFree := e.System || e.NoClock
		if clockFree == used[e.Type] {
			t.Errorf("event %s: marked clock-free %v, yet a rulebook uses it %v", e.Type, clockFree, used[e.Type])
		}
	}
	doc, err := os.ReadFile("../docs/vocabulary.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Commands() {
		if !strings.Contains(string(doc), "| `"+s.Name+"` |") {
			t.Errorf("docs/vocabulary.md has no row for command %s", s.Name)
		}
	}
	for _, e := range Events() {
		if !e.System && !strings.Contains(string(doc), "`"+e.Type+"`") {
			t.Errorf("docs/vocabulary.md never names event %s", e.Type)
		}
	}
}

// TestEnumTagsAreWhatTheStepsAccept holds each enum tag of a command's data
// to its decision function: a value outside the tag is refused, naming the
// field, so the schema the API publishes from the tags cannot say otherwise.
func TestEnumTagsAreWhatTheStepsAccept(t *testing.T) {
	rb, _ := LookupRulebook("green-paper-2022") // every reform command is known to it
	for _, s := range Commands() {
		if s.Data == nil || s.Example == "" || s.Scope != ScopeCase {
			continue
		}
		typ := reflect.TypeOf(s.Data)
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if Enum(f) == nil {
				continue
			}
			name := jsonName(f)
			t.Run(s.Name+"."+name+" outside its enum is refused", func(t *testing.T) {
				var data map[string]any
				if err := json.Unmarshal([]byte(s.Example), &data); err != nil {
					t.Fatal(err)
				}
				if f.Type.Kind() == reflect.Slice {
					data[name] = []string{"not_a_value"}
				} else {
					data[name] = "not_a_value"
				}
				raw, _ := json.Marshal(data)
				c := &Case{}
				if !s.Opens {
					h := newHistory(t, "green-paper-2022").do("2024-03-01", "receive_request", request)
					c = h.c
				}
				_, err := c.Decide(Command{Name: s.Name, On: d("2024-06-01"), Data: raw}, rb)
				if e, ok := err.(*Error); !ok || e.Field != "data."+name {
					t.Fatalf("error %v, want one naming data.%s", err, name)
				}
			})
		}
	}
}

func TestSchoolAskedNamesTheSchoolOfEveryStepThatAsksOne(t *testing.T) {
	for want, e := range map[string]Event{
		"S1": &AdviceRequested{Advice: "education", School: "S1"},
		"S2": &SchoolInformationRequested{School: "S2"},
		"S3": &StepCorrected{Type: TypeAdviceRequested, Data: json.RawMessage(`{"advice":"education","school":"S3"}`)},
		"S4": &StepCorrected{Type: TypeSchoolInformationRequested, Data: json.RawMessage(`{"school":"S4"}`)},
		"":   &StepCorrected{Type: TypeAdviceRequested, On: d("2024-01-01")},
	} {
		if got := SchoolAsked(e); got != want {
			t.Errorf("%T %+v: %q, want %q", e, e, got, want)
		}
	}
}

// TestFreeTextIsSealedText holds every field of a command's data or an
// event that holds free text (a reason, evidence) to the Text type, which
// the application seals before it is stored.
func TestFreeTextIsSealedText(t *testing.T) {
	textType := reflect.TypeFor[Text]()
	var walk func(where string, typ reflect.Type)
	walk = func(where string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ == textType {
			return
		}
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name := jsonName(f)
			if (strings.HasSuffix(name, "reason") || name == "evidence") && f.Type != textType {
				t.Errorf("%s.%s holds free text as %s, not domain.Text: it would be stored in the clear", where, name, f.Type)
			}
			walk(where, f.Type)
		}
	}
	for _, s := range Commands() {
		if s.Data != nil {
			walk(s.Name, reflect.TypeOf(s.Data))
		}
	}
	for _, e := range Events() {
		walk(e.Type, reflect.TypeOf(e.New()))
	}
}
