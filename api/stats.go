package api

import (
	"fmt"
	"github.com/ehcledger/ehcledger/internal/safecsv"

	"net/http"
	"sort"
	"strconv"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/projections"
	"github.com/labstack/echo/v4"
)

// period reads ?from= and ?to=; by default the twelve months up to as-of.
func period(c echo.Context, asOf domain.Date) (projections.Period, error) {
	return readPeriod(c, projections.Period{From: asOf.AddMonths(-12).AddDays(1), To: asOf})
}

// readPeriod reads ?from= and ?to= over the period def; an end left zero
// is for the caller to settle.
func readPeriod(c echo.Context, def projections.Period) (projections.Period, error) {
	p := def
	for _, q := range []struct {
		name string
		dst  *domain.Date
	}{{"from", &p.From}, {"to", &p.To}} {
		d, given, err := parseQueryDate(c, q.name)
		if err != nil {
			return p, err
		}
		if given {
			*q.dst = d
		}
	}
	if !p.To.IsZero() && p.To < p.From {
		return p, domain.FieldErrorf("to", "%s is before from (%s)", p.To, p.From)
	}
	// A period is counted month by month: bound it, so that one request
	// cannot ask for centuries of figures.
	if !p.To.IsZero() && p.To > p.From.AddMonths(12*maxPeriodYears) {
		return p, domain.FieldErrorf("to", "the period from %s to %s is longer than %d years: ask for at most %d", p.From, p.To, maxPeriodYears, maxPeriodYears)
	}
	return p, nil
}

// maxPeriodYears is the longest period the figures are counted over in one
// request.
const maxPeriodYears = 10

// statsQuery reads what an inspector asks about: ?as_of, the period (?from,
// ?to) and an LA (?la, empty for England).
func (s *Server) statsQuery(c echo.Context) (domain.Date, projections.Period, string, error) {
	asOf, err := s.asOf(c)
	if err != nil {
		return 0, projections.Period{}, "", err
	}
	p, err := period(c, asOf)
	if err != nil {
		return 0, p, "", err
	}
	la := c.QueryParam("la")
	if la != "" {
		if err := domain.ValidateID("la", la); err != nil {
			return 0, p, "", err
		}
		return asOf, p, la, inLA(c, la)
	}
	return asOf, p, la, nil
}

// stats serves inspectors' figures: one LA (?la=), or without one the
// national roll-up with every LA (for those granted every LA) or the roll-up
// of the LAs granted, as JSON or CSV (?format=csv). No personal data.
func (s *Server) stats(c echo.Context) error {
	asOf, p, la, err := s.statsQuery(c)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format != "" && format != "json" && format != "csv" {
		return domain.FieldErrorf("format", "must be json or csv")
	}
	s.fresh(c)
	pr := principal(c)
	rows := s.figureRows(pr, la, p, asOf)
	var body any = rows[0]
	if la == "" {
		key := "total"
		if rows[0].LA == "ENGLAND" {
			key = "national"
		}
		body = map[string]any{key: rows[0], "las": rows[1:]}
	}
	suppress := suppressedFor(pr)
	if format != "csv" {
		if suppress {
			if body, err = publishBody(la, rows); err != nil {
				return err
			}
		}
		return c.JSON(http.StatusOK, body)
	}
	if suppress {
		c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="ehc-timeliness-`+p.From.String()+`-`+p.To.String()+`.csv"`)
		c.Response().WriteHeader(http.StatusOK)
		return writePublishedCSV(c.Response(), rows, la == "")
	}
	c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="ehc-timeliness-`+p.From.String()+`-`+p.To.String()+`.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	return writeStatsCSV(c.Response(), rows)
}

func writeStatsCSV(w http.ResponseWriter, rows []projections.Stats) error {
	stages := map[string]bool{}
	for _, r := range rows {
		for k := range r.BreachesByStage {
			stages[k] = true
		}
	}
	var stageNames []string
	for k := range stages {
		stageNames = append(stageNames, k)
	}
	sort.Strings(stageNames)
	cw := safecsv.NewWriter(w)
	header := []string{"la", "from", "to", "requests", "assessments", "refusals", "decisions_not_to_issue", "plans_issued",
		"within_20_weeks", "share_within_20_weeks", "plans_excluding_exceptions", "within_20_weeks_excluding_exceptions",
		"share_within_20_weeks_excluding_exceptions", "median_weeks_to_plan", "p90_weeks_to_plan", "appealable_decisions",
		"mediation_adviser_contacts", "mediations_held", "appeals_lodged", "appeals_per_appealable_decision", "appeals_conceded",
		"annual_reviews_due", "annual_reviews_on_time", "share_annual_reviews_on_time"}
	for _, st := range stageNames {
		header = append(header, "breaches_"+st, "excused_"+st)
	}
	_ = cw.Write(header)
	i := strconv.Itoa
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, r := range rows {
		rec := []string{r.LA, r.Period.From.String(), r.Period.To.String(), i(r.Requests), i(r.Assessments), i(r.Refusals), i(r.NotIssued),
			i(r.PlansIssued), i(r.Within20Weeks), f(r.ShareWithin20Weeks), i(r.PlansExclExceptions), i(r.Within20WeeksExclExceptions),
			f(r.ShareWithin20WeeksExcl), f(r.MedianWeeks), f(r.P90Weeks), i(r.AppealableDecisions), i(r.MediationContacts),
			i(r.MediationsHeld), i(r.AppealsLodged), f(r.AppealRate), i(r.Concessions), i(r.ReviewsDue), i(r.ReviewsOnTime), f(r.ShareReviewsOnTime)}
		for _, st := range stageNames {
			rec = append(rec, i(r.BreachesByStage[st]), i(r.ExcusedByStage[st]))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// figureRows is the table of figures a principal reads for one LA, or
// without one their total (England's for an inspector granted the national
// figures, otherwise the LAs granted together, never England's) first and
// each LA's.
func (s *Server) figureRows(pr auth.Principal, la string, p projections.Period, asOf domain.Date) []projections.Stats {
	if la != "" {
		return []projections.Stats{s.Views.Timeliness.LAStats(la, p, asOf)}
	}
	if pr.National() {
		national, per := s.Views.Timeliness.National(p, asOf)
		national.LA = "ENGLAND"
		return append([]projections.Stats{national}, per...)
	}
	total, per := s.Views.Timeliness.RollUp(pr.LAs, p, asOf)
	total.LA = "GRANTED"
	return append([]projections.Stats{total}, per...)
}

// suppressedFor reports whether a principal reads figures with small
// numbers suppressed: inspectors do; an LA's own managers read them exact.
func suppressedFor(pr auth.Principal) bool { return pr.Role != auth.Manager }

// publishedTable is figureRows as the principal may read them (see
// publishTable), as JSON values.
func (s *Server) publishedTable(pr auth.Principal, la string, p projections.Period, asOf domain.Date) ([]map[string]any, error) {
	rows := s.figureRows(pr, la, p, asOf)
	if suppressedFor(pr) {
		return publishTable(rows, la == "")
	}
	return exactRows(rows)
}

// publishBody is the JSON body of the figures with small numbers
// suppressed: one LA's row, or the total (national or granted) and the LAs'.
func publishBody(la string, rows []projections.Stats) (any, error) {
	pub, err := publishTable(rows, la == "")
	if err != nil {
		return nil, err
	}
	if la != "" {
		return pub[0], nil
	}
	key := "total"
	if rows[0].LA == "ENGLAND" {
		key = "national"
	}
	return map[string]any{key: pub[0], "las": pub[1:]}, nil
}

// writePublishedCSV writes the figures with small numbers suppressed (a
// total over several LAs first, when total is set): the published JSON
// values under the JSON names, in a fixed order.
func writePublishedCSV(w http.ResponseWriter, rows []projections.Stats, total bool) error {
	pub, err := publishTable(rows, total)
	if err != nil {
		return err
	}
	cols := map[string]bool{}
	for _, r := range pub {
		for k, v := range r {
			if _, nested := v.(map[string]any); !nested && k != "period" {
				cols[k] = true
			}
		}
	}
	names := make([]string, 0, len(cols))
	for k := range cols {
		names = append(names, k)
	}
	sort.Strings(names)
	cw := safecsv.NewWriter(w)
	if err := cw.Write(names); err != nil {
		return err
	}
	for _, r := range pub {
		rec := make([]string, len(names))
		for i, k := range names {
			switch v := r[k].(type) {
			case nil:
				rec[i] = ""
			case float64:
				rec[i] = strconv.FormatFloat(v, 'f', -1, 64)
			default:
				rec[i] = fmt.Sprint(v)
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
