package domain

import (
	"reflect"
	"slices"
	"sort"
	"sync"
)

// The catalog: every command the engine understands and every event it can
// read back, each in one row of an explicit, ordered table. Adding a
// statutory step is one row here, one named decision function, one
// rulebook entry and one scenario file (docs/architecture.md); a test walks
// the tables against each other, the rulebooks and the vocabulary document.

// Scope says what a command is about.
type Scope string

// The scopes of commands.
const (
	// ScopeCase commands are about one child's case, recorded in its stream.
	ScopeCase Scope = "case"
	// ScopeLA commands are about an LA: its rulebooks, schools and settings.
	ScopeLA Scope = "la"
)

// The senders of commands, named as the auth package names its roles.
const (
	SenderCaseworker = "caseworker"
	SenderManager    = "manager"
	SenderAdmin      = "admin"
	// SenderFamily and SenderProfessional are the people invited to a
	// case through the portal (participants.go): a parent or young
	// person, and a professional asked for advice.
	SenderFamily       = "family"
	SenderProfessional = "professional"
)

// The names of the commands that other packages must name themselves: the
// default opening of a case, and the LA steps by which a scenario's or a
// demo's setting (its rulebook, its schools' closures) is recorded.
const (
	CommandReceiveRequest      = "receive_request"
	CommandAdoptRulebook       = "adopt_rulebook"
	CommandRecordSchoolClosure = "record_school_closure"
)

// CommandSpec is one row of the command table.
type CommandSpec struct {
	// Name is the command's wire name, as scenarios and the API send it.
	Name  string
	Scope Scope
	// Opens marks a command that opens a case (a request, or the LA
	// becoming responsible).
	Opens bool
	// ByReceivingLA marks the command the LA a plan is moving to sends to
	// accept it: while the plan is moving, that LA owns the step.
	ByReceivingLA bool
	// NeedsHistory marks a command decided against the case's whole
	// history, its personal details opened (a correction).
	NeedsHistory bool
	// Emits lists the event types the command may emit; the first is the
	// step's own, by which a correction finds the command to decide again.
	Emits []string
	// Senders are the roles that may send it.
	Senders []string
	// Data is a zero value of the command's data, for its schema; nil when
	// it takes none.
	Data any
	// Example is valid data for the command, for the documentation and the
	// fuzz tests ("" when it takes none).
	Example string
	// Summary says in a sentence what the step records.
	Summary string
	// IssuesSecret marks a step for which the application makes a secret
	// (an invitation's link), hands the decision its SHA-256
	// (Command.SecretHash) and returns the secret to be sent.
	IssuesSecret bool

	decide   func(c *Case, cmd Command, rb *Rulebook) ([]Event, error)
	decideLA func(la string, cmd Command) (stream string, events []Event, err error)
}

// EventSpec is one row of the event table.
type EventSpec struct {
	// Type is the stored, stable name of the event.
	Type string
	// Older lists the earlier schema versions that still decode into the
	// current struct, each as it is or through Upcast.
	Older []int
	// Upcast, when set, rewrites a stored payload of an older schema
	// version into the current one before it is decoded: for a change the
	// current struct cannot read as it was (a field renamed, a value
	// re-coded). The stored event is never changed; its schema version
	// says which payload it holds.
	Upcast func(schema int, payload []byte) ([]byte, error)
	// System marks an event no command emits: recorded by the application
	// itself (an access to a case, a rulebook revision).
	System bool
	// NoClock marks an event no rulebook clock starts, stops, ends or
	// extends on, by design (a panel's view, an assignment, a correction,
	// which the engine applies otherwise).
	NoClock bool
	// New returns a zero event to decode a payload into.
	New func() Event
	// Derived lists the attributes (Event.Attr) that are not JSON fields of
	// the event: worked out from them for the rulebooks to test.
	Derived []string
}

// attrNames are the attributes a rulebook may name for the event: its JSON
// fields, embedded ones included, and its derived attributes.
func (e EventSpec) attrNames() map[string]bool {
	names := map[string]bool{}
	for _, d := range e.Derived {
		names[d] = true
	}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
				walk(f.Type)
				continue
			}
			if n := jsonName(f); n != "-" && f.IsExported() {
				names[n] = true
			}
		}
	}
	walk(reflect.TypeOf(e.New()).Elem())
	return names
}

// commandTable returns the command table, in the order of a case's life.
func commandTable() []CommandSpec {
	panel := PanelRecord{}
	workers := []string{SenderCaseworker, SenderManager}
	return []CommandSpec{
		{Name: CommandReceiveRequest, Scope: ScopeCase, Opens: true, Emits: []string{TypeRequestReceived}, Senders: workers,
			Data: requestData{}, Example: `{"requester":"parent","birth_date":"2015-05-01"}`,
			Summary: "A request for an EHC needs assessment (s36) opens a case.", decide: receiveRequest},
		{Name: "become_responsible", Scope: ScopeCase, Opens: true, Emits: []string{TypeLABecameResponsible}, Senders: workers,
			Data: responsibleData{}, Example: `{"route":"health_body","birth_date":"2022-05-01"}`,
			Summary: "The LA becomes responsible for a child or young person without a request (s24).", decide: becomeResponsible},
		{Name: "request_school_information", Scope: ScopeCase, Emits: []string{TypeSchoolInformationRequested}, Senders: workers,
			Data: requestSchoolInformationData{}, Example: `{"school":"S1"}`,
			Summary: "The LA asks a school for information before deciding whether to assess.", decide: requestSchoolInformation},
		{Name: "decide_to_assess", Scope: ScopeCase, Emits: []string{TypeAssessmentAgreed}, Senders: workers,
			Data: panel, Summary: "The LA decides to assess (reg 5).", decide: decideToAssess},
		{Name: "refuse_assessment", Scope: ScopeCase, Emits: []string{TypeAssessmentRefused}, Senders: workers,
			Data: panel, Summary: "The LA refuses to assess (reg 4, 5).", decide: refuseAssessment},
		{Name: "request_advice", Scope: ScopeCase, Emits: []string{TypeAdviceRequested}, Senders: workers,
			Data: requestAdviceData{}, Example: `{"advice":"educational_psychology"}`,
			Summary: "The LA asks for advice for the assessment (reg 6).", decide: requestAdvice},
		{Name: "receive_advice", Scope: ScopeCase, Emits: []string{TypeAdviceReceived}, Senders: []string{SenderCaseworker, SenderManager, SenderProfessional},
			Data: receiveAdviceData{}, Example: `{"advice":"educational_psychology"}`,
			Summary: "Advice asked for arrives (reg 8).", decide: receiveAdvice},
		{Name: "record_exception", Scope: ScopeCase, Emits: []string{TypeExceptionRecorded}, Senders: workers,
			Data: ExceptionRecorded{}, Example: `{"kind":"absence","from":"2024-07-01","to":"2024-08-31","evidence":"family abroad"}`,
			Summary: "An exception that may excuse a late limit, with its evidence.", decide: recordException},
		{Name: "decide_not_to_issue", Scope: ScopeCase, Emits: []string{TypeDecidedNotToIssue}, Senders: workers,
			Data: panel, Summary: "The LA decides not to issue a plan (reg 10).", decide: decideNotToIssue},
		{Name: "send_draft_plan", Scope: ScopeCase, Emits: []string{TypeDraftPlanSent}, Senders: workers,
			Data: panel, Summary: "The draft plan is sent to the family (reg 13).", decide: sendDraftPlan},
		{Name: "receive_representations", Scope: ScopeCase, Emits: []string{TypeRepresentationsReceived}, Senders: []string{SenderCaseworker, SenderManager, SenderFamily},
			Summary: "The family's representations on a draft arrive.", decide: receiveRepresentations},
		{Name: "consult_school", Scope: ScopeCase, Emits: []string{TypeSchoolConsulted}, Senders: workers,
			Data: consultSchoolData{}, Example: `{"school":"S1"}`,
			Summary: "A school is consulted on being named (s39).", decide: consultSchool},
		{Name: "receive_school_response", Scope: ScopeCase, Emits: []string{TypeSchoolResponded}, Senders: workers,
			Data: receiveSchoolResponseData{}, Example: `{"school":"S1"}`,
			Summary: "A consulted school responds.", decide: receiveSchoolResponse},
		{Name: "issue_final_plan", Scope: ScopeCase, Emits: []string{TypeFinalPlanIssued}, Senders: workers,
			Data: issueFinalPlanData{}, Example: `{"school":"S1"}`,
			Summary: "The final plan is issued (reg 13(2), 14).", decide: issueFinalPlan},
		{Name: "hold_review_meeting", Scope: ScopeCase, Emits: []string{TypeReviewMeetingHeld}, Senders: workers,
			Summary: "An annual review meeting is held (reg 20).", decide: holdReviewMeeting},
		{Name: "send_review_report", Scope: ScopeCase, Emits: []string{TypeReviewReportSent}, Senders: workers,
			Summary: "The review's report is sent (reg 20, 21).", decide: sendReviewReport},
		{Name: "notify_review_decision", Scope: ScopeCase, Emits: []string{TypeReviewDecisionNotified}, Senders: workers,
			Data: notifyReviewDecisionData{}, Example: `{"decision":"maintain"}`,
			Summary: "The review's decision is notified: maintain, amend or cease.", decide: notifyReviewDecision},
		{Name: "send_proposed_amendments", Scope: ScopeCase, Emits: []string{TypeAmendmentsProposed}, Senders: workers,
			Summary: "Proposed amendments are sent to the family (reg 22).", decide: sendProposedAmendments},
		{Name: "issue_amended_plan", Scope: ScopeCase, Emits: []string{TypeAmendedPlanIssued}, Senders: workers,
			Summary: "The amended plan is issued (reg 22(3)).", decide: issueAmendedPlan},
		{Name: "schedule_phase_transfer", Scope: ScopeCase, Emits: []string{TypePhaseTransferScheduled}, Senders: workers,
			Data: schedulePhaseTransferData{}, Example: `{"year":2026,"kind":"school"}`,
			Summary: "A transfer between phases of education is due (reg 18).", decide: schedulePhaseTransfer},
		{Name: "name_transfer_setting", Scope: ScopeCase, Emits: []string{TypeTransferSettingNamed}, Senders: workers,
			Data: nameTransferSettingData{}, Example: `{"school":"SEC1"}`,
			Summary: "The plan is amended to name the setting after the transfer.", decide: nameTransferSetting},
		{Name: "contact_mediation_adviser", Scope: ScopeCase, Emits: []string{TypeMediationAdviserContacted}, Senders: []string{SenderCaseworker, SenderManager, SenderFamily},
			Data: contactMediationAdviserData{}, Example: `{"wants_mediation":false}`,
			Summary: "The family contacts a mediation adviser (reg 33).", decide: contactMediationAdviser},
		{Name: "hold_mediation", Scope: ScopeCase, Emits: []string{TypeMediationHeld}, Senders: workers,
			Summary: "Mediation takes place.", decide: holdMediation},
		{Name: "notify_mediation_not_arranged", Scope: ScopeCase, Emits: []string{TypeMediationNotArranged}, Senders: workers,
			Summary: "The LA tells the adviser mediation cannot take place within 30 days.", decide: notifyMediationNotArranged},
		{Name: "issue_mediation_certificate", Scope: ScopeCase, Emits: []string{TypeMediationCertificateIssued}, Senders: workers,
			Summary: "The mediation adviser issues a certificate.", decide: issueMediationCertificate},
		{Name: "lodge_appeal", Scope: ScopeCase, Emits: []string{TypeAppealLodged}, Senders: workers,
			Data: lodgeAppealData{}, Example: `{"kind":"contents"}`,
			Summary: "The family appeals to the tribunal (s51).", decide: lodgeAppeal},
		{Name: "record_mediation_agreement", Scope: ScopeCase, Emits: []string{TypeMediationAgreed}, Senders: workers,
			Data: MediationAgreed{}, Example: `{"agrees":"contents"}`,
			Summary: "Mediation ends in a written agreement, which the LA carries out as if it were a tribunal order (reg 42).", decide: recordMediationAgreement},
		{Name: "tribunal_order", Scope: ScopeCase, Emits: []string{TypeTribunalOrdered}, Senders: workers,
			Data: tribunalOrderData{}, Example: `{"order":"contents"}`,
			Summary: "The tribunal decides an appeal (reg 44(2)).", decide: tribunalOrder},
		{Name: "comply_with_order", Scope: ScopeCase, Emits: []string{TypeOrderComplied}, Senders: workers,
			Data: complyWithOrderData{}, Example: `{"step":"contents"}`,
			Summary: "The LA does one step a tribunal order requires.", decide: complyWithOrder},
		{Name: "concede_appeal", Scope: ScopeCase, Emits: []string{TypeAppealConceded}, Senders: workers,
			Data: AppealConceded{}, Example: `{"kind":"contents"}`,
			Summary: "The LA tells the tribunal it will not oppose an appeal (reg 45).", decide: concedeAppeal},
		{Name: "comply_with_concession", Scope: ScopeCase, Emits: []string{TypeConcessionComplied}, Senders: workers,
			Data: ConcessionComplied{}, Example: `{"kind":"contents"}`,
			Summary: "The LA does one step of what it conceded.", decide: complyWithConcession},
		{Name: "cease_plan", Scope: ScopeCase, Emits: []string{TypePlanCeased}, Senders: workers,
			Data: PlanCeased{}, Example: `{"ceased_because":"needs_met_without_plan"}`,
			Summary: "The plan ends after a decision to cease, once the family may no longer appeal.", decide: ceasePlan},
		{Name: "request_reassessment", Scope: ScopeCase, Emits: []string{TypeReassessmentRequested}, Senders: workers,
			Data: requestReassessmentData{}, Example: `{"requester":"parent"}`,
			Summary: "A reassessment is requested (s44(2); reg 24).", decide: requestReassessment},
		{Name: "decide_to_reassess", Scope: ScopeCase, Emits: []string{TypeReassessmentAgreed}, Senders: workers,
			Summary: "The LA decides to reassess (reg 25; s44(3)).", decide: decideToReassess},
		{Name: "refuse_reassessment", Scope: ScopeCase, Emits: []string{TypeReassessmentRefused}, Senders: workers,
			Summary: "The LA refuses a request to reassess.", decide: refuseReassessment},
		{Name: "send_reassessment_draft", Scope: ScopeCase, Emits: []string{TypeReassessmentDraftSent}, Senders: workers,
			Summary: "The draft after a reassessment is sent (reg 27(1)).", decide: sendReassessmentDraft},
		{Name: "issue_reassessed_plan", Scope: ScopeCase, Emits: []string{TypeReassessedPlanIssued}, Senders: workers,
			Data: issueReassessedPlanData{}, Example: `{"outcome":"amended","school":"S2"}`,
			Summary: "The plan amended or replaced after a reassessment is issued (reg 27(2)).", decide: issueReassessedPlan},
		{Name: "keep_plan_after_reassessment", Scope: ScopeCase, Emits: []string{TypePlanKeptAfterReassessment}, Senders: workers,
			Summary: "The LA decides not to amend the plan after a reassessment.", decide: keepPlanAfterReassessment},
		{Name: "transfer_out", Scope: ScopeCase, Emits: []string{TypeTransferredOut}, Senders: workers,
			Data: TransferredOut{}, Example: `{"to_la":"E09000002","move_date":"2025-01-06"}`,
			Summary: "The LA learns the child moves to another LA (reg 15).", decide: transferOut},
		{Name: "transfer_in", Scope: ScopeCase, ByReceivingLA: true, Emits: []string{TypeTransferredIn}, Senders: workers,
			Summary: "The new LA takes the plan over.", decide: transferIn},
		{Name: "notify_transfer_decision", Scope: ScopeCase, Emits: []string{TypeTransferDecisionNotified}, Senders: workers,
			Data: notifyTransferDecisionData{}, Example: `{"reassess":false}`,
			Summary: "The new LA tells the family whether it will reassess (reg 15(4)).", decide: notifyTransferDecision},
		{Name: "panel_decision", Scope: ScopeCase, Emits: []string{TypePanelDecided}, Senders: workers,
			Data: PanelDecided{}, Example: `{"subject":"request","recommendation":"assess","agencies":["education"]}`,
			Summary: "A multi-agency panel gives its view.", decide: decidePanel},
		{Name: "offer_tailored_list", Scope: ScopeCase, Emits: []string{TypeTailoredListOffered}, Senders: workers,
			Data: TailoredListOffered{}, Example: `{"settings":[{"id":"S1","mainstream":true,"place_available":true}]}`,
			Summary: "The LA offers a tailored list of settings.", decide: offerTailoredList},
		{Name: "express_preference", Scope: ScopeCase, Emits: []string{TypePreferenceExpressed}, Senders: workers,
			Data: PreferenceExpressed{}, Example: `{"order":["S1"]}`,
			Summary: "The family ranks the settings of the list.", decide: expressPreference},
		{Name: "name_placement", Scope: ScopeCase, Emits: []string{TypePlacementNamed}, Senders: workers,
			Data: PlacementNamed{}, Example: `{"setting":"S1"}`,
			Summary: "The LA names a setting from the list.", decide: namePlacement},
		{Name: "start_ap_placement", Scope: ScopeCase, Emits: []string{TypeAPPlacementStarted}, Senders: workers,
			Data: APPlacementStarted{}, Example: `{"setting":"AP1","tier":"dual_registered","planned_end":"2026-07-01"}`,
			Summary: "Alternative provision starts.", decide: startAP},
		{Name: "review_ap_placement", Scope: ScopeCase, Emits: []string{TypeAPPlacementReviewed}, Senders: workers,
			Data: APPlacementReviewed{}, Example: `{"setting":"AP1"}`,
			Summary: "An alternative provision placement is reviewed.", decide: reviewAP},
		{Name: "end_ap_placement", Scope: ScopeCase, Emits: []string{TypeAPPlacementEnded}, Senders: workers,
			Data: APPlacementEnded{}, Example: `{"setting":"AP1","destination":"mainstream"}`,
			Summary: "Alternative provision ends.", decide: endAP},
		{Name: "assign_case", Scope: ScopeCase, Emits: []string{TypeCaseAssigned}, Senders: []string{SenderManager},
			Data: CaseAssigned{}, Example: `{"caseworker":"cw-1","team":"north"}`,
			Summary: "A manager assigns the case to a caseworker and team.", decide: assignCase},
		{Name: "withdraw_request", Scope: ScopeCase, Emits: []string{TypeRequestWithdrawn}, Senders: workers,
			Data: RequestWithdrawn{}, Example: `{"by":"parent"}`,
			Summary: "The family or young person withdraws the request before its outcome.", decide: withdrawRequest},
		{Name: "record_placement", Scope: ScopeCase, Emits: []string{TypePlacementRecorded}, Senders: workers,
			Data: PlacementRecorded{}, Example: `{"urn":"100000","rank":1,"named_in_plan":true}`,
			Summary: "The child starts at a setting, or a setting is named in their plan (SEN2 placement and plan detail).", decide: recordPlacement},
		{Name: "end_placement", Scope: ScopeCase, Emits: []string{TypePlacementEnded}, Senders: workers,
			Data: PlacementEnded{}, Example: `{"urn":"100000"}`,
			Summary: "The child leaves a setting.", decide: endPlacement},
		{Name: "record_sen_needs", Scope: ScopeCase, Emits: []string{TypeSENNeedsRecorded}, Senders: workers,
			Data: SENNeedsRecorded{}, Example: `{"primary":"ASD","secondary":"SLCN"}`,
			Summary: "The child's primary and secondary special educational needs.", decide: recordSENNeeds},
		{Name: "record_personal_budget", Scope: ScopeCase, Emits: []string{TypePersonalBudgetRecorded}, Senders: workers,
			Data: PersonalBudgetRecorded{}, Example: `{"taken_up":true,"direct_payments":["education"]}`,
			Summary: "The plan's personal budget: taken up, organised arrangements, direct payments (s49).", decide: recordPersonalBudget},
		{Name: "invite_participant", Scope: ScopeCase, Emits: []string{TypeParticipantInvited}, Senders: workers,
			Data: inviteParticipantData{}, IssuesSecret: true,
			Example: `{"participant":"parent","name":"Sam Example","contact":"sam@example.org"}`,
			Summary: "The LA invites a parent, young person or professional to take part through the portal, sending them a single-use link.", decide: inviteParticipant},
		{Name: "revoke_invitation", Scope: ScopeCase, Emits: []string{TypeInvitationRevoked}, Senders: workers,
			Data: revokeInvitationData{}, Example: `{"invitation":"i5"}`,
			Summary: "The LA withdraws an invitation: its link opens nothing and its holder is signed out.", decide: revokeInvitation},
		{Name: "erase_personal_data", Scope: ScopeCase, Emits: []string{TypePersonalDataErased}, Senders: []string{SenderManager},
			Data: PersonalDataErased{}, Example: `{"reason":"the young person asked"}`,
			Summary: "A manager erases the child's personal details by destroying the case's key.", decide: erasePersonalData},
		{Name: "correct_step", Scope: ScopeCase, NeedsHistory: true, Emits: []string{TypeStepCorrected}, Senders: workers,
			Data: correctionData{}, Example: `{"version":2,"on":"2024-04-10","reason":"date misread from the decision letter"}`,
			Summary: "An earlier step is corrected by a new event; the step stays in the history.", decide: correctStep},
		{Name: CommandAdoptRulebook, Scope: ScopeLA, Emits: []string{TypeRulebookAdopted}, Senders: []string{SenderAdmin},
			Data: adoptRulebookData{}, Example: `{"rulebook":"reform-2023","from":"2025-01-01"}`,
			Summary: "The LA applies a rulebook from a date.", decideLA: adoptRulebook},
		{Name: CommandRecordSchoolClosure, Scope: ScopeLA, Emits: []string{TypeSchoolClosureRecorded}, Senders: []string{SenderAdmin},
			Data: recordSchoolClosureData{}, Example: `{"school":"S1","first_day":"2024-07-22","reopens":"2024-09-03"}`,
			Summary: "A school of the LA closes for a period.", decideLA: recordSchoolClosure},
		{Name: "set_dfe_la_number", Scope: ScopeLA, Emits: []string{TypeDfENumberSet}, Senders: []string{SenderAdmin},
			Data: DfENumberSet{}, Example: `{"number":"201"}`,
			Summary: "The LA's three-digit DfE number, which its returns carry.", decideLA: setDfENumber},
		{Name: "set_ap_review_interval", Scope: ScopeLA, Emits: []string{TypeAPReviewIntervalSet}, Senders: []string{SenderAdmin},
			Data: setAPReviewIntervalData{}, Example: `{"weeks":6}`,
			Summary: "The interval at which the LA expects AP placements reviewed.", decideLA: setAPReviewInterval},
	}
}

// eventTable returns the event table: every event type the project stores.
func eventTable() []EventSpec {
	return []EventSpec{
		{Type: TypeRequestReceived, Older: []int{1}, New: func() Event { return &RequestReceived{} }},
		{Type: TypeLABecameResponsible, New: func() Event { return &LABecameResponsible{} }},
		{Type: TypeSchoolInformationRequested, New: func() Event { return &SchoolInformationRequested{} }},
		{Type: TypeAssessmentAgreed, New: func() Event { return &AssessmentAgreed{} }},
		{Type: TypeAssessmentRefused, New: func() Event { return &AssessmentRefused{} }},
		{Type: TypeAdviceRequested, New: func() Event { return &AdviceRequested{} }},
		{Type: TypeAdviceReceived, New: func() Event { return &AdviceReceived{} }},
		{Type: TypeExceptionRecorded, NoClock: true, New: func() Event { return &ExceptionRecorded{} }},
		{Type: TypeDecidedNotToIssue, New: func() Event { return &DecidedNotToIssue{} }},
		{Type: TypeDraftPlanSent, New: func() Event { return &DraftPlanSent{} }},
		{Type: TypeRepresentationsReceived, New: func() Event { return &RepresentationsReceived{} }},
		{Type: TypeSchoolConsulted, New: func() Event { return &SchoolConsulted{} }},
		{Type: TypeSchoolResponded, New: func() Event { return &SchoolResponded{} }},
		{Type: TypeFinalPlanIssued, New: func() Event { return &FinalPlanIssued{} }},
		{Type: TypeReviewMeetingHeld, New: func() Event { return &ReviewMeetingHeld{} }},
		{Type: TypeReviewReportSent, New: func() Event { return &ReviewReportSent{} }},
		{Type: TypeReviewDecisionNotified, New: func() Event { return &ReviewDecisionNotified{} }, Derived: []string{"proposals"}},
		{Type: TypeAmendmentsProposed, New: func() Event { return &AmendmentsProposed{} }},
		{Type: TypeAmendedPlanIssued, New: func() Event { return &AmendedPlanIssued{} }},
		{Type: TypePhaseTransferScheduled, New: func() Event { return &PhaseTransferScheduled{} }},
		{Type: TypeTransferSettingNamed, New: func() Event { return &TransferSettingNamed{} }},
		{Type: TypeMediationAdviserContacted, New: func() Event { return &MediationAdviserContacted{} }},
		{Type: TypeMediationHeld, New: func() Event { return &MediationHeld{} }},
		{Type: TypeMediationNotArranged, New: func() Event { return &MediationNotArranged{} }},
		{Type: TypeMediationCertificateIssued, New: func() Event { return &MediationCertificateIssued{} }},
		{Type: TypeAppealLodged, New: func() Event { return &AppealLodged{} }},
		{Type: TypeMediationAgreed, New: func() Event { return &MediationAgreed{} }, Derived: []string{"timescale"}},
		{Type: TypeTribunalOrdered, New: func() Event { return &TribunalOrdered{} }},
		{Type: TypeOrderComplied, New: func() Event { return &OrderComplied{} }},
		{Type: TypeAppealConceded, New: func() Event { return &AppealConceded{} }},
		{Type: TypeConcessionComplied, New: func() Event { return &ConcessionComplied{} }},
		{Type: TypePlanCeased, Older: []int{1}, New: func() Event { return &PlanCeased{} }},
		{Type: TypeReassessmentRequested, New: func() Event { return &ReassessmentRequested{} }},
		{Type: TypeReassessmentAgreed, New: func() Event { return &ReassessmentAgreed{} }},
		{Type: TypeReassessmentRefused, New: func() Event { return &ReassessmentRefused{} }},
		{Type: TypeReassessmentDraftSent, New: func() Event { return &ReassessmentDraftSent{} }},
		{Type: TypeReassessedPlanIssued, New: func() Event { return &ReassessedPlanIssued{} }},
		{Type: TypePlanKeptAfterReassessment, New: func() Event { return &PlanKeptAfterReassessment{} }},
		{Type: TypeTransferredOut, New: func() Event { return &TransferredOut{} }},
		{Type: TypeTransferredIn, New: func() Event { return &TransferredIn{} }},
		{Type: TypeTransferDecisionNotified, New: func() Event { return &TransferDecisionNotified{} }},
		{Type: TypePanelDecided, NoClock: true, New: func() Event { return &PanelDecided{} }},
		{Type: TypeTailoredListOffered, NoClock: true, New: func() Event { return &TailoredListOffered{} }},
		{Type: TypePreferenceExpressed, NoClock: true, New: func() Event { return &PreferenceExpressed{} }},
		{Type: TypePlacementNamed, NoClock: true, New: func() Event { return &PlacementNamed{} }},
		{Type: TypeAPPlacementStarted, New: func() Event { return &APPlacementStarted{} }},
		{Type: TypeAPPlacementReviewed, NoClock: true, New: func() Event { return &APPlacementReviewed{} }},
		{Type: TypeAPPlacementEnded, New: func() Event { return &APPlacementEnded{} }},
		{Type: TypeRequestWithdrawn, New: func() Event { return &RequestWithdrawn{} }},
		{Type: TypeHistoryImported, System: true, New: func() Event { return &HistoryImported{} }},
		{Type: TypePlacementRecorded, NoClock: true, New: func() Event { return &PlacementRecorded{} }},
		{Type: TypePlacementEnded, NoClock: true, New: func() Event { return &PlacementEnded{} }},
		{Type: TypeSENNeedsRecorded, NoClock: true, New: func() Event { return &SENNeedsRecorded{} }},
		{Type: TypePersonalBudgetRecorded, NoClock: true, New: func() Event { return &PersonalBudgetRecorded{} }},
		{Type: TypeCaseAssigned, NoClock: true, New: func() Event { return &CaseAssigned{} }},
		{Type: TypePersonalDataErased, NoClock: true, New: func() Event { return &PersonalDataErased{} }},
		{Type: TypeStepCorrected, NoClock: true, Older: []int{1}, New: func() Event { return &StepCorrected{} }},
		{Type: TypeRulebookAdopted, NoClock: true, New: func() Event { return &RulebookAdopted{} }},
		{Type: TypeSchoolClosureRecorded, NoClock: true, New: func() Event { return &SchoolClosureRecorded{} }},
		{Type: TypeDfENumberSet, NoClock: true, New: func() Event { return &DfENumberSet{} }},
		{Type: TypeAPReviewIntervalSet, NoClock: true, New: func() Event { return &APReviewIntervalSet{} }},
		{Type: TypeCaseAccessed, System: true, New: func() Event { return &CaseAccessed{} }},
		{Type: TypeParticipantInvited, NoClock: true, New: func() Event { return &ParticipantInvited{} }},
		{Type: TypeInvitationRevoked, NoClock: true, New: func() Event { return &InvitationRevoked{} }},
		{Type: TypeInvitationAccepted, System: true, New: func() Event { return &InvitationAccepted{} }},
		{Type: TypeDocumentUploaded, System: true, Older: []int{1}, New: func() Event { return &DocumentUploaded{} }},
		{Type: TypeRulebookRevised, System: true, New: func() Event { return &RulebookRevised{} }},
	}
}

// catalog is the tables indexed for lookups, built once on first use.
type catalog struct {
	commands []CommandSpec
	byName   map[string]*CommandSpec
	byEvent  map[string]*CommandSpec // the command whose own event a type is
	events   []EventSpec
	byType   map[string]*EventSpec
}

// catalogOnce guards the one building of the catalog. The tables are
// functions, not variables, because the decision functions they name look
// commands up again (a correction decides the corrected step anew): a
// variable initialised from them would refer to itself.
var (
	catalogOnce sync.Once
	catalogOf   *catalog
)

// theCatalog returns the indexed tables, building them on first use.
func theCatalog() *catalog {
	catalogOnce.Do(func() { catalogOf = buildCatalog() })
	return catalogOf
}

func buildCatalog() *catalog {
	c := &catalog{commands: commandTable(), events: eventTable(),
		byName: map[string]*CommandSpec{}, byEvent: map[string]*CommandSpec{}, byType: map[string]*EventSpec{}}
	for i := range c.commands {
		s := &c.commands[i]
		c.byName[s.Name] = s
		c.byEvent[s.Emits[0]] = s
	}
	for i := range c.events {
		c.byType[c.events[i].Type] = &c.events[i]
	}
	return c
}

// Commands returns a copy of the command table, in order: changing it
// changes nothing else.
func Commands() []CommandSpec {
	out := make([]CommandSpec, len(theCatalog().commands))
	for i := range out {
		out[i] = theCatalog().commands[i].clone()
	}
	return out
}

// Events returns a copy of the event table, in order.
func Events() []EventSpec {
	out := make([]EventSpec, len(theCatalog().events))
	for i, e := range theCatalog().events {
		e.Older, e.Derived = slices.Clone(e.Older), slices.Clone(e.Derived)
		out[i] = e
	}
	return out
}

// LookupCommand returns a copy of a command's row, or nil for an unknown
// name.
func LookupCommand(name string) *CommandSpec {
	s := theCatalog().byName[name]
	if s == nil {
		return nil
	}
	c := s.clone()
	return &c
}

// clone copies a row with its lists, so that no caller can change the table.
func (s *CommandSpec) clone() CommandSpec {
	c := *s
	c.Emits, c.Senders = slices.Clone(s.Emits), slices.Clone(s.Senders)
	return c
}

// CommandNames lists the commands of a scope (all when scope is empty),
// sorted.
func CommandNames(scope ...Scope) []string {
	var names []string
	for _, s := range Commands() {
		if len(scope) == 0 || s.Scope == scope[0] {
			names = append(names, s.Name)
		}
	}
	sort.Strings(names)
	return names
}

// CommandEventType returns the type of the first event a command emits.
func CommandEventType(command string) string {
	if s := LookupCommand(command); s != nil {
		return s.Emits[0]
	}
	return ""
}

// OpensCase reports whether a command opens a case: a request (s36), or
// the LA becoming responsible without one (s24).
func OpensCase(command string) bool {
	s := theCatalog().byName[command]
	return s != nil && s.Opens
}

// emits reports whether the command may emit an event of type t.
func (s *CommandSpec) emits(t string) bool {
	for _, e := range s.Emits {
		if e == t {
			return true
		}
	}
	return false
}

// MaySend reports whether a role may send a command.
func (s *CommandSpec) MaySend(role string) bool {
	for _, r := range s.Senders {
		if r == role {
			return true
		}
	}
	return false
}

// CommandForEvent returns the command whose own event has type t, "" for
// none.
func CommandForEvent(t string) string {
	if s := theCatalog().byEvent[t]; s != nil {
		return s.Name
	}
	return ""
}

// Owner returns the LA that owns a step on the case: the LA the plan is
// moving to for the step that accepts it, else the case's own LA.
func (c *Case) Owner(command string) string {
	if s := theCatalog().byName[command]; s != nil && s.ByReceivingLA && c.MovingTo != "" {
		return c.MovingTo
	}
	return c.LA
}
