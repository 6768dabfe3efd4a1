package keys_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/keys"
	"github.com/ehcledger/ehcledger/sqlitedb"
)

func open(t *testing.T, dir string, master []byte) *keys.Store {
	t.Helper()
	s, err := keys.Open(filepath.Join(dir, "keys.db"), master, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSealedDataOpensForItsCaseUntilErased(t *testing.T) {
	dir := t.TempDir()
	master := bytes.Repeat([]byte{7}, keys.MasterKeySize)
	s := open(t, dir, master)
	plain := []byte(`{"surname":"Quirke-Ellingham"}`)
	sealed, err := s.Seal("c1", plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain[:10]) {
		t.Fatal("the sealed value holds the plain text")
	}
	got, err := s.Open("c1", sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q %v", got, err)
	}
	t.Run("another case's key does not open it", func(t *testing.T) {
		if _, err := s.Seal("c2", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open("c2", sealed); err == nil {
			t.Fatal("case c2 opened c1's data")
		}
	})
	t.Run("after erasure nothing opens and the key is gone from the file", func(t *testing.T) {
		if err := s.Erase("c1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open("c1", sealed); !errors.Is(err, keys.ErrErased) {
			t.Fatalf("open after erase: %v", err)
		}
		if _, err := s.Seal("c1", plain); !errors.Is(err, keys.ErrErased) {
			t.Fatalf("seal after erase: %v", err)
		}
		if erased, err := s.Erased("c1"); err != nil || !erased {
			t.Fatalf("erased: %v %v", erased, err)
		}
		if err := s.Erase("c1"); err != nil {
			t.Fatalf("a second erasure: %v", err)
		}
	})
	t.Run("a case without a key says so", func(t *testing.T) {
		if _, err := s.Open("c9", sealed); !errors.Is(err, keys.ErrNoKey) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestAnotherMasterKeyIsRefusedWhenTheStoreOpens(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.db")
	right, wrong := bytes.Repeat([]byte{7}, keys.MasterKeySize), bytes.Repeat([]byte{8}, keys.MasterKeySize)
	s, err := keys.Open(path, right, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("c1", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	t.Run("another master key is refused naming the file", func(t *testing.T) {
		if s, err := keys.Open(path, wrong, time.Now); !errors.Is(err, keys.ErrWrongMaster) || !strings.Contains(err.Error(), path) {
			if err == nil {
				s.Close()
			}
			t.Fatalf("got %v, want the wrong master key refused", err)
		}
	})
	t.Run("a store kept before the check is judged by its case keys", func(t *testing.T) {
		forgetCheck(t, path)
		if s, err := keys.Open(path, wrong, time.Now); !errors.Is(err, keys.ErrWrongMaster) {
			if err == nil {
				s.Close()
			}
			t.Fatalf("got %v, want the wrong master key refused", err)
		}
		s := open(t, dir, right)
		if got, err := s.Open("c1", sealed); err != nil || string(got) != "secret" {
			t.Fatalf("the right key does not open: %q %v", got, err)
		}
	})
}

// forgetCheck deletes the master key check from a closed key store, as it
// was before the store kept one.
func forgetCheck(t *testing.T, path string) {
	t.Helper()
	db, err := sqlitedb.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM meta`); err != nil {
		t.Fatal(err)
	}
}

func TestOneProcessAtATimeHasTheKeyStore(t *testing.T) {
	dir := t.TempDir()
	master := bytes.Repeat([]byte{7}, keys.MasterKeySize)
	s := open(t, dir, master)
	if _, err := keys.Open(filepath.Join(dir, "keys.db"), master, time.Now); !errors.Is(err, sqlitedb.ErrInUse) ||
		!strings.Contains(err.Error(), fmt.Sprintf("in use by pid %d", os.Getpid())) {
		t.Fatalf("a second opening: %v", err)
	}
	s.Close()
	open(t, dir, master)
}

func TestRotationRewrapsEveryKeyUnderTheNewMasterKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.db")
	oldKey, newKey := bytes.Repeat([]byte{7}, keys.MasterKeySize), bytes.Repeat([]byte{9}, keys.MasterKeySize)
	s, err := keys.Open(path, oldKey, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	sealed := map[string][]byte{}
	for _, c := range []string{"c1", "c2", "c3"} {
		if sealed[c], err = s.Seal(c, []byte("secret of "+c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Erase("c3"); err != nil {
		t.Fatal(err)
	}
	before := wrappedKeys(t, path)
	n, err := s.Rotate(newKey)
	if err != nil || n != 2 {
		t.Fatalf("rotated %d keys, %v; want the 2 live ones", n, err)
	}
	t.Run("the old wrapped keys are gone from the file and its log at once", func(t *testing.T) {
		for _, f := range []string{path, path + "-wal"} {
			file, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for c, w := range before {
				if bytes.Contains(file, w) {
					t.Errorf("the key of %s is still in %s wrapped with the old master key", c, filepath.Base(f))
				}
			}
		}
	})
	t.Run("the open store goes on opening and sealing", func(t *testing.T) {
		if got, err := s.Open("c1", sealed["c1"]); err != nil || string(got) != "secret of c1" {
			t.Fatalf("%q %v", got, err)
		}
		if _, err := s.Seal("c4", []byte("x")); err != nil {
			t.Fatal(err)
		}
	})
	s.Close()
	t.Run("the old master key no longer opens the store", func(t *testing.T) {
		if s, err := keys.Open(path, oldKey, time.Now); !errors.Is(err, keys.ErrWrongMaster) {
			if err == nil {
				s.Close()
			}
			t.Fatalf("got %v", err)
		}
	})
	t.Run("the new master key opens what was sealed before, and erased stays erased", func(t *testing.T) {
		s := open(t, dir, newKey)
		for _, c := range []string{"c1", "c2"} {
			if got, err := s.Open(c, sealed[c]); err != nil || string(got) != "secret of "+c {
				t.Fatalf("%s: %q %v", c, got, err)
			}
		}
		if _, err := s.Open("c3", sealed["c3"]); !errors.Is(err, keys.ErrErased) {
			t.Fatalf("c3: %v", err)
		}
	})
}

func TestARotationThatCannotFinishChangesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.db")
	oldKey, newKey := bytes.Repeat([]byte{7}, keys.MasterKeySize), bytes.Repeat([]byte{9}, keys.MasterKeySize)
	s, err := keys.Open(path, oldKey, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal("c1", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal("c2", []byte("other")); err != nil {
		t.Fatal(err)
	}
	// The key of c2 is damaged on disk: it opens with no master key.
	db, err := sqlitedb.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE case_keys SET wrapped = zeroblob(60) WHERE case_id = 'c2'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := s.Rotate(newKey); err == nil || !strings.Contains(err.Error(), "case c2") {
		t.Fatalf("rotation over a damaged key: %v", err)
	}
	if got, err := s.Open("c1", sealed); err != nil || string(got) != "secret" {
		t.Fatalf("after the failed rotation: %q %v", got, err)
	}
	s.Close()
	if s, err := keys.Open(path, newKey, time.Now); err == nil {
		s.Close()
		t.Fatal("the new master key opens the store after a failed rotation")
	}
	open(t, dir, oldKey)
}

// wrappedKeys reads the wrapped case keys straight from the file.
func wrappedKeys(t *testing.T, path string) map[string][]byte {
	t.Helper()
	db, err := sqlitedb.Open(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT case_id, wrapped FROM case_keys WHERE wrapped IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var c string
		var w []byte
		if err := rows.Scan(&c, &w); err != nil {
			t.Fatal(err)
		}
		out[c] = w
	}
	if len(out) == 0 {
		t.Fatal("no wrapped keys: the test proves nothing")
	}
	return out
}

func TestAMasterKeyIsReadAsGiven(t *testing.T) {
	key := make([]byte, keys.MasterKeySize)
	for i := range key {
		key[i] = byte(i)
	}
	for _, tc := range []struct {
		name  string
		given []byte
		ok    bool
	}{
		{"32 raw bytes are the key", key, true},
		{"64 hexadecimal digits with a newline are the key", []byte(hex.EncodeToString(key) + "\n"), true},
		{"base64 is the key", []byte(base64.StdEncoding.EncodeToString(key)), true},
		{"31 bytes are refused", key[:31], false},
		{"hexadecimal of 31 bytes is refused", []byte(hex.EncodeToString(key[:31])), false},
		{"text that is no key is refused", []byte("correct horse battery staple"), false},
		{"32 zero bytes are refused", make([]byte, 32), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := keys.ParseMasterKey(tc.given)
			if tc.ok && (err != nil || !bytes.Equal(got, key)) {
				t.Fatalf("got %x, %v", got, err)
			}
			if !tc.ok && (err == nil || domain.ErrorCode(err) != domain.Invalid) {
				t.Fatalf("accepted as %x (%v)", got, err)
			}
		})
	}
}

func TestConcurrentSealsShareOneKeyPerCase(t *testing.T) {
	s := open(t, t.TempDir(), bytes.Repeat([]byte{9}, keys.MasterKeySize))
	var wg sync.WaitGroup
	sealed := make([][]byte, 64)
	errs := make([]error, 64)
	for i := range sealed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Eight goroutines race to make the key of each of eight cases.
			sealed[i], errs[i] = s.Seal(fmt.Sprintf("case-%d", i%8), []byte(fmt.Sprintf("secret %d", i)))
		}()
	}
	wg.Wait()
	for i := range sealed {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		got, err := s.Open(fmt.Sprintf("case-%d", i%8), sealed[i])
		if err != nil || string(got) != fmt.Sprintf("secret %d", i) {
			t.Fatalf("seal %d does not open with its case's stored key: %q %v", i, got, err)
		}
	}
}

func TestAMACIsTheCasesOwnAndGoesWithItsKey(t *testing.T) {
	s := open(t, t.TempDir(), bytes.Repeat([]byte{7}, keys.MasterKeySize))
	mac := func(caseID, msg string) []byte {
		t.Helper()
		m, err := s.MAC(caseID, []byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	first := mac("c1", "2024-04-05")
	if !bytes.Equal(first, mac("c1", "2024-04-05")) {
		t.Error("one message gave two fingerprints")
	}
	if bytes.Equal(first, mac("c1", "2024-04-06")) {
		t.Error("two messages gave one fingerprint")
	}
	if bytes.Equal(first, mac("c2", "2024-04-05")) {
		t.Error("two cases gave one fingerprint")
	}
	if err := s.Erase("c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MAC("c1", []byte("2024-04-05")); !errors.Is(err, keys.ErrErased) {
		t.Fatalf("a MAC after erasure: %v", err)
	}
}
