package cli

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// noAuthFlags are serve's token flags with nothing configured.
func noAuthFlags(t *testing.T) authFlags {
	t.Helper()
	for _, name := range []string{"EHC_AUTH_JWKS_URL", "EHC_AUTH_JWKS", "EHC_AUTH_SECRET", "EHC_AUTH_SECRET_FILE", "EHC_AUTH_ISSUER", "EHC_AUTH_AUDIENCE"} {
		t.Setenv(name, "")
	}
	return addAuthFlags(flag.NewFlagSet("serve", flag.ContinueOnError))
}

func TestTheDevelopmentSecretIsMadeOnceForItsOwnerOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.db.dev-secret")
	first, err := loadOrCreateDevSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("the secret's mode is %v, want 0600", st.Mode().Perm())
	}
	if len(first) < 32 {
		t.Fatalf("a secret of %d bytes", len(first))
	}
	again, err := loadOrCreateDevSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(first) {
		t.Fatal("a second start made another secret: the printed tokens of the first would stop working")
	}
}

func TestADevelopmentSecretOthersMayReadIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.db.dev-secret")
	if err := os.WriteFile(path, []byte(strings.Repeat("a", 64)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := loadOrCreateDevSecret(path)
	if err == nil || !strings.HasPrefix(err.Error(), "--demo: ") || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("error %v", err)
	}
}

func TestADevelopmentSecretThatIsNotPlainlyOursIsRefused(t *testing.T) {
	dir := t.TempDir()
	t.Run("a symbolic link is not followed", func(t *testing.T) {
		target := filepath.Join(dir, "elsewhere")
		if err := os.WriteFile(target, []byte(strings.Repeat("b", 64)), 0o600); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "link.dev-secret")
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
		if _, err := loadOrCreateDevSecret(path); err == nil {
			t.Fatal("a secret read through a symbolic link")
		}
	})
	t.Run("a short secret is refused", func(t *testing.T) {
		path := filepath.Join(dir, "short.dev-secret")
		if err := os.WriteFile(path, []byte("abc\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadOrCreateDevSecret(path); err == nil || !strings.Contains(err.Error(), "too short") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("starts at once agree on one secret", func(t *testing.T) {
		path := filepath.Join(dir, "race.dev-secret")
		got := make(chan string, 8)
		for i := 0; i < 8; i++ {
			go func() {
				b, err := loadOrCreateDevSecret(path)
				if err != nil {
					got <- "error: " + err.Error()
					return
				}
				got <- string(b)
			}()
		}
		first := <-got
		for i := 1; i < 8; i++ {
			if s := <-got; s != first {
				t.Fatalf("two starts read %q and %q", first, s)
			}
		}
	})
}

func TestNothingConfiguredIsNoVerifierUnlessADemo(t *testing.T) {
	t.Run("without a demo it is a usage error", func(t *testing.T) {
		v, _, err := noAuthFlags(t).verifier(context.Background(), "")
		var u usageError
		if v != nil || err == nil || !errors.As(err, &u) {
			t.Fatalf("verifier %v, error %v", v, err)
		}
	})
	t.Run("a demo verifies with the development secret", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "e.db.dev-secret")
		v, secret, err := noAuthFlags(t).verifier(context.Background(), path)
		if err != nil || v == nil {
			t.Fatalf("verifier %v, error %v", v, err)
		}
		stored, err := os.ReadFile(path)
		if err != nil || strings.TrimSpace(string(stored)) != string(secret) {
			t.Fatalf("the secret in use is not the file's (%v)", err)
		}
	})
	t.Run("a demo with a configured secret makes no file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "e.db.dev-secret")
		f := noAuthFlags(t)
		*f.secret = strings.Repeat("s", 32)
		if _, _, err := f.verifier(context.Background(), path); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Fatal("a development secret was made though a secret was given")
		}
	})
}
