package domain

import (
	"encoding/json"
	"slices"
	"strconv"
)

// Event is something that happened to a case, an LA or a school. Every event
// has an explicit, stable type name and a schema version; stored names are
// never derived from Go type names.
type Event interface {
	// EventType is the stable stored name, in past tense.
	EventType() string
	// SchemaVersion is the version of the payload's shape.
	SchemaVersion() int
	// Attr returns a payload attribute by its JSON name, as text, so that the
	// rulebook (which is data) can select and key clocks by payload values.
	Attr(name string) string
}

// Stable event type names. Changing one breaks every stored history.
const (
	TypeRequestReceived            = "request_received"
	TypeAssessmentAgreed           = "assessment_agreed"
	TypeAssessmentRefused          = "assessment_refused"
	TypeAdviceRequested            = "advice_requested"
	TypeAdviceReceived             = "advice_received"
	TypeExceptionRecorded          = "exception_recorded"
	TypeDecidedNotToIssue          = "decided_not_to_issue"
	TypeDraftPlanSent              = "draft_plan_sent"
	TypeRepresentationsReceived    = "representations_received"
	TypeSchoolConsulted            = "school_consulted"
	TypeSchoolResponded            = "school_responded"
	TypeFinalPlanIssued            = "final_plan_issued"
	TypeReviewMeetingHeld          = "review_meeting_held"
	TypeReviewReportSent           = "review_report_sent"
	TypeReviewDecisionNotified     = "review_decision_notified"
	TypeAmendmentsProposed         = "amendments_proposed"
	TypeAmendedPlanIssued          = "amended_plan_issued"
	TypePhaseTransferScheduled     = "phase_transfer_scheduled"
	TypeTransferSettingNamed       = "transfer_setting_named"
	TypeMediationAdviserContacted  = "mediation_adviser_contacted"
	TypeMediationHeld              = "mediation_held"
	TypeMediationNotArranged       = "mediation_not_arranged"
	TypeMediationCertificateIssued = "mediation_certificate_issued"
	TypeAppealLodged               = "appeal_lodged"
	TypeTribunalOrdered            = "tribunal_ordered"
	TypeOrderComplied              = "order_complied"
	TypePlanCeased                 = "plan_ceased"
	TypeRulebookAdopted            = "rulebook_adopted"
	TypeLABecameResponsible        = "la_became_responsible"
	TypeSchoolInformationRequested = "school_information_requested"
	TypeSchoolClosureRecorded      = "school_closure_recorded"
)

// Opening is what the first event of every case records, whether the case
// opened with a request (s36) or with the LA becoming responsible for the
// child or young person (s24): the child's school and personal details, and
// the rulebook in force. Its JSON fields sit flat in the event's.
type Opening struct {
	// BirthDate is set only in schema 1 requests.
	BirthDate Date   `json:"birth_date,omitempty"`
	School    string `json:"school,omitempty"`
	// Rulebook is the rulebook the LA had in force on the day the case
	// opened, recorded so that later changes of rules never alter its past.
	Rulebook string `json:"rulebook"`
	// Personal is Details sealed by the application with the case's key:
	// the domain never sees keys, and destroying the key erases it.
	Personal []byte `json:"personal,omitempty"`
	// Details are the personal details in the clear: from the command
	// before the application seals them, or opened again for a view. They
	// are never stored as they are.
	Details *PersonalDetails `json:"-"`
}

// Opened returns the opening itself, so that every case-opening event
// gives it through the Opener interface.
func (o *Opening) Opened() *Opening { return o }

// Opener is the first event of a case: RequestReceived or
// LABecameResponsible.
type Opener interface {
	Event
	Opened() *Opening
	// baseData returns the event's command data without the personal
	// details, to decide the step again after a correction.
	baseData() any
	// splitData checks corrected command data for the step strictly and
	// parts it into the data to store in the clear and the personal
	// details to seal (nil when the data gives none).
	splitData(raw json.RawMessage) (json.RawMessage, *PersonalDetails, error)
}

// RequestReceived records a request for an EHC needs assessment. Schema 2
// keeps the child's personal details sealed with the case's key (Personal);
// schema 1, stored before that, holds the date of birth in the clear.
type RequestReceived struct {
	Requester string `json:"requester"`
	Opening
}

// LABecameResponsible records that the LA became responsible for a child or
// young person in its area who has or may have special educational needs
// (s24), without a request: brought to its attention by a person or body,
// notified by a health body (s23), or identified by the LA itself. The 6-,
// 16- and 20-week limits then run from this day (reg 5(1)(b), 10(1), 13(2)).
type LABecameResponsible struct {
	// Route says how: brought_to_attention, health_body or la_identified.
	Route string `json:"route"`
	Opening
}

// PersonalDetails identify the child or young person. They are personal
// data: stored only sealed, and erasable.
type PersonalDetails struct {
	Forename  string `json:"forename,omitempty"`
	Surname   string `json:"surname,omitempty"`
	BirthDate Date   `json:"birth_date"`
	Address   string `json:"address,omitempty"`
	Postcode  string `json:"postcode,omitempty"`
	SEN2Person
}

// SEN2Person are the items of the person module of the SEN2 return that
// identify and describe the child or young person (sex, ethnicity, and the
// pupil or learner number, or why neither is known). They are personal
// data, sealed with the rest; identifiers.go checks them.
type SEN2Person struct {
	// Sex is as the school census records it: M or F.
	Sex string `json:"sex,omitempty" enum:"M,F" hint:"as the school census records it"`
	// Ethnicity is a main code of the school census's ethnicity list.
	Ethnicity string `json:"ethnicity,omitempty" hint:"the school census's code" enum:"WBRI,WIRI,WIRT,WOTH,WROM,MWBC,MWBA,MWAS,MOTH,AIND,APKN,ABAN,AOTH,BCRB,BAFR,BOTH,CHNE,OOTH,REFU,NOBT"`
	// UPN is the unique pupil number, ULN the unique learner number.
	UPN string `json:"upn,omitempty" label:"UPN (unique pupil number)" hint:"13 characters, such as B801200005001"`
	ULN string `json:"uln,omitempty" label:"ULN (unique learner number)" hint:"10 digits"`
	// UPNUnknown says why there is neither, as a CBDS code (UN1-UN7).
	UPNUnknown string `json:"upn_unknown,omitempty" enum:"UN1,UN2,UN3,UN4,UN5,UN6,UN7" label:"Why there is no UPN or ULN" hint:"only when neither is known"`
	// InYouthAccommodation says the request was made while the child or
	// young person was detained in relevant youth accommodation (CFA 2014
	// ss70-75, detained persons): SEN2's RYA item.
	InYouthAccommodation bool `json:"in_youth_accommodation,omitempty" label:"The request was made in relevant youth accommodation"`
}

// Born returns the child's date of birth as far as the event knows it: in
// the clear (schema 1), from opened details, or zero once erased or sealed.
func (e *Opening) Born() Date {
	if e.Details != nil {
		return e.Details.BirthDate
	}
	return e.BirthDate
}

// AssessmentAgreed records the LA's decision to carry out an assessment.
type AssessmentAgreed struct {
	PanelRecord
}

// AssessmentRefused records the LA's refusal to assess.
type AssessmentRefused struct {
	PanelRecord
}

// AdviceRequested records a request for advice; School is set when the head
// teacher or principal of that school was asked.
type AdviceRequested struct {
	Advice string `json:"advice"`
	School string `json:"school,omitempty"`
}

// SchoolInformationRequested records the LA asking a school's head teacher
// or principal for information before deciding whether to assess. It starts
// no advice clock (reg 8 applies to advice for an assessment), but a request
// made while the school is closed can excuse the 6-week decision (reg
// 5(4)(a)).
type SchoolInformationRequested struct {
	School string `json:"school"`
}

// AdviceReceived records advice coming back.
type AdviceReceived struct {
	Advice string `json:"advice"`
}

// ExceptionRecorded records a statutory exception with its evidence.
type ExceptionRecorded struct {
	Kind     string `json:"kind" enum:"school_closure,personal_circumstances,absence,missed_appointment,coronavirus"`
	From     Date   `json:"from"`
	To       Date   `json:"to"`
	Evidence Text   `json:"evidence"`
}

// DecidedNotToIssue records notice that no plan will be issued.
type DecidedNotToIssue struct {
	PanelRecord
}

// DraftPlanSent records the draft plan being sent to the family.
type DraftPlanSent struct {
	PanelRecord
}

// RepresentationsReceived records the family's comments on the draft.
type RepresentationsReceived struct{}

// SchoolConsulted records a school being consulted on being named.
type SchoolConsulted struct {
	School string `json:"school"`
}

// SchoolResponded records a consulted school's response.
type SchoolResponded struct {
	School string `json:"school"`
}

// FinalPlanIssued records the final EHC plan, naming the setting in section I.
type FinalPlanIssued struct {
	School string `json:"school"`
	PanelRecord
}

// ReviewMeetingHeld records an annual review meeting for review number Review.
type ReviewMeetingHeld struct {
	Review int `json:"review"`
}

// ReviewReportSent records the review report being sent.
type ReviewReportSent struct {
	Review int `json:"review"`
}

// ReviewDecisionNotified records the LA's review decision. NextReview is the
// number of the following review when the plan continues, else 0.
type ReviewDecisionNotified struct {
	Review     int    `json:"review"`
	Decision   string `json:"decision"`
	NextReview int    `json:"next_review,omitempty"`
	// StepDownConsidered records whether stepping the plan down or ceasing it
	// was considered (required under the reform-2023 standardised review).
	StepDownConsidered *bool `json:"step_down_considered,omitempty"`
	// Meeting is the day of the review meeting the decision follows, when
	// one was held: the amended plan is due 12 weeks after it (R (L, M and
	// P) v Devon CC [2022] EWHC 493 (Admin)).
	Meeting Date `json:"meeting,omitempty"`
	// ProposalsSent marks a decision to amend whose proposed amendments
	// were sent before it (or with it, recorded first): Devon's four weeks
	// for them are met.
	ProposalsSent bool `json:"proposals_sent,omitempty"`
}

// AmendmentsProposed records proposed amendments being sent to the family.
type AmendmentsProposed struct {
	Review int `json:"review"`
}

// AmendedPlanIssued records the amended final plan.
type AmendedPlanIssued struct {
	Review int `json:"review"`
}

// PhaseTransferScheduled records that the child moves phase in Year.
type PhaseTransferScheduled struct {
	Year int    `json:"year,omitempty"`
	Kind string `json:"kind"`
	// TransferDate is the day of a move between post-16 institutions at a
	// time other than the start of an academic year (kind post16_other).
	TransferDate Date `json:"transfer_date,omitempty"`
}

// TransferSettingNamed records the plan amended to name the new setting.
type TransferSettingNamed struct {
	School string `json:"school"`
}

// MediationAdviserContacted records the family contacting a mediation adviser.
type MediationAdviserContacted struct {
	WantsMediation bool `json:"wants_mediation"`
}

// MediationHeld records mediation taking place.
type MediationHeld struct{}

// MediationNotArranged records the LA telling the mediation adviser that
// mediation cannot take place within 30 days: the family is then owed a
// certificate within 3 working days, without mediation (statutory.md 3.4).
type MediationNotArranged struct{}

// PlanCeased records the day the LA stopped maintaining the plan, after a
// decision to cease: it may do so only once the family's time to appeal has
// passed, or the appeal against the decision has been dismissed (the plan is
// maintained until then).
type PlanCeased struct {
	// Reason is why the plan ended, as the SEN2 return counts reasons
	// (schema 2; a schema 1 plan_ceased gives none).
	Reason string `json:"ceased_because,omitempty" enum:"maximum_age,needs_met_without_plan,higher_education,paid_employment,moved_to_another_la,no_longer_engaging,moved_outside_england,deceased,other"`
}

// MediationCertificateIssued records the mediation certificate.
type MediationCertificateIssued struct{}

// AppealLodged records an appeal to the tribunal.
type AppealLodged struct {
	Kind string `json:"kind"`
}

// TribunalOrdered records a tribunal order the LA must comply with.
type TribunalOrdered struct {
	Order string `json:"order"`
}

// OrderComplied records a compliance step of a tribunal order.
type OrderComplied struct {
	Step string `json:"step"`
}

// RulebookAdopted records an LA adopting a rulebook from a date.
type RulebookAdopted struct {
	Rulebook string `json:"rulebook"`
	From     Date   `json:"from"`
}

// SchoolClosureRecorded records a school closing from FirstDay (first day
// closed) until Reopens (first day open again).
type SchoolClosureRecorded struct {
	School   string `json:"school"`
	FirstDay Date   `json:"first_day"`
	Reopens  Date   `json:"reopens"`
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func (RequestReceived) EventType() string            { return TypeRequestReceived }
func (LABecameResponsible) EventType() string        { return TypeLABecameResponsible }
func (AssessmentAgreed) EventType() string           { return TypeAssessmentAgreed }
func (AssessmentRefused) EventType() string          { return TypeAssessmentRefused }
func (AdviceRequested) EventType() string            { return TypeAdviceRequested }
func (SchoolInformationRequested) EventType() string { return TypeSchoolInformationRequested }
func (AdviceReceived) EventType() string             { return TypeAdviceReceived }
func (ExceptionRecorded) EventType() string          { return TypeExceptionRecorded }
func (DecidedNotToIssue) EventType() string          { return TypeDecidedNotToIssue }
func (DraftPlanSent) EventType() string              { return TypeDraftPlanSent }
func (RepresentationsReceived) EventType() string    { return TypeRepresentationsReceived }
func (SchoolConsulted) EventType() string            { return TypeSchoolConsulted }
func (SchoolResponded) EventType() string            { return TypeSchoolResponded }
func (FinalPlanIssued) EventType() string            { return TypeFinalPlanIssued }
func (ReviewMeetingHeld) EventType() string          { return TypeReviewMeetingHeld }
func (ReviewReportSent) EventType() string           { return TypeReviewReportSent }
func (ReviewDecisionNotified) EventType() string     { return TypeReviewDecisionNotified }
func (AmendmentsProposed) EventType() string         { return TypeAmendmentsProposed }
func (AmendedPlanIssued) EventType() string          { return TypeAmendedPlanIssued }
func (PhaseTransferScheduled) EventType() string     { return TypePhaseTransferScheduled }
func (TransferSettingNamed) EventType() string       { return TypeTransferSettingNamed }
func (MediationAdviserContacted) EventType() string  { return TypeMediationAdviserContacted }
func (MediationHeld) EventType() string              { return TypeMediationHeld }
func (MediationNotArranged) EventType() string       { return TypeMediationNotArranged }
func (PlanCeased) EventType() string                 { return TypePlanCeased }
func (MediationCertificateIssued) EventType() string { return TypeMediationCertificateIssued }
func (AppealLodged) EventType() string               { return TypeAppealLodged }
func (TribunalOrdered) EventType() string            { return TypeTribunalOrdered }
func (OrderComplied) EventType() string              { return TypeOrderComplied }
func (RulebookAdopted) EventType() string            { return TypeRulebookAdopted }
func (SchoolClosureRecorded) EventType() string      { return TypeSchoolClosureRecorded }

// All events are at schema version 1.
func (RequestReceived) SchemaVersion() int            { return 2 }
func (LABecameResponsible) SchemaVersion() int        { return 1 }
func (AssessmentAgreed) SchemaVersion() int           { return 1 }
func (AssessmentRefused) SchemaVersion() int          { return 1 }
func (AdviceRequested) SchemaVersion() int            { return 1 }
func (SchoolInformationRequested) SchemaVersion() int { return 1 }
func (AdviceReceived) SchemaVersion() int             { return 1 }
func (ExceptionRecorded) SchemaVersion() int          { return 1 }
func (DecidedNotToIssue) SchemaVersion() int          { return 1 }
func (DraftPlanSent) SchemaVersion() int              { return 1 }
func (RepresentationsReceived) SchemaVersion() int    { return 1 }
func (SchoolConsulted) SchemaVersion() int            { return 1 }
func (SchoolResponded) SchemaVersion() int            { return 1 }
func (FinalPlanIssued) SchemaVersion() int            { return 1 }
func (ReviewMeetingHeld) SchemaVersion() int          { return 1 }
func (ReviewReportSent) SchemaVersion() int           { return 1 }
func (ReviewDecisionNotified) SchemaVersion() int     { return 1 }
func (AmendmentsProposed) SchemaVersion() int         { return 1 }
func (AmendedPlanIssued) SchemaVersion() int          { return 1 }
func (PhaseTransferScheduled) SchemaVersion() int     { return 1 }
func (TransferSettingNamed) SchemaVersion() int       { return 1 }
func (MediationAdviserContacted) SchemaVersion() int  { return 1 }
func (MediationHeld) SchemaVersion() int              { return 1 }
func (MediationNotArranged) SchemaVersion() int       { return 1 }
func (PlanCeased) SchemaVersion() int                 { return 2 }
func (MediationCertificateIssued) SchemaVersion() int { return 1 }
func (AppealLodged) SchemaVersion() int               { return 1 }
func (TribunalOrdered) SchemaVersion() int            { return 1 }
func (OrderComplied) SchemaVersion() int              { return 1 }
func (RulebookAdopted) SchemaVersion() int            { return 1 }
func (SchoolClosureRecorded) SchemaVersion() int      { return 1 }

// Attr implementations expose the payload fields the rulebook may refer to.

func (e RequestReceived) Attr(n string) string {
	switch n {
	case "requester":
		return e.Requester
	case "school":
		return e.School
	case "rulebook":
		return e.Rulebook
	}
	return ""
}
func (e LABecameResponsible) Attr(n string) string {
	switch n {
	case "route":
		return e.Route
	case "school":
		return e.School
	case "rulebook":
		return e.Rulebook
	}
	return ""
}
func (AssessmentAgreed) Attr(string) string               { return "" }
func (AssessmentRefused) Attr(string) string              { return "" }
func (e SchoolInformationRequested) Attr(n string) string { return pick(n, "school", e.School) }
func (e AdviceRequested) Attr(n string) string {
	switch n {
	case "advice":
		return e.Advice
	case "school":
		return e.School
	}
	return ""
}
func (e AdviceReceived) Attr(n string) string { return pick(n, "advice", e.Advice) }
func (e ExceptionRecorded) Attr(n string) string {
	return pick(n, "kind", e.Kind)
}
func (DecidedNotToIssue) Attr(string) string       { return "" }
func (DraftPlanSent) Attr(string) string           { return "" }
func (RepresentationsReceived) Attr(string) string { return "" }
func (e SchoolConsulted) Attr(n string) string     { return pick(n, "school", e.School) }
func (e SchoolResponded) Attr(n string) string     { return pick(n, "school", e.School) }
func (e FinalPlanIssued) Attr(n string) string     { return pick(n, "school", e.School) }
func (e ReviewMeetingHeld) Attr(n string) string   { return pick(n, "review", itoa(e.Review)) }
func (e ReviewReportSent) Attr(n string) string    { return pick(n, "review", itoa(e.Review)) }
func (e ReviewDecisionNotified) Attr(n string) string {
	switch n {
	case "review":
		return itoa(e.Review)
	case "decision":
		return e.Decision
	case "next_review":
		return itoa(e.NextReview)
	case "meeting":
		if e.Meeting.IsZero() {
			return ""
		}
		return e.Meeting.String()
	case "proposals":
		if e.ProposalsSent {
			return "sent"
		}
		return "due"
	}
	return ""
}
func (e AmendmentsProposed) Attr(n string) string { return pick(n, "review", itoa(e.Review)) }
func (e AmendedPlanIssued) Attr(n string) string  { return pick(n, "review", itoa(e.Review)) }
func (e PhaseTransferScheduled) Attr(n string) string {
	switch n {
	case "year":
		return itoa(e.Year)
	case "kind":
		return e.Kind
	case "transfer_date":
		if e.TransferDate.IsZero() {
			return ""
		}
		return e.TransferDate.String()
	}
	return ""
}
func (e TransferSettingNamed) Attr(n string) string { return pick(n, "school", e.School) }
func (e MediationAdviserContacted) Attr(n string) string {
	return pick(n, "wants_mediation", strconv.FormatBool(e.WantsMediation))
}
func (MediationHeld) Attr(string) string              { return "" }
func (MediationNotArranged) Attr(string) string       { return "" }
func (PlanCeased) Attr(string) string                 { return "" }
func (MediationCertificateIssued) Attr(string) string { return "" }
func (e AppealLodged) Attr(n string) string           { return pick(n, "kind", e.Kind) }
func (e TribunalOrdered) Attr(n string) string        { return pick(n, "order", e.Order) }
func (e OrderComplied) Attr(n string) string          { return pick(n, "step", e.Step) }
func (e RulebookAdopted) Attr(n string) string        { return pick(n, "rulebook", e.Rulebook) }
func (e SchoolClosureRecorded) Attr(n string) string  { return pick(n, "school", e.School) }

func pick(name, want, value string) string {
	if name == want {
		return value
	}
	return ""
}

// DecodeEvent reads a stored payload of the given type and schema version.
func DecodeEvent(eventType string, schema int, payload []byte) (Event, error) {
	spec := theCatalog().byType[eventType]
	if spec == nil {
		return nil, Errorf(Invalid, "unknown event type %q", eventType)
	}
	return decodeWith(spec, schema, payload)
}

// decodeWith reads a payload of a schema version as the event of spec,
// upcasting an older version first when the spec says how.
func decodeWith(spec *EventSpec, schema int, payload []byte) (Event, error) {
	eventType := spec.Type
	e := spec.New()
	if schema != e.SchemaVersion() && !slices.Contains(spec.Older, schema) {
		return nil, Errorf(Invalid, "event type %q has no schema version %d", eventType, schema)
	}
	if schema != e.SchemaVersion() && spec.Upcast != nil && len(payload) > 0 {
		up, err := spec.Upcast(schema, payload)
		if err != nil {
			return nil, &Error{Code: Invalid, Message: eventType + " payload of schema version " + strconv.Itoa(schema) + " cannot be upcast", Err: err}
		}
		payload = up
	}
	if len(payload) > 0 {
		if err := json.Unmarshal(payload, e); err != nil {
			return nil, &Error{Code: Invalid, Message: "undecodable " + eventType + " payload", Err: err}
		}
	}
	return e, nil
}
