package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
