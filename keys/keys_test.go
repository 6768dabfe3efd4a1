package keys_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/keys"
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
	t.Run("another master key does not open the keys", func(t *testing.T) {
		s2 := open(t, dir, bytes.Repeat([]byte{8}, keys.MasterKeySize))
		if _, err := s2.Open("c1", sealed); err == nil || errors.Is(err, keys.ErrErased) {
			t.Fatalf("opened with the wrong master key: %v", err)
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

func TestTheMasterKeyIsMadeOnceAndKeptPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master")
	if _, err := keys.LoadOrCreateMaster(path, false); err == nil {
		t.Fatal("a missing master key was accepted without creating it")
	}
	a, err := keys.LoadOrCreateMaster(path, true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := keys.LoadOrCreateMaster(path, true)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("the master key changed: %v", err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("master key file mode %v", st.Mode().Perm())
	}
	os.WriteFile(path, []byte("short"), 0o600)
	if _, err := keys.LoadOrCreateMaster(path, true); err == nil {
		t.Fatal("a short master key was accepted")
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
