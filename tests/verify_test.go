package tests

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/sqlitedb"
)

func TestVerifyNamesTheFirstAlteredOrMissingEvent(t *testing.T) {
	db := filepath.Join(t.TempDir(), "demo.db")
	s := startServer(t, db, "--demo")
	s.stop()
	verify := func() (string, error) {
		out, err := exec.Command(binary, "verify", "--db", db).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(); err != nil || !strings.Contains(out, "every hash chain is intact") {
		t.Fatalf("verify of an intact store: %v\n%s", err, out)
	}
	conn, err := sqlitedb.Open(db, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var altered, missing string
	if err := conn.QueryRow(`SELECT stream FROM events WHERE stream LIKE 'case-%' AND version = 3 ORDER BY position LIMIT 1`).Scan(&altered); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(`SELECT stream FROM events WHERE stream LIKE 'case-%' AND version = 4 AND stream <> ? ORDER BY position LIMIT 1`, altered).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	// Someone with direct access to the file works around the triggers.
	for _, q := range []string{
		`DROP TRIGGER events_immutable_update`, `DROP TRIGGER events_immutable_delete`,
		`UPDATE events SET payload = '{"advice":"tampered"}' WHERE stream = '` + altered + `' AND version = 3`,
		`DELETE FROM events WHERE stream = '` + missing + `' AND version = 2`,
	} {
		if _, err := conn.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	out, err := verify()
	if err == nil {
		t.Fatalf("verify passed a tampered store:\n%s", out)
	}
	for _, want := range []string{"stream " + altered + ", version 3", "altered", "stream " + missing + ", version 2", "missing", "GAP: global position"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
}
