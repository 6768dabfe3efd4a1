package domain

import "slices"

// The items of the SEN2 return that no statutory step records: where the
// child or young person is placed, their special educational needs, and
// the personal budget of their plan. Each is a step of its own, recorded
// when the LA learns it and corrected like any other (correct_step); none
// starts or stops a clock. docs/sen2.md says which item of the return each
// fills.

// Event types of the return's items.
const (
	TypePlacementRecorded      = "placement_recorded"
	TypePlacementEnded         = "placement_ended"
	TypeSENNeedsRecorded       = "sen_needs_recorded"
	TypePersonalBudgetRecorded = "personal_budget_recorded"
)

// Placement identifies a setting the child or young person attends or is
// named in their plan: by its URN (a school or early-years provider in Get
// Information about Schools), its UKPRN (a college or other provider), or,
// when it has neither, the kind of arrangement (SEN2's setting codes:
// arrangements by another LA or by the parents, elective home education, an
// early-years provider without a URN, not in education, and other).
type Placement struct {
	URN     string `json:"urn,omitempty" label:"URN" hint:"the 6-digit number in Get Information about Schools"`
	UKPRN   string `json:"ukprn,omitempty" label:"UKPRN" hint:"a college's or provider's 8-digit number"`
	Setting string `json:"setting,omitempty" hint:"only for a setting with neither number" enum:"other_la_arrangements,parent_arrangements,elective_home_education,early_years_provider,neet,not_in_education_cease_notice,not_in_education_other,other"`
}

// Key is the placement's identity within a case: one of its three
// identifiers, with the kind so that a URN never equals a UKPRN.
func (p Placement) Key() string {
	switch {
	case p.URN != "":
		return "urn:" + p.URN
	case p.UKPRN != "":
		return "ukprn:" + p.UKPRN
	}
	return "setting:" + p.Setting
}

// check says a placement names exactly one well-formed identifier.
func (p Placement) check() error {
	n := 0
	for _, v := range []string{p.URN, p.UKPRN, p.Setting} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return FieldErrorf("data.urn", "give one of urn, ukprn or setting (for a setting with neither number)")
	}
	if p.URN != "" {
		return CheckURN("data.urn", p.URN)
	}
	if p.UKPRN != "" {
		return CheckUKPRN("data.ukprn", p.UKPRN)
	}
	return checkEnums(&p)
}

// PlacementRecorded records that the child or young person started at a
// setting on the step's date (SEN2 placement detail: entry date), or that
// a setting is named in their plan (plan detail).
type PlacementRecorded struct {
	Placement
	// SettingOther describes an "other" setting or arrangement in words.
	SettingOther Text `json:"setting_other" form:"line" label:"What the setting is" hint:"for a setting of kind other"`
	// Rank is 1 for the main placement, 2 for a second one.
	Rank int `json:"rank" hint:"1 for the main placement, 2 for a second one"`
	// NamedInPlan says the setting is named in the plan (SEN2 plan detail)
	// as well as attended.
	NamedInPlan bool `json:"named_in_plan,omitempty" label:"The plan names this setting"`
	// SENUnit and ResourcedProvision say the place is in a school's SEN
	// unit or resourced provision.
	SENUnit            bool `json:"sen_unit,omitempty" label:"In the school's SEN unit"`
	ResourcedProvision bool `json:"resourced_provision,omitempty" label:"In the school's resourced provision"`
	// Residential is the residential band: A (up to 38 weeks a year) or B
	// (39 to 52 weeks), as the census's codes define them since 2025.
	Residential string `json:"residential,omitempty" enum:"A,B" hint:"A up to 38 weeks a year, B 39 to 52 weeks"`
	// From is the day the child started, when before the step's date (a
	// placement the LA learns of late, or one imported from a return that
	// began before the request): the return's entry date.
	From Date `json:"from,omitempty" hint:"the day the child started, when before the date of this step"`
	// WorkBased is the work-based learning the placement is, if any.
	WorkBased string `json:"work_based,omitempty" enum:"apprenticeship,supported_internship,traineeship"`
}

// EventType implements Event.
func (PlacementRecorded) EventType() string { return TypePlacementRecorded }

// SchemaVersion implements Event.
func (PlacementRecorded) SchemaVersion() int { return 1 }

// Attr implements Event: the placement's key.
func (e PlacementRecorded) Attr(n string) string {
	if n == "placement" {
		return e.Key()
	}
	return ""
}

// PlacementEnded records that the child or young person left a setting on
// the step's date (SEN2 placement detail: leaving date).
type PlacementEnded struct {
	Placement
	// Until is the day the child left, when before the step's date.
	Until Date `json:"until,omitempty" hint:"the day the child left, when before the date of this step"`
}

// EventType implements Event.
func (PlacementEnded) EventType() string { return TypePlacementEnded }

// SchemaVersion implements Event.
func (PlacementEnded) SchemaVersion() int { return 1 }

// Attr implements Event: the placement's key.
func (e PlacementEnded) Attr(n string) string {
	if n == "placement" {
		return e.Key()
	}
	return ""
}

// SENNeedsRecorded records the child or young person's primary and (if
// any) secondary type of special educational need, as assessed, in the
// school census's codes (DS, Down syndrome, since 2025); a later record
// replaces it.
type SENNeedsRecorded struct {
	Primary   string `json:"primary" label:"Primary need" enum:"SPLD,MLD,SLD,PMLD,SEMH,SLCN,HI,VI,MSI,PD,ASD,DS,OTH"`
	Secondary string `json:"secondary,omitempty" label:"Secondary need" enum:"SPLD,MLD,SLD,PMLD,SEMH,SLCN,HI,VI,MSI,PD,ASD,DS,OTH"`
}

// EventType implements Event.
func (SENNeedsRecorded) EventType() string { return TypeSENNeedsRecorded }

// SchemaVersion implements Event.
func (SENNeedsRecorded) SchemaVersion() int { return 1 }

// Attr implements Event: the primary need.
func (e SENNeedsRecorded) Attr(n string) string {
	if n == "primary" {
		return e.Primary
	}
	return ""
}

// PersonalBudgetRecorded records the personal budget of the plan (s49;
// the Personal Budgets Regulations 2014): whether one was taken up, held
// as organised arrangements, and in which areas as direct payments.
type PersonalBudgetRecorded struct {
	TakenUp               bool     `json:"taken_up" label:"A personal budget is taken up"`
	OrganisedArrangements bool     `json:"organised_arrangements,omitempty" label:"Held as organised arrangements"`
	DirectPayments        []string `json:"direct_payments,omitempty" label:"Direct payments for" enum:"education,health,social_care"`
}

// EventType implements Event.
func (PersonalBudgetRecorded) EventType() string { return TypePersonalBudgetRecorded }

// SchemaVersion implements Event.
func (PersonalBudgetRecorded) SchemaVersion() int { return 1 }

// Attr implements Event.
func (PersonalBudgetRecorded) Attr(string) string { return "" }

// recordPlacement decides record_placement.
func recordPlacement(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d PlacementRecorded
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if d.Rank != 1 && d.Rank != 2 {
		return nil, FieldErrorf("data.rank", "must be 1 (the main placement) or 2 (a second one)")
	}
	if d.SettingOther.Plain != "" && d.Setting != "other" && d.Setting != "not_in_education_other" {
		return nil, FieldErrorf("data.setting_other", "describes a setting of kind other or not_in_education_other only")
	}
	if len(d.SettingOther.Plain) > 200 {
		return nil, FieldErrorf("data.setting_other", "is longer than 200 characters")
	}
	if !d.From.IsZero() && d.From > cmd.On {
		return nil, FieldErrorf("data.from", "%s is after the date of the step (%s): leave it out and date the step", d.From, cmd.On)
	}
	if (d.SENUnit || d.ResourcedProvision) && d.URN == "" {
		return nil, FieldErrorf("data.sen_unit", "an SEN unit or resourced provision is part of a school: give its urn")
	}
	if _, open := c.placements[d.Key()]; open {
		return nil, conflictf("record_placement: %s is already recorded and not ended", d.Key())
	}
	for key, rank := range c.placements {
		if rank == d.Rank {
			return nil, conflictf("record_placement: %s is already the placement of rank %d: end it first", key, d.Rank)
		}
	}
	return []Event{&d}, nil
}

// endPlacement decides end_placement.
func endPlacement(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d PlacementEnded
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	if _, open := c.placements[d.Key()]; !open {
		return nil, conflictf("end_placement: %s is not a placement of this case", d.Key())
	}
	if !d.Until.IsZero() && d.Until > cmd.On {
		return nil, FieldErrorf("data.until", "%s is after the date of the step (%s): leave it out and date the step", d.Until, cmd.On)
	}
	return []Event{&d}, nil
}

// recordSENNeeds decides record_sen_needs.
func recordSENNeeds(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d SENNeedsRecorded
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if d.Secondary == d.Primary {
		return nil, FieldErrorf("data.secondary", "is the primary need again: leave it out when there is no other")
	}
	if c.needs == d {
		return nil, conflictf("record_sen_needs: these are already the needs recorded")
	}
	return []Event{&d}, nil
}

// recordPersonalBudget decides record_personal_budget: a plan's budget, so
// only once a plan has been issued and while it lasts.
func recordPersonalBudget(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d PersonalBudgetRecorded
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if !d.TakenUp && (d.OrganisedArrangements || len(d.DirectPayments) > 0) {
		return nil, FieldErrorf("data.taken_up", "must be true when the budget is held as organised arrangements or direct payments")
	}
	slices.Sort(d.DirectPayments)
	if len(slices.Compact(slices.Clone(d.DirectPayments))) != len(d.DirectPayments) {
		return nil, FieldErrorf("data.direct_payments", "names an area twice")
	}
	if err := c.mustHavePlan("record_personal_budget"); err != nil {
		return nil, err
	}
	return []Event{&d}, nil
}

// PlacementSpell is a placement with the days it began and (once ended)
// ended: the steps' dates.
type PlacementSpell struct {
	PlacementRecorded
	Entry   Date `json:"entry"`
	Leaving Date `json:"leaving,omitzero"`
}

// ReturnItems are what a case's history records for the SEN2 return beside
// its statutory steps.
type ReturnItems struct {
	Placements []PlacementSpell `json:"placements,omitempty"`
	// Needs are the needs last recorded; Primary is "" when none were.
	Needs SENNeedsRecorded `json:"needs"`
	// Budget is the personal budget last recorded, nil when none was.
	Budget *PersonalBudgetRecorded `json:"personal_budget,omitempty"`
	// CeasedBecause is why the plan ended, when it ended and a reason was
	// given.
	CeasedBecause string `json:"ceased_because,omitempty"`
}

// ItemsOf folds the return's items from a case's steps, as corrected
// (Effective): placements in the order they began.
func ItemsOf(steps []Step) ReturnItems {
	var r ReturnItems
	open := map[string]int{} // placement key: its index in r.Placements
	for _, st := range steps {
		switch v := st.Event.(type) {
		case *PlacementRecorded:
			open[v.Key()] = len(r.Placements)
			entry := st.On
			if !v.From.IsZero() {
				entry = v.From
			}
			r.Placements = append(r.Placements, PlacementSpell{PlacementRecorded: *v, Entry: entry})
		case *PlacementEnded:
			if i, ok := open[v.Key()]; ok {
				r.Placements[i].Leaving = st.On
				if !v.Until.IsZero() {
					r.Placements[i].Leaving = v.Until
				}
				delete(open, v.Key())
			}
		case *SENNeedsRecorded:
			r.Needs = *v
		case *PersonalBudgetRecorded:
			b := *v
			r.Budget = &b
		case *PlanCeased:
			r.CeasedBecause = v.Reason
		case *TribunalOrdered:
			if v.Order == "maintain" || v.Order == "maintain_unchanged" {
				r.CeasedBecause = "" // the tribunal reinstated the plan
			}
		}
	}
	return r
}

// TypeRequestWithdrawn is the event of withdraw_request.
const TypeRequestWithdrawn = "request_withdrawn"

// RequestWithdrawn records that the family or young person withdrew the
// request before a plan was issued or the LA decided not to issue one:
// the clocks that run from the request end (england-2014 version 7), and
// the return reports the request, or its assessment, as withdrawn.
type RequestWithdrawn struct {
	// By is who withdrew it.
	By string `json:"by" enum:"parent,young_person"`
}

// EventType implements Event.
func (RequestWithdrawn) EventType() string { return TypeRequestWithdrawn }

// SchemaVersion implements Event.
func (RequestWithdrawn) SchemaVersion() int { return 1 }

// Attr implements Event.
func (e RequestWithdrawn) Attr(n string) string { return pick(n, "by", e.By) }

// withdrawRequest decides withdraw_request: only while the request is
// open, before its outcome (a refusal, a decision not to issue, or a plan).
func withdrawRequest(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d RequestWithdrawn
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	switch {
	case c.withdrawn:
		return nil, conflictf("withdraw_request: the request has already been withdrawn")
	case c.planIssued:
		return nil, conflictf("withdraw_request: a plan has been issued: it ends with cease_plan")
	case c.notIssuing:
		return nil, conflictf("withdraw_request: the LA has decided not to issue a plan")
	case c.decision == "refused" && !c.assessOrdered:
		return nil, conflictf("withdraw_request: the LA refused to assess: the request is closed")
	}
	return []Event{&d}, nil
}

// afterWithdrawal says whether a case still takes a step once its request
// is withdrawn: housekeeping, not the statutory process.
func afterWithdrawal(command string) bool {
	switch command {
	case "correct_step", "erase_personal_data", "assign_case", "revoke_invitation", "end_placement":
		return true
	}
	return false
}

// TypeHistoryImported is the event the application records last when it
// imports a case from an earlier SEN2 return.
const TypeHistoryImported = "history_imported"

// HistoryImported closes a case imported from an earlier SEN2 return: the
// steps before it are what the return gave (their dates as it gave them),
// recorded by the import rather than as they happened. A return is
// lossy: it gives a plan's date but not its draft's, the last review but
// not those before, and some items without dates. So:
//
//   - every clock that started and fell due on or before Through (the
//     return's census date) ends unjudged: the previous system judged it,
//     and this one cannot see enough to (a plan of 2019 whose last review
//     in the file is of 2024 would otherwise show four reviews missed);
//     clocks due after Through run and are judged as usual;
//   - the items the return gives without dates are kept here, as the
//     return said them, and the next return says them again.
type HistoryImported struct {
	// Source is the file's name, SHA256 its content's hash, and Person
	// and Request the request's place in it (from 1).
	Source  string `json:"source"`
	SHA256  string `json:"sha256"`
	Person  int    `json:"person"`
	Request int    `json:"request"`
	// Through is the return's census date.
	Through Date `json:"through"`
	// Flags are the return's flags without dates that were set (SEN2
	// item names: RequestMediation, AssessmentTribunal, Week20 ...).
	Flags []string `json:"flags,omitempty"`
	// TransferLA is the DfE number of the LA the plan came from, as the
	// return gave it.
	TransferLA string `json:"transfer_la,omitempty"`
}

// EventType implements Event.
func (HistoryImported) EventType() string { return TypeHistoryImported }

// SchemaVersion implements Event.
func (HistoryImported) SchemaVersion() int { return 1 }

// Attr implements Event.
func (HistoryImported) Attr(string) string { return "" }

// endImported ends, unjudged, the clocks an import cannot judge: those
// that started and fell due on or before the return's census date.
func (cc *CaseClocks) endImported(through Date) {
	for _, c := range cc.Clocks {
		// A clock stopped after the census date stopped under this
		// system's eyes: it is judged as usual.
		if c.Ended || c.Started > through || c.Due > through || c.Stopped > through {
			continue
		}
		c.Ended, c.Imported = true, true
		if c.Stopped.IsZero() {
			c.Stopped = through
		}
	}
}

// ImportStep decides a step of a case imported from an earlier SEN2
// return as any step is decided, but for the few checks of what must come
// first that a return cannot show: a plan's draft (and panels) before the
// plan, the tribunal's order before an assessment after a refusal, the
// decision to cease before the plan ends, the step-down question of a
// review. Everything else is checked as usual. Such a step, stored, is one
// today's rules refuse, and corrections keep it as recorded (Correct).
func ImportStep(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	cmd.imported = true
	return c.Decide(cmd, rb)
}
