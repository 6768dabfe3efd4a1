package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/ehcledger/ehcledger/sen2"
)

// SEN2Import says what return to import: its bytes (read already, so that
// its hash names what was imported), its file name, and the LA.
type SEN2Import struct {
	LA     string
	Name   string
	Data   []byte
	Actor  string
	Record func(cases []string) error
	// Progress, when set, is told after each case is recorded how many of
	// the new cases are.
	Progress func(done, total int)
}

// SEN2Imported says what an import did.
type SEN2Imported struct {
	// Cases are the cases made; Already those an earlier import of the
	// same requests made, left as they are.
	Cases, Already []string
}

// ImportFailure is a request of the file that cannot be imported.
type ImportFailure struct {
	Person, Request int
	Message         string
}

// ImportFailures are every request that cannot be imported: none is.
type ImportFailures []ImportFailure

func (f ImportFailures) Error() string {
	var b strings.Builder
	for i, x := range f {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "person %d, request %d: %s", x.Person, x.Request, x.Message)
	}
	return b.String()
}

// ImportSEN2 turns an LA's earlier SEN2 return into cases (an LA with no
// DfE number recorded takes the file's): each request a
// case, its steps those the return gives with their dates, then a
// history_imported event with its source (file, hash, person, request),
// the census date through which the previous system judged the clocks,
// and the items the return gives without dates. The file is checked whole
// first: a failure anywhere imports nothing. A request already imported
// (its case ID is made from the LA, the person and the request's date)
// is left as it is, so importing a file twice changes nothing.
func (l *Ledger) ImportSEN2(ctx context.Context, in SEN2Import) (SEN2Imported, error) {
	m, err := sen2.Read(bytes.NewReader(in.Data))
	if err != nil {
		return SEN2Imported{}, err
	}
	year, err := strconv.Atoi(m.Header.Year)
	if err != nil {
		return SEN2Imported{}, domain.FieldErrorf("file", "its header gives no collection year")
	}
	coll, err := sen2.Lookup(year)
	if err != nil {
		return SEN2Imported{}, err
	}
	settings, err := l.laSettings(ctx, in.LA, time.Time{})
	if err != nil {
		return SEN2Imported{}, err
	}
	var bad ImportFailures
	for _, f := range sen2.Validate(m, coll) {
		if !f.Unconfirmed {
			bad = append(bad, ImportFailure{Person: f.Person, Request: f.Request, Message: f.Item + ": " + f.Message})
		}
	}
	if len(bad) > 0 {
		return SEN2Imported{}, bad
	}
	// The header is well formed now: its LA number is three digits.
	if settings.dfeNumber != "" && settings.dfeNumber != m.Header.LEA {
		return SEN2Imported{}, domain.Errorf(domain.Conflict, "the file is the return of LA %s, and %s is LA %s", m.Header.LEA, in.LA, settings.dfeNumber)
	}
	if settings.dfeNumber == "" {
		if other, err := l.laNumbered(ctx, m.Header.LEA); err != nil {
			return SEN2Imported{}, err
		} else if other != "" && other != in.LA {
			return SEN2Imported{}, domain.Errorf(domain.Conflict, "the file is the return of LA %s, which is %s's number, not %s's: check --la", m.Header.LEA, other, in.LA)
		}
	}
	in.Name = cleanName(in.Name)
	sum := sha256.Sum256(in.Data)
	hash := hex.EncodeToString(sum[:])
	type imported struct {
		id     string
		events []domain.Event
		on     []domain.Date
	}
	var cases []imported
	where := map[string]string{} // case ID: the request it was made for
	for i, p := range m.Persons {
		for j, r := range p.Requests {
			imp := importer{l: l, c: coll, la: in.LA, person: p, req: r}
			id := importID(m.Header.LEA, p, r)
			if first, dup := where[id]; dup {
				bad = append(bad, ImportFailure{Person: i + 1, Request: j + 1, Message: "the same child and date of request as " + first + ": one request, given twice"})
				continue
			}
			where[id] = fmt.Sprintf("person %d, request %d", i+1, j+1)
			evs, ons, err := imp.steps(ctx, id, domain.HistoryImported{Source: in.Name, SHA256: hash, Person: i + 1, Request: j + 1, Through: coll.ReferenceDate})
			if err != nil {
				bad = append(bad, ImportFailure{Person: i + 1, Request: j + 1, Message: err.Error()})
				continue
			}
			cases = append(cases, imported{id, evs, ons})
		}
	}
	if len(bad) > 0 {
		return SEN2Imported{}, bad
	}
	var out SEN2Imported
	var fresh []imported
	for _, c := range cases {
		evs, err := l.Store.ReadStream(ctx, domain.CaseStream(c.id), 1)
		if err != nil {
			return SEN2Imported{}, &domain.Error{Code: domain.Internal, Message: "could not read the case", Err: err}
		}
		if len(evs) > 0 {
			if evs[0].LA != in.LA {
				bad = append(bad, ImportFailure{Message: fmt.Sprintf("case %s is already a case of another LA (%s)", c.id, evs[0].LA)})
			}
			out.Already = append(out.Already, c.id)
			continue
		}
		fresh = append(fresh, c)
		out.Cases = append(out.Cases, c.id)
	}
	if len(bad) > 0 {
		return SEN2Imported{}, bad
	}
	// An LA starting with its return takes the file's DfE number as its
	// own, recorded as a step of its own; only a file found good gets here.
	if settings.dfeNumber == "" {
		if err := l.ExecuteLA(ctx, in.LA, cmd(domain.TypeDfENumberSet), coll.ReferenceDate, []byte(`{"number":"`+m.Header.LEA+`"}`), in.Actor); err != nil {
			return SEN2Imported{}, err
		}
	}
	if in.Record != nil && len(out.Cases) > 0 {
		if err := in.Record(out.Cases); err != nil {
			return SEN2Imported{}, err
		}
	}
	now := l.Now()
	for i, c := range fresh {
		if in.Progress != nil {
			in.Progress(i, len(fresh))
		}
		if err := Seal(l.Keys, c.id, c.events); err != nil {
			return out, err
		}
		var data []eventstore.EventData
		for k, e := range c.events {
			env, err := Envelope([]domain.Event{e}, Meta{On: c.on[k], RecordedAt: now, Actor: in.Actor, LA: in.LA,
				Correlation: "import:" + hash[:16], Causation: "import:" + hash[:16],
				Reason: fmt.Sprintf("imported from the SEN2 return %s (SHA-256 %s)", in.Name, hash[:16])})
			if err != nil {
				return out, err
			}
			data = append(data, env...)
		}
		// One append per case: a case is imported whole or not at all, and
		// a second import of it finds the stream and leaves it.
		if _, err := l.Store.Append(ctx, domain.CaseStream(c.id), eventstore.NoStream, data); err != nil {
			if errors.Is(err, eventstore.ErrWrongVersion) {
				continue // imported meanwhile: left as it is
			}
			return out, &domain.Error{Code: domain.Internal, Message: "could not record an imported case", Err: err}
		}
	}
	if in.Progress != nil {
		in.Progress(len(fresh), len(fresh))
	}
	return out, nil
}

// importID names the case of an imported request: from the LA's number,
// the child (UPN, or name and date of birth) and the request's date, so
// that the same request imported again is found.
func importID(lea string, p sen2.Person, r sen2.Request) string {
	who := p.UPN
	if who == "" {
		who = strings.Join([]string{strings.ToUpper(p.Surname), strings.ToUpper(p.Forename), p.PersonBirthDate, p.UniqueLearnerNumber}, "\x00")
	}
	sum := sha256.Sum256([]byte(lea + "\x00" + who + "\x00" + r.ReceivedDate))
	return "sen2-" + lea + "-" + hex.EncodeToString(sum[:8])
}

// importer turns one request of a return into a case's events.
type importer struct {
	l      *Ledger
	c      *sen2.Collection
	la     string
	person sen2.Person
	req    sen2.Request
}

// value is this system's value for a code of a list.
func (im *importer) value(list, code string) string {
	v, _ := im.c.Codes[list].Value(code)
	return v
}

// importedStep is one step of the imported case: its date, command and data.
type importedStep struct {
	on      string
	command string
	data    map[string]any
}

// steps decides the request's steps in date order, as a case of its own.
func (im *importer) steps(ctx context.Context, id string, closing domain.HistoryImported) ([]domain.Event, []domain.Date, error) {
	p, r := im.person, im.req
	opening := map[string]any{"requester": im.value("RequestSource", r.RequestSource), "birth_date": p.PersonBirthDate,
		"forename": p.Forename, "surname": p.Surname, "postcode": p.PostCode, "sex": im.value("Sex", p.Sex),
		"ethnicity": im.value("Ethnicity", p.Ethnicity), "upn": p.UPN, "uln": p.UniqueLearnerNumber,
		"upn_unknown": im.value("UPNunknown", p.UPNunknown), "in_youth_accommodation": r.RYA == "1"}
	if r.RequestSource == "" {
		opening["requester"] = "professional"
	}
	list := []importedStep{{r.ReceivedDate, domain.CommandReceiveRequest, opening}}
	add := func(on, command string, data map[string]any) { list = append(list, importedStep{on, command, data}) }
	var flags []string
	flag := func(item, v string) {
		if v == "1" {
			flags = append(flags, item)
		}
	}
	flag("RequestMediation", r.RequestMediation)
	flag("RequestTribunal", r.RequestTribunal)
	switch im.value("RequestOutcome", r.RequestOutcome) {
	case "assess":
		add(r.RequestOutcomeDate, cmd(domain.TypeAssessmentAgreed), nil)
	case "refuse":
		add(r.RequestOutcomeDate, cmd(domain.TypeAssessmentRefused), nil)
		if r.Assessment != nil {
			// Assessed after all (a tribunal's order): on a day the return
			// does not give, so on the refusal's.
			add(r.RequestOutcomeDate, cmd(domain.TypeAssessmentAgreed), nil)
		}
	case "withdrawn":
		add(r.RequestOutcomeDate, cmd(domain.TypeRequestWithdrawn), map[string]any{"by": "parent"})
	}
	if a := r.Assessment; a != nil {
		// In the return's order, as the flags are kept.
		flag("AssessmentMediation", a.AssessmentMediation)
		flag("AssessmentTribunal", a.AssessmentTribunal)
		flag("OtherMediation", a.OtherMediation)
		flag("OtherTribunal", a.OtherTribunal)
		flag("Week20", a.Week20)
		switch im.value("AssessmentOutcome", a.AssessmentOutcome) {
		case "issue":
			add(a.AssessmentOutcomeDate, cmd(domain.TypeFinalPlanIssued), map[string]any{"school": planSchool(a.NamedPlan)})
		case "not_issue":
			add(a.AssessmentOutcomeDate, cmd(domain.TypeDecidedNotToIssue), nil)
		case "withdrawn":
			add(a.AssessmentOutcomeDate, cmd(domain.TypeRequestWithdrawn), map[string]any{"by": "parent"})
		}
		if np := a.NamedPlan; np != nil {
			im.planSteps(np, r.ActivePlans, add)
		}
	}
	if ap := r.ActivePlans; ap != nil {
		closing.TransferLA = ap.TransferLA
		if ap.ReviewMeeting != "" {
			add(ap.ReviewMeeting, cmd(domain.TypeReviewMeetingHeld), nil)
		}
		if ap.LastReview != "" && ap.ReviewOutcome != "" {
			add(ap.LastReview, cmd(domain.TypeReviewDecisionNotified), map[string]any{"decision": im.value("ReviewOutcome", ap.ReviewOutcome)})
		}
		if ap.ReviewDraft != "" {
			add(ap.ReviewDraft, cmd(domain.TypeAmendmentsProposed), nil)
		}
	}
	closing.Flags = flags
	// The steps in date order, as they happened; the same day keeps the
	// return's order (a decision before the plan it led to).
	slices.SortStableFunc(list, func(x, y importedStep) int { return strings.Compare(x.on, y.on) })
	c := &domain.Case{ID: id, LA: im.la}
	var evs []domain.Event
	var ons []domain.Date
	for _, s := range list {
		on, err := domain.ParseDate(s.on)
		if err != nil {
			return nil, nil, domain.Errorf(domain.Invalid, "%s: the date is not a date", s.command)
		}
		data, err := json.Marshal(dropEmpty(s.data))
		if err != nil {
			return nil, nil, err
		}
		if s.data == nil {
			data = nil
		}
		rb, err := im.l.rulebook(ctx, im.la, on)
		if err != nil {
			return nil, nil, err
		}
		got, err := domain.ImportStep(c, domain.Command{Name: s.command, On: on, Data: data, Holidays: im.l.Holidays}, rb)
		if err != nil {
			return nil, nil, refusal(s.command, err)
		}
		for _, e := range got {
			c.Apply(e, on)
			evs, ons = append(evs, e), append(ons, on)
		}
	}
	closed := closing
	evs, ons = append(evs, &closed), append(ons, closing.Through)
	return evs, ons, nil
}

// planSteps adds the plan's items: its settings and placements, needs,
// personal budget and end.
func (im *importer) planSteps(np *sen2.NamedPlan, ap *sen2.ActivePlans, add func(on, command string, data map[string]any)) {
	named := map[string]sen2.Setting{}
	for _, d := range np.PlanDetail {
		named[settingKey(d.Setting)] = d.Setting
	}
	placement := func(s sen2.Setting) map[string]any {
		d := map[string]any{"urn": s.URN, "ukprn": s.UKPRN, "setting": im.value("SENsetting", s.SENsetting),
			"setting_other": s.SENSettingOther, "sen_unit": s.SENunitIndicator == "1", "resourced_provision": s.ResourcedProvisionIndicator == "1"}
		if n, err := strconv.Atoi(s.PlacementRank); err == nil {
			d["rank"] = n
		}
		if _, ok := named[settingKey(s)]; ok {
			d["named_in_plan"] = true
		}
		if s.PlacementRank == "1" && d["named_in_plan"] == true {
			d["residential"], d["work_based"] = im.value("Residential", np.PlanRes), im.value("WBP", np.PlanWBP)
		}
		return d
	}
	attended := map[string]bool{}
	if ap != nil {
		for _, pd := range ap.PlacementDetail {
			d := placement(pd.Setting)
			if pd.Res != "" {
				d["residential"] = im.value("Residential", pd.Res)
			}
			if pd.WBP != "" {
				d["work_based"] = im.value("WBP", pd.WBP)
			}
			// A placement begun (or ended) before the request is recorded
			// on the request's day, with its own date beside it.
			entry := laterOf(pd.EntryDate, im.req.ReceivedDate)
			if entry != pd.EntryDate {
				d["from"] = pd.EntryDate
			}
			add(entry, cmd(domain.TypePlacementRecorded), d)
			if pd.LeavingDate != "" {
				end := map[string]any{"urn": pd.URN, "ukprn": pd.UKPRN, "setting": im.value("SENsetting", pd.SENsetting)}
				leaving := laterOf(pd.LeavingDate, entry)
				if leaving != pd.LeavingDate {
					end["until"] = pd.LeavingDate
				}
				add(leaving, cmd(domain.TypePlacementEnded), end)
			}
			attended[settingKey(pd.Setting)] = true
		}
		var needs map[string]any
		for _, n := range ap.SENneed {
			if needs == nil {
				needs = map[string]any{}
			}
			if n.SENtypeRank == "1" {
				needs["primary"] = im.value("SENtype", n.SENtype)
			} else {
				needs["secondary"] = im.value("SENtype", n.SENtype)
			}
		}
		if needs != nil {
			add(np.StartDate, cmd(domain.TypeSENNeedsRecorded), needs)
		}
	}
	// A setting the plan names but the return gives no placement for: from
	// the plan's date, the only one the return gives.
	for _, d := range np.PlanDetail {
		if !attended[settingKey(d.Setting)] {
			add(np.StartDate, cmd(domain.TypePlacementRecorded), placement(d.Setting))
		}
	}
	if np.PB != "" || np.OA != "" || np.DP != "" {
		budget := map[string]any{"taken_up": np.PB == "1", "organised_arrangements": np.OA == "1"}
		var areas []string
		for _, code := range strings.Fields(np.DP) {
			areas = append(areas, im.value("DP", code))
		}
		if len(areas) > 0 {
			budget["direct_payments"] = areas
		}
		add(np.StartDate, cmd(domain.TypePersonalBudgetRecorded), budget)
	}
	if np.CeaseDate != "" {
		add(np.CeaseDate, cmd(domain.TypePlanCeased), map[string]any{"ceased_because": im.value("CeaseReason", np.CeaseReason)})
	}
}

// refusal says why a step of an imported request is refused, naming the
// step and the item but never the value: the values are a child's
// personal details, and the failures are printed.
func refusal(command string, err error) error {
	var de *domain.Error
	if errors.As(err, &de) && de.Field != "" {
		return fmt.Errorf("%s: %s is refused (see the item in the file)", command, strings.TrimPrefix(de.Field, "data."))
	}
	if errors.As(err, &de) && de.Code == domain.Conflict {
		return fmt.Errorf("%s", domain.ErrorMessage(err)) // what must come first: no personal values
	}
	return fmt.Errorf("%s is refused", command)
}

// cleanName is a file's name fit to record: its base name, printable,
// at most 100 characters.
func cleanName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	if len(name) > 100 {
		name = name[:100]
	}
	if name == "" {
		name = "return.xml"
	}
	return name
}

// laNumbered is the LA that recorded a DfE number, "" when none did.
func (l *Ledger) laNumbered(ctx context.Context, number string) (string, error) {
	la := ""
	err := projections.ReadBatches(ctx, l.Store, 1, 5000, func(batch []eventstore.RecordedEvent) error {
		for _, e := range batch {
			if e.Type != domain.TypeDfENumberSet {
				continue
			}
			// Read as every event is, an older schema version upcast.
			if ev, err := domain.DecodeEvent(e.Type, e.SchemaVersion, e.Payload); err == nil {
				if d, ok := ev.(*domain.DfENumberSet); ok && d.Number == number {
					la = e.LA
				}
			}
		}
		return nil
	})
	return la, err
}

// cmd is the command that records an event: the import names steps by
// what they record, and the domain's catalog names the commands.
func cmd(eventType string) string { return domain.CommandForEvent(eventType) }

// laterOf is the later of two dates written YYYY-MM-DD.
func laterOf(a, b string) string {
	if a < b {
		return b
	}
	return a
}

// planSchool names the plan's main setting as the ledger's setting ID.
func planSchool(np *sen2.NamedPlan) string {
	if np != nil {
		for _, d := range np.PlanDetail {
			if d.PlacementRank == "1" {
				return strings.TrimPrefix(strings.ReplaceAll(settingKey(d.Setting), ":", "-"), "setting-")
			}
		}
	}
	return "unknown"
}

// settingKey is a setting's identity within a case, as the domain keys
// placements (the SEN2 setting code standing for the kind).
func settingKey(s sen2.Setting) string {
	return domain.Placement{URN: s.URN, UKPRN: s.UKPRN, Setting: s.SENsetting}.Key()
}

// dropEmpty leaves out the data's empty and false values, as a form does.
func dropEmpty(d map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range d {
		switch x := v.(type) {
		case string:
			if x == "" {
				continue
			}
		case bool:
			if !x {
				continue
			}
		}
		out[k] = v
	}
	return out
}
