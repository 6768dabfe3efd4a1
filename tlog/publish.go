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
	// Note is the signed note.
	Note []byte
	// Cosignatures are the signature lines HTTP witnesses answered with,
	// kept as they came: checking them needs the witnesses' keys and their
	// cosignature format, which is the auditor's business.
	Cosignatures []byte
	SignedAt     time.Time
}

// Latest returns the last checkpoint signed, and false when there is none.
func (l *Log) Latest(ctx context.Context) (Signed, bool, error) {
	return l.signed(ctx, `SELECT size, root, signed, cosignatures, signed_at FROM tlog_checkpoints ORDER BY size DESC LIMIT 1`)
}

// SignedOfSize returns the checkpoint signed at a size, and false when none
// was.
func (l *Log) SignedOfSize(ctx context.Context, size int64) (Signed, bool, error) {
	return l.signed(ctx, `SELECT size, root, signed, cosignatures, signed_at FROM tlog_checkpoints WHERE size = ?`, size)
}

func (l *Log) signed(ctx context.Context, q string, args ...any) (Signed, bool, error) {
	var s Signed
	var text, cosigs, at string
	err := l.db.QueryRowContext(ctx, q, args...).Scan(&s.Size, &s.Root, &text, &cosigs, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Signed{}, false, nil
	}
	if err != nil {
		return Signed{}, false, err
	}
	s.Note, s.Cosignatures = []byte(text), []byte(cosigs)
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

// FileWitness appends each checkpoint to a file on a share the store's
// administrators cannot rewrite. Before appending, it checks that the log
// still extends the last checkpoint the file holds, so that a rewritten
// history is refused even if the server's own record was altered.
type FileWitness struct {
	Path string
	// Key is the log's public key (the text of PREFIX.pub).
	Key string
}

// Add checks the file's last checkpoint signed by the key and appends the
// new one in one write, blank lines before and after it, and syncs it.
func (w FileWitness) Add(ctx context.Context, l *Log, s Signed) ([]byte, error) {
	b, err := os.ReadFile(w.Path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	notes, _ := ReadCheckpoints(b)
	for i := len(notes) - 1; i >= 0; i-- {
		// The last checkpoint the key signed; an entry torn by a power cut
		// does not verify and is passed over.
		last, err := Open(notes[i], w.Key)
		if err != nil {
			continue
		}
		if err := l.extends(ctx, last, s.Size); err != nil {
			return nil, err
		}
		break
	}
	f, err := os.OpenFile(w.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	// The blank lines before the entry end one a power cut tore.
	entry := append(append([]byte("\n\n"), s.Note...), '\n')
	_, err = f.Write(entry)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return nil, err
}

func (w FileWitness) String() string { return w.Path }

// extends checks that the tree of size leaves extends a checkpoint: at
// least as large, and its first leaves hashing to the checkpoint's root.
func (l *Log) extends(ctx context.Context, c Checkpoint, size int64) error {
	if c.Size > size {
		return fmt.Errorf("%w: it signed %d events and the log has %d", ErrRewritten, c.Size, size)
	}
	root, err := l.RootAt(ctx, c.Size)
	if err != nil {
		return err
	}
	if !bytes.Equal(root, c.Root) {
		return fmt.Errorf("%w: the log's first %d events no longer hash to the root signed at that size", ErrRewritten, c.Size)
	}
	return nil
}

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
		body.Write(s.Note)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(w.URL, "/")+"/add-checkpoint", &body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		client := w.Client
		if client == nil {
			client = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
				return errors.New("the witness redirected: give its own URL")
			}}
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
			cosigs, err := cosignatures(answer)
			if err == nil {
				w.size = s.Size
			}
			return cosigs, err
		case resp.StatusCode == http.StatusConflict && attempt == 0:
			held, err := strconv.ParseInt(strings.TrimSpace(string(answer)), 10, 64)
			if err != nil || held < 0 || held > s.Size {
				return nil, fmt.Errorf("the witness holds a size this log never had (%q): it saw another history", strings.TrimSpace(string(answer)))
			}
			w.size = held
			continue
		case resp.StatusCode == http.StatusUnprocessableEntity:
			return nil, fmt.Errorf("%w: the witness refused the consistency proof from size %d", ErrRewritten, old)
		}
		return nil, fmt.Errorf("the witness answered %s", resp.Status)
	}
}

func (w *HTTPWitness) String() string { return w.URL }

// cosignatures checks that a witness's answer is signature lines.
func cosignatures(b []byte) ([]byte, error) {
	text := strings.TrimSuffix(string(b), "\n")
	if text == "" || !signatureLines(text) {
		return nil, fmt.Errorf("the witness answered with something other than signature lines: %.80q", text)
	}
	return []byte(text + "\n"), nil
}

// Publisher signs checkpoints of the tree as it grows, keeps them, and
// hands each to the witnesses.
type Publisher struct {
	Log    *Log
	Signer note.Signer
	// Key is the signer's public key (the text of PREFIX.pub): the last
	// checkpoint kept is believed only if it verifies with it.
	Key       string
	Witnesses []Witness
	Now       func() time.Time
}

// ErrRewritten is a tree that no longer extends the last checkpoint
// signed: the log was altered, or the views rebuilt from an altered log.
// Nothing more is signed over it.
var ErrRewritten = errors.New("the tree no longer extends the last signed checkpoint: the log's history was altered; run verify --checkpoint")

// Publish signs the committed tree unless its size is signed already,
// hands the checkpoint to every witness and stores it. Call it only once
// the views have caught up with the log. It returns the latest checkpoint.
// Nothing is signed over a tree that does not extend the last checkpoint
// kept, and nothing is stored that a witness refused as a rewritten
// history (ErrRewritten); a witness that fails otherwise is reported and
// the checkpoint kept.
func (p *Publisher) Publish(ctx context.Context) (Signed, error) {
	last, ok, err := p.Log.Latest(ctx)
	if err != nil {
		return Signed{}, err
	}
	size, root := p.Log.Head()
	if ok {
		// The views' record is believed only as far as the key's
		// signature goes: its size and root columns are not signed.
		cp, err := Open(last.Note, p.Key)
		if err != nil {
			return last, fmt.Errorf("%w: the last checkpoint kept does not verify with the key (%v)", ErrRewritten, err)
		}
		if err := p.Log.extends(ctx, cp, size); err != nil {
			return last, err
		}
		if size == cp.Size {
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
		if errors.Is(err, ErrRewritten) {
			return last, fmt.Errorf("witness %s: %w", w, err)
		}
		if err != nil {
			werr = errors.Join(werr, fmt.Errorf("witness %s: %w", w, err))
			continue
		}
		s.Cosignatures = append(s.Cosignatures, cosig...)
	}
	if _, err := p.Log.db.ExecContext(ctx, `INSERT OR IGNORE INTO tlog_checkpoints (size, root, signed, cosignatures, signed_at) VALUES (?, ?, ?, ?, ?)`,
		s.Size, s.Root, string(s.Note), string(s.Cosignatures), s.SignedAt.Format(time.RFC3339Nano)); err != nil {
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
// into its notes, in order: each is its text (origin, size, root and any
// extension lines), a blank line and its signature lines, with blank lines
// between notes. It also counts the pieces it could not read as a note,
// such as an entry torn by a power cut, which it skips.
func ReadCheckpoints(b []byte) (notes [][]byte, skipped int) {
	var segs []string
	for _, seg := range strings.Split(string(b), "\n\n") {
		if seg = strings.Trim(seg, "\n"); seg != "" {
			segs = append(segs, seg)
		}
	}
	for i := 0; i < len(segs); i++ {
		text := strings.Split(segs[i], "\n")
		if i+1 < len(segs) && len(text) >= 3 && !strings.HasPrefix(text[0], "— ") && signatureLines(segs[i+1]) {
			notes = append(notes, []byte(segs[i]+"\n\n"+segs[i+1]+"\n"))
			i++
			continue
		}
		skipped++
	}
	return notes, skipped
}

// signatureLines reports whether every line of a segment is a signature
// line, "— name signature".
func signatureLines(seg string) bool {
	for _, line := range strings.Split(seg, "\n") {
		if !strings.HasPrefix(line, "— ") || strings.Count(line, " ") != 2 {
			return false
		}
	}
	return true
}
