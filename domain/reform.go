package domain

import (
	"fmt"
	"strings"
)

// Event types of the reform-2023 vocabulary (Green Paper 2022, Improvement
// Plan 2023). The commands exist under every rulebook where harmless (a panel
// may meet under current law); the rulebook's features decide what is
// required.
const (
	TypePanelDecided          = "panel_decided"
	TypeTailoredListOffered   = "tailored_list_offered"
	TypePreferenceExpressed   = "preference_expressed"
	TypePlacementNamed        = "placement_named"
	TypeAPPlacementStarted    = "ap_placement_started"
	TypeAPPlacementReviewed   = "ap_placement_reviewed"
	TypeAPPlacementEnded      = "ap_placement_ended"
	featurePanels             = "panels"
	featureTailoredList       = "tailored_list"
	featureStepDown           = "step_down_recording"
	featureMandatoryMediation = "mandatory_mediation"
	featureAP                 = "alternative_provision"
)

// Panel subjects and what a recommendation may say about each.
var panelRecommendations = map[string][]string{
	"request":   {"assess", "refuse"},
	"issue":     {"issue", "not_issue"},
	"provision": {"agree", "amend"},
	"placement": nil, // the recommended setting
	"funding":   nil, // the recommended band
}

var agencies = []string{"education", "health", "social_care"}

// AP tiers (Improvement Plan 2023) and where a pupil may go when a placement ends.
var (
	apTiers        = []string{"targeted_support", "dual_registered", "transitional"}
	apDestinations = []string{"mainstream", "special", "alternative_provision", "other"}
)

// PanelRecord is what an LA decision records about the multi-agency panel's
// view: that it was considered and, when the LA departs from it, why.
type PanelRecord struct {
	PanelConsidered bool   `json:"panel_considered,omitempty"`
	DepartureReason string `json:"departure_reason,omitempty"`
}

// PanelDecided records a multi-agency panel's view on one subject.
type PanelDecided struct {
	Subject        string   `json:"subject"`
	Recommendation string   `json:"recommendation"`
	Agencies       []string `json:"agencies"`
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
// tariff, and why it is not the family's first available preference when so.
type PlacementNamed struct {
	Setting               string `json:"setting"`
	Mainstream            bool   `json:"mainstream"`
	FundingBand           string `json:"funding_band,omitempty"`
	Tariff                string `json:"tariff,omitempty"`
	IncompatibilityReason string `json:"incompatibility_reason,omitempty"`
	PanelRecord
}

// APPlacementStarted records a pupil moving into alternative provision.
type APPlacementStarted struct {
	Setting    string `json:"setting"`
	Tier       string `json:"tier"`
	PlannedEnd Date   `json:"planned_end"`
}

// APPlacementReviewed records the review of an AP placement.
type APPlacementReviewed struct {
	Setting string `json:"setting"`
}

// APPlacementEnded records a pupil moving out of alternative provision.
type APPlacementEnded struct {
	Setting     string `json:"setting"`
	Destination string `json:"destination"`
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

func init() {
	eventFactories[TypePanelDecided] = func() Event { return &PanelDecided{} }
	eventFactories[TypeTailoredListOffered] = func() Event { return &TailoredListOffered{} }
	eventFactories[TypePreferenceExpressed] = func() Event { return &PreferenceExpressed{} }
	eventFactories[TypePlacementNamed] = func() Event { return &PlacementNamed{} }
	eventFactories[TypeAPPlacementStarted] = func() Event { return &APPlacementStarted{} }
	eventFactories[TypeAPPlacementReviewed] = func() Event { return &APPlacementReviewed{} }
	eventFactories[TypeAPPlacementEnded] = func() Event { return &APPlacementEnded{} }
	for cmd, t := range map[string]string{
		"panel_decision": TypePanelDecided, "offer_tailored_list": TypeTailoredListOffered,
		"express_preference": TypePreferenceExpressed, "name_placement": TypePlacementNamed,
		"start_ap_placement": TypeAPPlacementStarted, "review_ap_placement": TypeAPPlacementReviewed,
		"end_ap_placement": TypeAPPlacementEnded,
	} {
		commandEvents[cmd] = t
	}
	handlers["panel_decision"] = decidePanel
	handlers["offer_tailored_list"] = offerTailoredList
	handlers["express_preference"] = expressPreference
	handlers["name_placement"] = namePlacement
	handlers["start_ap_placement"] = startAP
	handlers["review_ap_placement"] = reviewAP
	handlers["end_ap_placement"] = endAP
}

// checkPanel applies the panel rule of a rulebook with panels: a view on the
// subject must exist, the decision must record that it was considered, and a
// decision other than the recommendation (outcome) needs a reason. Without
// the feature, the record is optional.
func (c *Case) checkPanel(rb *Rulebook, step, subject, outcome string, p PanelRecord) error {
	if !rb.Features[featurePanels] {
		return nil
	}
	rec, ok := c.panels[subject]
	if !ok {
		return conflictf("%s: under %s a multi-agency panel must first give its view on the %s (panel_decision)", step, rb.ID, subject)
	}
	if !p.PanelConsidered {
		return FieldErrorf("data.panel_considered", "must be true: record that the panel's view on the %s was considered", subject)
	}
	if outcome != "" && rec != outcome && strings.TrimSpace(p.DepartureReason) == "" {
		return FieldErrorf("data.departure_reason", "the panel recommended %q on the %s: say why the LA departs from it", rec, subject)
	}
	return nil
}

func decidePanel(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
	var d PanelDecided
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	subjects := make([]string, 0, len(panelRecommendations))
	for s := range panelRecommendations {
		subjects = append(subjects, s)
	}
	if err := oneOf("subject", d.Subject, sortedStrings(subjects)...); err != nil {
		return nil, err
	}
	if allowed := panelRecommendations[d.Subject]; allowed != nil {
		if err := oneOf("recommendation", d.Recommendation, allowed...); err != nil {
			return nil, err
		}
	} else if err := required("recommendation", d.Recommendation); err != nil {
		return nil, err
	}
	if len(d.Agencies) == 0 {
		return nil, FieldErrorf("data.agencies", "name the agencies present (%s)", strings.Join(agencies, ", "))
	}
	seen := map[string]bool{}
	for _, a := range d.Agencies {
		if err := oneOf("agencies", a, agencies...); err != nil {
			return nil, err
		}
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

func expressPreference(c *Case, cmd Command, _ *Rulebook) ([]Event, error) {
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
			return nil, FieldErrorf("data.order", "%s is not on the tailored list", id)
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
	s, ok := c.tailored[d.Setting]
	if !ok {
		return nil, FieldErrorf("data.setting", "%s is not on the tailored list", d.Setting)
	}
	if c.preference == nil {
		return nil, conflictf("name_placement: the family has not ranked the tailored list yet")
	}
	// The LA must name the first setting in the family's order with a place
	// available; naming another needs a recorded reason (for a mainstream
	// preference: why it is incompatible with the child's needs).
	var first *Setting
	for _, id := range c.preference {
		if st := c.tailored[id]; st.PlaceAvailable {
			first = &st
			break
		}
	}
	if first != nil && first.ID != d.Setting && strings.TrimSpace(d.IncompatibilityReason) == "" {
		what := "the family's first preference with a place available"
		if first.Mainstream {
			what = "the family's mainstream preference"
		}
		return nil, FieldErrorf("data.incompatibility_reason", "%s is %s: record why it is incompatible with the child's needs to name %s", first.ID, what, d.Setting)
	}
	if !s.PlaceAvailable {
		return nil, FieldErrorf("data.setting", "%s has no place available", d.Setting)
	}
	if err := c.checkPanel(rb, "name_placement", "placement", d.Setting, d.PanelRecord); err != nil {
		return nil, err
	}
	if d.FundingBand != "" {
		if err := c.checkPanel(rb, "name_placement", "funding", d.FundingBand, d.PanelRecord); err != nil {
			return nil, err
		}
	}
	d.Mainstream = s.Mainstream
	return []Event{&d}, nil
}

func startAP(c *Case, cmd Command, rb *Rulebook) ([]Event, error) {
	var d APPlacementStarted
	if err := cmd.decode(&d); err != nil {
		return nil, err
	}
	if err := required("setting", d.Setting); err != nil {
		return nil, err
	}
	if err := oneOf("tier", d.Tier, apTiers...); err != nil {
		return nil, err
	}
	if !rb.Features[featureAP] {
		return nil, conflictf("start_ap_placement: alternative provision tiers are not part of %s", rb.ID)
	}
	if d.PlannedEnd.IsZero() {
		return nil, FieldErrorf("data.planned_end", "is required: every AP placement has a planned end")
	}
	if d.PlannedEnd <= cmd.On {
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
	if err := oneOf("destination", d.Destination, apDestinations...); err != nil {
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
