package domain

import (
	"fmt"
	"strings"
)

// Event types of the reform vocabulary (Green Paper 2022, Improvement Plan
// 2023). The commands exist under every rulebook where harmless (a panel may
// meet under current law); the rulebook's features decide what is required.
const (
	TypePanelDecided        = "panel_decided"
	TypeTailoredListOffered = "tailored_list_offered"
	TypePreferenceExpressed = "preference_expressed"
	TypePlacementNamed      = "placement_named"
	TypeAPPlacementStarted  = "ap_placement_started"
	TypeAPPlacementReviewed = "ap_placement_reviewed"
	TypeAPPlacementEnded    = "ap_placement_ended"
)

// Features a rulebook may switch on (Rulebook.Features). Each rulebook names
// exactly what it has: a binding or mandatory form names its advisory form
// too, and a name not listed here is an error when the rulebooks load.
const (
	// featurePanels: multi-agency panels are in use and advisory, as the
	// Improvement Plan 2023 tests them (seed 001 ¶21): a decision may be
	// recorded without one; a decision that says it considered a panel's
	// view needs that view on record.
	featurePanels = "panels"
	// featurePanelsMandatory: statutory panels whose views the LA "must take
	// into account" (Green Paper 2022, seed 002 item 3): a decision needs
	// the panel's view on its subject first, must record that it was
	// considered, and needs a reason to depart from it.
	featurePanelsMandatory = "panels_mandatory"
	// featureTailoredList: the LA offers a tailored list of settings and
	// records the family's preferences; the list is advisory (Improvement
	// Plan 2023 ¶21, ¶28): another setting may be named, with a reason.
	featureTailoredList = "tailored_list"
	// featureTailoredListBinding: the LA names the first setting in the
	// family's order with a place, and may pass over a mainstream preference
	// only as "incompatible with the provision of efficient education of
	// others" (Green Paper 2022, seed 002 item 6).
	featureTailoredListBinding = "tailored_list_binding"
	// featureStepDown: a review decision records whether stepping down or
	// ceasing the plan was considered (Green Paper 2022, seed 002 item 4).
	featureStepDown = "step_down_recording"
	// featureMandatoryMediation: mediation before any appeal (Green Paper
	// 2022, seed 002 item 7; the Improvement Plan only tests it).
	featureMandatoryMediation = "mandatory_mediation"
	// featureAP: the three tiers of alternative provision (Improvement Plan
	// 2023 ¶21).
	featureAP = "alternative_provision"
)

// featureNeeds lists the known features, each with the feature it is a
// stronger form of ("" for none).
func featureNeeds() map[string]string {
	return map[string]string{
		featurePanels:              "",
		featurePanelsMandatory:     featurePanels,
		featureTailoredList:        "",
		featureTailoredListBinding: featureTailoredList,
		featureStepDown:            "",
		featureMandatoryMediation:  "",
		featureAP:                  "",
	}
}

// checkFeatures reports a feature name the engine does not know, a feature
// switched off by writing false (leave it out instead), and a stronger form
// without the feature it strengthens.
func checkFeatures(f map[string]bool) error {
	all := featureNeeds()
	for name, on := range f {
		needs, ok := all[name]
		if !ok {
			known := make([]string, 0, len(all))
			for k := range all {
				known = append(known, k)
			}
			return fmt.Errorf("unknown feature %q (known: %s)", name, strings.Join(sortedStrings(known), ", "))
		}
		if !on {
			return fmt.Errorf("feature %q is false: leave it out", name)
		}
		if needs != "" && !f[needs] {
			return fmt.Errorf("feature %q needs %q too", name, needs)
		}
	}
	return nil
}

// panelRecommendations says what a panel's recommendation may be on each
// subject (PanelDecided's subject enum): nil for a free value (the setting,
// the funding band).
func panelRecommendations(subject string) []string {
	switch subject {
	case "request":
		return []string{"assess", "refuse"}
	case "issue":
		return []string{"issue", "not_issue"}
	case "provision":
		return []string{"agree", "amend"}
	}
	return nil
}

// AP tiers (Improvement Plan 2023 ¶21; the Green Paper's names, seed 002):
// targeted support inside a mainstream school (not an AP placement),
// time-limited placements in AP with dual registration (the only tier with a
// planned end), and longer-term transitional placements; and where a pupil
// may go when a placement ends.
const (
	apTierTargetedSupport = "targeted_support"
	apTierTimeLimited     = "dual_registered"
	apTierTransitional    = "transitional"
)

// PanelRecord is what an LA decision records about the multi-agency panel's
// view: that it was considered and, when the LA departs from it, why.
type PanelRecord struct {
	PanelConsidered bool `json:"panel_considered,omitempty"`
	DepartureReason Text `json:"departure_reason,omitempty"`
}

// PanelDecided records a multi-agency panel's view on one subject.
type PanelDecided struct {
	Subject        string `json:"subject" enum:"request,issue,provision,placement,funding"`
	Recommendation string `json:"recommendation"`
	// Agencies may sit on a panel: the Green Paper names "schools and
	// colleges, health, social care and parents and carers" (seed 002 item
	// 3); school stands for a school or college, parents for parents and
	// carers.
	Agencies []string `json:"agencies" enum:"education,health,social_care,school,parents"`
}

// Setting is one setting of a tailored list.
type Setting struct {
	ID             string `json:"id"`
	Mainstream     bool   `json:"mainstream"`
	PlaceAvailable bool   `json:"place_available"`
}

// TailoredListOffered records the list of suitable settings given to the family.
type TailoredListOffered struct {
	Settings []Setting `json:"settings"`
}

// PreferenceExpressed records the family's ranking of the tailored list.
type PreferenceExpressed struct {
	Order []string `json:"order"`
}

// PlacementNamed records the setting the LA names, with its funding band and
// tariff, and why it is not the family's first available preference when so:
// under an advisory list, PreferenceReason says why another setting is named;
// under a binding list, IncompatibilityReason says why the family's mainstream
// preference is incompatible with the provision of efficient education of
// others (the only ground the Green Paper allows).
type PlacementNamed struct {
	Setting               string `json:"setting"`
	Mainstream            bool   `json:"mainstream"`
	FundingBand           string `json:"funding_band,omitempty"`
	Tariff                string `json:"tariff,omitempty"`
	IncompatibilityReason Text   `json:"incompatibility_reason,omitempty"`
	PreferenceReason      Text   `json:"preference_reason,omitempty"`
	PanelRecord
}

// APPlacementStarted records a pupil moving into alternative provision, or
// (tier targeted_support) AP support starting inside a mainstream school.
// PlannedEnd is required for a time-limited placement and optional otherwise.
type APPlacementStarted struct {
	Setting    string `json:"setting"`
	Tier       string `json:"tier" enum:"targeted_support,dual_registered,transitional"`
	PlannedEnd Date   `json:"planned_end,omitempty"`
}

// APPlacementReviewed records the review of an AP placement.
type APPlacementReviewed struct {
	Setting string `json:"setting"`
}

// APPlacementEnded records a pupil moving out of alternative provision.
type APPlacementEnded struct {
	Setting     string `json:"setting"`
	Destination string `json:"destination" enum:"mainstream,special,alternative_provision,other"`
}

func (PanelDecided) EventType() string        { return TypePanelDecided }
func (TailoredListOffered) EventType() string { return TypeTailoredListOffered }
func (PreferenceExpressed) EventType() string { return TypePreferenceExpressed }
func (PlacementNamed) EventType() string      { return TypePlacementNamed }
func (APPlacementStarted) EventType() string  { return TypeAPPlacementStarted }
func (APPlacementReviewed) EventType() string { return TypeAPPlacementReviewed }
func (APPlacementEnded) EventType() string    { return TypeAPPlacementEnded }

func (PanelDecided) SchemaVersion() int        { return 1 }
func (TailoredListOffered) SchemaVersion() int { return 1 }
func (PreferenceExpressed) SchemaVersion() int { return 1 }
func (PlacementNamed) SchemaVersion() int      { return 1 }
func (APPlacementStarted) SchemaVersion() int  { return 1 }
func (APPlacementReviewed) SchemaVersion() int { return 1 }
func (APPlacementEnded) SchemaVersion() int    { return 1 }

func (e PanelDecided) Attr(n string) string {
	switch n {
	case "subject":
		return e.Subject
	case "recommendation":
		return e.Recommendation
	}
	return ""
}
func (TailoredListOffered) Attr(string) string { return "" }
func (PreferenceExpressed) Attr(string) string { return "" }
func (e PlacementNamed) Attr(n string) string  { return pick(n, "setting", e.Setting) }
func (e APPlacementStarted) Attr(n string) string {
	switch n {
	case "setting":
		return e.Setting
	case "tier":
		return e.Tier
	case "planned_end":
		return e.PlannedEnd.String()
	}
	return ""
}
func (e APPlacementReviewed) Attr(n string) string { return pick(n, "setting", e.Setting) }
func (e APPlacementEnded) Attr(n string) string {
	switch n {
	case "setting":
		return e.Setting
	case "destination":
		return e.Destination
	}
	return ""
}

// checkPanel applies the panel rule of the rulebook to an LA decision on a
// subject (outcome is what the decision says about it, "" when it says
// nothing comparable):
//   - panels_mandatory (Green Paper 2022): the panel's view on the subject
//     must exist, the decision must record that it was considered, and a
//     decision other than the recommendation needs a departure_reason;
//   - panels (Improvement Plan 2023, advisory, under test): a decision may be
//     recorded without a panel; one that records panel_considered needs a
//     panel's view on the subject on record. A departure from the view needs
//     no reason (nothing in the Improvement Plan asks for one); a reason given
//     is recorded, and departures can be counted from the panel_decided and
//     decision events;
//   - neither: the panel record is not checked.
func (c *Case) checkPanel(rb *Rulebook, step, subject, outcome string, p PanelRecord) error {
	rec, ok := c.panels[subject]
	switch {
	case rb.Features[featurePanelsMandatory]:
		if !ok {
			return conflictf("%s: under %s a multi-agency panel must first give its view on the %s (panel_decision)", step, rb.ID, subject)
		}
		if !p.PanelConsidered {
			return FieldErrorf("data.panel_considered", "must be true: record that the panel's view on the %s was considered", subject)
		}
		if outcome != "" && rec != outcome && !p.DepartureReason.Given() {
			return FieldErrorf("data.departure_reason", "the panel recommended %q on the %s: say why the LA departs from it", rec, subject)
		}
	case rb.Features[featurePanels]:
		if p.PanelConsidered && !ok {
			return conflictf("%s: panel_considered is true but no multi-agency panel has given its view on the %s (panel_decision)", step, subject)
		}
	}
	return nil
}

func decidePanel(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d PanelDecided
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if allowed := panelRecommendations(d.Subject); allowed != nil {
		if err := oneOf("recommendation", d.Recommendation, allowed...); err != nil {
			return nil, err
		}
	} else if err := required("recommendation", d.Recommendation); err != nil {
		return nil, err
	}
	if len(d.Agencies) == 0 {
		return nil, FieldErrorf("data.agencies", "name the agencies present (%s)", strings.Join(enumOf[PanelDecided]("agencies"), ", "))
	}
	seen := map[string]bool{}
	for _, a := range d.Agencies {
		if seen[a] {
			return nil, FieldErrorf("data.agencies", "%s is listed twice", a)
		}
		seen[a] = true
	}
	return []Event{&d}, nil
}

func offerTailoredList(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d TailoredListOffered
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if !rb.Features[featureTailoredList] {
		return nil, conflictf("offer_tailored_list: tailored lists of settings are not part of %s", rb.ID)
	}
	if len(d.Settings) == 0 {
		return nil, FieldErrorf("data.settings", "list at least one setting")
	}
	seen := map[string]bool{}
	for i, s := range d.Settings {
		if err := ValidateID(fmt.Sprintf("data.settings[%d].id", i), s.ID); err != nil {
			return nil, err
		}
		if seen[s.ID] {
			return nil, FieldErrorf(fmt.Sprintf("data.settings[%d].id", i), "%s is listed twice", s.ID)
		}
		seen[s.ID] = true
	}
	if err := c.mustBeAssessing("offer_tailored_list"); err != nil && !c.planIssued {
		return nil, err
	}
	return []Event{&d}, nil
}

// expressPreference records the family's order. Under a binding list every
// preference is a setting of the list; under an advisory one the family may
// also rank a setting off the list (its id is checked like any other).
func expressPreference(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d PreferenceExpressed
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if c.tailored == nil {
		return nil, conflictf("express_preference: no tailored list has been offered")
	}
	if len(d.Order) == 0 {
		return nil, FieldErrorf("data.order", "rank at least one setting of the list")
	}
	seen := map[string]bool{}
	for _, id := range d.Order {
		if _, ok := c.tailored[id]; !ok {
			if rb.Features[featureTailoredListBinding] {
				return nil, FieldErrorf("data.order", "%s is not on the tailored list", id)
			}
			if err := ValidateID("data.order", id); err != nil {
				return nil, err
			}
		}
		if seen[id] {
			return nil, FieldErrorf("data.order", "%s is ranked twice", id)
		}
		seen[id] = true
	}
	return []Event{&d}, nil
}

func namePlacement(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d PlacementNamed
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := required("setting", d.Setting); err != nil {
		return nil, err
	}
	if !rb.Features[featureTailoredList] {
		return nil, conflictf("name_placement: under %s the setting is named in the plan (issue_final_plan)", rb.ID)
	}
	if c.tailored == nil {
		return nil, conflictf("name_placement: no tailored list has been offered")
	}
	var err error
	if rb.Features[featureTailoredListBinding] {
		err = c.checkBindingPlacement(&d)
	} else {
		err = c.checkAdvisoryPlacement(&d)
	}
	if err != nil {
		return nil, err
	}
	if err := c.checkPanel(rb, "name_placement", "placement", d.Setting, d.PanelRecord); err != nil {
		return nil, err
	}
	if d.FundingBand != "" {
		if err := c.checkPanel(rb, "name_placement", "funding", d.FundingBand, d.PanelRecord); err != nil {
			return nil, err
		}
	}
	return []Event{&d}, nil
}

// firstAvailable returns the family's first preference that the list gives a
// place; a preference off the list (possible under an advisory list) counts,
// as the list says nothing of its places.
func (c *Case) firstAvailable() (string, bool) {
	for _, id := range c.preference {
		if st, ok := c.tailored[id]; !ok || st.PlaceAvailable {
			return id, true
		}
	}
	return "", false
}

// checkAdvisoryPlacement applies an advisory tailored list (Improvement Plan
// 2023): the LA may name any setting, on the list or not; naming one other
// than the family's first preference with a place is recorded with a
// preference_reason, and never refused for that.
func (c *Case) checkAdvisoryPlacement(d *PlacementNamed) error {
	if s, ok := c.tailored[d.Setting]; ok {
		d.Mainstream = s.Mainstream
	}
	if first, ok := c.firstAvailable(); ok && first != d.Setting && !d.PreferenceReason.Given() {
		return FieldErrorf("data.preference_reason", "%s is the family's first preference with a place: record why the LA names %s instead", first, d.Setting)
	}
	return nil
}

// checkBindingPlacement applies the Green Paper's binding list: the LA names
// a setting on the list with a place, the first in the family's order with a
// place; it may pass over mainstream preferences only, each as "incompatible
// with the provision of efficient education of others", recorded in
// incompatibility_reason. A specialist or independent preference with a place
// cannot be passed over. A setting the family did not rank may be named only
// when no preference has a place or every one with a place is mainstream and
// passed over so (the Green Paper does not say what is named then).
func (c *Case) checkBindingPlacement(d *PlacementNamed) error {
	s, ok := c.tailored[d.Setting]
	if !ok {
		return FieldErrorf("data.setting", "%s is not on the tailored list", d.Setting)
	}
	if c.preference == nil {
		return conflictf("name_placement: the family has not ranked the tailored list yet")
	}
	if !s.PlaceAvailable {
		return FieldErrorf("data.setting", "%s has no place available", d.Setting)
	}
	d.Mainstream = s.Mainstream
	var passed []string // mainstream preferences with a place ranked above the named setting
	for _, id := range c.preference {
		st := c.tailored[id]
		if !st.PlaceAvailable {
			continue
		}
		if id == d.Setting {
			break
		}
		if !st.Mainstream {
			return FieldErrorf("data.setting", "%s is the family's preference with a place ranked above %s and is not mainstream: under a binding tailored list it must be named", id, d.Setting)
		}
		passed = append(passed, id)
	}
	if len(passed) > 0 && !d.IncompatibilityReason.Given() {
		return FieldErrorf("data.incompatibility_reason", "the family's mainstream preference %s may be passed over only as incompatible with the provision of efficient education of others: record why", strings.Join(passed, ", "))
	}
	return nil
}

func startAP(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d APPlacementStarted
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := required("setting", d.Setting); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if !rb.Features[featureAP] {
		return nil, conflictf("start_ap_placement: alternative provision tiers are not part of %s", rb.ID)
	}
	// Only the time-limited tier has a planned end by definition; targeted
	// support happens inside a mainstream school and a transitional placement
	// lasts until the pupil moves on, so for them a planned end is optional.
	if d.PlannedEnd.IsZero() && d.Tier == apTierTimeLimited {
		return nil, FieldErrorf("data.planned_end", "is required: a time-limited (%s) AP placement has a planned end", apTierTimeLimited)
	}
	if !d.PlannedEnd.IsZero() && d.PlannedEnd <= cmd.On {
		return nil, FieldErrorf("data.planned_end", "%s is not after the start %s", d.PlannedEnd, cmd.On)
	}
	if c.ap[d.Setting] {
		return nil, conflictf("start_ap_placement: the pupil is already placed at %s", d.Setting)
	}
	return []Event{&d}, nil
}

func reviewAP(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d APPlacementReviewed
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := required("setting", d.Setting); err != nil {
		return nil, err
	}
	if !c.ap[d.Setting] {
		return nil, conflictf("review_ap_placement: the pupil has no AP placement at %s", d.Setting)
	}
	return []Event{&d}, nil
}

func endAP(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d APPlacementEnded
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := required("setting", d.Setting); err != nil {
		return nil, err
	}
	if err := checkEnums(&d); err != nil {
		return nil, err
	}
	if !c.ap[d.Setting] {
		return nil, conflictf("end_ap_placement: the pupil has no AP placement at %s", d.Setting)
	}
	return []Event{&d}, nil
}

func sortedStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// TypeAPReviewIntervalSet is the stored name of an LA's AP review setting.
const TypeAPReviewIntervalSet = "ap_review_interval_set"

// APReviewIntervalSet records the interval, in weeks, at which an LA expects
// its alternative provision placements to be reviewed, from a date; 0 clears
// it. No statute or the Improvement Plan gives an interval, so a placement
// not reviewed in time is a warning in the case view, never a breach.
type APReviewIntervalSet struct {
	Weeks int  `json:"weeks"`
	From  Date `json:"from"`
}

// EventType implements Event.
func (APReviewIntervalSet) EventType() string { return TypeAPReviewIntervalSet }

// SchemaVersion implements Event.
func (APReviewIntervalSet) SchemaVersion() int { return 1 }

// Attr implements Event.
func (APReviewIntervalSet) Attr(string) string { return "" }

// CheckAPReviewInterval validates an AP review setting: 0 (none) to 52 weeks.
func CheckAPReviewInterval(weeks int) error {
	if weeks < 0 || weeks > 52 {
		return FieldErrorf("data.weeks", "must be from 1 to 52 weeks, or 0 to clear the setting, not %d", weeks)
	}
	return nil
}

// APReviewIntervalOn returns the setting an LA's settings put in force on a
// date: the latest set from that date or before (of equal dates, the later
// recorded); weeks 0 when none.
func APReviewIntervalOn(settings []APReviewIntervalSet, on Date) APReviewIntervalSet {
	var in APReviewIntervalSet
	for _, s := range settings {
		if s.From <= on && s.From >= in.From {
			in = s
		}
	}
	return in
}

// APReviewWarnings lists, for an LA's setting in force, the placements
// running on asOf that were not reviewed within its weeks of their start or
// last review, or of the day the setting took effect when that is later (a
// placement is not expected to have met a setting made after it). They are
// warnings, never breaches.
func (cc *CaseClocks) APReviewWarnings(asOf Date, set APReviewIntervalSet) []Warning {
	weeks := set.Weeks
	if weeks <= 0 {
		return nil
	}
	var out []Warning
	for _, p := range cc.AP {
		if by := max(p.Last, set.From).AddDays(7 * weeks); asOf > by {
			out = append(out, Warning{Clock: "ap_review", Key: p.Setting, By: by,
				Message: fmt.Sprintf("the LA expects alternative provision placements to be reviewed every %d weeks; this placement was last started or reviewed on %s", weeks, p.Last),
				Source:  "LA setting (set_ap_review_interval): no statutory or Improvement Plan interval exists, so this is never a breach"})
		}
	}
	return out
}
