package tests

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/sqlitedb"
)

func TestACheckpointSignedOutsideTheStoreFindsAnEventRewritten(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "log.db")
	if out, err := exec.Command(binary, "simulate", "--db", db, "--las", "1", "--cases", "20", "--years", "1", "--seed", "3", "--until", "2025-06-30").CombinedOutput(); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	keys := filepath.Join(t.TempDir(), "ledger") // away from the store
	if out, err := exec.Command(binary, "checkpoint", "keygen", "--origin", "ehcledger.test/log", "--out", keys).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	if _, _, code := runExit(t, "checkpoint", "keygen", "--origin", "ehcledger.test/log", "--out", keys); code == 0 {
		t.Fatal("keygen wrote over a signing key")
	}
	signed, stderr, code := runExit(t, "checkpoint", "sign", "--db", db, "--key", keys+".key")
	if code != 0 || !strings.HasPrefix(signed, "ehcledger.test/log\n") || !strings.Contains(signed, "\n— ehcledger.test/log ") {
		t.Fatalf("sign exited %d: %s%s", code, signed, stderr)
	}
	cp := filepath.Join(dir, "checkpoint.txt")
	writeFile(t, cp, signed)
	if out, _, code := runExit(t, "verify", "--db", db, "--checkpoint", cp, "--pub", keys+".pub"); code != 0 || !strings.Contains(out, "the log extends the checkpoint") {
		t.Fatalf("verify exited %d:\n%s", code, out)
	}
	t.Run("a checkpoint altered is refused", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.txt")
		writeFile(t, bad, strings.Replace(signed, "ehcledger.test/log\n", "ehcledger.test/log\n9", 1))
		if _, stderr, code := runExit(t, "verify", "--db", db, "--checkpoint", bad, "--pub", keys+".pub"); code == 0 || !strings.Contains(stderr, "signature does not verify") {
			t.Fatalf("exited %d: %s", code, stderr)
		}
	})
	t.Run("an event rewritten in the store is found", func(t *testing.T) {
		conn, err := sqlitedb.Open(db, 1)
		if err != nil {
			t.Fatal(err)
		}
		// An insider with write access drops the store's guard first.
		_, err = conn.Exec(`DROP TRIGGER events_immutable_update; UPDATE events SET payload = '{"caseworker":"someone-else","team":"team-0"}' WHERE position = (SELECT MIN(position) FROM events WHERE type = 'case_assigned')`)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		out, _, code := runExit(t, "verify", "--db", db, "--checkpoint", cp, "--pub", keys+".pub")
		if code == 0 || !strings.Contains(out, "CHECKPOINT: the log's first") {
			t.Fatalf("exited %d:\n%s", code, out)
		}
	})
	t.Run("a whole stream deleted is a gap, even to plain verify", func(t *testing.T) {
		conn, err := sqlitedb.Open(db, 1)
		if err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(`DROP TRIGGER events_immutable_delete; DELETE FROM events WHERE stream = (SELECT stream FROM events WHERE position = 10)`)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		out, _, code := runExit(t, "verify", "--db", db)
		if code == 0 || !strings.Contains(out, "every hash chain is intact") || !strings.Contains(out, "GAP: global position") {
			t.Fatalf("exited %d:\n%s", code, out)
		}
	})
}

// writeFile writes a file a test reads back.
func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// getAs fetches a path with a bearer token and returns the status and body.
func getAs(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAServerSignsCheckpointsAWitnessKeepsThemAndAnAuditorChecksACaseOffline(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "log.db")
	if out, err := exec.Command(binary, "simulate", "--db", db, "--las", "1", "--cases", "20", "--years", "1", "--seed", "3", "--until", "2025-06-30").CombinedOutput(); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	keys := filepath.Join(t.TempDir(), "ledger")
	if out, err := exec.Command(binary, "checkpoint", "keygen", "--origin", "ehcledger.test/log", "--out", keys).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	witness := filepath.Join(t.TempDir(), "witness.txt")
	s := startServer(t, db, "--checkpoint-key", keys+".key", "--checkpoint-every", "1s", "--witness", witness)
	auditor := tokenAs(t, "auditor-1", auth.Auditor, "E09000001")
	var signed string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, body := getAs(t, s.base+"/v1/checkpoint", auditor)
		if code == 200 {
			signed = body
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint was served: %d %s\n%s", code, body, s.logs)
		}
	}
	const id = "E09000001-000001"
	code, proof := getAs(t, s.base+"/v1/cases/"+id+"/proof", auditor)
	if code != 200 {
		t.Fatalf("proof: %d %s", code, proof)
	}
	proofFile := filepath.Join(dir, "proof.json")
	writeFile(t, proofFile, proof)
	t.Run("the auditor verifies the case against the witness's copy alone", func(t *testing.T) {
		out, stderr, code := runExit(t, "verify-case", "--case", id, "--proof", proofFile, "--checkpoint", witness, "--pub", keys+".pub")
		if code != 0 || !strings.Contains(out, "case "+id+": versions 1 to ") {
			t.Fatalf("exited %d: %s%s", code, out, stderr)
		}
	})
	t.Run("the served checkpoint is the witness's and the one signed from the log read whole", func(t *testing.T) {
		b, _ := os.ReadFile(witness)
		if !strings.Contains(string(b), signed) {
			t.Fatalf("the witness file lacks the served checkpoint:\n%s\n%s", signed, b)
		}
		size := strings.Split(signed, "\n")[1]
		offline, _, code := runExit(t, "checkpoint", "sign", "--db", db, "--key", keys+".key")
		if code != 0 {
			t.Fatal(offline)
		}
		// The log has grown since (reads are logged): the tree of the
		// served size, taken from the log read whole, must have its root.
		served := filepath.Join(dir, "served.txt")
		writeFile(t, served, signed)
		if out, _, code := runExit(t, "verify", "--db", db, "--checkpoint", served, "--pub", keys+".pub"); code != 0 ||
			!strings.Contains(out, "extends the checkpoint of ehcledger.test/log at size "+size+" ") {
			t.Fatalf("exited %d:\n%s", code, out)
		}
	})
	t.Run("the case page says the case verified", func(t *testing.T) {
		code, page := getAs(t, s.base+"/ui/cases/"+id, auditor)
		if code != 200 || !strings.Contains(page, "Verified against checkpoint ") {
			t.Fatalf("%d: no verification line", code)
		}
	})
	t.Run("a proof against a size beyond the tree is refused", func(t *testing.T) {
		if code, body := getAs(t, s.base+"/v1/cases/"+id+"/proof?checkpoint=999999", auditor); code != 422 || !strings.Contains(body, `"field":"checkpoint"`) {
			t.Fatalf("%d %s", code, body)
		}
	})
	s.stop()

	// An insider rewrites an event of the case, recomputing its hash.
	conn, err := sqlitedb.Open(db, 1)
	if err != nil {
		t.Fatal(err)
	}
	var pos int64
	err = conn.QueryRow(`SELECT position FROM events WHERE stream = ? AND version = 2`, "case-"+id).Scan(&pos)
	if err == nil {
		_, err = conn.Exec(`DROP TRIGGER events_immutable_update; UPDATE events SET payload = '{"caseworker":"someone-else","team":"team-0"}' WHERE position = ?`, pos)
	}
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("verify names the event that differs from what the witness holds", func(t *testing.T) {
		out, _, code := runExit(t, "verify", "--db", db, "--checkpoint", witness, "--pub", keys+".pub")
		want := fmt.Sprintf("the first that differs is leaf %d, where the log now has position %d (case-%s version 2)", pos-1, pos, id)
		if code == 0 || !strings.Contains(out, want) {
			t.Fatalf("exited %d, want %q:\n%s", code, want, out)
		}
	})
	t.Run("the case page warns, and nothing more is signed over the rewritten log", func(t *testing.T) {
		if out, err := exec.Command(binary, "rebuild", "--db", db).CombinedOutput(); err != nil {
			t.Fatalf("rebuild: %v\n%s", err, out)
		}
		s := startServer(t, db, "--checkpoint-key", keys+".key", "--checkpoint-every", "1s", "--witness", witness)
		code, page := getAs(t, s.base+"/ui/cases/"+id, auditor)
		if code != 200 || !strings.Contains(page, "does not match checkpoint") {
			t.Fatalf("%d: no warning", code)
		}
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.logs.String(), "CHECKPOINTS STOPPED"); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the server went on signing:\n%s", s.logs)
			}
		}
	})
}

func TestACaseWhoseLastEventIsRemovedFromTheStoreIsFoundAgainstTheViews(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "log.db")
	if out, err := exec.Command(binary, "simulate", "--db", db, "--las", "1", "--cases", "10", "--years", "1", "--seed", "5", "--until", "2025-06-30").CombinedOutput(); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	keys := filepath.Join(t.TempDir(), "ledger")
	if out, err := exec.Command(binary, "checkpoint", "keygen", "--origin", "ehcledger.test/log", "--out", keys).CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	s := startServer(t, db, "--checkpoint-key", keys+".key", "--checkpoint-every", "1s")
	auditor := tokenAs(t, "auditor-1", auth.Auditor, "E09000001")
	const id = "E09000001-000002"
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code, page := getAs(t, s.base+"/ui/cases/"+id, auditor); code == 200 && strings.Contains(page, "Verified against checkpoint ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the case never verified against a checkpoint:\n%s", s.logs)
		}
	}
	s.stop()
	// A step recorded after the last checkpoint, which none covers: the
	// server that records it has no key to sign with.
	s = startServer(t, db)
	manager := "Bearer " + tokenAs(t, "manager-1", auth.Manager, "E09000001")
	s.must(201, "POST", "/v1/cases/"+id+"/commands/assign_case", `{"data":{"caseworker":"cw-9","team":"t-9"}}`, "Authorization", manager)
	// The views record it before the server stops: a worklist waits for
	// them to reach the store's head, and says so when they have not.
	for deadline := time.Now().Add(20 * time.Second); ; {
		code, h, _ := s.call("GET", "/v1/worklist?la=E09000001", "", "Authorization", manager)
		if code == 200 && h.Get("X-Projection-Lag") == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the views never caught up: %d, lag %s", code, h.Get("X-Projection-Lag"))
		}
	}
	s.stop()
	// An insider removes that step. The stream still runs from version 1
	// without a gap and verifies against the checkpoint, and the views are
	// rebuilt from the store as it now is, their snapshot gone: what gives
	// the removal away is the version the views recorded before.
	conn, err := sqlitedb.Open(db, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(`DROP TRIGGER events_immutable_delete; DELETE FROM events WHERE stream = ?1 AND version = (SELECT MAX(version) FROM events WHERE stream = ?1)`, "case-"+id)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(db + ".views.timeliness"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(binary, "rebuild", "--db", db).CombinedOutput(); err != nil {
		t.Fatalf("rebuild: %v\n%s", err, out)
	}
	s = startServer(t, db, "--checkpoint-key", keys+".key", "--checkpoint-every", "1h")
	code, page := getAs(t, s.base+"/ui/cases/"+id, auditor)
	if code != 200 || !strings.Contains(page, "does not match checkpoint") || !strings.Contains(page, "events were removed") {
		t.Fatalf("%d: no warning of the removal:\n%s", code, page)
	}
}

func TestARebuildWhoseSnapshotCannotBeSavedFails(t *testing.T) {
	db := filepath.Join(t.TempDir(), "log.db")
	if out, err := exec.Command(binary, "simulate", "--db", db, "--las", "1", "--cases", "5", "--years", "1", "--seed", "2", "--until", "2025-06-30").CombinedOutput(); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	// Where the snapshot is written before it is renamed into place, a
	// directory: the views are rebuilt, their snapshot cannot be saved.
	if err := os.Mkdir(db+".views.timeliness.tmp", 0o700); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runExit(t, "rebuild", "--db", db)
	if code == 0 || !strings.Contains(stderr, "saving the snapshot") {
		t.Fatalf("rebuild exited %d:\n%s%s", code, out, stderr)
	}
	if err := os.Remove(db + ".views.timeliness.tmp"); err != nil {
		t.Fatal(err)
	}
	if out, stderr, code := runExit(t, "rebuild", "--db", db); code != 0 || !strings.Contains(out, "rebuilt projections from") {
		t.Fatalf("rebuild again exited %d:\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(db + ".views.timeliness"); err != nil {
		t.Fatalf("no snapshot after the rebuild: %v", err)
	}
}
