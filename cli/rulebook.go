package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ehcledger/ehcledger/app"
	"github.com/ehcledger/ehcledger/calendar"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/projections"
)

// rulebookCmd answers questions about the rulebook revisions a store has
// recorded: rulebook changes --la LA.
func rulebookCmd(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "changes" {
		return usageError("rulebook: the only subcommand is changes: ehcledger rulebook changes --la LA [--rulebook ID] [--version N]")
	}
	fs := newFlags("rulebook changes")
	q := replayFlags(fs)
	rulebook := fs.String("rulebook", domain.DefaultRulebook, "the rulebook whose recorded revision to report")
	version := fs.Int("version", 0, "the revision's version (default: the latest recorded)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *version < 0 {
		return usageError("--version: a version is 1 or more")
	}
	l, cases, done, err := q.open(ctx, false)
	if err != nil {
		return err
	}
	defer done()
	r, err := l.RevisionChanges(ctx, q.la, cases, *rulebook, *version, q.period, q.asOf)
	if err != nil {
		return errors.New(domain.ErrorMessage(err))
	}
	if q.format == "json" {
		return writeJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "Rulebook %s version %d (before it: version %d), recorded %s\n", r.Rulebook, r.Version, r.PreviousVersion, r.RecordedAt.Format(time.RFC3339))
	for _, rev := range r.Corrects {
		for _, c := range rev.Corrects {
			fmt.Fprintf(stdout, "  version %d (%s) corrects: %s [%s]\n", rev.Version, rev.Date, c.What, c.Provisions)
		}
	}
	writeReplayed(stdout, r.Replayed, r.Before, r.After, "before", "after", true)
	return nil
}

// whatIf prints an LA's actual figures beside those of its history counted
// under one rulebook on every date.
func whatIf(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("whatif")
	q := replayFlags(fs)
	rulebook := fs.String("rulebook", "", "the rulebook to count the LA's history under, on every date")
	clocks := fs.Bool("clocks", false, "list every clock whose due date or status changed")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *rulebook == "" {
		return usageError("whatif: --rulebook is required (" + strings.Join(domain.RulebookIDs(), ", ") + ")")
	}
	l, cases, done, err := q.open(ctx, true)
	if err != nil {
		return err
	}
	defer done()
	c, rb, err := l.WhatIf(ctx, q.la, cases, *rulebook)
	if err != nil {
		return errors.New(domain.ErrorMessage(err))
	}
	r := c.WhatIfReport(rb, q.period, q.asOf, *clocks)
	if q.format == "json" {
		return writeJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "What if %s (version %d) had been in force on every date\n", r.Rulebook, r.Version)
	writeReplayed(stdout, r.Replayed, r.Actual, r.WhatIf, "actual", "what-if", *clocks)
	return nil
}

// replayQuery is what both questions read from their flags: the flags,
// then their values once checked.
type replayQuery struct {
	db, store, laF, asOfF, fromF, toF, formatF *string

	la, format string
	asOf       domain.Date
	period     projections.Period
}

// replayFlags adds the flags both questions share.
func replayFlags(fs *flag.FlagSet) *replayQuery {
	q := &replayQuery{}
	q.db, q.store = storeFlags(fs)
	q.laF = fs.String("la", "", "the LA (one at a time)")
	q.asOfF = fs.String("as-of", "", "the date the clocks stand on (default: today)")
	q.fromF = fs.String("from", "", "the first day of the figures' period")
	q.toF = fs.String("to", "", "the last day of the figures' period (default: as-of)")
	q.formatF = fs.String("format", "json", "json or table")
	return q
}

// open checks the flags, opens the store and lists the LA's cases. With
// twelveMonths the period defaults to the twelve months up to as-of, as the
// statistics do; otherwise to the LA's whole history.
func (q *replayQuery) open(ctx context.Context, twelveMonths bool) (*app.Ledger, []string, func(), error) {
	q.format = *q.formatF
	if q.format != "json" && q.format != "table" {
		return nil, nil, nil, usageError("--format: json or table")
	}
	if err := domain.ValidateID("la", *q.laF); err != nil {
		return nil, nil, nil, usageError("--la: give one LA code")
	}
	q.la = *q.laF
	q.asOf = domain.DateOf(time.Now())
	for _, f := range []struct {
		name string
		v    string
		dst  *domain.Date
	}{{"--as-of", *q.asOfF, &q.asOf}, {"--from", *q.fromF, &q.period.From}, {"--to", *q.toF, &q.period.To}} {
		if f.v == "" {
			continue
		}
		d, err := domain.ParseDate(f.v)
		if err != nil {
			return nil, nil, nil, usageError(f.name + ": " + err.Error())
		}
		*f.dst = d
	}
	if twelveMonths && q.period.From.IsZero() {
		q.period.From = q.asOf.AddMonths(-12).AddDays(1)
	}
	if !q.period.To.IsZero() && q.period.To < q.period.From {
		return nil, nil, nil, usageError("--to is before --from")
	}
	s, _, err := openExisting(*q.db, *q.store, true)
	if err != nil {
		return nil, nil, nil, err
	}
	cases, err := app.CasesOfLA(ctx, s, q.la)
	if err != nil {
		s.Close()
		return nil, nil, nil, errors.New(domain.ErrorMessage(err))
	}
	l := &app.Ledger{Store: s, Holidays: calendar.NewEnglandWales(), Now: time.Now}
	return l, cases, func() { s.Close() }, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeReplayed prints the figures side by side and, with clocks, the
// clocks that changed, as aligned columns.
func writeReplayed(w io.Writer, r app.Replayed, a, b projections.Stats, aName, bName string, clocks bool) {
	fmt.Fprintf(w, "LA %s: %d cases; figures for %s to %s; clocks as they stand on %s\n\n", r.LA, r.Cases, r.Period.From, r.Period.To, r.AsOf)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "figure\t%s\t%s\n", aName, bName)
	for _, row := range app.FigureRows(a, b) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", row.Figure, row.Before, row.After)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d clocks have another due date or status\n", r.ChangedClocks)
	if !clocks || len(r.Clocks) == 0 {
		return
	}
	orNone := func(s string) string {
		if s == "" {
			return "(none)"
		}
		return s
	}
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "case\tclock\tkey\tstarted\tdue %s\tdue %s\tstatus %s\tstatus %s\n", aName, bName, aName, bName)
	for _, c := range r.Clocks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Case, c.Clock, c.Key, c.Started, orNone(c.DueBefore.String()), orNone(c.DueAfter.String()),
			orNone(c.StatusBefore), orNone(c.StatusAfter))
	}
	tw.Flush()
}
