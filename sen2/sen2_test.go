package sen2

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/domain"
)

func TestEveryCollectionIsReadAndItsCensusIsTheThirdThursdayOfJanuary(t *testing.T) {
	years := Years()
	if len(years) < 2 {
		t.Fatalf("collections: %v", years)
	}
	for _, y := range years {
		c, err := Lookup(y)
		if err != nil {
			t.Fatal(err)
		}
		yy, m, d := c.ReferenceDate.YMD()
		day := time.Date(yy, m, d, 0, 0, 0, 0, time.UTC)
		if yy != y || m != time.January || day.Weekday() != time.Thursday || d < 15 || d > 21 {
			t.Errorf("%d: the census date %s is not the third Thursday of January", y, c.ReferenceDate)
		}
		for name, l := range c.Codes {
			if l.Source == "" || len(l.Codes) == 0 {
				t.Errorf("%d: the list %s has no source or no codes", y, name)
			}
		}
	}
	if _, err := Lookup(1999); err == nil || domain.ErrorCode(err) != domain.Invalid {
		t.Errorf("an unknown year: %v", err)
	}
}

func TestACodeIsDfEsWhenConfirmedAndOursOtherwise(t *testing.T) {
	c, _ := Lookup(2026)
	if code, ok := c.Codes["CeaseReason"].Code("higher_education"); code != "3" || !ok {
		t.Errorf("a confirmed code: %q %v", code, ok)
	}
	if code, ok := c.Codes["RequestOutcome"].Code("assess"); code != "assess" || ok {
		t.Errorf("an unconfirmed code: %q %v", code, ok)
	}
	if v, ok := c.Codes["RequestSource"].Value("1"); v != "parent" || !ok {
		t.Errorf("the value of a code two values share: %q %v", v, ok)
	}
	if v, ok := c.Codes["RequestOutcome"].Value("assess"); v != "assess" || !ok {
		t.Errorf("the value written for an unknown code: %q %v", v, ok)
	}
}

// withOutcomeCodes is a collection as it will be once DfE's outcome codes
// are confirmed: stand-in codes, marked confirmed, so that a return can
// be ready.
func withOutcomeCodes(t *testing.T) *Collection {
	t.Helper()
	c, err := Lookup(2026)
	if err != nil {
		t.Fatal(err)
	}
	c.Codes["RequestOutcome"] = CodeList{Confirmed: true, Source: "test", Codes: map[string]string{"assess": "T1", "refuse": "T2", "withdrawn": "T3"}}
	c.Codes["AssessmentOutcome"] = CodeList{Confirmed: true, Source: "test", Codes: map[string]string{"issue": "T4", "not_issue": "T5", "withdrawn": "T6", "other_la": "S"}}
	return c
}

// good is a return with one person whose plan is in force: every item
// well formed, confirmed codes only.
func good() *Message {
	return &Message{
		Header: Header{Collection: "SEN2", Year: "2026", ReferenceDate: "2026-01-15", SourceLevel: "L", LEA: "201",
			SoftwareCode: "EHC Ledger", Release: "test", SerialNo: "1", DateTime: "2026-01-16T09:00:00"},
		Persons: []Person{{Surname: "Byrne", Forename: "Ada", PersonBirthDate: "2014-02-03", Sex: "F", Ethnicity: "WBRI", UPN: "B801200005001",
			Requests: []Request{{ReceivedDate: "2025-01-06", RequestSource: "1", RYA: "0", RequestMediation: "0", RequestTribunal: "0",
				RequestOutcome: "T1", RequestOutcomeDate: "2025-02-10",
				Assessment: &Assessment{Week20: "0", AssessmentOutcome: "T4", AssessmentOutcomeDate: "2025-05-12",
					NamedPlan: &NamedPlan{StartDate: "2025-05-12", PB: "1",
						PlanDetail: []PlanDetail{{Setting{URN: "100000", PlacementRank: "1", SENunitIndicator: "1", ResourcedProvisionIndicator: "0"}}}}},
				ActivePlans: &ActivePlans{ReviewMeeting: "2025-12-01", ReviewOutcome: "M", LastReview: "2025-12-10",
					PlacementDetail: []PlacementDetail{{Setting: Setting{SENsetting: "EHE", PlacementRank: "1"}, EntryDate: "2025-05-19"}},
					SENneed:         []SENneed{{SENtype: "ASD", SENtypeRank: "1"}, {SENtype: "SLCN", SENtypeRank: "2"}}}}}}},
	}
}

func TestAReturnIsWrittenAndReadBackAsItWas(t *testing.T) {
	m := good()
	var b bytes.Buffer
	if err := m.Write(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "<Persons>\n    <Person>") || !strings.Contains(b.String(), "<LEA>201</LEA>") || strings.Contains(b.String(), "<RequestOutcome></RequestOutcome>") || strings.Contains(b.String(), "<Exported>") {
		t.Fatalf("the XML:\n%s", b.String())
	}
	back, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := back.Write(&again); err != nil {
		t.Fatal(err)
	}
	var first bytes.Buffer
	m.Write(&first)
	if again.String() != first.String() {
		t.Fatalf("read back differently:\n%s\n----\n%s", first.String(), again.String())
	}
}

func TestAHostileFileIsRefused(t *testing.T) {
	for name, doc := range map[string]string{
		"an entity":  `<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x "boom">]><Message><Header/><Persons><Person><Surname>&x;</Surname></Person></Persons></Message>`,
		"not SEN2":   `<Other/>`,
		"not XML":    `Surname,Forename`,
		"unfinished": `<Message><Persons>`,
	} {
		if _, err := Read(strings.NewReader(doc)); err == nil {
			t.Errorf("%s was read", name)
		}
	}
}

func TestValidationNamesEachFailureWithThePersonAndItem(t *testing.T) {
	c := withOutcomeCodes(t)
	if f := Validate(good(), c); len(f) != 0 {
		t.Fatalf("a good return fails: %v", f)
	}
	cases := []struct {
		name string
		edit func(m *Message)
		want string
	}{
		{"wrong census date", func(m *Message) { m.Header.ReferenceDate = "2026-01-01" }, "header: ReferenceDate"},
		{"an ONS code for the LA", func(m *Message) { m.Header.LEA = "E09000001" }, "header: LEA"},
		{"a UPN's check letter", func(m *Message) { m.Persons[0].UPN = "A801200005001" }, "person 1: UPN: the check letter is wrong"},
		{"no UPN and no reason", func(m *Message) { m.Persons[0].UPN = "" }, "person 1: UPN: there is no UPN"},
		{"an outcome without its date", func(m *Message) { m.Persons[0].Requests[0].RequestOutcomeDate = "" }, "person 1, request 1: RequestOutcomeDate"},
		{"a code of no list", func(m *Message) { m.Persons[0].Ethnicity = "XXXX" }, "person 1: Ethnicity: is not a code of the Ethnicity list"},
		{"a cease date without its reason", func(m *Message) { m.Persons[0].Requests[0].Assessment.NamedPlan.CeaseDate = "2025-12-31" }, "CeaseReason"},
		{"dates out of order", func(m *Message) {
			m.Persons[0].Requests[0].Assessment.NamedPlan.CeaseDate, m.Persons[0].Requests[0].Assessment.NamedPlan.CeaseReason = "2025-01-01", "3"
		}, "CeaseDate: is before StartDate"},
		{"two primary needs", func(m *Message) { m.Persons[0].Requests[0].ActivePlans.SENneed[1].SENtypeRank = "1" }, "two needs have rank 1"},
		{"an active plan without its need", func(m *Message) { m.Persons[0].Requests[0].ActivePlans.SENneed = nil }, "SENneed: an active plan needs its primary need"},
		{"a review decided after the census", func(m *Message) { m.Persons[0].Requests[0].ActivePlans.LastReview = "2026-02-01" }, "LastReview: 2026-02-01 is after the census date"},
		{"two settings of one rank in the plan", func(m *Message) {
			p := m.Persons[0].Requests[0].Assessment.NamedPlan
			p.PlanDetail = append(p.PlanDetail, PlanDetail{Setting{URN: "100001", PlacementRank: "1", SENunitIndicator: "0", ResourcedProvisionIndicator: "0"}})
		}, "the plan names two settings of rank 1"},
		{"a birth date that is not a date, not quoted", func(m *Message) { m.Persons[0].PersonBirthDate = "2014-13-45" }, "person 1: PersonBirthDate: is not a date (YYYY-MM-DD)"},
		{"a setting twice identified", func(m *Message) { m.Persons[0].Requests[0].Assessment.NamedPlan.PlanDetail[0].UKPRN = "10012345" }, "PlanDetail: gives 2 of URN"},
		{"a 2026 request without its source", func(m *Message) { m.Persons[0].Requests[0].RequestSource = "" }, "RequestSource: is required from 2026"},
	}
	t.Run("a code this collection has not confirmed keeps the return from being ready", func(t *testing.T) {
		real, _ := Lookup(2026)
		m := good()
		m.Persons[0].Requests[0].RequestOutcome = "assess"
		var all []string
		for _, f := range Validate(m, real) {
			all = append(all, f.String())
		}
		if !strings.Contains(strings.Join(all, "\n"), `person 1, request 1: RequestOutcome: "assess" has no DfE code yet`) {
			t.Fatalf("got:\n%s", strings.Join(all, "\n"))
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.edit(m)
			var all []string
			for _, f := range Validate(m, c) {
				all = append(all, f.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Fatalf("want %q among:\n%s", tc.want, strings.Join(all, "\n"))
			}
		})
	}
}
