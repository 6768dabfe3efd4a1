package projections

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/ehcledger/ehcledger/domain"
)

// Period is a span of civil dates, both ends included.
type Period struct {
	From domain.Date `json:"from"`
	To   domain.Date `json:"to"`
}

func (p Period) has(d domain.Date) bool { return d >= p.From && d <= p.To }

// Stats are an LA's (or the nation's) figures for a period, with no personal
// data: counts, shares and distributions only.
type Stats struct {
	LA     string      `json:"la"`
	Period Period      `json:"period"`
	AsOf   domain.Date `json:"as_of"`

	Requests    int `json:"requests"`
	Assessments int `json:"assessments"`
	Refusals    int `json:"refusals"`
	NotIssued   int `json:"decisions_not_to_issue"`
	PlansIssued int `json:"plans_issued"`

	// Within20Weeks counts plans issued in the period within 20 weeks of the
	// request; the *ExclExceptions figures leave out cases where an
	// exception covered the 20-week clock, as the national statistics do.
	Within20Weeks               int     `json:"within_20_weeks"`
	ShareWithin20Weeks          float64 `json:"share_within_20_weeks"`
	PlansExclExceptions         int     `json:"plans_excluding_exceptions"`
	Within20WeeksExclExceptions int     `json:"within_20_weeks_excluding_exceptions"`
	ShareWithin20WeeksExcl      float64 `json:"share_within_20_weeks_excluding_exceptions"`
	MedianWeeks                 float64 `json:"median_weeks_to_plan"`
	P90Weeks                    float64 `json:"p90_weeks_to_plan"`

	// BreachesByStage counts clocks due in the period that stopped late or
	// are overdue, by clock; Excused counts those an exception covers.
	BreachesByStage map[string]int `json:"breaches_by_stage"`
	ExcusedByStage  map[string]int `json:"excused_by_stage"`

	AppealableDecisions int            `json:"appealable_decisions"`
	MediationContacts   int            `json:"mediation_adviser_contacts"`
	MediationsHeld      int            `json:"mediations_held"`
	AppealsLodged       int            `json:"appeals_lodged"`
	AppealRate          float64        `json:"appeals_per_appealable_decision"`
	TribunalOrders      map[string]int `json:"tribunal_orders"`
	Concessions         int            `json:"appeals_conceded"`

	ReviewsDue         int     `json:"annual_reviews_due"`
	ReviewsOnTime      int     `json:"annual_reviews_on_time"`
	ShareReviewsOnTime float64 `json:"share_annual_reviews_on_time"`

	APStarts map[string]int `json:"ap_placements_started_by_tier"`
	APEnds   map[string]int `json:"ap_placements_ended_by_destination"`

	weeks []float64
}

func newStats(la string, p Period, asOf domain.Date) *Stats {
	return &Stats{LA: la, Period: p, AsOf: asOf, BreachesByStage: map[string]int{}, ExcusedByStage: map[string]int{},
		TribunalOrders: map[string]int{}, APStarts: map[string]int{}, APEnds: map[string]int{}}
}

// addCase counts one case into s: the plain definition of the figures, case
// by case and clock by clock, which the fact-based LAStats must always agree
// with (ScanStats exposes it for that check).
func (m *Model) addCase(s *Stats, c *CaseModel, p Period, asOf domain.Date) {
	for _, mk := range c.marks {
		if !p.has(mk.on) {
			continue
		}
		label := m.strs.items[mk.label()]
		switch marks().kinds[mk.kind()].typ {
		case domain.TypeRequestReceived:
			s.Requests++
		case domain.TypeAssessmentAgreed:
			s.Assessments++
		case domain.TypeAssessmentRefused:
			s.Refusals++
		case domain.TypeDecidedNotToIssue:
			s.NotIssued++
		case domain.TypeMediationAdviserContacted:
			s.MediationContacts++
		case domain.TypeMediationHeld:
			s.MediationsHeld++
		case domain.TypeAppealLodged:
			s.AppealsLodged++
		case domain.TypeTribunalOrdered:
			s.TribunalOrders[label]++
		case domain.TypeAppealConceded:
			s.Concessions++
		case domain.TypeAPPlacementStarted:
			s.APStarts[label]++
		case domain.TypeAPPlacementEnded:
			s.APEnds[label]++
		}
	}
	cc := m.CaseClocks(c)
	for _, k := range cc.Clocks {
		// Most clocks of a long history fall outside the period: decide that
		// from their dates before working out a status.
		planInPeriod := k.Rule.Role == domain.RolePlan && !k.Ended && p.has(k.Stopped)
		reviewDue := k.Rule.Role == domain.RoleAnnualReview && p.has(k.Due) && k.Due <= asOf
		breachable := k.Rule.LABreach(k.Key, domain.StatusLate) && p.has(k.Due)
		if k.Rule.Role == domain.RoleAppealWindow && p.has(k.Started) {
			s.AppealableDecisions++
		}
		if !planInPeriod && !reviewDue && !breachable {
			continue
		}
		row := m.Row(c, k, asOf)
		if planInPeriod {
			s.PlansIssued++
			s.weeks = append(s.weeks, float64(k.Stopped-k.Started)/7)
			excepted := len(m.Exceptions(c, k)) > 0
			if !excepted {
				s.PlansExclExceptions++
			}
			if row.Status == domain.StatusMet {
				s.Within20Weeks++
				if !excepted {
					s.Within20WeeksExclExceptions++
				}
			}
		}
		if reviewDue {
			s.ReviewsDue++
			if row.Status == domain.StatusMet {
				s.ReviewsOnTime++
			}
		}
		if breachable && k.Rule.LABreach(k.Key, row.Status) {
			s.BreachesByStage[k.Name]++
			if row.Excused {
				s.ExcusedByStage[k.Name]++
			}
		}
	}
}

// ScanStats computes an LA's figures by walking every case, without facts or
// cache: slow, but the reference the fast path is checked against.
func (t *Timeliness) ScanStats(la string, p Period, asOf domain.Date) Stats {
	t.mu.RLock()
	s := newStats(la, p, asOf)
	for _, c := range t.byLA(la) {
		t.m.addCase(s, c, p, asOf)
	}
	t.mu.RUnlock()
	s.finish()
	return *s
}

func (s *Stats) finish() {
	share := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return math.Round(1000*float64(a)/float64(b)) / 1000
	}
	s.ShareWithin20Weeks = share(s.Within20Weeks, s.PlansIssued)
	s.ShareWithin20WeeksExcl = share(s.Within20WeeksExclExceptions, s.PlansExclExceptions)
	s.AppealRate = share(s.AppealsLodged, s.AppealableDecisions)
	s.ShareReviewsOnTime = share(s.ReviewsOnTime, s.ReviewsDue)
	sort.Float64s(s.weeks)
	s.MedianWeeks, s.P90Weeks = quantile(s.weeks, 0.5), quantile(s.weeks, 0.9)
}

// quantile is the nearest-rank quantile of sorted values, to one decimal.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return math.Round(10*sorted[max(i, 0)]) / 10
}

// merge adds o's counts into s (for the national roll-up).
func (s *Stats) merge(o *Stats) {
	s.Requests += o.Requests
	s.Assessments += o.Assessments
	s.Refusals += o.Refusals
	s.NotIssued += o.NotIssued
	s.PlansIssued += o.PlansIssued
	s.Within20Weeks += o.Within20Weeks
	s.PlansExclExceptions += o.PlansExclExceptions
	s.Within20WeeksExclExceptions += o.Within20WeeksExclExceptions
	s.AppealableDecisions += o.AppealableDecisions
	s.MediationContacts += o.MediationContacts
	s.MediationsHeld += o.MediationsHeld
	s.AppealsLodged += o.AppealsLodged
	s.Concessions += o.Concessions
	s.ReviewsDue += o.ReviewsDue
	s.ReviewsOnTime += o.ReviewsOnTime
	s.weeks = append(s.weeks, o.weeks...)
	for _, pair := range [][2]map[string]int{{s.BreachesByStage, o.BreachesByStage}, {s.ExcusedByStage, o.ExcusedByStage},
		{s.TribunalOrders, o.TribunalOrders}, {s.APStarts, o.APStarts}, {s.APEnds, o.APEnds}} {
		for k, v := range pair[1] {
			pair[0][k] += v
		}
	}
}

// statsKey identifies a cached answer: the same question on the same data.
type statsKey struct {
	la       string
	p        Period
	asOf     domain.Date
	position int64
}

// LAStats returns the figures of one LA (or every LA, la "") for a period.
// Answers are cached until the projection moves on.
func (t *Timeliness) LAStats(la string, p Period, asOf domain.Date) Stats {
	t.mu.RLock()
	pos := t.m.Position
	if la != "" {
		pos = t.m.laPosition[la] // only this LA's events change its figures
	}
	key := statsKey{la, p, asOf, pos}
	t.cacheMu.Lock()
	cached, ok := t.statsCache[key]
	t.cacheMu.Unlock()
	if ok {
		t.mu.RUnlock()
		return cached
	}
	if la == "" {
		t.mu.RUnlock()
		total, _ := t.National(p, asOf)
		return total
	}
	f := Figures{la: la, facts: t.factsFor(la, pos)}
	t.mu.RUnlock()
	s := f.Stats(p, asOf)
	t.cacheStats(key, s)
	return s
}

// Warm draws every LA's facts now, on every core, so the first questions
// after a start or a rebuild are as quick as the rest.
func (t *Timeliness) Warm() {
	las := t.LAs()
	next := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for la := range next {
				t.mu.RLock()
				t.factsFor(la, t.m.laPosition[la])
				t.mu.RUnlock()
			}
		}()
	}
	for _, la := range las {
		next <- la
	}
	close(next)
	wg.Wait()
}

// factsFor returns an LA's facts as of its latest event, drawing them again
// when it has moved on. Callers hold t.mu for reading.
func (t *Timeliness) factsFor(la string, pos int64) *laFacts {
	t.factsMu.Lock()
	defer t.factsMu.Unlock()
	if f, ok := t.facts[la]; ok && f.position == pos {
		return f
	}
	if t.facts == nil {
		t.facts = map[string]*laFacts{}
	}
	f := t.m.buildFacts(t.byLA(la), pos)
	t.facts[la] = f
	return f
}

// National returns the national roll-up and every LA's figures.
func (t *Timeliness) National(p Period, asOf domain.Date) (Stats, []Stats) {
	return t.RollUp(t.LAs(), p, asOf)
}

// RollUp returns the figures of some LAs together, and each LA's.
func (t *Timeliness) RollUp(las []string, p Period, asOf domain.Date) (Stats, []Stats) {
	per := make([]Stats, len(las))
	// LAs are independent: work through them on every core.
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				per[i] = t.LAStats(las[i], p, asOf)
			}
		}()
	}
	for i := range las {
		next <- i
	}
	close(next)
	wg.Wait()
	total := newStats("", p, asOf)
	for i := range per {
		total.merge(&per[i])
	}
	total.finish()
	return *total, per
}

// FiguresDigest sums up every LA's and the national figures on a date, over all
// time, in one digest: two stores whose events count the same give the same
// digest. A backup records it, and a restore checks the views it rebuilt
// against it.
type FiguresDigest struct {
	AsOf   domain.Date `json:"as_of"`
	Cases  int         `json:"cases"`
	LAs    int         `json:"las"`
	SHA256 string      `json:"sha256"`
}

// FiguresDigest computes the digest of the figures on asOf.
func (t *Timeliness) FiguresDigest(asOf domain.Date) (FiguresDigest, error) {
	national, per := t.National(Period{From: domain.NewDate(1900, 1, 1), To: asOf}, asOf)
	b, err := json.Marshal(struct {
		National Stats   `json:"national"`
		LAs      []Stats `json:"las"`
	}{national, per})
	if err != nil {
		return FiguresDigest{}, err
	}
	sum := sha256.Sum256(b)
	t.mu.RLock()
	cases := len(t.m.Cases)
	t.mu.RUnlock()
	return FiguresDigest{AsOf: asOf, Cases: cases, LAs: len(per), SHA256: hex.EncodeToString(sum[:])}, nil
}
