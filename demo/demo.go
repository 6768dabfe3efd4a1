// Package demo makes hand-written case stories (on time, late, excused by
// personal circumstances or a school's summer closure, refused and appealed,
// not issued, running, overdue, under review) for tests and benchmarks that
// need every kind of case in a known mix. Every case goes through the real
// domain and store. The demo data of `serve --demo` comes from the simulator.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
)

type step struct {
	after   int // days after the request
	command string
	data    map[string]any
}

// story is one path a case can take, with the request's age in days.
type story struct {
	name  string
	age   [2]int // range of days between the request and today
	steps func(r *rand.Rand) []step
	// requested, when set, places the request on a fixed date instead of a
	// random age (the summer-closure story must straddle a summer holiday).
	requested func(today domain.Date) domain.Date
}

func advice(kind string) map[string]any { return map[string]any{"advice": kind} }

var stories = []story{
	{"plan on time", [2]int{150, 400}, func(r *rand.Rand) []step {
		return []step{
			{30 + r.IntN(10), "decide_to_assess", nil},
			{42, "request_advice", advice("educational_psychology")},
			{43, "request_advice", advice("health")},
			{70 + r.IntN(14), "receive_advice", advice("educational_psychology")},
			{75, "receive_advice", advice("health")},
			{100, "send_draft_plan", nil},
			{110, "receive_representations", nil},
			{111, "consult_school", map[string]any{"school": "S-DEMO-1"}},
			{120, "receive_school_response", map[string]any{"school": "S-DEMO-1"}},
			{125 + r.IntN(10), "issue_final_plan", map[string]any{"school": "S-DEMO-1"}},
		}
	}, nil},
	{"plan late", [2]int{200, 500}, func(r *rand.Rand) []step {
		return []step{
			{40 + r.IntN(10), "decide_to_assess", nil},
			{50, "request_advice", advice("educational_psychology")},
			{120, "receive_advice", advice("educational_psychology")},
			{150, "send_draft_plan", nil},
			{170 + r.IntN(20), "issue_final_plan", map[string]any{"school": "S-DEMO-2"}},
		}
	}, nil},
	{"plan late, excused by personal circumstances", [2]int{200, 400}, func(r *rand.Rand) []step {
		return []step{
			{35, "decide_to_assess", nil},
			{45, "request_advice", advice("educational_psychology")},
			{60, "record_exception", map[string]any{"kind": "personal_circumstances", "from": "+60", "to": "+95", "evidence": "family bereavement, letter on file"}},
			{100, "receive_advice", advice("educational_psychology")},
			{150, "send_draft_plan", nil},
			{165, "issue_final_plan", map[string]any{"school": "S-DEMO-1"}},
		}
	}, nil},
	{"refused, mediation, appeal", [2]int{120, 300}, func(r *rand.Rand) []step {
		return []step{
			{38 + r.IntN(8), "refuse_assessment", nil},
			{60, "contact_mediation_adviser", map[string]any{"wants_mediation": true}},
			{80, "hold_mediation", nil},
			{83, "issue_mediation_certificate", nil},
			{95, "lodge_appeal", map[string]any{"kind": "refusal_to_assess"}},
		}
	}, nil},
	{"decided not to issue", [2]int{130, 300}, func(r *rand.Rand) []step {
		return []step{
			{35, "decide_to_assess", nil},
			{40, "request_advice", advice("educational_psychology")},
			{80, "receive_advice", advice("educational_psychology")},
			{100 + r.IntN(20), "decide_not_to_issue", nil},
		}
	}, nil},
	{"assessment running", [2]int{45, 110}, func(r *rand.Rand) []step {
		return []step{
			{30 + r.IntN(10), "decide_to_assess", nil},
			{42, "request_advice", advice("educational_psychology")},
			{44, "request_advice", advice("social_care")},
			{80, "receive_advice", advice("social_care")},
		}
	}, nil},
	{"plan late, excused by the school's summer closure", [2]int{0, 0}, func(r *rand.Rand) []step {
		return []step{
			{35, "decide_to_assess", nil},
			{67 + r.IntN(4), "request_advice", map[string]any{"advice": "education", "school": "S-DEMO-1"}},
			{118, "receive_advice", advice("education")},
			{125, "send_draft_plan", nil},
			{150 + r.IntN(10), "issue_final_plan", map[string]any{"school": "S-DEMO-1"}},
		}
	}, lastSummerStory},
	{"new request", [2]int{1, 40}, func(r *rand.Rand) []step { return nil }, nil},
	{"decision overdue", [2]int{45, 90}, func(r *rand.Rand) []step { return nil }, nil},
	{"plan in force, review due", [2]int{400, 560}, func(r *rand.Rand) []step {
		return []step{
			{35, "decide_to_assess", nil},
			{40, "request_advice", advice("educational_psychology")},
			{80, "receive_advice", advice("educational_psychology")},
			{110, "send_draft_plan", nil},
			{135, "issue_final_plan", map[string]any{"school": "S-DEMO-2"}},
			{450, "hold_review_meeting", nil},
			{458, "send_review_report", nil},
			{470, "notify_review_decision", map[string]any{"decision": "maintain"}},
		}
	}, nil},
}

// caseworkers are the demo LA's staff: a caseworker and their team.
var caseworkers = [][2]string{{"cw-amara", "north"}, {"cw-ben", "north"}, {"cw-chloe", "south"}, {"cw-dev", "south"}, {"cw-ella", "south"}}

// Options says what Generate makes.
type Options struct {
	LA      string
	Cases   int
	Today   domain.Date
	Seed    uint64
	Workers int
	// Prefix starts every case ID, so that runs into one store do not collide.
	Prefix string
}

// Generate records an LA's rulebook, school calendars and cases cycling
// through the demo stories, with Workers cases in flight at once.
func Generate(ctx context.Context, l *app.Ledger, o Options) (int, error) {
	if o.Workers < 1 {
		o.Workers = 1
	}
	if o.Prefix == "" {
		o.Prefix = "DEMO-"
	}
	from := o.Today.AddDays(-600)
	if err := l.ExecuteLA(ctx, o.LA, domain.CommandAdoptRulebook, from, fmt.Appendf(nil, `{"rulebook":%q,"from":%q}`, domain.DefaultRulebook, from), "demo"); err != nil {
		return 0, err
	}
	y, _, _ := o.Today.YMD()
	for _, yy := range []int{y - 2, y - 1, y} {
		for _, school := range []string{"S-DEMO-1", "S-DEMO-2"} {
			closes := domain.NewDate(yy, 7, 23)
			data := fmt.Appendf(nil, `{"school":%q,"first_day":%q,"reopens":%q}`, school, closes, domain.NewDate(yy, 9, 3))
			if err := l.ExecuteLA(ctx, o.LA, domain.CommandRecordSchoolClosure, closes, data, "demo"); err != nil {
				return 0, err
			}
		}
	}
	jobs := make(chan int)
	errs := make(chan error, o.Workers)
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := o.makeCase(ctx, l, i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	sent := 0
feed:
	for ; sent < o.Cases; sent++ {
		select {
		case jobs <- sent:
		case err := <-errs:
			errs <- err
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return sent, nil
}

// makeCase records case number i; its random choices depend only on the seed
// and i, so a run is reproducible however many workers share it.
func (o Options) makeCase(ctx context.Context, l *app.Ledger, i int) error {
	r := rand.New(rand.NewPCG(o.Seed, uint64(i)))
	st := stories[i%len(stories)]
	requested := o.Today.AddDays(-(st.age[0] + r.IntN(st.age[1]-st.age[0]+1)))
	if st.requested != nil {
		requested = st.requested(o.Today)
	}
	id := fmt.Sprintf("%s%03d", o.Prefix, i+1)
	birth := requested.AddDays(-(4*365 + r.IntN(11*365)))
	requester := []string{"parent", "school", "professional", "young_person"}[r.IntN(4)]
	if err := run(ctx, l, o.LA, id, requested, requested, "receive_request", map[string]any{"requester": requester, "birth_date": birth.String()}); err != nil {
		return fmt.Errorf("demo case %s (%s): %w", id, st.name, err)
	}
	worker := caseworkers[i%len(caseworkers)]
	if err := run(ctx, l, o.LA, id, requested, requested, "assign_case", map[string]any{"caseworker": worker[0], "team": worker[1]}); err != nil {
		return fmt.Errorf("demo case %s: %w", id, err)
	}
	for _, s := range st.steps(r) {
		on := requested.AddDays(s.after)
		if on > o.Today {
			break
		}
		if err := run(ctx, l, o.LA, id, requested, on, s.command, s.data); err != nil {
			return fmt.Errorf("demo case %s (%s), %s: %w", id, st.name, s.command, err)
		}
	}
	return nil
}

// lastSummerStory places a request 70 days before the start of the latest
// summer closure that ended at least 120 days ago.
func lastSummerStory(today domain.Date) domain.Date {
	y, _, _ := today.YMD()
	for {
		if domain.NewDate(y, 9, 3).AddDays(120) <= today {
			return domain.NewDate(y, 7, 23).AddDays(-70)
		}
		y--
	}
}

// run executes one demo step; data values written "+N" are dates N days after
// the request.
func run(ctx context.Context, l *app.Ledger, la, id string, requested, on domain.Date, command string, data map[string]any) error {
	resolved := map[string]any{}
	for k, v := range data {
		if s, ok := v.(string); ok && len(s) > 1 && s[0] == '+' {
			var n int
			if _, err := fmt.Sscanf(s, "+%d", &n); err == nil {
				v = requested.AddDays(n).String()
			}
		}
		resolved[k] = v
	}
	raw, err := json.Marshal(resolved)
	if err != nil {
		return err
	}
	y, m, d := on.YMD()
	_, err = l.Execute(ctx, app.CommandRequest{Case: id, Command: command, On: on, Data: raw, Actor: "demo", LA: la,
		Expected: eventstore.Any, RecordedAt: time.Date(y, m, d, 12, 0, 0, 0, domain.London)})
	return err
}
