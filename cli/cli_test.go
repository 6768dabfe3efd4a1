package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/cli"
	"github.com/ehcledger/ehcledger/eventstore/esdb/fakeserver"
)

// quietEnv clears the environment variables that set the commands'
// defaults, so that a developer's own settings do not change the tests.
func quietEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{"EHC_DB", "EHC_STORE", "EHC_ADDR", "EHC_KEYS", "EHC_KEYS_MASTER_KEY_FILE", "EHC_KEYS_MASTER_KEY_COMMAND",
		cli.MasterKeyEnv, cli.NewMasterKeyEnv,
		"EHC_AUTH_JWKS_URL", "EHC_AUTH_JWKS", "EHC_AUTH_SECRET", "EHC_AUTH_SECRET_FILE", "EHC_AUTH_ISSUER", "EHC_AUTH_AUDIENCE",
		"EHC_RATE_LIMIT", "EHC_RATE_BURST"} {
		t.Setenv(name, "")
	}
}

// run runs the command line in-process and returns its exit status, what
// it printed and what it complained of.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errs bytes.Buffer
	code := cli.Main(args, &out, &errs)
	return code, out.String(), errs.String()
}

// mustRun runs a command that must succeed.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := run(t, args...)
	if code != 0 {
		t.Fatalf("ehcledger %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func TestAFlagErrorNamesTheFlag(t *testing.T) {
	quietEnv(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	for _, tc := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"verify refuses another kind of store", []string{"verify", "--store", "postgres://db/ehc"}, 2, "--store: postgres:// is not a store"},
		{"verify refuses a plain path as a store spec", []string{"verify", "--store", missing}, 2, "--store: "},
		{"migrate refuses a source that is no spec", []string{"migrate", "--from", missing, "--to", "esdb://127.0.0.1:2113?tls=false"}, 2, "--from: "},
		{"migrate refuses a bad target", []string{"migrate", "--from", "sqlite:" + missing, "--to", "esdb://host:2113?tls=maybe"}, 2, "--to: "},
		{"migrate needs both stores", []string{"migrate", "--from", "sqlite:" + missing}, 2, "--from and --to are required"},
		{"migrate refuses a source file that is not there", []string{"migrate", "--from", "sqlite:" + missing, "--to", "sqlite:" + filepath.Join(dir, "to.db")}, 1, "--from: "},
		{"serve refuses a bad store before anything else", []string{"serve", "--store", "esdb://", "--auth-secret", strings.Repeat("s", 32)}, 2, "--store: "},
		{"bench refuses a SQLite spec as its store", []string{"bench", "--store", "sqlite:" + missing}, 2, "--store: sqlite, esdb-fake or"},
		{"bench names a bad connection string", []string{"bench", "--store", "esdb://"}, 2, "--store: not a valid KurrentDB connection string"},
		{"bench refuses a writer count that is no number", []string{"bench", "--writers", "1,x"}, 2, "--writers: x"},
		{"reading a case of a database that is not there names --db", []string{"case", "--db", missing, "c1"}, 1, "--db: "},
		{"reading a store file that is not there names --store", []string{"verify", "--store", "sqlite:" + missing}, 1, "--store: "},
		{"an unknown flag is named", []string{"verify", "--nosuch"}, 2, "-nosuch"},
		{"a census year out of range names --year", []string{"export", "sen2", "--db", missing, "--year", "1999"}, 2, "--year: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := run(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.says) {
				t.Fatalf("exit %d, want %d; stderr %q does not say %q", code, tc.code, errs, tc.says)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("a command made the database it was to read")
	}
}

func TestServeRefusesToStartWithoutAWayToVerifyTokens(t *testing.T) {
	quietEnv(t)
	db := filepath.Join(t.TempDir(), "e.db")
	code, out, errs := run(t, "serve", "--db", db, "--addr", "127.0.0.1:0")
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s%s", code, out, errs)
	}
	for _, flag := range []string{"--auth-jwks-url", "--auth-jwks", "--auth-secret", "--auth-secret-file", "--demo"} {
		if !strings.Contains(errs, flag) {
			t.Errorf("the refusal does not name %s: %s", flag, errs)
		}
	}
	if strings.Contains(out, "listening") {
		t.Fatal("it listened")
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("it made a database before refusing")
	}
}

// TestEveryStoreSpecReachesTheSameStore fills a store with the simulator,
// then verifies it and copies it through each way of naming a store.
func TestEveryStoreSpecReachesTheSameStore(t *testing.T) {
	quietEnv(t)
	withMasterKey(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "e.db")
	mustRun(t, "simulate", "--db", db, "--las", "1", "--cases", "8", "--years", "1", "--seed", "3", "--until", "2024-07-01")
	intact := "every hash chain is intact"
	t.Run("verify finds the --db file intact", func(t *testing.T) {
		if out := mustRun(t, "verify", "--db", db); !strings.Contains(out, intact) {
			t.Fatal(out)
		}
	})
	t.Run("verify finds the sqlite spec intact", func(t *testing.T) {
		if out := mustRun(t, "verify", "--store", "sqlite:"+db); !strings.Contains(out, intact) {
			t.Fatal(out)
		}
	})
	t.Run("EHC_STORE names the store when --store is not given", func(t *testing.T) {
		t.Setenv("EHC_STORE", "sqlite:"+db)
		if out := mustRun(t, "verify", "--db", filepath.Join(dir, "not-this.db")); !strings.Contains(out, intact) {
			t.Fatal(out)
		}
	})
	t.Run("migrate copies to another file and the copy verifies", func(t *testing.T) {
		copyDB := filepath.Join(dir, "copy.db")
		if out := mustRun(t, "migrate", "--from", "sqlite:"+db, "--to", "sqlite:"+copyDB); !strings.Contains(out, "verified") {
			t.Fatal(out)
		}
		mustRun(t, "verify", "--db", copyDB)
	})
	t.Run("migrate copies to KurrentDB and the copy verifies there", func(t *testing.T) {
		srv, err := fakeserver.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Stop()
		if out := mustRun(t, "migrate", "--from", "sqlite:"+db, "--to", srv.ConnectionString()); !strings.Contains(out, "verified") {
			t.Fatal(out)
		}
		if out := mustRun(t, "verify", "--store", srv.ConnectionString()); !strings.Contains(out, intact) {
			t.Fatal(out)
		}
	})
}

func TestTokenSignsWithASecretFileTheServerVerifies(t *testing.T) {
	quietEnv(t)
	secret := strings.Repeat("0123456789abcdef", 4)
	file := filepath.Join(t.TempDir(), "e.db.dev-secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("a token made with the file verifies with its secret", func(t *testing.T) {
		out := mustRun(t, "token", "--auth-secret-file", file, "--role", "auditor", "--las", "E09000001,E09000002", "--subject", "amy")
		v, err := auth.NewVerifier(auth.Config{Secret: []byte(secret)})
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(strings.TrimSpace(out))
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != "amy" || p.Role != auth.Auditor || !slices.Equal(p.LAs, []string{"E09000001", "E09000002"}) {
			t.Fatalf("principal %+v", p)
		}
	})
	t.Run("a token without a secret is refused naming the flags", func(t *testing.T) {
		code, _, errs := run(t, "token", "--role", "auditor", "--las", "E09000001")
		if code != 2 || !strings.Contains(errs, "token: ") || !strings.Contains(errs, "--auth-secret-file") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
	t.Run("a token for an unknown role is refused", func(t *testing.T) {
		if code, _, errs := run(t, "token", "--auth-secret-file", file, "--role", "superuser", "--las", "*"); code != 2 {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
	t.Run("a token granting an inspector every LA is refused", func(t *testing.T) {
		if code, _, errs := run(t, "token", "--auth-secret-file", file, "--role", "inspector", "--las", "*"); code != 2 || !strings.Contains(errs, "only an admin") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
	t.Run("a token granting an admin every LA is made", func(t *testing.T) {
		out := mustRun(t, "token", "--auth-secret-file", file, "--role", "admin", "--las", "*")
		v, err := auth.NewVerifier(auth.Config{Secret: []byte(secret)})
		if err != nil {
			t.Fatal(err)
		}
		if p, err := v.Verify(strings.TrimSpace(out)); err != nil || !p.AllLAs() {
			t.Fatalf("principal %+v %v", p, err)
		}
	})
	t.Run("a token living longer than the maximum is refused", func(t *testing.T) {
		if code, _, errs := run(t, "token", "--auth-secret-file", file, "--role", "auditor", "--las", "E09000001", "--ttl", "13h"); code != 2 || !strings.Contains(errs, "--ttl") {
			t.Fatalf("exit %d: %s", code, errs)
		}
		mustRun(t, "token", "--auth-secret-file", file, "--role", "auditor", "--las", "E09000001", "--ttl", "13h", "--auth-max-token-lifetime", "14h")
	})
}

func TestBenchComparesWithTheNaiveStoreAndAFullRead(t *testing.T) {
	quietEnv(t)
	out := mustRun(t, "bench", "--dir", t.TempDir(), "--writers", "2", "--events", "60", "--cases", "20", "--tree-leaves", "0")
	for _, want := range []string{"naive SQLite, a transaction per event, 2 writers:", "the store appends",
		"rebuild of every view:", "full read of the store file:", "the rebuild takes"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}

func TestBenchMeasuresTheReplicationOfAStore(t *testing.T) {
	quietEnv(t)
	db := filepath.Join(t.TempDir(), "scratch.db")
	mustRun(t, "simulate", "--db", db, "--demo", "--las", "1", "--cases", "20", "--years", "1", "--seed", "4")
	to := t.TempDir()
	out := mustRun(t, "bench", "--replication", db, "--replicate-to", to, "--replication-for", "1s", "--replication-rate", "50", "--replicate-every", "200ms")
	for _, want := range []string{"first shipping of", "load: ", "(0 failed) at 50/s", "longest lag"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if names, _ := filepath.Glob(filepath.Join(to, "segments", "*.jsonl.zst")); len(names) < 2 {
		t.Errorf("segments shipped: %v", names)
	}
}
