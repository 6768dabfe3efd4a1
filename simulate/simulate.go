// Package simulate generates realistic case histories for whole LAs, through
// the real domain (every step is a command decided by the case aggregate) and
// into a real event store, calibrated to the published national figures
// (shared/statutory.md section 7): about 1,000 requests per LA a year, a
// quarter refused, about 46% of plans issued within 20 weeks excluding
// exception cases, a few per cent with exceptions, mediation and appeals at
// their national rates, and yearly reviews for plans in force.
package simulate

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/google/uuid"
)

// Rates are the probabilities the simulation draws from.
type Rates struct {
	Refuse            float64 // a request is refused
	NotIssue          float64 // an assessment ends with no plan
	PlanWithin20      float64 // a plan without exception is issued within 20 weeks
	Exception         float64 // a case records an exception (personal circumstances, absence)
	SchoolClosure     float64 // education advice is asked of a school just before the summer
	DecisionOnTime    float64 // the decision to assess is made within 6 weeks
	AdviceOnTime      float64 // advice comes back within 6 weeks
	Mediation         float64 // an appealable decision leads to contacting a mediation adviser
	WantsMediation    float64 // of those, the family wants mediation
	Appeal            float64 // of those with a certificate, the family appeals
	Conceded          float64 // of appeals, the LA concedes
	ReviewOnTime      float64 // an annual review decision is notified within 12 months
	ReviewAmend       float64 // a review decides to amend
	Cease             float64 // a review decides to cease
	RepresentationsIn float64 // the family comments on the draft within 15 days
	Withdrawn         float64 // the family withdraws the request before the decision
}

// National is calibrated to the published figures for England.
var National = Rates{Refuse: 0.26, NotIssue: 0.06, PlanWithin20: 0.46, Exception: 0.05, SchoolClosure: 0.03,
	DecisionOnTime: 0.85, AdviceOnTime: 0.6, Mediation: 0.07, WantsMediation: 0.6, Appeal: 0.55, Conceded: 0.2,
	ReviewOnTime: 0.55, ReviewAmend: 0.3, Cease: 0.04, RepresentationsIn: 0.7,
	// An assumption: DfE's statistics count withdrawn requests, but no
	// share was to hand.
	Withdrawn: 0.02}

// Options say what to simulate.
type Options struct {
	LAs          int
	CasesPerYear int // requests per LA per year
	Years        int
	Seed         uint64
	Until        domain.Date // the simulated "today": nothing happens after it
	Workers      int
	Rates        Rates
	// LAPrefix names the LAs: prefix + 6 digits (E09000001 style codes),
	// unless LACodes names them.
	LAPrefix string
	LACodes  []string
	// Now is the clock of the recorded-at instants of LA-level events.
	Now func() time.Time
	// Keys seals each case's personal details, as the ledger does.
	Keys app.Keys
}

// Result tells what was made.
type Result struct {
	Cases, Events int64
	Elapsed       time.Duration
}

// LACode is the code of simulated LA number i.
func LACode(prefix string, i int) string { return fmt.Sprintf("%s%06d", prefix, i+1) }

// DfENumber is the DfE number of simulated LA number i: 950 to 999, which
// no LA in England has.
func DfENumber(i int) string { return fmt.Sprintf("%03d", 950+i%50) }

func (o Options) la(i int) string {
	if i < len(o.LACodes) {
		return o.LACodes[i]
	}
	return LACode(o.LAPrefix, i)
}

type step struct {
	on      domain.Date
	command string
	data    map[string]any
}

// Run simulates every LA and writes each case's history with one append.
func Run(ctx context.Context, store eventstore.Store, o Options, progress func(Result)) (Result, error) {
	if o.Workers < 1 {
		o.Workers = 8
	}
	if o.LAPrefix == "" {
		o.LAPrefix = "E09"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	l := &app.Ledger{Store: store, Now: o.Now}
	start := time.Now()
	first := o.Until.AddMonths(-12 * o.Years)
	for i := 0; i < o.LAs; i++ {
		la := o.la(i)
		from := first.AddMonths(-12)
		if err := l.ExecuteLA(ctx, la, domain.CommandAdoptRulebook, from, fmt.Appendf(nil, `{"rulebook":%q,"from":%q}`, domain.DefaultRulebook, from), "simulator"); err != nil {
			return Result{}, err
		}
		if err := l.ExecuteLA(ctx, la, "set_dfe_la_number", from, fmt.Appendf(nil, `{"number":%q}`, DfENumber(i)), "simulator"); err != nil {
			return Result{}, err
		}
		y, _, _ := first.YMD()
		uy, _, _ := o.Until.YMD()
		for yy := y; yy <= uy; yy++ {
			for s := 0; s < 3; s++ {
				closes := domain.NewDate(yy, 7, 22+s)
				data := fmt.Appendf(nil, `{"school":"S%d","first_day":%q,"reopens":%q}`, s, closes, domain.NewDate(yy, 9, 3))
				if err := l.ExecuteLA(ctx, la, domain.CommandRecordSchoolClosure, closes, data, "simulator"); err != nil {
					return Result{}, err
				}
			}
		}
	}
	type job struct{ la, n int }
	jobs := make(chan job, 1024)
	var res Result
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				n, err := o.writeCase(ctx, store, j.la, j.n, first)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				events := atomic.AddInt64(&res.Events, int64(n))
				if c := atomic.AddInt64(&res.Cases, 1); progress != nil && c%20000 == 0 {
					progress(Result{Cases: c, Events: events, Elapsed: time.Since(start)})
				}
			}
		}()
	}
	total := o.CasesPerYear * o.Years
feed:
	for n := 0; n < total; n++ {
		for la := 0; la < o.LAs; la++ {
			select {
			case jobs <- job{la, n}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res, firstErr
}

// writeCase decides a whole case history through the domain and appends it.
func (o Options) writeCase(ctx context.Context, store eventstore.Store, laIndex, n int, first domain.Date) (int, error) {
	r := rand.New(rand.NewPCG(o.Seed, uint64(laIndex)<<32|uint64(n)))
	la := o.la(laIndex)
	days := int(o.Until-first) + 1
	requested := first.AddDays(r.IntN(max(days, 1)))
	steps := o.story(r, requested)
	// Steps are drawn per thread of the story; the case lives them in date order.
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].on < steps[j].on })
	rb, err := domain.LookupRulebook(domain.DefaultRulebook)
	if err != nil {
		return 0, err
	}
	c := &domain.Case{ID: fmt.Sprintf("%s-%06d", la, n), LA: la}
	var data []eventstore.EventData
	for _, s := range steps {
		if s.on > o.Until {
			break
		}
		raw, err := json.Marshal(s.data)
		if err != nil {
			return 0, err
		}
		if s.data == nil {
			raw = nil
		}
		evs, err := c.Decide(domain.Command{Name: s.command, On: s.on, Data: raw}, rb)
		if err != nil {
			return 0, fmt.Errorf("simulated case %s, %s on %s: %w", c.ID, s.command, s.on, err)
		}
		if err := app.Seal(o.Keys, c.ID, evs); err != nil {
			return 0, err
		}
		y, m, d := s.on.YMD()
		id := uuid.New().String()
		env, err := app.Envelope(evs, app.Meta{On: s.on, RecordedAt: time.Date(y, m, d, 12, 0, 0, 0, domain.London),
			Actor: "simulator", LA: la, Correlation: id, Causation: id})
		if err != nil {
			return 0, err
		}
		for _, e := range evs {
			c.Apply(e, s.on)
		}
		data = append(data, env...)
	}
	if _, err := store.Append(ctx, domain.CaseStream(c.ID), eventstore.NoStream, data); err != nil {
		return 0, err
	}
	return len(data), nil
}

func (o Options) chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

func between(r *rand.Rand, lo, hi int) int { return lo + r.IntN(hi-lo+1) }

// story draws one case's steps from the rates.
func (o Options) story(r *rand.Rand, req domain.Date) []step {
	rt := o.Rates
	at := func(days int) domain.Date { return req.AddDays(days) }
	birth := req.AddDays(-between(r, 2*365, 18*365))
	steps := []step{{req, "receive_request", o.person(r, req, birth)}}
	steps = append(steps, step{req, "assign_case", map[string]any{"caseworker": fmt.Sprintf("cw-%02d", r.IntN(12)), "team": fmt.Sprintf("team-%d", r.IntN(3))}})
	decision := between(r, 20, 42)
	if !o.chance(r, rt.DecisionOnTime) {
		decision = between(r, 43, 80)
	}
	if o.chance(r, rt.Withdrawn) {
		by := "parent"
		if steps[0].data["requester"] == "young_person" {
			by = "young_person"
		}
		return append(steps, step{at(decision - between(r, 1, 15)), "withdraw_request", map[string]any{"by": by}})
	}
	excepted := o.chance(r, rt.Exception)
	if excepted {
		from := between(r, 5, 60)
		kind := []string{"personal_circumstances", "absence"}[r.IntN(2)]
		steps = append(steps, step{at(from + 35), "record_exception", map[string]any{"kind": kind, "from": at(from).String(), "to": at(from + 34).String(), "evidence": "recorded by the caseworker"}})
	}
	if o.chance(r, rt.Refuse) {
		steps = append(steps, step{at(decision), "refuse_assessment", nil})
		return append(steps, o.disagreement(r, at(decision), "refusal_to_assess", "assess")...)
	}
	steps = append(steps, step{at(decision), "decide_to_assess", nil})
	adviceDay := decision + between(r, 1, 10)
	for _, kind := range []string{"educational_psychology", "health", "social_care"} {
		data := map[string]any{"advice": kind}
		steps = append(steps, step{at(adviceDay), "request_advice", data})
		back := adviceDay + between(r, 20, 42)
		if !o.chance(r, rt.AdviceOnTime) {
			back = adviceDay + between(r, 43, 90)
		}
		steps = append(steps, step{at(back), "receive_advice", map[string]any{"advice": kind}})
	}
	notIssue := o.chance(r, rt.NotIssue)
	if o.chance(r, rt.SchoolClosure) {
		y, _, _ := at(adviceDay).YMD()
		latest := at(140)
		if notIssue {
			latest = at(90)
		}
		if asked := domain.NewDate(y, 7, 18); asked > at(adviceDay) && asked < latest {
			steps = append(steps, step{asked, "request_advice", map[string]any{"advice": "education", "school": fmt.Sprintf("S%d", r.IntN(3))}})
			steps = append(steps, step{asked.AddDays(between(r, 45, 60)), "receive_advice", map[string]any{"advice": "education"}})
			excepted = true
		}
	}
	if notIssue {
		steps = append(steps, step{at(between(r, 95, 125)), "decide_not_to_issue", nil})
		return append(steps, o.disagreement(r, at(125), "refusal_to_issue", "issue_plan")...)
	}
	plan := between(r, 100, 140)
	if !o.chance(r, rt.PlanWithin20) || excepted && o.chance(r, 0.5) {
		plan = between(r, 141, 300)
	}
	plan = max(plan, decision+40)
	draft := plan - between(r, 18, min(35, plan-decision-5))
	steps = append(steps, step{at(draft), "send_draft_plan", nil})
	if o.chance(r, rt.RepresentationsIn) {
		steps = append(steps, step{at(draft + between(r, 5, 15)), "receive_representations", nil})
	}
	school := fmt.Sprintf("S%d", r.IntN(3))
	steps = append(steps, step{at(draft + 1), "consult_school", map[string]any{"school": school}},
		step{at(draft + between(r, 5, 16)), "receive_school_response", map[string]any{"school": school}},
		step{at(plan), "issue_final_plan", map[string]any{"school": school}})
	steps = append(steps, o.disagreement(r, at(plan), "contents", "contents")...)
	steps = append(steps, o.planItems(r, at(plan), school)...)
	// Yearly reviews while the plan is in force.
	last := at(plan)
	for review := 1; review <= 10 && last <= o.Until; review++ {
		due := last.AddMonths(12)
		decided := due.AddDays(-between(r, 1, 40))
		if !o.chance(r, rt.ReviewOnTime) {
			decided = due.AddDays(between(r, 1, 90))
		}
		meeting := decided.AddDays(-between(r, 10, 27))
		steps = append(steps, step{meeting, "hold_review_meeting", nil}, step{meeting.AddDays(between(r, 5, 9)), "send_review_report", nil})
		decisionKind := "maintain"
		switch x := r.Float64(); {
		case x < rt.Cease:
			decisionKind = "cease"
		case x < rt.Cease+rt.ReviewAmend:
			decisionKind = "amend"
		}
		steps = append(steps, step{decided, "notify_review_decision", map[string]any{"decision": decisionKind}})
		if decisionKind == "cease" {
			// Unappealed, the plan ends once the family's time to appeal
			// (two months, longer over August or with a certificate) has passed.
			steps = append(steps, step{decided.AddMonths(4), "cease_plan", map[string]any{"ceased_because": pick(r, ceaseReasons)}})
			break
		}
		if decisionKind == "amend" {
			proposed := decided.AddDays(between(r, 3, 15))
			steps = append(steps, step{proposed, "send_proposed_amendments", nil}, step{proposed.AddDays(between(r, 30, 80)), "issue_amended_plan", nil})
		}
		last = decided
	}
	return steps
}

// weighted is a value with its share of a distribution.
type weighted struct {
	v string
	w float64
}

// pick draws a value from a distribution (weights need not sum to 1).
func pick(r *rand.Rand, dist []weighted) string {
	total := 0.0
	for _, d := range dist {
		total += d.w
	}
	x := r.Float64() * total
	for _, d := range dist {
		if x < d.w {
			return d.v
		}
		x -= d.w
	}
	return dist[len(dist)-1].v
}

// The distributions of the SEN2 items among children and young people with
// EHC plans in England, rounded from DfE's "Education, health and care
// plans" and "Special educational needs in England" statistics (2024 and
// 2025): about 72% boys; primary need autism 33%, speech, language and
// communication 21%, social, emotional and mental health 14%, moderate
// learning difficulty 9%; ethnicity close to the school population's.
var (
	sexes       = []weighted{{"M", 72}, {"F", 28}}
	ethnicities = []weighted{{"WBRI", 66}, {"WOTH", 5}, {"WIRI", 0.3}, {"WIRT", 0.3}, {"WROM", 0.5}, {"MWBC", 1.5}, {"MWBA", 0.7},
		{"MWAS", 1}, {"MOTH", 2}, {"AIND", 1}, {"APKN", 3}, {"ABAN", 1}, {"AOTH", 2}, {"BCRB", 1}, {"BAFR", 4}, {"BOTH", 1},
		{"CHNE", 0.3}, {"OOTH", 1.5}, {"REFU", 1}, {"NOBT", 3}}
	needs = []weighted{{"ASD", 33}, {"SLCN", 21}, {"SEMH", 14}, {"MLD", 9}, {"SLD", 5}, {"SPLD", 4}, {"PD", 3}, {"PMLD", 1},
		{"HI", 1}, {"VI", 1}, {"MSI", 0.3}, {"DS", 1}, {"OTH", 2}}
	requesters = []weighted{{"parent", 55}, {"school", 25}, {"health_professional", 8}, {"social_care_professional", 3},
		{"professional", 2}, {"young_person", 7}}
	ceaseReasons = []weighted{{"needs_met_without_plan", 30}, {"maximum_age", 15}, {"moved_to_another_la", 15}, {"paid_employment", 10},
		{"higher_education", 10}, {"no_longer_engaging", 10}, {"moved_outside_england", 3}, {"deceased", 1}, {"other", 6}}
	forenames = []string{"Ada", "Ben", "Chloe", "Dev", "Ella", "Finn", "Grace", "Harry", "Isla", "Jack", "Kai", "Leo", "Maya", "Noah", "Olivia", "Priya", "Reuben", "Sofia", "Theo", "Zara"}
	surnames  = []string{"Ahmed", "Byrne", "Clarke", "Davies", "Evans", "Fofana", "Green", "Hussain", "Iqbal", "Jones", "Khan", "Lewis", "Mensah", "Nowak", "Okafor", "Patel", "Roberts", "Smith", "Taylor", "Wilson"}
)

// person draws the child's details for the request: name, sex, ethnicity
// and a UPN with its check letter (for a child too young for one, the
// reason there is none), and who asked.
func (o Options) person(r *rand.Rand, req, birth domain.Date) map[string]any {
	d := map[string]any{"requester": pick(r, requesters), "birth_date": birth.String(),
		"forename": forenames[r.IntN(len(forenames))], "surname": surnames[r.IntN(len(surnames))],
		"sex": pick(r, sexes), "ethnicity": pick(r, ethnicities)}
	age := domain.Age(birth, req)
	if d["requester"] == "young_person" && age < 16 {
		d["requester"] = "parent"
	}
	if age < 4 {
		d["upn_unknown"] = "UN1"
		return d
	}
	by, _, _ := birth.YMD()
	rest := fmt.Sprintf("%03d%04d%02d%03d", 950+r.IntN(50), 2000+r.IntN(8000), (by+5)%100, r.IntN(1000))
	if letter, ok := domain.UPNCheckLetter(rest); ok {
		d["upn"] = string(letter) + rest
	}
	return d
}

// planItems draws what the return records of a new plan: the school it
// names, the needs, and now and then a personal budget.
func (o Options) planItems(r *rand.Rand, issued domain.Date, school string) []step {
	var n int
	fmt.Sscanf(school, "S%d", &n)
	placement := map[string]any{"urn": fmt.Sprint(100000 + n), "rank": 1, "named_in_plan": true}
	switch x := r.Float64(); {
	case x < 0.05:
		placement["sen_unit"] = true
	case x < 0.10:
		placement["resourced_provision"] = true
	}
	if o.chance(r, 0.02) {
		placement["residential"] = []string{"A", "B"}[r.IntN(2)]
	}
	primary := pick(r, needs)
	need := map[string]any{"primary": primary}
	if o.chance(r, 0.4) {
		if second := pick(r, needs); second != primary {
			need["secondary"] = second
		}
	}
	// The needs are known from the assessment; the child starts at the
	// school within a few weeks.
	steps := []step{{issued, "record_sen_needs", need}, {issued.AddDays(7), "record_placement", placement}}
	if o.chance(r, 0.06) {
		budget := map[string]any{"taken_up": true}
		if o.chance(r, 0.5) {
			budget["direct_payments"] = []string{"education"}
		}
		steps = append(steps, step{issued.AddDays(14), "record_personal_budget", budget})
	}
	return steps
}

// disagreement draws what a family does after an appealable decision.
func (o Options) disagreement(r *rand.Rand, decided domain.Date, appeal, order string) []step {
	rt := o.Rates
	if !o.chance(r, rt.Mediation) {
		return nil
	}
	contact := decided.AddDays(between(r, 5, 50))
	wants := o.chance(r, rt.WantsMediation)
	steps := []step{{contact, "contact_mediation_adviser", map[string]any{"wants_mediation": wants}}}
	cert := contact.AddDays(between(r, 1, 5))
	if wants {
		held := contact.AddDays(between(r, 14, 45))
		steps = append(steps, step{held, "hold_mediation", nil})
		cert = held.AddDays(between(r, 1, 5))
	}
	steps = append(steps, step{cert, "issue_mediation_certificate", nil})
	if !o.chance(r, rt.Appeal) {
		return steps
	}
	lodged := cert.AddDays(between(r, 3, 25))
	steps = append(steps, step{lodged, "lodge_appeal", map[string]any{"kind": appeal}})
	if order == "contents" && o.chance(r, rt.Conceded) {
		conceded := lodged.AddDays(between(r, 20, 60))
		return append(steps, step{conceded, "concede_appeal", map[string]any{"kind": "contents"}},
			step{conceded.AddDays(between(r, 10, 40)), "comply_with_concession", map[string]any{"kind": "contents"}})
	}
	ordered := lodged.AddDays(between(r, 120, 200))
	first := map[string]string{"assess": "assess_notice", "issue_plan": "draft_plan", "contents": "contents"}[order]
	return append(steps, step{ordered, "tribunal_order", map[string]any{"order": order}},
		step{ordered.AddDays(between(r, 10, 45)), "comply_with_order", map[string]any{"step": first}})
}
