package tests

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/sqlitedb"
)

// storedEvents counts the events in a store's file, read directly: the
// count must not move when a command is refused.
func storedEvents(t *testing.T, db string) int {
	t.Helper()
	conn, err := sqlitedb.Open(db, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRow(`SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAWriterBesideARunningServerIsRefusedAndTheServerStaysRight runs
// commands that write to the store of a running server. Before the store was
// held by its server, `ehcledger case` appended to the LA's access log behind
// the server's back, and every read of a case in that LA then answered 500
// until a restart, because the server's writer trusted its cached stream
// heads.
func TestAWriterBesideARunningServerIsRefusedAndTheServerStaysRight(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shared.db")
	s := startServer(t, db)
	cw := "Bearer " + tokenAs(t, "cw-1", auth.Caseworker, "E09000001")
	s.must(201, "POST", "/v1/cases", `{"id":"lock-1","la":"E09000001","on":"2024-03-01","reason":"from the paper file","data":{"requester":"parent","birth_date":"2015-05-01"}}`, "Authorization", cw)
	s.must(200, "GET", "/v1/cases/lock-1", "", "Authorization", cw)
	pid := fmt.Sprintf("in use by pid %d", s.cmd.Process.Pid)

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"reading a case, which records the read, is refused", []string{"case", "--db", db, "lock-1"}},
		{"exporting a case, which records the read, is refused", []string{"export", "case", "--db", db, "lock-1"}},
		{"exporting the return, which records the reads, is refused", []string{"export", "sen2", "--db", db, "--year", "2025", "--la", "E09000001"}},
		{"simulating into it is refused", []string{"simulate", "--db", db, "--las", "1", "--cases", "2", "--years", "1"}},
		{"rebuilding its views is refused", []string{"rebuild", "--db", db}},
		{"copying into it is refused", []string{"migrate", "--from", "sqlite:" + db, "--to", "sqlite:" + db}},
		{"rotating its master key is refused", []string{"keys", "rotate", "--db", db, "--new-master-key-file", newMasterKeyFile(t)}},
		{"a second server on it is refused", []string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--auth-secret", testSecret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := storedEvents(t, db)
			// A second server that is not refused would listen until killed.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, binary, tc.args...).CombinedOutput()
			if err == nil || ctx.Err() != nil || !strings.Contains(string(out), pid) {
				t.Errorf("ehcledger %s: %v, want a refusal saying %q:\n%.300s", strings.Join(tc.args, " "), err, pid, out)
			}
			if after := storedEvents(t, db); after != before {
				t.Errorf("the refused command wrote %d events", after-before)
			}
			// A read appends to the LA's access log, the stream the
			// refused command would have written to.
			s.must(200, "GET", "/v1/cases/lock-1", "", "Authorization", cw)
		})
	}
	t.Run("verifying it, which only reads, runs beside the server", func(t *testing.T) {
		out, err := exec.Command(binary, "verify", "--db", db).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "every hash chain is intact") {
			t.Fatalf("verify: %v\n%s", err, out)
		}
	})
	t.Run("once the server has stopped the command line may write again", func(t *testing.T) {
		s.stop()
		out, err := exec.Command(binary, "case", "--db", db, "lock-1").CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"id": "lock-1"`) {
			t.Fatalf("case after the server stopped: %v\n%s", err, out)
		}
		// The export opens the sealed reasons, as the API's timeline does.
		out, err = exec.Command(binary, "export", "case", "--db", db, "--format", "csv", "lock-1").CombinedOutput()
		if err != nil || !strings.Contains(string(out), ",from the paper file,") {
			t.Fatalf("export case after the server stopped: %v\n%s", err, out)
		}
	})
}
