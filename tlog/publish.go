package tlog

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Signed is a checkpoint the log's key signed, as the server keeps it.
type Signed struct {
	Checkpoint
	// Note is the signed note, followed by any witness's cosignatures.
	Note     []byte
	SignedAt time.Time
}

// Latest returns the last checkpoint signed, and false when there is none.
func (l *Log) Latest(ctx context.Context) (Signed, bool, error) {
	return l.signed(ctx, `SELECT size, root, signed, signed_at FROM tlog_checkpoints ORDER BY size DESC LIMIT 1`)
}

// SignedOfSize returns the checkpoint signed at a size, and false when none
// was.
func (l *Log) SignedOfSize(ctx context.Context, size int64) (Signed, bool, error) {
	return l.signed(ctx, `SELECT size, root, signed, signed_at FROM tlog_checkpoints WHERE size = ?`, size)
}

func (l *Log) signed(ctx context.Context, q string, args ...any) (Signed, bool, error) {
	var s Signed
	var text, at string
	err := l.db.QueryRowContext(ctx, q, args...).Scan(&s.Size, &s.Root, &text, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Signed{}, false, nil
	}
	if err != nil {
		return Signed{}, false, err
	}
	s.Note = []byte(text)
	s.SignedAt, err = time.Parse(time.RFC3339Nano, at)
	if i := strings.IndexByte(text, '\n'); i > 0 {
		s.Origin = text[:i]
	}
	return s, true, err
}

// Witness receives each checkpoint the server signs: a file or service
// outside the store's administrators' reach keeps them, so that a history
// rewritten and signed again cannot replace what was published.
type Witness interface {
	// Add hands the witness a checkpoint and returns any cosignature lines
	// it gave for it.
	Add(ctx context.Context, l *Log, s Signed) ([]byte, error)
	// String names the witness in messages.
	String() string
}

// FileWitness appends each checkpoint to a file (a mounted share, a
// write-once bucket), one after another with a blank line between.
type FileWitness struct{ Path string }

// Add appends the checkpoint in one write, and syncs it.
func (w FileWitness) Add(_ context.Context, _ *Log, s Signed) ([]byte, error) {
	f, err := os.OpenFile(w.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(append(append([]byte(nil), s.Note...), '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return nil, err
}

func (w FileWitness) String() string { return w.Path }

// HTTPWitness speaks the C2SP tlog-witness protocol: it posts each
// checkpoint to URL/add-checkpoint with a consistency proof from the last
// size the witness cosigned, and keeps the cosignature it returns.
type HTTPWitness struct {
	URL    string
	Client *http.Client
	// size is the last size the witness accepted; a 409 answer says
	// which it holds when this process does not know.
	size int64
}

// Add posts the checkpoint, retrying once from the size a 409 names.
func (w *HTTPWitness) Add(ctx context.Context, l *Log, s Signed) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		old := min(w.size, s.Size)
		cons, err := l.Consistency(ctx, old, s.Size)
		if err != nil {
			return nil, err
		}
		var body bytes.Buffer
		fmt.Fprintf(&body, "old %d\n", old)
		for _, h := range cons {
			body.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
		}
		body.WriteString("\n")
		body.Write(signedPart(s.Note))
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(w.URL, "/")+"/add-checkpoint", &body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		client := w.Client
		if client == nil {
			client = &http.Client{Timeout: 30 * time.Second}
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			w.size = s.Size
			return cosignatures(answer)
		case resp.StatusCode == http.StatusConflict && attempt == 0:
			held, err := strconv.ParseInt(strings.TrimSpace(string(answer)), 10, 64)
			if err != nil || held < 0 || held > s.Size {
				return nil, fmt.Errorf("the witness holds a size this log never had (%q): it saw another history", strings.TrimSpace(string(answer)))
			}
			w.size = held
			continue
		case resp.StatusCode == http.StatusUnprocessableEntity:
			return nil, fmt.Errorf("the witness refused the consistency proof from size %d: the log does not extend what it cosigned", old)
		}
		return nil, fmt.Errorf("the witness answered %s", resp.Status)
	}
}

func (w *HTTPWitness) String() string { return w.URL }

// signedPart is a stored note without the cosignatures kept after it: the
// checkpoint as the log signed it.
func signedPart(n []byte) []byte {
	i := bytes.Index(n, []byte("\n\n"))
	if i < 0 {
		return n
	}
	sigs := bytes.SplitAfter(n[i+2:], []byte("\n"))
	return append(append([]byte(nil), n[:i+2]...), sigs[0]...)
}

// cosignatures checks that a witness's answer is signature lines.
func cosignatures(b []byte) ([]byte, error) {
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if !strings.HasPrefix(line, "— ") || strings.Count(line, " ") != 2 {
			return nil, fmt.Errorf("the witness answered with something other than signature lines: %.80q", line)
		}
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	return b, nil
}

// Publisher signs checkpoints of the tree as it grows, keeps them, and
// hands each to the witnesses.
type Publisher struct {
	Log       *Log
	Signer    note.Signer
	Witnesses []Witness
	Now       func() time.Time
}

// ErrRewritten is a tree that no longer extends the last checkpoint
// signed: the log was altered, or the views rebuilt from an altered log.
// Nothing more is signed over it.
var ErrRewritten = errors.New("the tree no longer extends the last signed checkpoint: the log's history was altered; run verify --checkpoint")

// Publish signs the committed tree unless its size is signed already,
// stores the checkpoint and hands it to every witness. It returns the
// latest checkpoint, and the first witness's error if any failed: the
// checkpoint is kept either way.
func (p *Publisher) Publish(ctx context.Context) (Signed, error) {
	last, ok, err := p.Log.Latest(ctx)
	if err != nil {
		return Signed{}, err
	}
	size, root := p.Log.Head()
	if ok {
		if size < last.Size {
			// The views were rebuilt and are catching up: sign once they
			// pass what was signed.
			return last, nil
		}
		was, err := p.Log.RootAt(ctx, last.Size)
		if err != nil {
			return last, err
		}
		if !bytes.Equal(was, last.Root) {
			return last, ErrRewritten
		}
		if size == last.Size {
			return last, nil
		}
	}
	c := Checkpoint{Origin: p.Signer.Name(), Size: size, Root: root}
	n, err := note.Sign(&note.Note{Text: c.Body()}, p.Signer)
	if err != nil {
		return last, err
	}
	s := Signed{Checkpoint: c, Note: n, SignedAt: p.Now().UTC()}
	var werr error
	for _, w := range p.Witnesses {
		cosig, err := w.Add(ctx, p.Log, s)
		if err != nil {
			werr = errors.Join(werr, fmt.Errorf("witness %s: %w", w, err))
			continue
		}
		s.Note = append(s.Note, cosig...)
	}
	if _, err := p.Log.db.ExecContext(ctx, `INSERT OR IGNORE INTO tlog_checkpoints (size, root, signed, signed_at) VALUES (?, ?, ?, ?)`,
		s.Size, s.Root, string(s.Note), s.SignedAt.Format(time.RFC3339Nano)); err != nil {
		return last, err
	}
	return s, werr
}

// Run publishes at every tick until ctx ends, reporting each failure.
func (p *Publisher) Run(ctx context.Context, every time.Duration, report func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := p.Publish(ctx); err != nil && ctx.Err() == nil {
			report(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ReadCheckpoints splits a witness file, or a file of one checkpoint,
// into its notes, in order: each is its text, a blank line and its
// signature lines, and a blank line separates one from the next.
func ReadCheckpoints(b []byte) [][]byte {
	segs := strings.Split(strings.TrimRight(string(b), "\n"), "\n\n")
	var out [][]byte
	for i := 0; i+1 < len(segs); i += 2 {
		out = append(out, []byte(segs[i]+"\n\n"+segs[i+1]+"\n"))
	}
	return out
}
