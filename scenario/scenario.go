// Package scenario reads scenario files (shared/scenarios/FORMAT.md) and runs
// them through the real domain, an event store and the projections.
package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/projections"
)

// File is a scenario file.
type File struct {
	Name string `json:"name"`
	// Cites names the provisions the scenario shows (e.g. "reg 13(1)(a)"):
	// this project's own scenarios each cite theirs.
	Cites    []string `json:"cites,omitempty"`
	LA       string   `json:"la"`
	Rulebook string   `json:"rulebook"`
	Schools  []School `json:"schools"`
	Steps    []Step   `json:"steps"`
	Expect   *Output  `json:"expect,omitempty"`
}

// School is a school with its closures.
type School struct {
	ID       string    `json:"id"`
	Closures []Closure `json:"closures"`
}

// Closure is one closure: FirstDay is the first day closed, Reopens the first
// day open again.
type Closure struct {
	FirstDay domain.Date `json:"first_day"`
	Reopens  domain.Date `json:"reopens"`
}

// Step is one dated command.
type Step struct {
	On          *domain.Date    `json:"on,omitempty"`
	At          *time.Time      `json:"at,omitempty"`
	Case        string          `json:"case"`
	Command     string          `json:"command"`
	Data        json.RawMessage `json:"data,omitempty"`
	ExpectError bool            `json:"expect_error,omitempty"`
	// RecordedAt, when set, is when the step was recorded, for late records
	// (with Reason) and for what-did-we-know queries; by default a step is
	// recorded when it happens.
	RecordedAt *time.Time `json:"recorded_at,omitempty"`
	Reason     string     `json:"reason,omitempty"`
}

// Output is what a run prints.
type Output struct {
	AsOf   domain.Date       `json:"as_of"`
	Clocks []domain.ClockRow `json:"clocks"`
}

// StepError is a step that was rejected, or accepted when it should not have
// been. Index is the step's 0-based place in the file.
type StepError struct {
	Index   int
	Step    Step
	Err     error
	Message string
}

func (e *StepError) Error() string {
	return fmt.Sprintf("steps[%d] (%s, case %s): %s", e.Index, e.Step.Command, e.Step.Case, e.Message)
}

func (e *StepError) Unwrap() error { return e.Err }

// Parse reads a scenario file and checks its shape.
func Parse(b []byte) (*File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		return nil, domain.FieldErrorf("scenario", "not a valid scenario file: %v", err)
	}
	if f.Rulebook == "" {
		f.Rulebook = domain.DefaultRulebook
	}
	if _, err := domain.LookupRulebook(f.Rulebook); err != nil {
		return nil, &domain.Error{Code: domain.Invalid, Field: "rulebook", Message: domain.ErrorMessage(err)}
	}
	if err := domain.ValidateID("la", f.LA); err != nil {
		return nil, err
	}
	if len(f.Steps) == 0 {
		return nil, domain.FieldErrorf("steps", "a scenario needs at least one step")
	}
	for i, s := range f.Schools {
		if err := domain.ValidateID(fmt.Sprintf("schools[%d].id", i), s.ID); err != nil {
			return nil, err
		}
		for j, c := range s.Closures {
			if c.FirstDay.IsZero() || c.Reopens.IsZero() || c.Reopens <= c.FirstDay {
				return nil, domain.FieldErrorf(fmt.Sprintf("schools[%d].closures[%d]", i, j), "needs first_day before reopens")
			}
		}
	}
	for i, s := range f.Steps {
		field := fmt.Sprintf("steps[%d]", i)
		if (s.On == nil) == (s.At == nil) {
			return nil, domain.FieldErrorf(field, "a step needs exactly one of on (a date) or at (an instant)")
		}
		if s.Command == "" {
			return nil, domain.FieldErrorf(field+".command", "is required")
		}
		if laStep(s.Command) {
			continue // LA-level steps belong to no case
		}
		if err := domain.ValidateID(field+".case", s.Case); err != nil {
			return nil, err
		}
	}
	return &f, nil
}

// laStep reports whether a step is about the LA rather than a case.
func laStep(command string) bool {
	spec := domain.LookupCommand(command)
	return spec != nil && spec.Scope == domain.ScopeLA
}

// Date returns the civil date of a step in Europe/London.
func (s Step) Date() domain.Date {
	if s.On != nil {
		return *s.On
	}
	return domain.DateOf(*s.At)
}

// Instant is when the step counts as recorded: recorded_at, else at, else
// noon in London on its date.
func (s Step) Instant() time.Time {
	switch {
	case s.RecordedAt != nil:
		return *s.RecordedAt
	case s.At != nil:
		return *s.At
	}
	y, m, d := s.On.YMD()
	return time.Date(y, m, d, 12, 0, 0, 0, domain.London)
}

// Runner runs scenarios against a store and its projections.
type Runner struct {
	Ledger *app.Ledger
	Views  *projections.Runner
}

// Run applies the scenario's steps dated on or before asOf (zero: the date of
// the last step), builds the projections and returns the clocks on asOf.
func (r *Runner) Run(ctx context.Context, f *File, asOf domain.Date) (*Output, error) {
	first, last := f.Steps[0].Date(), f.Steps[0].Date()
	for _, s := range f.Steps {
		d := s.Date()
		first, last = min(first, d), max(last, d)
	}
	if asOf.IsZero() {
		asOf = last
	}
	const actor = "scenario"
	if err := r.Ledger.ExecuteLA(ctx, f.LA, domain.CommandAdoptRulebook, first, fmt.Appendf(nil, `{"rulebook":%q,"from":%q}`, f.Rulebook, first), actor); err != nil {
		return nil, err
	}
	for _, s := range f.Schools {
		for _, c := range s.Closures {
			data := fmt.Appendf(nil, `{"school":%q,"first_day":%q,"reopens":%q}`, s.ID, c.FirstDay, c.Reopens)
			if err := r.Ledger.ExecuteLA(ctx, f.LA, domain.CommandRecordSchoolClosure, c.FirstDay, data, actor); err != nil {
				return nil, err
			}
		}
	}
	for i, s := range f.Steps {
		on := s.Date()
		if on > asOf {
			continue
		}
		var err error
		if laStep(s.Command) {
			err = r.Ledger.ExecuteLA(ctx, f.LA, s.Command, on, s.Data, actor)
		} else {
			// A scenario replays history as it happened: each step counts as
			// recorded at its own time, so none is a late recording.
			la := ""
			if domain.OpensCase(s.Command) {
				la = f.LA // later steps follow the case, which may move LA
			}
			_, err = r.Ledger.Execute(ctx, app.CommandRequest{
				Case: s.Case, Command: s.Command, On: on, Data: s.Data, Actor: actor, LA: la,
				Expected: eventstore.Any, RecordedAt: s.Instant(), Reason: s.Reason,
			})
		}
		switch {
		case err != nil && s.ExpectError:
			if domain.ErrorCode(err) == domain.Internal {
				return nil, &StepError{Index: i, Step: s, Err: err, Message: "failed: " + err.Error()}
			}
		case err != nil:
			return nil, &StepError{Index: i, Step: s, Err: err, Message: domain.ErrorMessage(err)}
		case s.ExpectError:
			return nil, &StepError{Index: i, Step: s, Err: domain.Errorf(domain.Invalid, "accepted"),
				Message: "the step was accepted but the scenario expects it to be rejected"}
		}
	}
	if _, err := r.Views.CatchUp(ctx); err != nil {
		return nil, err
	}
	rows := r.Views.Timeliness.AllRows(asOf)
	if rows == nil {
		rows = []domain.ClockRow{}
	}
	return &Output{AsOf: asOf, Clocks: rows}, nil
}
