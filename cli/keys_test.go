package cli_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/cli"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/eventstore"
	"github.com/ehcledger/ehcledger/eventstore/sqlite"
)

// newMasterKey makes a master key, as `openssl rand -hex 32` prints one.
func newMasterKey(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(key)
}

// withMasterKey gives the commands a new master key in the environment,
// and returns it.
func withMasterKey(t *testing.T) string {
	t.Helper()
	key := newMasterKey(t)
	t.Setenv(cli.MasterKeyEnv, key)
	return key
}

// masterKeyFile writes key to a private file of a directory of its own,
// away from any store, and returns its path.
func masterKeyFile(t *testing.T, key string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// simulated fills a new store with a few simulated cases under the master
// key in the environment and returns its path.
func simulated(t *testing.T, dir string) string {
	t.Helper()
	db := filepath.Join(dir, "e.db")
	mustRun(t, "simulate", "--db", db, "--las", "1", "--cases", "6", "--years", "1", "--seed", "3", "--until", "2024-07-01")
	return db
}

// firstCase opens the store to read and returns its first case and LA.
func firstCase(t *testing.T, db string) (id, la string) {
	t.Helper()
	s, err := sqlite.Open(db, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, err := s.ReadAll(context.Background(), 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if id, ok := domain.CaseIDOf(e.Stream); ok {
			return id, e.LA
		}
	}
	t.Fatal("the simulation made no case")
	return "", ""
}

// accessLog reads the LA's access log straight from the store.
func accessLog(t *testing.T, db, la string) []eventstore.RecordedEvent {
	t.Helper()
	s, err := sqlite.Open(db, sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, err := s.ReadAll(context.Background(), 1, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var evs []eventstore.RecordedEvent
	for _, e := range all {
		if e.Type == domain.TypeCaseAccessed && e.LA == la {
			evs = append(evs, e)
		}
	}
	return evs
}

func TestACommandOpeningTheCaseKeysNeedsAMasterKeyFromOutside(t *testing.T) {
	quietEnv(t)
	dir := t.TempDir()
	key := newMasterKey(t)
	sim := func(db string, extra ...string) (int, string) {
		code, _, errs := run(t, append([]string{"simulate", "--db", db, "--las", "1", "--cases", "2", "--years", "1", "--seed", "1", "--until", "2024-07-01"}, extra...)...)
		return code, errs
	}
	refused := func(t *testing.T, db string, code int, errs string, says ...string) {
		t.Helper()
		if code == 0 {
			t.Fatal("the command ran")
		}
		for _, s := range says {
			if !strings.Contains(errs, s) {
				t.Errorf("the refusal does not say %q: %s", s, errs)
			}
		}
		if _, err := os.Stat(db); err == nil {
			t.Error("it made the store before refusing")
		}
	}
	t.Run("none given is refused naming every way to give one", func(t *testing.T) {
		db := filepath.Join(dir, "none.db")
		code, errs := sim(db)
		refused(t, db, code, errs, "simulate: ", "--master-key-file", "--master-key-command", cli.MasterKeyEnv, "--demo")
	})
	t.Run("none given is refused by the commands that read personal data", func(t *testing.T) {
		t.Setenv(cli.MasterKeyEnv, key)
		db := simulated(t, t.TempDir())
		id, _ := firstCase(t, db)
		t.Setenv(cli.MasterKeyEnv, "")
		for _, args := range [][]string{{"case", "--db", db, id}, {"export", "sen2", "--db", db, "--year", "2025", "--la", "E09000001"}} {
			code, out, errs := run(t, args...)
			if code != 2 || out != "" || !strings.Contains(errs, args[0]) || !strings.Contains(errs, "--master-key-file") {
				t.Errorf("%s: exit %d: %s%s", args[0], code, out, errs)
			}
		}
	})
	t.Run("a key file in the store's directory is refused", func(t *testing.T) {
		db := filepath.Join(dir, "beside.db")
		code, errs := sim(db, "--master-key-file", writeKey(t, filepath.Join(dir, "master.key"), key, 0o600))
		refused(t, db, code, errs, "--master-key-file: ", "the directory of the event store")
	})
	t.Run("a key file below the store's directory is refused", func(t *testing.T) {
		db := filepath.Join(dir, "below.db")
		os.Mkdir(filepath.Join(dir, "secrets"), 0o700)
		code, errs := sim(db, "--master-key-file", writeKey(t, filepath.Join(dir, "secrets", "master.key"), key, 0o600))
		refused(t, db, code, errs, "--master-key-file: ", "the directory of the event store")
	})
	t.Run("a key file reached through a linked directory is refused", func(t *testing.T) {
		db := filepath.Join(dir, "linked.db")
		link := filepath.Join(t.TempDir(), "looks-elsewhere")
		if err := os.Symlink(dir, link); err != nil {
			t.Fatal(err)
		}
		writeKey(t, filepath.Join(dir, "linked.key"), key, 0o600)
		code, errs := sim(db, "--master-key-file", filepath.Join(link, "linked.key"))
		refused(t, db, code, errs, "--master-key-file: ", "the directory of the event store")
	})
	t.Run("a key file in the key store's directory is refused", func(t *testing.T) {
		db := filepath.Join(dir, "keys-elsewhere.db")
		keysDir := t.TempDir()
		code, errs := sim(db, "--keys", filepath.Join(keysDir, "k.keys"), "--master-key-file", writeKey(t, filepath.Join(keysDir, "master.key"), key, 0o600))
		refused(t, db, code, errs, "--master-key-file: ", "the directory of the key store")
	})
	t.Run("a key file others may read is refused", func(t *testing.T) {
		db := filepath.Join(dir, "open.db")
		code, errs := sim(db, "--master-key-file", writeKey(t, filepath.Join(t.TempDir(), "master.key"), key, 0o644))
		refused(t, db, code, errs, "--master-key-file: ", "chmod 600")
	})
	t.Run("a key file that is a symbolic link is refused", func(t *testing.T) {
		db := filepath.Join(dir, "symlink.db")
		kd := t.TempDir()
		target := writeKey(t, filepath.Join(kd, "real.key"), key, 0o600)
		link := filepath.Join(kd, "master.key")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		code, errs := sim(db, "--master-key-file", link)
		refused(t, db, code, errs, "--master-key-file: ")
	})
	t.Run("a key file of another user is refused", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("only root can give a file to another user")
		}
		db := filepath.Join(dir, "other.db")
		path := writeKey(t, filepath.Join(t.TempDir(), "master.key"), key, 0o600)
		if err := os.Chown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		code, errs := sim(db, "--master-key-file", path)
		refused(t, db, code, errs, "--master-key-file: ", "belongs to user 65534")
	})
	t.Run("two ways at once are refused", func(t *testing.T) {
		db := filepath.Join(dir, "two.db")
		t.Setenv(cli.MasterKeyEnv, key)
		code, errs := sim(db, "--master-key-file", masterKeyFile(t, key))
		refused(t, db, code, errs, "not several", "--master-key-file", cli.MasterKeyEnv)
	})
	t.Run("a key that is no key is refused naming where it came from", func(t *testing.T) {
		db := filepath.Join(dir, "short.db")
		t.Setenv(cli.MasterKeyEnv, "0123abcd")
		code, errs := sim(db)
		refused(t, db, code, errs, cli.MasterKeyEnv+": ", "64 hexadecimal digits")
	})
	t.Run("a password of 32 characters in the environment is refused", func(t *testing.T) {
		db := filepath.Join(dir, "password.db")
		t.Setenv(cli.MasterKeyEnv, "correct-horse-battery-staple-123")
		code, errs := sim(db)
		refused(t, db, code, errs, cli.MasterKeyEnv+": ", "64 hexadecimal digits")
	})
	t.Run("a private key file elsewhere opens the store, and the same key from the environment reopens it", func(t *testing.T) {
		db := filepath.Join(dir, "good.db")
		if code, errs := sim(db, "--master-key-file", masterKeyFile(t, key)); code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		t.Setenv(cli.MasterKeyEnv, key)
		id, _ := firstCase(t, db)
		mustRun(t, "case", "--db", db, id)
	})
	t.Run("another master key is refused on a store that has one", func(t *testing.T) {
		t.Setenv(cli.MasterKeyEnv, newMasterKey(t))
		db := filepath.Join(dir, "good.db")
		id, _ := firstCase(t, db)
		code, _, errs := run(t, "case", "--db", db, id)
		if code == 0 || !strings.Contains(errs, "does not open the key store") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
}

// writeKey writes key to path with mode and returns path.
func writeKey(t *testing.T, path, key string, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(key+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAMasterKeyFromACommand(t *testing.T) {
	quietEnv(t)
	dir := t.TempDir()
	key := newMasterKey(t)
	file := masterKeyFile(t, key)
	for _, tc := range []struct {
		name, command, says string
	}{
		{"what the command prints is the key", "cat " + file, ""},
		{"a command is run without a shell", "echo $" + cli.MasterKeyEnv, "--master-key-command: what echo printed: a master key is 32 bytes"},
		{"a command that fails is refused with its complaint", "cat " + filepath.Join(dir, "missing.key"), "--master-key-command: cat failed: exit status 1: cat: "},
		{"a command that is not there is refused", "no-such-kms-client --get", "--master-key-command: no-such-kms-client failed"},
		{"a command that prints without end is stopped", "yes", "--master-key-command: yes printed more than 4096 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(cli.MasterKeyEnv, "")
			db := filepath.Join(t.TempDir(), "e.db")
			code, _, errs := run(t, "simulate", "--db", db, "--las", "1", "--cases", "2", "--years", "1", "--until", "2024-07-01", "--master-key-command", tc.command)
			if tc.says == "" {
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errs)
				}
				t.Setenv(cli.MasterKeyEnv, key)
				id, _ := firstCase(t, db)
				mustRun(t, "case", "--db", db, id)
				return
			}
			if code == 0 || !strings.Contains(errs, tc.says) {
				t.Fatalf("exit %d, want a refusal saying %q: %s", code, tc.says, errs)
			}
		})
	}
}

func TestRotationPutsTheCaseKeysUnderANewMasterKey(t *testing.T) {
	quietEnv(t)
	oldKey := withMasterKey(t)
	db := simulated(t, t.TempDir())
	// The return's readable copy: written whole, though not ready to send
	// while DfE's outcome codes are unconfirmed (exit 1).
	exportReturn := func() string {
		t.Helper()
		code, out, errs := run(t, "export", "sen2", "--db", db, "--year", "2025", "--la", "E09000001", "--format", "csv")
		if code != 1 || !strings.Contains(errs, "not ready") || !strings.Contains(out, "Person,Surname") {
			t.Fatalf("export sen2: exit %d\n%s%s", code, out, errs)
		}
		return out
	}
	before := exportReturn()
	newKey := newMasterKey(t)
	t.Run("a new key in the data directory is refused", func(t *testing.T) {
		code, _, errs := run(t, "keys", "rotate", "--db", db, "--new-master-key-file", writeKey(t, db+".new.key", newKey, 0o600))
		if code != 2 || !strings.Contains(errs, "--new-master-key-file: ") || !strings.Contains(errs, "the directory of the event store") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
	t.Run("no new key is refused naming the ways to give one", func(t *testing.T) {
		code, _, errs := run(t, "keys", "rotate", "--db", db)
		if code != 2 || !strings.Contains(errs, "--new-master-key-file") || !strings.Contains(errs, cli.NewMasterKeyEnv) {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
	out := mustRun(t, "keys", "rotate", "--db", db, "--new-master-key-file", masterKeyFile(t, newKey))
	if !strings.Contains(out, "re-wrapped") {
		t.Fatal(out)
	}
	t.Run("the old key is refused afterwards", func(t *testing.T) {
		t.Setenv(cli.MasterKeyEnv, oldKey)
		code, _, errs := run(t, "export", "sen2", "--db", db, "--year", "2025", "--la", "E09000001")
		if code == 0 || !strings.Contains(errs, "does not open the key store") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
	t.Run("the new key opens every case as before", func(t *testing.T) {
		t.Setenv(cli.MasterKeyEnv, newKey)
		// The two exports differ only by nothing: the same rows.
		if after := exportReturn(); after != before {
			t.Fatalf("the return changed:\n%s\n---\n%s", before, after)
		}
	})
}

func TestExportingACaseIsInTheAccessLog(t *testing.T) {
	quietEnv(t)
	withMasterKey(t)
	db := simulated(t, t.TempDir())
	id, la := firstCase(t, db)
	before := len(accessLog(t, db, la))
	mustRun(t, "export", "case", "--db", db, "--format", "csv", id)
	log := accessLog(t, db, la)
	if len(log) != before+1 {
		t.Fatalf("the access log has %d entries, want %d", len(log), before+1)
	}
	last := log[len(log)-1]
	var read domain.CaseAccessed
	if err := json.Unmarshal(last.Payload, &read); err != nil {
		t.Fatal(err)
	}
	if read.Case != id || read.Route != "cli export case" || read.Role != "operator" || !strings.HasPrefix(last.Actor, "cli:") {
		t.Fatalf("the entry is %+v by %s", read, last.Actor)
	}
}

func TestSimulatingIntoAStoreThatHoldsEventsIsRefused(t *testing.T) {
	quietEnv(t)
	withMasterKey(t)
	db := simulated(t, t.TempDir())
	count := func() int64 {
		s, err := sqlite.Open(db, sqlite.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		h, _ := s.Head(context.Background())
		return h
	}
	before := count()
	code, _, errs := run(t, "simulate", "--db", db, "--las", "1", "--cases", "6", "--years", "1", "--seed", "4", "--until", "2024-07-01")
	if code == 0 || !strings.Contains(errs, "--db: ") || !strings.Contains(errs, "simulate fills an empty store only") {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if after := count(); after != before {
		t.Fatalf("the refused simulation wrote %d events", after-before)
	}
}

func TestAStoreHasOneWriterAtATime(t *testing.T) {
	quietEnv(t)
	withMasterKey(t)
	db := simulated(t, t.TempDir())
	id, _ := firstCase(t, db)
	held, _, err := cli.OpenStore(db)
	if err != nil {
		t.Fatal(err)
	}
	inUse := fmt.Sprintf("--db: the event store %s is in use by pid %d", db, os.Getpid())
	for _, args := range [][]string{{"case", "--db", db, id}, {"rebuild", "--db", db}, {"export", "case", "--db", db, id}} {
		t.Run(args[0]+" is refused while another writer holds the store", func(t *testing.T) {
			code, out, errs := run(t, args...)
			if code != 1 || out != "" || !strings.Contains(errs, inUse) {
				t.Fatalf("exit %d: %s%s", code, out, errs)
			}
		})
	}
	t.Run("verify reads beside the writer", func(t *testing.T) {
		mustRun(t, "verify", "--db", db)
	})
	held.Close()
	t.Run("once the writer has closed the store another may write", func(t *testing.T) {
		mustRun(t, "case", "--db", db, id)
	})
}
