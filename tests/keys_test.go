package tests

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/auth"
)

// testMasterKey is the master key of the key stores the tests make.
const testMasterKey = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0"

// newMasterKeyFile writes a new master key, as hex, to a private file of
// its own directory, away from any store, and returns its path.
func newMasterKeyFile(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// unconfigured is the environment of a fresh clone: none of the project's
// settings.
func unconfigured() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EHC_") {
			env = append(env, kv)
		}
	}
	return env
}

// filesArePrivate fails for every file below dir that others may read.
func filesArePrivate(t *testing.T, dir string, want ...string) {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		seen[filepath.Base(path)] = true
		if m := info.Mode().Perm(); m&0o077 != 0 {
			t.Errorf("%s has mode %v: others may read it", filepath.Base(path), m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range want {
		if !seen[f] {
			t.Errorf("no %s among %v: the check proves less than it says", f, seen)
		}
	}
}

func TestServeRefusesToStartWithoutAMasterKeyFromOutside(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	beside := filepath.Join(dir, "master.key")
	if err := os.WriteFile(beside, []byte(testMasterKey), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		extra []string
		says  []string
	}{
		{"none given is refused naming every way to give one", nil, []string{"--master-key-file", "--master-key-command", "EHC_KEYS_MASTER_KEY", "--demo"}},
		{"one beside the database is refused", []string{"--master-key-file", beside}, []string{"--master-key-file: ", "the directory of the event store"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A server that is not refused would listen until killed.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, append([]string{"serve", "--db", db, "--addr", "127.0.0.1:0", "--auth-secret", testSecret}, tc.extra...)...)
			cmd.Env = unconfigured()
			out, err := cmd.CombinedOutput()
			if ctx.Err() != nil || cmd.ProcessState.ExitCode() != 2 {
				t.Fatalf("exit %v (%v), want 2:\n%s", cmd.ProcessState, err, out)
			}
			for _, s := range tc.says {
				if !strings.Contains(string(out), s) {
					t.Errorf("the refusal does not say %q:\n%s", s, out)
				}
			}
			if _, err := os.Stat(db); err == nil {
				t.Fatal("it made the database before refusing")
			}
		})
	}
}

// TestTheDemoRunsWithNoConfiguration is `make run` from a fresh clone: no
// master key anywhere, so the demo keeps a development one beside its
// store, private like every file it writes, and starts again on it.
func TestTheDemoRunsWithNoConfiguration(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.db")
	s := startServerEnv(t, unconfigured(), db, "--demo")
	printed := readDemoOutput(t, s)
	worklist := s.must(200, "GET", "/v1/worklist?la=E09999999&limit=1", "", "Authorization", "Bearer "+printed.tokens[auth.Caseworker])
	item := worklist["items"].([]any)[0].(map[string]any)
	view := s.must(200, "GET", "/v1/cases/"+item["case"].(string), "", "Authorization", "Bearer "+printed.tokens[auth.Caseworker])
	if _, ok := view["person"].(map[string]any); !ok {
		t.Fatalf("the demo case shows no person: %v", view)
	}
	t.Run("while it runs every file is private, its logs too", func(t *testing.T) {
		filesArePrivate(t, dir, "demo.db", "demo.db-wal", "demo.db-shm", "demo.db.keys", "demo.db.keys-wal", "demo.db.keys.master",
			"demo.db.views", "demo.db.views-wal", "demo.db.dev-secret", "demo.db.lock", "demo.db.keys.lock")
	})
	s.stop()
	t.Run("after it stops every file is private, the snapshot too", func(t *testing.T) {
		filesArePrivate(t, dir, "demo.db", "demo.db.views.timeliness", "demo.db.keys.master")
	})
	t.Run("it starts again on its development key", func(t *testing.T) {
		again := startServerEnv(t, unconfigured(), db, "--demo")
		reprinted := readDemoOutput(t, again)
		again.must(200, "GET", "/v1/cases/"+item["case"].(string), "", "Authorization", "Bearer "+reprinted.tokens[auth.Caseworker])
	})
}

// TestAServerGivenItsKeyFromOutsideWritesOnlyPrivateFiles runs the server
// as production would, with the master key in its environment, under a
// umask that would let others read what it makes.
func TestAServerGivenItsKeyFromOutsideWritesOnlyPrivateFiles(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ledger.db")
	s := startServer(t, db)
	cw := "Bearer " + tokenAs(t, "cw-1", auth.Caseworker, "E09000001")
	s.must(201, "POST", "/v1/cases", `{"id":"priv-1","la":"E09000001","on":"2024-03-01","reason":"from the paper file","data":{"requester":"parent","birth_date":"2015-05-01","surname":"Quirke"}}`, "Authorization", cw)
	s.must(200, "GET", "/v1/cases/priv-1", "", "Authorization", cw)
	filesArePrivate(t, dir, "ledger.db", "ledger.db-wal", "ledger.db-shm", "ledger.db.keys", "ledger.db.keys-wal", "ledger.db.keys-shm",
		"ledger.db.views", "ledger.db.views-wal", "ledger.db.lock")
	s.stop()
	filesArePrivate(t, dir, "ledger.db", "ledger.db.views.timeliness", "ledger.db.keys")
	if _, err := os.Stat(db + ".keys.master"); err == nil {
		t.Fatal("the server made a master key beside its data")
	}
}
