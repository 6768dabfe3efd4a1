package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ehcledger/ehcledger/backup"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressEvery is how often a long job writes a line of progress when its
// output is not a terminal (a log, a CI job, a systemd journal).
const progressEvery = 10 * time.Second

// progress shows how far a long job has got, on w: a bar with the rate and
// the time left on a terminal, and otherwise a plain line when the stage
// changes and every progressEvery. It is safe for concurrent use.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	job   string
	tty   bool
	now   func() time.Time
	every time.Duration

	stage      string
	unit       string
	bar        *progressbar.ProgressBar
	started    time.Time
	lastLine   time.Time
	done, last int64
}

// newProgress reports the job's progress on w, as a bar when w is a
// terminal.
func newProgress(w io.Writer, job string) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, job: job, tty: tty, now: time.Now, every: progressEvery}
}

// report takes a stage's progress: done of total (0 when unknown).
func (p *progress) report(r backup.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if r.Stage != p.stage {
		p.finishBar()
		p.stage, p.unit, p.started, p.lastLine, p.last = r.Stage, r.Unit, now, now, 0
		if p.tty && r.Total > 0 {
			p.bar = progressbar.NewOptions64(r.Total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(p.job+": "+r.Stage),
				progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionShowElapsedTimeOnFinish(),
				progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionShowBytes(r.Unit == "bytes"),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }))
		} else {
			fmt.Fprintf(p.w, "%s: %s\n", p.job, r.Stage)
		}
	}
	p.done = r.Done
	if p.bar != nil {
		p.bar.Set64(r.Done)
		return
	}
	if r.Done > 0 && now.Sub(p.lastLine) >= p.every {
		fmt.Fprintf(p.w, "%s: %s: %s\n", p.job, r.Stage, p.line(r, now))
		p.lastLine, p.last = now, r.Done
	}
}

// line says done of total, the rate since the stage began and the time
// left at that rate.
func (p *progress) line(r backup.Progress, now time.Time) string {
	el := now.Sub(p.started).Seconds()
	rate := float64(r.Done) / max(el, 1e-9)
	amount := func(n float64) string {
		if r.Unit == "bytes" {
			return fmt.Sprintf("%.1f MiB", n/(1<<20))
		}
		return fmt.Sprintf("%.0f %s", n, r.Unit)
	}
	s := amount(float64(r.Done))
	if r.Total > 0 {
		s += fmt.Sprintf(" of %s (%.0f%%)", amount(float64(r.Total)), 100*float64(r.Done)/float64(r.Total))
	}
	s += ", " + amount(rate) + "/s"
	if r.Total > 0 && rate > 0 {
		s += fmt.Sprintf(", about %s left", time.Duration(float64(r.Total-r.Done)/rate*float64(time.Second)).Round(time.Second))
	}
	return s
}

// finishBar ends the current stage's bar, if any.
func (p *progress) finishBar() {
	if p.bar != nil {
		p.bar.Exit()
		fmt.Fprintln(p.w)
		p.bar = nil
	}
}

// close ends the job's report.
func (p *progress) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finishBar()
}

// poll reports a stage's progress, as fn tells it, every fifth of a second
// until the returned stop is called, which reports it a last time.
func (p *progress) poll(stage, unit string, fn func() (done, total int64)) (stop func()) {
	quit, stopped := make(chan struct{}), make(chan struct{})
	show := func() {
		done, total := fn()
		p.report(backup.Progress{Stage: stage, Done: done, Total: total, Unit: unit})
	}
	go func() {
		defer close(stopped)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			show()
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(quit)
		<-stopped
		show()
		p.close()
	}
}

// readCounter is a store whose reads of the global log say how far they
// have got, for a job's progress. It answers for the store it wraps what
// the readers of the log ask of it (gapless positions, batch reads), so
// that a check behaves as it would on the store itself.
type readCounter struct {
	eventstore.Store
	at atomic.Int64
}

// GaplessPositions says whether the wrapped store's positions are gapless:
// the gap check of verify depends on it.
func (c *readCounter) GaplessPositions() bool {
	g, ok := c.Store.(eventstore.Gapless)
	return ok && g.GaplessPositions()
}

// ReadAllInto reads as the wrapped store does, into buf when it can.
func (c *readCounter) ReadAllInto(ctx context.Context, buf []eventstore.RecordedEvent, from int64, limit int) ([]eventstore.RecordedEvent, error) {
	var evs []eventstore.RecordedEvent
	var err error
	if br, ok := c.Store.(eventstore.BatchReader); ok {
		evs, err = br.ReadAllInto(ctx, buf, from, limit)
	} else {
		evs, err = c.Store.ReadAll(ctx, from, limit)
	}
	if n := len(evs); n > 0 {
		c.at.Store(evs[n-1].Position)
	}
	return evs, err
}

// ReadAll reads as the store does, and counts.
func (c *readCounter) ReadAll(ctx context.Context, from int64, limit int) ([]eventstore.RecordedEvent, error) {
	evs, err := c.Store.ReadAll(ctx, from, limit)
	if n := len(evs); n > 0 {
		c.at.Store(evs[n-1].Position)
	}
	return evs, err
}
