package documents

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Scanner checks an upload for viruses before it is stored. Scan answers
// nil for a clean file, an error wrapping ErrInfected for an infected one,
// and any other error when it could not tell; the store then refuses the
// file (it fails closed).
type Scanner interface {
	// Scan checks the whole content of an upload.
	Scan(ctx context.Context, data []byte) error
}

// NoScan is a Scanner that accepts everything without looking. It is for
// development and tests only: a live service takes files from the public
// and must scan them.
type NoScan struct{}

// Scan accepts data.
func (NoScan) Scan(context.Context, []byte) error { return nil }

// CommandScanner runs an external virus scanner for each upload, with the
// upload on its standard input, such as ClamAV's
//
//	CommandScanner{Command: []string{"clamdscan", "--no-summary", "-"}}
//
// It reads the scanner's exit status as ClamAV sets it: 0 is clean, 1 is a
// virus found (ErrInfected), and anything else, or a scanner that cannot be
// started or is stopped, is no answer (ErrScanFailed). The scanner is
// killed if the context ends first.
type CommandScanner struct {
	// Command is the program and its arguments.
	Command []string
}

// scanOutputBytes is how much of a scanner's output is kept to explain its
// answer: enough for a virus name or an error, not a flood.
const scanOutputBytes = 1024

// Scan runs the scanner on data.
func (c CommandScanner) Scan(ctx context.Context, data []byte) error {
	if len(c.Command) == 0 {
		return fmt.Errorf("%w: no scanner command is set", ErrScanFailed)
	}
	cmd := exec.CommandContext(ctx, c.Command[0], c.Command[1:]...)
	cmd.Stdin = bytes.NewReader(data)
	var out capped
	cmd.Stdout, cmd.Stderr = &out, &out
	// A scanner that leaves a child holding its output open must not
	// hold the upload up for ever once it has exited or been killed.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: the scan was stopped: %w", ErrScanFailed, ctx.Err())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		return fmt.Errorf("%w (the scanner reported: %s)", ErrInfected, out.summary())
	}
	return fmt.Errorf("%w: %s failed: %w (%s)", ErrScanFailed, c.Command[0], err, out.summary())
}

// capped keeps the first scanOutputBytes written to it and drops the rest,
// so a talkative scanner cannot fill memory.
type capped struct{ buf bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := scanOutputBytes - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// summary is the output on one line, or a note that there was none.
func (c *capped) summary() string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(c.buf.String(), "?")), " ")
	if s == "" {
		return "no output"
	}
	return s
}
