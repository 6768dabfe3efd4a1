package tlog_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"database/sql"

	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/sqlitedb"
	"github.com/ehcledger/ehcledger/tlog"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// openTree opens a tree in a fresh views database.
func openTree(t *testing.T) (*sql.DB, *tlog.Log) {
	t.Helper()
	db, err := sqlitedb.OpenRebuildable(filepath.Join(t.TempDir(), "views.db"), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l, err := tlog.OpenLog(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return db, l
}

// grow appends what s holds past the tree's position, in batches of 64, as
// the projections runner does.
func grow(t *testing.T, l *tlog.Log, db *sql.DB, s eventstore.Store) {
	t.Helper()
	ctx := context.Background()
	for {
		batch, err := s.ReadAll(ctx, l.Position()+1, 64)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 {
			return
		}
		commitBatch(t, l, db, batch, false)
	}
}

// copyCheckpoints copies the signed checkpoints of one views database to
// another.
func copyCheckpoints(t *testing.T, from, to *sql.DB) {
	t.Helper()
	rows, err := from.Query(`SELECT size, root, signed, cosignatures, signed_at FROM tlog_checkpoints`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var size int64
		var root []byte
		var signed, cosigs, at string
		if err := rows.Scan(&size, &root, &signed, &cosigs, &at); err != nil {
			t.Fatal(err)
		}
		if _, err := to.Exec(`INSERT INTO tlog_checkpoints VALUES (?, ?, ?, ?, ?)`, size, root, signed, cosigs, at); err != nil {
			t.Fatal(err)
		}
	}
}

// rewriteStream is an insider's rewrite of one event of a stream, with
// the rest of the stream's chain computed again.
type rewriteStream struct {
	eventstore.Store
	stream  string
	version int64
}

func (r rewriteStream) ReadStream(ctx context.Context, stream string, from int64) ([]eventstore.RecordedEvent, error) {
	evs, err := r.Store.ReadStream(ctx, stream, from)
	prev := ""
	for i := range evs {
		if stream == r.stream && evs[i].Version == r.version {
			evs[i].Payload = []byte(`{"caseworker":"rewritten","team":"t"}`)
		}
		if evs[i].Version >= r.version {
			evs[i].PrevHash = prev
			evs[i].Hash = eventstore.Hash(prev, evs[i].Stream, evs[i].Version, evs[i].EventData)
		}
		prev = evs[i].Hash
	}
	return evs, err
}

// witness is a C2SP tlog-witness for one log: it cosigns a checkpoint only
// with a valid signature and a consistency proof from the size it holds.
type witness struct {
	vkey   string
	signer note.Signer
	mu     sync.Mutex
	size   int64
	root   []byte
}

func (w *witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	head, signed, _ := strings.Cut(string(body), "\n\n")
	lines := strings.Split(head, "\n")
	old, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "old "), 10, 64)
	if r.URL.Path != "/add-checkpoint" || err != nil {
		http.Error(rw, "bad request", http.StatusBadRequest)
		return
	}
	var cons [][]byte
	for _, l := range lines[1:] {
		h, _ := base64.StdEncoding.DecodeString(l)
		cons = append(cons, h)
	}
	cp, err := tlog.Open([]byte(signed), w.vkey)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusForbidden)
		return
	}
	if old != w.size {
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", w.size)
		return
	}
	if w.size > 0 {
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, uint64(w.size), uint64(cp.Size), cons, w.root, cp.Root); err != nil {
			http.Error(rw, err.Error(), http.StatusUnprocessableEntity)
			return
		}
	}
	w.size, w.root = cp.Size, cp.Root
	n, _ := note.Sign(&note.Note{Text: cp.Body()}, w.signer)
	_, sigs, _ := strings.Cut(string(n), "\n\n")
	io.WriteString(rw, sigs)
}

func TestPublishedCheckpointsAndCaseProofs(t *testing.T) {
	ctx := context.Background()
	skey, vkey, err := note.GenerateKey(rand.Reader, "ehcledger.test/log")
	if err != nil {
		t.Fatal(err)
	}
	if derived, err := tlog.VerifierKey(skey); err != nil || derived != vkey {
		t.Fatalf("the public key derived from the signing key is %q (%v), want %q", derived, err, vkey)
	}
	signer, _ := note.NewSigner(skey)
	wkey, wvkey, _ := note.GenerateKey(rand.Reader, "witness.test")
	wsigner, _ := note.NewSigner(wkey)
	ws := &witness{vkey: vkey, signer: wsigner}
	srv := httptest.NewServer(ws)
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "witness.txt")

	s := logOf(t, 300)
	db, l := openTree(t)
	grow(t, l, db, s)
	full, err := tlog.Build(ctx, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	if size, root := l.Head(); size != full.Size || !bytes.Equal(root, full.Root) {
		t.Fatalf("the tree grown as events apply (%d, %x) is not the tree of the log read whole (%d, %x)", size, root, full.Size, full.Root)
	}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	p := &tlog.Publisher{Log: l, Signer: signer, Key: vkey, Witnesses: []tlog.Witness{tlog.FileWitness{Path: file, Key: vkey}, &tlog.HTTPWitness{URL: srv.URL}},
		Now: func() time.Time { return now }}

	first, err := p.Publish(ctx)
	if err != nil || first.Size != 300 {
		t.Fatalf("%+v %v", first, err)
	}
	t.Run("the witness's cosignature is kept beside the checkpoint", func(t *testing.T) {
		wv, _ := note.NewVerifier(wvkey)
		if _, err := note.Open(append(append([]byte(nil), first.Note...), first.Cosignatures...), note.VerifierList(wv)); err != nil {
			t.Fatalf("%v\n%s%s", err, first.Note, first.Cosignatures)
		}
		if _, err := tlog.Open(first.Note, vkey); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an unchanged log is not signed again", func(t *testing.T) {
		again, err := p.Publish(ctx)
		if err != nil || again.Size != 300 || !again.SignedAt.Equal(first.SignedAt) {
			t.Fatalf("%+v %v", again, err)
		}
	})
	appendEvents(t, s, 20)
	grow(t, l, db, s)
	// A restarted server does not know the size the witness holds: it
	// learns it from the witness's 409 and proves consistency from there.
	p.Witnesses[1] = &tlog.HTTPWitness{URL: srv.URL}
	second, err := p.Publish(ctx)
	if err != nil || second.Size != 320 {
		t.Fatalf("%+v %v", second, err)
	}
	t.Run("the witness file holds every checkpoint, each verifying", func(t *testing.T) {
		b, _ := os.ReadFile(file)
		notes, skipped := tlog.ReadCheckpoints(b)
		if len(notes) != 2 || skipped != 0 {
			t.Fatalf("%d checkpoints in\n%s", len(notes), b)
		}
		for i, n := range notes {
			cp, err := tlog.Open(n, vkey)
			if err != nil || cp.Size != []int64{300, 320}[i] {
				t.Fatalf("%d: %+v %v", i, cp, err)
			}
		}
		if ws.size != 320 {
			t.Fatalf("the HTTP witness holds size %d", ws.size)
		}
	})

	cp, err := tlog.Open(second.Note, vkey)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a case's events verify against the checkpoint alone", func(t *testing.T) {
		cpf, err := l.ProveStream(ctx, s, "case-c2", 320)
		if err != nil {
			t.Fatal(err)
		}
		n, err := tlog.VerifyCaseProof(cpf, "case-c2", cp)
		if err != nil || n != 107 || cpf.Later != 0 {
			t.Fatalf("%d events verified, %d later: %v", n, cpf.Later, err)
		}
		older, err := l.ProveStream(ctx, s, "case-c2", 300)
		if err != nil || older.Later == 0 {
			t.Fatalf("against the first checkpoint: %d later, %v", older.Later, err)
		}
		if _, err := tlog.VerifyCaseProof(older, "case-c2", cp); err == nil {
			t.Fatal("a proof against another tree verified")
		}
		if _, err := tlog.VerifyCaseProof(cpf, "case-c1", cp); err == nil {
			t.Fatal("a proof of another case verified")
		}
		none, err := l.ProveStream(ctx, s, "case-none", 320)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := tlog.VerifyCaseProof(none, "case-none", cp); err == nil {
			t.Fatalf("a proof of no event verified %d", n)
		}
	})
	t.Run("a case proof altered fails", func(t *testing.T) {
		for name, edit := range map[string]func(p *tlog.CaseProof){
			"a content hash changed": func(p *tlog.CaseProof) { p.Events[5].ContentHash = p.Events[4].ContentHash },
			"an event left out":      func(p *tlog.CaseProof) { p.Events = append(p.Events[:5], p.Events[6:]...) },
			"an inclusion hash lost": func(p *tlog.CaseProof) { p.Events[7].Inclusion = p.Events[7].Inclusion[1:] },
			"a position changed":     func(p *tlog.CaseProof) { p.Events[3].Position++ },
			"an event's data changed": func(p *tlog.CaseProof) {
				p.Events[2].Event.Payload = []byte(`{"caseworker":"someone-else","team":"t"}`)
			},
			"a previous hash changed, to hide a removed event": func(p *tlog.CaseProof) { p.Events[2].PrevHash = p.Events[0].ContentHash },
		} {
			cpf, err := l.ProveStream(ctx, s, "case-c2", 320)
			if err != nil {
				t.Fatal(err)
			}
			edit(&cpf)
			if _, err := tlog.VerifyCaseProof(cpf, "case-c2", cp); err == nil {
				t.Errorf("%s: verified", name)
			}
		}
	})
	t.Run("an event rewritten in the store fails its case's proof", func(t *testing.T) {
		rewritten := rewriteStream{Store: s, stream: "case-c2", version: 9}
		cpf, err := l.ProveStream(ctx, rewritten, "case-c2", 320)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := tlog.VerifyCaseProof(cpf, "case-c2", cp); err == nil || n != 8 {
			t.Fatalf("%d verified: %v", n, err)
		}
	})
	t.Run("a tree rebuilt from an altered log is not signed", func(t *testing.T) {
		insider := tampered{Store: s, edit: func(e eventstore.RecordedEvent) *eventstore.RecordedEvent {
			if e.Position == 17 {
				e.Payload = []byte(`{"caseworker":"someone-else","team":"t"}`)
			}
			return &e
		}}
		db2, l2 := openTree(t)
		grow(t, l2, db2, insider)
		copyCheckpoints(t, db, db2)
		p2 := &tlog.Publisher{Log: l2, Signer: signer, Key: vkey, Now: p.Now}
		if _, err := p2.Publish(ctx); !errors.Is(err, tlog.ErrRewritten) {
			t.Fatalf("%v", err)
		}
		// The insider also empties the server's record of what it signed:
		// the witness file still holds it, and refuses.
		db3, l3 := openTree(t)
		grow(t, l3, db3, insider)
		p3 := &tlog.Publisher{Log: l3, Signer: signer, Key: vkey, Now: p.Now, Witnesses: []tlog.Witness{tlog.FileWitness{Path: file, Key: vkey}}}
		if _, err := p3.Publish(ctx); !errors.Is(err, tlog.ErrRewritten) {
			t.Fatalf("%v", err)
		}
		if _, ok, _ := l3.Latest(ctx); ok {
			t.Fatal("a checkpoint of the rewritten log was kept")
		}
		// Or edits the record's unsigned columns: the signature decides.
		if _, err := db2.Exec(`UPDATE tlog_checkpoints SET root = ?`, make([]byte, 32)); err != nil {
			t.Fatal(err)
		}
		if _, err := p2.Publish(ctx); !errors.Is(err, tlog.ErrRewritten) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("a witness answering nonsense spoils nothing kept", func(t *testing.T) {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>hello</html>") }))
		defer bad.Close()
		appendEvents(t, s, 3)
		grow(t, l, db, s)
		p.Witnesses = []tlog.Witness{&tlog.HTTPWitness{URL: bad.URL}}
		got, err := p.Publish(ctx)
		if err == nil || len(got.Cosignatures) != 0 {
			t.Fatalf("%v %q", err, got.Cosignatures)
		}
		if _, err := tlog.Open(got.Note, vkey); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a torn entry in a witness file is skipped, the rest read", func(t *testing.T) {
		b, _ := os.ReadFile(file)
		// Torn in its text: not a note at all.
		torn := string(b) + "\n\nehcledger.test/log\n99" + "\n\n" + string(second.Note) + "\n"
		notes, skipped := tlog.ReadCheckpoints([]byte(torn))
		if len(notes) != 3 || skipped != 1 {
			t.Fatalf("%d notes, %d skipped", len(notes), skipped)
		}
		// Torn in its signature: a note whose signature does not verify.
		torn = string(b) + "\n\nehcledger.test/log\n999\nAAAA\n\n— ehcledger.test/log ab" + "\n\n" + string(second.Note) + "\n"
		notes, skipped = tlog.ReadCheckpoints([]byte(torn))
		if len(notes) != 4 || skipped != 0 {
			t.Fatalf("%d notes, %d skipped", len(notes), skipped)
		}
		if _, err := tlog.Open(notes[2], vkey); err == nil {
			t.Fatal("a torn signature verified")
		}
		if _, err := tlog.Open(notes[3], vkey); err != nil {
			t.Fatal(err)
		}
	})
}
