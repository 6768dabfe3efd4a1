package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// Exception kinds (statutory.md section 4).
const (
	ExceptionSchoolClosure         = "school_closure"
	ExceptionPersonalCircumstances = "personal_circumstances"
	ExceptionAbsence               = "absence"
	ExceptionMissedAppointment     = "missed_appointment"
	// ExceptionCoronavirus is the temporary exception of SI 2020/471: a limit
	// not reasonably practicable to meet for a reason relating to the
	// incidence or transmission of coronavirus. Rulebooks allow it only for
	// the days from 1 May to 25 September 2020.
	ExceptionCoronavirus = "coronavirus"
)

// Command is a request to change a case, named as in FORMAT.md, with its JSON
// data and the civil date on which the step happened.
type Command struct {
	Name string
	On   Date
	Data json.RawMessage
	// Holidays are the bank holidays, for the steps whose checks count
	// working days (the end of the family's time to appeal); weekends only
	// when nil.
	Holidays Holidays
	// History and RulesAt are the case's stored steps and the rulebook in
	// force on a date, for a step decided against the whole history (a
	// correction).
	History []Step
	RulesAt func(Date) *Rulebook
	// SecretHash is the hex SHA-256 of a secret the application made for
	// a step that issues one (CommandSpec.IssuesSecret: an invitation's
	// link); the step stores it, and never sees the secret.
	SecretHash string
	// replay marks a stored step being decided again after a correction:
	// its data is a stored payload, whose derived fields are ignored.
	replay bool
	// imported marks a step of a case imported from an earlier SEN2 return
	// (ImportStep): the few checks of what must come first that a return
	// cannot show are skipped, and nothing else.
	imported bool
}

func (cmd Command) holidays() Holidays {
	if cmd.Holidays == nil {
		return NoHolidays{}
	}
	return cmd.Holidays
}

func (cmd Command) decode(into any) error {
	if cmd.replay {
		if len(bytes.TrimSpace(cmd.Data)) == 0 {
			return nil
		}
		if err := json.Unmarshal(cmd.Data, into); err != nil {
			return FieldErrorf("data", "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return nil
	}
	return decodeData(cmd.Data, into)
}

// Case is the aggregate for one child's case. Its fields change only through
// Apply; Decide reads them to validate commands.
type Case struct {
	ID       string
	Version  int64
	Rulebook string
	Opened   Date
	// LA is the authority responsible for the case, as far as the domain
	// knows it: set when a transfer completes (the envelope of every event
	// carries the LA too).
	LA string
	// MovingTo is the LA a plan is being transferred to, until it takes over.
	MovingTo string

	decision            string // "", "assess", "refused"
	notIssuing          bool
	draftSent           bool
	draftOn             Date // the day the draft was served
	repsReceived        bool
	planIssued          bool
	ceasing             bool            // a decision to cease awaits the end of the family's time to appeal
	ceaseNotice         Date            // the day the decision to cease was notified
	ceaseAppealed       bool            // an appeal against the decision to cease is before the tribunal
	ceaseDismissed      bool            // that appeal was dismissed: the plan may cease at once
	ceaseCertOn         Date            // a mediation certificate issued while ceasing
	ceased              bool            // the plan is no longer maintained
	advice              map[string]bool // kind -> received
	consultations       map[string]bool // school -> responded
	review              int             // number of the current review; 1 once a plan exists
	meetingHeld         bool
	meetingOn           Date // the day of the current review's meeting
	reportSent          bool
	amendments          bool // proposed amendments awaiting the amended plan
	amendFor            int  // review whose "amend" decision awaits proposed amendments
	amending            int  // review the outstanding proposed amendments belong to
	phaseOpen           bool
	appealWindows       int
	appealLodged        bool // on the latest appeal window
	contacted           bool // mediation adviser contacted for the latest window
	mediationDue        bool // family wants mediation, not yet held
	mediated            bool // mediation was held on the latest window
	agreed              bool // and its agreement is recorded
	certificateDue      bool
	certified           bool
	orders              map[string]bool // compliance step -> complied
	assessOrdered       bool
	issueOrdered        bool // a tribunal ordered a plan: refusals no longer stand
	appeals             int  // appeals lodged over the case's life
	lastOn              Date
	panels              map[string]string // subject -> latest recommendation
	tailored            map[string]Setting
	preference          []string
	ap                  map[string]bool // AP settings the pupil is placed at
	placements          map[string]int  // open placements by key: their rank
	needs               SENNeedsRecorded
	lastReviewOn        Date            // the plan's issue or last review decision
	conceded            []concession    // the LA's concessions (reg 45), with their dates
	concessionsDone     map[string]bool // concession steps complied with
	transferDecisionDue bool
	caseworker, team    string
	erased              bool // the personal details were erased
	withdrawn           bool // the request was withdrawn
	re                  reassessing
	invitations         map[string]*Invitation // the portal's invitations, by ID
}

// Erased reports whether the case's personal details have been erased.
func (c *Case) Erased() bool { return c.erased }

// Exists reports whether the case has been opened by a request.
func (c *Case) Exists() bool { return c.Version > 0 }

// Apply changes the state for one event. It never fails: events are facts.
func (c *Case) Apply(e Event, on Date) {
	c.Version++
	if on > c.lastOn {
		c.lastOn = on
	}
	switch v := e.(type) {
	case Opener:
		c.Rulebook, c.Opened = v.Opened().Rulebook, on
		c.advice, c.consultations, c.orders = map[string]bool{}, map[string]bool{}, map[string]bool{}
		c.panels, c.ap, c.concessionsDone = map[string]string{}, map[string]bool{}, map[string]bool{}
		c.placements = map[string]int{}
	case *AssessmentAgreed:
		c.decision = "assess"
	case *AssessmentRefused:
		c.decision = "refused"
		c.openAppealWindow()
	case *AdviceRequested:
		c.advice[v.Advice] = false
	case *AdviceReceived:
		c.advice[v.Advice] = true
	case *DecidedNotToIssue:
		c.notIssuing = true
		c.openAppealWindow()
	case *DraftPlanSent:
		c.draftSent, c.draftOn = true, on
	case *RepresentationsReceived:
		if c.re.draftSent {
			c.re.reps = true // on the reassessment's draft
		} else {
			c.repsReceived = true
		}
	case *ReassessmentRequested, *ReassessmentAgreed, *ReassessmentRefused, *ReassessmentDraftSent,
		*ReassessedPlanIssued, *PlanKeptAfterReassessment:
		c.applyReassessment(e, on)
	case *SchoolConsulted:
		c.consultations[v.School] = false
	case *SchoolResponded:
		c.consultations[v.School] = true
	case *FinalPlanIssued:
		c.planIssued, c.review, c.lastReviewOn = true, 1, on
		c.openAppealWindow()
	case *ReviewMeetingHeld:
		c.meetingHeld, c.meetingOn = true, on
	case *ReviewReportSent:
		c.reportSent = true
	case *ReviewDecisionNotified:
		c.amendFor, c.lastReviewOn = 0, on
		if v.Decision == "amend" {
			c.amendFor = v.Review
		}
		if v.NextReview != 0 {
			c.review = v.NextReview
		}
		// A plan is maintained after a decision to cease until the family's
		// time to appeal has passed or its appeal has ended; a later
		// decision to maintain or amend withdraws the cessation. A further
		// decision to cease leaves an appeal against the first before the
		// tribunal. A decision to cease stored before the next review was
		// numbered ended the plan at once, as the engine then held.
		switch {
		case v.Decision == "cease" && v.NextReview == 0:
			c.ceased, c.ceasing, c.ceaseAppealed = true, false, false
		case v.Decision == "cease":
			c.ceasing, c.ceaseNotice, c.ceaseDismissed, c.ceaseCertOn = true, on, false, 0
		default:
			c.ceasing, c.ceaseAppealed, c.ceaseDismissed = false, false, false
		}
		c.meetingHeld, c.reportSent = false, false
		// A decision to amend is not appealable: the amended plan is.
		if v.Decision != "amend" {
			c.openAppealWindow()
		}
	case *AmendmentsProposed:
		c.amendments, c.amending, c.amendFor = true, v.Review, 0
	case *AmendedPlanIssued:
		c.amendments = false
		c.openAppealWindow()
	case *PhaseTransferScheduled:
		c.phaseOpen = true
	case *TransferSettingNamed:
		c.phaseOpen = false
	case *MediationAdviserContacted:
		c.contacted = true
		c.mediationDue = v.WantsMediation
		c.certificateDue = !v.WantsMediation
	case *MediationHeld, *MediationNotArranged:
		c.mediationDue, c.certificateDue = false, true
		_, c.mediated = e.(*MediationHeld)
	case *MediationAgreed:
		// As if the agreement were an order (reg 42(2)), on its own steps
		// or on the timescale the parties agreed (reg 42(5)).
		c.agreed = true
		c.ordered(v.Agrees, v.By.IsZero())
		for _, step := range agreementSteps(v) {
			c.orders[step] = false
		}
	case *MediationCertificateIssued:
		c.certificateDue, c.certified = false, true
		if c.ceasing {
			c.ceaseCertOn = on
		}
	case *AppealLodged:
		c.appealLodged = true
		c.appeals++
		if v.Kind == "cease" {
			c.ceaseAppealed = true
		}
	case *PlanCeased:
		c.ceased, c.ceasing, c.ceaseAppealed = true, false, false
		c.re = reassessing{}
	case *TribunalOrdered:
		c.ordered(v.Order, true)
		switch v.Order {
		case "maintain":
			c.ceased, c.ceasing, c.ceaseAppealed = false, false, false
		case "maintain_unchanged":
			c.ceased, c.ceasing, c.ceaseAppealed = false, false, false
		case "dismiss":
			c.ceaseDismissed, c.ceaseAppealed = c.ceaseAppealed, false
		}
	case *OrderComplied:
		c.orders[v.Step] = true
	case *PanelDecided:
		c.panels[v.Subject] = v.Recommendation
	case *TailoredListOffered:
		c.tailored, c.preference = map[string]Setting{}, nil
		for _, st := range v.Settings {
			c.tailored[st.ID] = st
		}
	case *PreferenceExpressed:
		c.preference = v.Order
	case *PlacementRecorded:
		c.placements[v.Key()] = v.Rank
	case *PlacementEnded:
		delete(c.placements, v.Key())
	case *SENNeedsRecorded:
		c.needs = *v
	case *RequestWithdrawn:
		c.withdrawn = true
	case *APPlacementStarted:
		c.ap[v.Setting] = true
	case *APPlacementEnded:
		delete(c.ap, v.Setting)
	case *TransferredOut:
		c.MovingTo = v.ToLA
	case *TransferredIn:
		c.LA, c.MovingTo, c.transferDecisionDue = c.MovingTo, "", true
	case *TransferDecisionNotified:
		c.transferDecisionDue = false
	case *CaseAssigned:
		c.caseworker, c.team = v.Caseworker, v.Team
	case *PersonalDataErased:
		c.erased = true
	case *ParticipantInvited, *InvitationAccepted, *InvitationRevoked:
		c.applyParticipant(v)
	case *AppealConceded:
		c.conceded = append(c.conceded, concession{*v, on})
	case *ConcessionComplied:
		c.concessionsDone[v.Kind] = true
	}
}

// concession is an AppealConceded with its date.
type concession struct {
	AppealConceded
	on Date
}

func (c *Case) openAppealWindow() {
	c.appealWindows++
	c.appealLodged, c.contacted, c.mediationDue, c.certificateDue, c.certified = false, false, false, false, false
	c.mediated, c.agreed = false, false
}

// Decide validates a command against the case and the rulebook in force, and
// returns the events it causes. It changes nothing: a rejected command emits
// no event.
func (c *Case) Decide(cmd Command, rb *Rulebook) ([]Event, error) {
	spec := theCatalog().byName[cmd.Name]
	if spec == nil || spec.decide == nil {
		return nil, FieldErrorf("command", "unknown command %q (known: %s)", cmd.Name, strings.Join(CommandNames(ScopeCase), ", "))
	}
	if cmd.On.IsZero() {
		return nil, FieldErrorf("on", "the date of the step is required")
	}
	if !OpensCase(cmd.Name) {
		if !c.Exists() {
			return nil, Errorf(NotFound, "%s: there is no case yet: a case starts with receive_request or become_responsible", cmd.Name)
		}
		if cmd.On < c.Opened {
			return nil, FieldErrorf("on", "%s on %s is before the case was opened on %s", cmd.Name, cmd.On, c.Opened)
		}
		if c.withdrawn && !afterWithdrawal(cmd.Name) {
			return nil, conflictf("%s: the request was withdrawn: a new request opens a new case", cmd.Name)
		}
	}
	evs, err := spec.decide(c, cmd, rb)
	for _, e := range evs {
		if !spec.emits(e.EventType()) {
			// The table says what a step emits; a decision that says
			// otherwise would break corrections and retries.
			return nil, &Error{Code: Internal, Message: cmd.Name + " emitted " + e.EventType() + ", which its catalog row does not list"}
		}
	}
	return evs, err
}

// DecideLA validates an LA-level command and returns the stream it is
// recorded in and the events it causes.
func DecideLA(la string, cmd Command) (string, []Event, error) {
	spec := theCatalog().byName[cmd.Name]
	if spec == nil || spec.decideLA == nil {
		return "", nil, FieldErrorf("command", "unknown LA command %q (known: %s)", cmd.Name, strings.Join(CommandNames(ScopeLA), ", "))
	}
	if err := ValidateID("la", la); err != nil {
		return "", nil, err
	}
	if cmd.On.IsZero() {
		return "", nil, FieldErrorf("on", "the date of the step is required")
	}
	return spec.decideLA(la, cmd)
}

type handler func(c *Case, cmd Command, rb *Rulebook) ([]Event, error)

func conflictf(format string, args ...any) error {
	return Errorf(Conflict, format, args...)
}

// DecodeData reads a command's data strictly: unknown fields are errors, so a
// misspelt field is never silently ignored.
func DecodeData(raw json.RawMessage, into any) error {
	return decodeData(raw, into)
}

func decodeData(raw json.RawMessage, into any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			return FieldErrorf("data."+ute.Field, "must be a JSON %s", ute.Type.Kind())
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return FieldErrorf("data", "%s", strings.TrimPrefix(err.Error(), "json: "))
		default:
			return FieldErrorf("data", "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return FieldErrorf("data", "must be a single JSON object")
	}
	return nil
}

func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return FieldErrorf("data."+field, "is required")
	}
	return nil
}

func oneOf(field, v string, allowed ...string) error {
	if err := required(field, v); err != nil {
		return err
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return FieldErrorf("data."+field, "must be one of %s, not %q", strings.Join(allowed, ", "), v)
}

// noData is used by commands that carry no data, to reject stray fields.
type noData struct{}

func simple(check func(c *Case) error, make func(c *Case) Event) handler {
	return func(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
		if err := cmd.decode(&noData{}); err != nil {
			return nil, err
		}
		if err := check(c); err != nil {
			return nil, err
		}
		return []Event{make(c)}, nil
	}
}

// decision builds the handler of an LA decision that a panel may have to
// consider first: subject is the panel subject, outcome what the decision
// says about it.
func decision(subject, outcome string, check func(c *Case) error, make func(c *Case, p PanelRecord) Event) handler {
	return func(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
		var p PanelRecord
		if err := cmd.decode(&p); err != nil {
			return nil, err
		}
		if err := check(c); err != nil {
			return nil, err
		}
		if !cmd.imported { // a return records no panels
			if err := c.checkPanel(rb, cmd.Name, subject, outcome, p); err != nil {
				return nil, err
			}
		}
		return []Event{make(c, p)}, nil
	}
}

func (c *Case) mustBeAssessing(step string) error {
	switch {
	case c.issueOrdered:
		return nil
	case c.decision == "refused" && !c.assessOrdered:
		return conflictf("%s: the LA refused to assess this case", step)
	case c.decision != "assess":
		return conflictf("%s: the LA has not decided to assess this case", step)
	case c.notIssuing:
		return conflictf("%s: the LA decided not to issue a plan", step)
	}
	return nil
}

func (c *Case) mustHavePlan(step string) error {
	switch {
	case !c.planIssued:
		return conflictf("%s: no final plan has been issued", step)
	case c.ceased:
		return conflictf("%s: the plan has ceased", step)
	}
	return nil
}

// personalData are the personal details as a case-opening command gives
// them; the event keeps them only sealed.
type personalData struct {
	Forename  string `json:"forename,omitempty"`
	Surname   string `json:"surname,omitempty"`
	BirthDate Date   `json:"birth_date,omitempty"`
	Address   string `json:"address,omitempty"`
	Postcode  string `json:"postcode,omitempty"`
	SEN2Person
}

// hasPersonal reports whether the data holds any personal detail.
func (d personalData) hasPersonal() bool { return d != personalData{} }

// details returns the personal details of the data.
func (d personalData) details() *PersonalDetails {
	return &PersonalDetails{Forename: d.Forename, Surname: d.Surname, BirthDate: d.BirthDate, Address: d.Address, Postcode: d.Postcode,
		SEN2Person: d.SEN2Person}
}

// requestData is the data of receive_request.
type requestData struct {
	Requester string `json:"requester" enum:"parent,young_person,school,health_professional,social_care_professional,professional"`
	School    string `json:"school,omitempty"`
	personalData
}

// responsibleData is the data of become_responsible.
type responsibleData struct {
	Route  string `json:"route" enum:"brought_to_attention,health_body,la_identified"`
	School string `json:"school,omitempty"`
	personalData
}

func (e *RequestReceived) baseData() any {
	return requestData{Requester: e.Requester, School: e.School}
}

func (e *LABecameResponsible) baseData() any {
	return responsibleData{Route: e.Route, School: e.School}
}

func (e *RequestReceived) splitData(raw json.RawMessage) (json.RawMessage, *PersonalDetails, error) {
	var d requestData
	return splitOpening(raw, &d, &d.personalData)
}

func (e *LABecameResponsible) splitData(raw json.RawMessage) (json.RawMessage, *PersonalDetails, error) {
	var d responsibleData
	return splitOpening(raw, &d, &d.personalData)
}

// splitOpening decodes raw strictly into d, whose personal details are p,
// and returns d without them, and them (nil when none are given).
func splitOpening(raw json.RawMessage, d any, p *personalData) (json.RawMessage, *PersonalDetails, error) {
	if err := decodeData(raw, d); err != nil {
		return nil, nil, err
	}
	var details *PersonalDetails
	if p.hasPersonal() {
		details = p.details()
	}
	*p = personalData{}
	b, err := json.Marshal(d)
	return b, details, err
}

// openCase checks what every case-opening command checks and returns the
// opening to record: the personal details (unless a stored step is decided
// again, checked when first recorded and perhaps sealed), and that the case
// is new.
func openCase(c *Case, cmd Command, rb *Rulebook, school string, p personalData) (Opening, error) {
	// Checks added to the law since a stored step was recorded must not
	// make its history unreadable.
	if !cmd.replay {
		if err := p.details().check(cmd.On); err != nil {
			return Opening{}, err
		}
	}
	if c.Exists() {
		return Opening{}, conflictf("%s: this case is already open (since %s)", cmd.Name, c.Opened)
	}
	o := Opening{School: school, Rulebook: rb.ID}
	if p.hasPersonal() {
		o.Details = p.details()
	}
	return o, nil
}

// check validates a case's personal details for a case opened on: the
// date of birth is required, not after the request and the person under 25
// on it (a young person is under 25, s83(2)); the other details are
// optional, text of sensible length and identifiers well formed
// (checkSEN2Person).
func (d *PersonalDetails) check(on Date) error {
	born := d.BirthDate
	if born.IsZero() {
		return FieldErrorf("data.birth_date", "is required")
	}
	if born > on {
		return FieldErrorf("data.birth_date", "%s is after the request date %s", born, on)
	}
	if age := Age(born, on); age >= 25 {
		return FieldErrorf("data.birth_date", "the person is %d on the request date: a young person is under 25 (CFA 2014 s83(2))", age)
	}
	for field, v := range map[string]string{"forename": d.Forename, "surname": d.Surname, "address": d.Address, "postcode": d.Postcode} {
		if len(v) > 200 {
			return FieldErrorf("data."+field, "is longer than 200 characters")
		}
	}
	return checkSEN2Person(d.SEN2Person)
}

// receiveRequest decides receive_request.
func receiveRequest(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d requestData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	o, err := openCase(c, cmd, rb, d.School, d.personalData)
	if err != nil {
		return nil, err
	}
	return []Event{&RequestReceived{Requester: d.Requester, Opening: o}}, nil
}

// becomeResponsible decides become_responsible.
func becomeResponsible(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d responsibleData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	o, err := openCase(c, cmd, rb, d.School, d.personalData)
	if err != nil {
		return nil, err
	}
	return []Event{&LABecameResponsible{Route: d.Route, Opening: o}}, nil
}

// decideToAssess decides decide_to_assess.
func decideToAssess(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return decision("request", "assess", func(c *Case) error {
		if c.decision == "assess" {
			return conflictf("decide_to_assess: the LA has already decided to assess")
		}
		// An imported return gives an assessment after a refusal without
		// the tribunal's order that allowed it.
		if c.decision == "refused" && !c.assessOrdered && !cmd.imported {
			return conflictf("decide_to_assess: the LA has already refused to assess (only a tribunal order can reverse it)")
		}
		return nil
	}, func(_ *Case, p PanelRecord) Event { return &AssessmentAgreed{PanelRecord: p} })(c, cmd, rb)
}

// refuseAssessment decides refuse_assessment.
func refuseAssessment(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return decision("request", "refuse", func(c *Case) error {
		if c.decision != "" {
			return conflictf("refuse_assessment: the LA has already decided (%s)", c.decision)
		}
		return nil
	}, func(_ *Case, p PanelRecord) Event { return &AssessmentRefused{PanelRecord: p} })(c, cmd, rb)
}

// requestSchoolInformation decides request_school_information.
func requestSchoolInformation(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d requestSchoolInformationData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := ValidateID("data.school", d.School); err != nil {
		return nil, err
	}
	if c.decision != "" {
		return nil, conflictf("request_school_information: the LA has already decided whether to assess: ask for advice with request_advice")
	}
	return []Event{&SchoolInformationRequested{School: d.School}}, nil
}

// requestAdvice decides request_advice.
func requestAdvice(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d requestAdviceData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := required("advice", d.Advice); err != nil {
		return nil, err
	}
	if err := c.mustBeAssessing("request_advice"); err != nil {
		return nil, err
	}
	if _, ok := c.advice[d.Advice]; ok {
		return nil, conflictf("request_advice: %s advice has already been requested", d.Advice)
	}
	return []Event{&AdviceRequested{Advice: d.Advice, School: d.School}}, nil
}

// receiveAdvice decides receive_advice.
func receiveAdvice(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d receiveAdviceData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := required("advice", d.Advice); err != nil {
		return nil, err
	}
	received, ok := c.advice[d.Advice]
	if !ok {
		return nil, conflictf("receive_advice: no %s advice was requested", d.Advice)
	}
	if received {
		return nil, conflictf("receive_advice: %s advice has already been received", d.Advice)
	}
	return []Event{&AdviceReceived{Advice: d.Advice}}, nil
}

// recordException decides record_exception.
func recordException(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d ExceptionRecorded
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if d.From.IsZero() {
		return nil, FieldErrorf("data.from", "is required")
	}
	if d.To.IsZero() {
		return nil, FieldErrorf("data.to", "is required")
	}
	if d.To < d.From {
		return nil, FieldErrorf("data.to", "%s is before from (%s)", d.To, d.From)
	}
	if err := requiredText("evidence", d.Evidence); err != nil {
		return nil, err
	}
	return []Event{&d}, nil
}

// decideNotToIssue decides decide_not_to_issue.
func decideNotToIssue(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return decision("issue", "not_issue", func(c *Case) error {
		if err := c.mustBeAssessing("decide_not_to_issue"); err != nil {
			return err
		}
		if c.draftSent || c.planIssued || c.issueOrdered {
			return conflictf("decide_not_to_issue: the LA has already decided, or been ordered, to issue a plan")
		}
		return nil
	}, func(_ *Case, p PanelRecord) Event { return &DecidedNotToIssue{PanelRecord: p} })(c, cmd, rb)
}

// sendDraftPlan decides send_draft_plan.
func sendDraftPlan(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return decision("issue", "issue", func(c *Case) error {
		if err := c.mustBeAssessing("send_draft_plan"); err != nil {
			return err
		}
		if c.planIssued {
			return conflictf("send_draft_plan: the final plan has already been issued")
		}
		if c.draftSent {
			return conflictf("send_draft_plan: the draft plan has already been sent")
		}
		return nil
	}, func(_ *Case, p PanelRecord) Event { return &DraftPlanSent{PanelRecord: p} })(c, cmd, rb)
}

// receiveRepresentations decides receive_representations.
func receiveRepresentations(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return simple(func(c *Case) error {
		if c.ceased {
			return conflictf("receive_representations: the plan has ceased")
		}
		if c.re.draftSent {
			if c.re.reps {
				return conflictf("receive_representations: representations on the reassessment's draft have already been received")
			}
			return nil
		}
		if !c.draftSent {
			return conflictf("receive_representations: no draft plan has been sent")
		}
		if c.repsReceived {
			return conflictf("receive_representations: representations have already been received")
		}
		return nil
	}, func(*Case) Event { return &RepresentationsReceived{} })(c, cmd, rb)
}

// consultSchool decides consult_school.
func consultSchool(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d consultSchoolData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := required("school", d.School); err != nil {
		return nil, err
	}
	if !c.planIssued {
		if err := c.mustBeAssessing("consult_school"); err != nil {
			return nil, err
		}
	} else if err := c.mustHavePlan("consult_school"); err != nil {
		return nil, err
	}
	if responded, ok := c.consultations[d.School]; ok && !responded {
		return nil, conflictf("consult_school: %s is already being consulted", d.School)
	}
	return []Event{&SchoolConsulted{School: d.School}}, nil
}

// receiveSchoolResponse decides receive_school_response.
func receiveSchoolResponse(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d receiveSchoolResponseData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := required("school", d.School); err != nil {
		return nil, err
	}
	if responded, ok := c.consultations[d.School]; !ok || responded {
		return nil, conflictf("receive_school_response: %s has no consultation awaiting a response", d.School)
	}
	return []Event{&SchoolResponded{School: d.School}}, nil
}

// issueFinalPlan decides issue_final_plan.
func issueFinalPlan(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d issueFinalPlanData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := required("school", d.School); err != nil {
		return nil, err
	}
	if err := c.mustBeAssessing("issue_final_plan"); err != nil {
		return nil, err
	}
	if c.planIssued {
		return nil, conflictf("issue_final_plan: the final plan has already been issued")
	}
	// A return gives a plan's date, not its draft's, and no panels.
	if !cmd.imported {
		if err := mayFinalise("issue_final_plan", cmd.On, c.draftSent, c.draftOn, c.repsReceived); err != nil {
			return nil, err
		}
		if err := c.checkPanel(rb, "issue_final_plan", "provision", "agree", d.PanelRecord); err != nil {
			return nil, err
		}
	}
	return []Event{&FinalPlanIssued{School: d.School, PanelRecord: d.PanelRecord}}, nil
}

// holdReviewMeeting decides hold_review_meeting.
func holdReviewMeeting(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return simple(func(c *Case) error {
		if err := c.mustHavePlan("hold_review_meeting"); err != nil {
			return err
		}
		if c.meetingHeld {
			return conflictf("hold_review_meeting: review %d's meeting has already been held", c.review)
		}
		return nil
	}, func(c *Case) Event { return &ReviewMeetingHeld{Review: c.review} })(c, cmd, rb)
}

// sendReviewReport decides send_review_report.
func sendReviewReport(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return simple(func(c *Case) error {
		if err := c.mustHavePlan("send_review_report"); err != nil {
			return err
		}
		if !c.meetingHeld {
			return conflictf("send_review_report: no review meeting has been held for review %d", c.review)
		}
		if c.reportSent {
			return conflictf("send_review_report: review %d's report has already been sent", c.review)
		}
		return nil
	}, func(c *Case) Event { return &ReviewReportSent{Review: c.review} })(c, cmd, rb)
}

// notifyReviewDecision decides notify_review_decision.
func notifyReviewDecision(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d notifyReviewDecisionData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if err := c.mustHavePlan("notify_review_decision"); err != nil {
		return nil, err
	}
	if rb.Features[featureStepDown] && d.StepDownConsidered == nil && !cmd.imported {
		return nil, FieldErrorf("data.step_down_considered", "is required under %s: record whether stepping down or ceasing the plan was considered", rb.ID)
	}
	// The plan is maintained after a decision to cease until it
	// ceases, so the next review is numbered and due as after any other.
	e := &ReviewDecisionNotified{Review: c.review, Decision: d.Decision, StepDownConsidered: d.StepDownConsidered,
		NextReview: c.review + 1}
	if c.meetingHeld {
		e.Meeting = c.meetingOn
	}
	e.ProposalsSent = d.Decision == "amend" && c.amendments && c.amending == c.review
	return []Event{e}, nil
}

// sendProposedAmendments decides send_proposed_amendments.
func sendProposedAmendments(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return simple(func(c *Case) error {
		if err := c.mustHavePlan("send_proposed_amendments"); err != nil {
			return err
		}
		if c.amendments {
			return conflictf("send_proposed_amendments: proposed amendments are already awaiting an amended plan")
		}
		return nil
	}, func(c *Case) Event { return &AmendmentsProposed{Review: c.amendmentReview()} })(c, cmd, rb)
}

// issueAmendedPlan decides issue_amended_plan.
func issueAmendedPlan(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return simple(func(c *Case) error {
		if err := c.mustHavePlan("issue_amended_plan"); err != nil {
			return err
		}
		if !c.amendments {
			return conflictf("issue_amended_plan: no amendments have been proposed")
		}
		return nil
	}, func(c *Case) Event { return &AmendedPlanIssued{Review: c.amending} })(c, cmd, rb)
}

// schedulePhaseTransfer decides schedule_phase_transfer.
func schedulePhaseTransfer(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d schedulePhaseTransferData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	// school and post16 are the transfers of reg 18(1), in a year;
	// post16_other a move between post-16 institutions at any
	// other time, on a date (reg 18(2)).
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	y, _, _ := cmd.On.YMD()
	if d.Kind == "post16_other" {
		if d.Year != 0 {
			return nil, FieldErrorf("data.year", "a post16_other transfer is on a date: give transfer_date, not year")
		}
		if d.TransferDate <= cmd.On || d.TransferDate > cmd.On.AddMonths(36) {
			return nil, FieldErrorf("data.transfer_date", "must be after the day the transfer is recorded and within three years of it")
		}
	} else {
		if !d.TransferDate.IsZero() {
			return nil, FieldErrorf("data.transfer_date", "is for a post16_other transfer; a %s transfer gives year", d.Kind)
		}
		if d.Year < y || d.Year > y+3 {
			return nil, FieldErrorf("data.year", "must be this year or one of the next three, not %d", d.Year)
		}
	}
	if err := c.mustHavePlan("schedule_phase_transfer"); err != nil {
		return nil, err
	}
	if c.phaseOpen {
		return nil, conflictf("schedule_phase_transfer: a phase transfer is already scheduled")
	}
	return []Event{&PhaseTransferScheduled{Year: d.Year, Kind: d.Kind, TransferDate: d.TransferDate}}, nil
}

// nameTransferSetting decides name_transfer_setting.
func nameTransferSetting(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d nameTransferSettingData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := required("school", d.School); err != nil {
		return nil, err
	}
	if err := c.mustHavePlan("name_transfer_setting"); err != nil {
		return nil, err
	}
	if !c.phaseOpen {
		return nil, conflictf("name_transfer_setting: no phase transfer is scheduled")
	}
	return []Event{&TransferSettingNamed{School: d.School}}, nil
}

// contactMediationAdviser decides contact_mediation_adviser.
func contactMediationAdviser(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d contactMediationAdviserData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if d.WantsMediation == nil {
		return nil, FieldErrorf("data.wants_mediation", "is required (true or false)")
	}
	if !*d.WantsMediation && rb.Features[featureMandatoryMediation] {
		return nil, FieldErrorf("data.wants_mediation", "mediation is mandatory before an appeal under %s", rb.ID)
	}
	if err := c.mustHaveOpenWindow("contact_mediation_adviser"); err != nil {
		return nil, err
	}
	if c.contacted {
		return nil, conflictf("contact_mediation_adviser: the family has already contacted a mediation adviser about this decision")
	}
	return []Event{&MediationAdviserContacted{WantsMediation: *d.WantsMediation}}, nil
}

// holdMediation decides hold_mediation.
func holdMediation(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return simple(func(c *Case) error {
		if !c.mediationDue {
			return conflictf("hold_mediation: the family has not asked for mediation")
		}
		return nil
	}, func(*Case) Event { return &MediationHeld{} })(c, cmd, rb)
}

// notifyMediationNotArranged decides notify_mediation_not_arranged.
func notifyMediationNotArranged(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return simple(func(c *Case) error {
		if !c.mediationDue {
			return conflictf("notify_mediation_not_arranged: the family has no mediation awaiting arrangement")
		}
		return nil
	}, func(*Case) Event { return &MediationNotArranged{} })(c, cmd, rb)
}

// issueMediationCertificate decides issue_mediation_certificate.
func issueMediationCertificate(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	return simple(func(c *Case) error {
		if !c.certificateDue {
			if c.mediationDue {
				return conflictf("issue_mediation_certificate: mediation has not been held yet")
			}
			return conflictf("issue_mediation_certificate: the family has not contacted a mediation adviser")
		}
		return nil
	}, func(*Case) Event { return &MediationCertificateIssued{} })(c, cmd, rb)
}

// lodgeAppeal decides lodge_appeal.
func lodgeAppeal(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d lodgeAppealData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if err := c.mustHaveOpenWindow("lodge_appeal"); err != nil {
		return nil, err
	}
	if !c.certified && (d.Kind != "placement" || rb.Features[featureMandatoryMediation]) {
		return nil, conflictf("lodge_appeal: a %s appeal needs a mediation certificate first", d.Kind)
	}
	return []Event{&AppealLodged{Kind: d.Kind}}, nil
}

// tribunalOrder decides tribunal_order.
func tribunalOrder(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d tribunalOrderData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	// maintain is an order to maintain and amend (5 weeks to amend);
	// maintain_unchanged starts no clock; refer_back (reg 44(2)(d))
	// asks the LA to reconsider, whose limit was not retrieved, so it
	// is recorded without a clock.
	// dismiss (reg 44(2)(a)) starts no clock; after an appeal against
	// a decision to cease, the LA may then cease the plan at once.
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if c.appeals == 0 {
		return nil, conflictf("tribunal_order: no appeal has been lodged")
	}
	return []Event{&TribunalOrdered{Order: d.Order}}, nil
}

// ceasePlan decides cease_plan.
func ceasePlan(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d PlanCeased
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	// A return gives the day a plan ended, not the decision before it.
	check := c.mayCease(cmd.On, rb, cmd.holidays())
	if cmd.imported {
		check = c.mustHavePlan("cease_plan")
	}
	if check != nil {
		return nil, check
	}
	return []Event{&d}, nil
}

// complyWithOrder decides comply_with_order.
func complyWithOrder(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d complyWithOrderData
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	done, ok := c.orders[d.Step]
	if !ok {
		return nil, conflictf("comply_with_order: no tribunal order requires the %s step", d.Step)
	}
	if done {
		return nil, conflictf("comply_with_order: the %s step has already been complied with", d.Step)
	}
	return []Event{&OrderComplied{Step: d.Step}}, nil
}

// mayCease refuses to end a plan before the LA may: without a decision to
// cease, while an appeal against it is before the tribunal, or before the
// family's time to appeal it has passed. The LA must "continue to maintain
// the EHC plan until the time has passed for bringing an appeal or, when an
// appeal has been registered, until it has been concluded" (DfE SEN2 guide,
// item EHCN004A; Code of Practice 9.210 [secondary]). The time to appeal is
// the rulebook's appeal window from the notice, extended by a mediation
// certificate, counted by the tribunal's rules (HESC Rules 2008 r20, r12).
func (c *Case) mayCease(on Date, rb *Rulebook, h Holidays) error {
	switch {
	case c.ceased:
		return conflictf("cease_plan: the plan has already ceased")
	case !c.planIssued:
		return conflictf("cease_plan: no final plan has been issued")
	case !c.ceasing:
		return conflictf("cease_plan: no decision to cease the plan stands (notify_review_decision with decision cease)")
	case on < c.ceaseNotice:
		return FieldErrorf("on", "%s is before the decision to cease (%s)", on, c.ceaseNotice)
	case c.ceaseAppealed:
		return conflictf("cease_plan: the family has appealed the decision to cease: the plan is maintained until the appeal ends")
	case c.ceaseDismissed:
		return nil
	case c.mediationDue || c.certificateDue:
		// The family may appeal until a month after the certificate it is
		// still owed (HESC Rules 2008 r20): fail closed until it comes.
		return conflictf("cease_plan: the family's mediation or its certificate is still pending, and its time to appeal runs until a month after the certificate")
	}
	w := rb.ClockWithRole(RoleAppealWindow)
	last := w.Period.Due(c.ceaseNotice, nil, h)
	if !c.ceaseCertOn.IsZero() {
		for _, x := range w.Extends {
			last = max(last, x.Period.Due(c.ceaseCertOn, nil, h))
		}
	}
	if on <= last {
		return conflictf("cease_plan: the family may appeal the decision to cease until %s, and the plan is maintained until then: cease it from %s", last, last.AddDays(1))
	}
	return nil
}

// mayFinalise refuses a final plan issued without a draft (s38, reg 13(1)),
// or inside the family's window to comment on the draft, "at least 15 days,
// beginning with the day on which the draft plan was served" (reg 13(1)(a)),
// unless the family has already made its representations. step names the
// command: the first plan, or the plan after a reassessment (reg 27(1)).
func mayFinalise(step string, on Date, drafted bool, draftOn Date, reps bool) error {
	if !drafted {
		return conflictf("%s: no draft plan has been sent: the family must first have the draft to comment on (s38, reg 13(1))", step)
	}
	if last := draftOn.AddDays(14); on <= last && !reps {
		return conflictf("%s: on %s the family's 15 days to comment on the draft served on %s have not ended (reg 13(1)(a)): issue it from %s, or once their representations are received", step, on, draftOn, last.AddDays(1))
	}
	return nil
}

// amendmentReview is the review proposed amendments belong to: the review
// whose "amend" decision led to them, or the current one when they come at
// another time.
func (c *Case) amendmentReview() int {
	if c.amendFor > 0 {
		return c.amendFor
	}
	return c.review
}

func (c *Case) mustHaveOpenWindow(step string) error {
	if c.appealWindows == 0 {
		return conflictf("%s: there is no decision the family can appeal", step)
	}
	if c.appealLodged {
		return conflictf("%s: an appeal against the latest decision has already been lodged", step)
	}
	return nil
}

// requestSchoolInformationData is the data of the command requestSchoolInformation decides.
type requestSchoolInformationData struct {
	School string `json:"school"`
}

// requestAdviceData is the data of the command requestAdvice decides.
type requestAdviceData struct {
	Advice string `json:"advice"`
	School string `json:"school"`
}

// receiveAdviceData is the data of the command receiveAdvice decides.
type receiveAdviceData struct {
	Advice string `json:"advice"`
}

// consultSchoolData is the data of the command consultSchool decides.
type consultSchoolData struct {
	School string `json:"school"`
}

// receiveSchoolResponseData is the data of the command receiveSchoolResponse decides.
type receiveSchoolResponseData struct {
	School string `json:"school"`
}

// issueFinalPlanData is the data of the command issueFinalPlan decides.
type issueFinalPlanData struct {
	School string `json:"school"`
	PanelRecord
}

// notifyReviewDecisionData is the data of the command notifyReviewDecision decides.
type notifyReviewDecisionData struct {
	Decision           string `json:"decision" enum:"maintain,amend,cease"`
	StepDownConsidered *bool  `json:"step_down_considered"`
}

// schedulePhaseTransferData is the data of the command schedulePhaseTransfer decides.
type schedulePhaseTransferData struct {
	Year         int    `json:"year"`
	Kind         string `json:"kind" enum:"school,post16,post16_other"`
	TransferDate Date   `json:"transfer_date"`
}

// nameTransferSettingData is the data of the command nameTransferSetting decides.
type nameTransferSettingData struct {
	School string `json:"school"`
}

// contactMediationAdviserData is the data of the command contactMediationAdviser decides.
type contactMediationAdviserData struct {
	WantsMediation *bool `json:"wants_mediation"`
}

// lodgeAppealData is the data of the command lodgeAppeal decides.
type lodgeAppealData struct {
	Kind string `json:"kind" enum:"refusal_to_assess,refusal_to_reassess,refusal_to_issue,contents,refusal_to_amend,placement,cease"`
}

// tribunalOrderData is the data of the command tribunalOrder decides.
type tribunalOrderData struct {
	Order string `json:"order" enum:"assess,issue_plan,contents,placement,maintain,maintain_unchanged,refer_back,dismiss"`
}

// complyWithOrderData is the data of the command complyWithOrder decides.
type complyWithOrderData struct {
	Step string `json:"step" enum:"assess_notice,draft_plan,final_plan,contents,placement,amend,mediation_agreement,agreed"`
}

// orderSteps are the compliance steps an order (or a mediation agreement
// standing for one) requires the LA to record with comply_with_order; the
// decision after an assessment stops its other limits.
func orderSteps(order string) []string {
	switch order {
	case "assess":
		return []string{"assess_notice"}
	case "issue_plan":
		return []string{"draft_plan", "final_plan"}
	case "contents", "placement":
		return []string{order}
	case "maintain":
		return []string{"amend"}
	}
	return nil
}

// ordered records what an order (or an agreement standing for one) asks:
// its compliance steps when withSteps, and that a refusal no longer stands.
func (c *Case) ordered(order string, withSteps bool) {
	if withSteps {
		for _, step := range orderSteps(order) {
			c.orders[step] = false
		}
	}
	switch order {
	case "assess":
		c.assessOrdered = true
	case "issue_plan":
		c.issueOrdered = true
	}
}
