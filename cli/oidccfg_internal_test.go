package cli

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/oauth2-proxy/mockoidc"
)

// oidcFlagsFrom parses serve's sign-in flags from args, with nothing from
// the environment.
func oidcFlagsFrom(t *testing.T, args ...string) oidcFlags {
	t.Helper()
	for _, name := range []string{"EHC_OIDC_ISSUER", "EHC_OIDC_CLIENT_ID", "EHC_OIDC_CLIENT_SECRET_FILE", "EHC_OIDC_REDIRECT_URL",
		"EHC_OIDC_SCOPES", "EHC_OIDC_ROLES", "EHC_SESSION_MAX_AGE", "EHC_SESSION_IDLE", "EHC_MAX_SESSIONS"} {
		t.Setenv(name, "")
	}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f := addOIDCFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestTheSignInSettingsAreAllOrNothing(t *testing.T) {
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	cfg := m.Config()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(cfg.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(dir, "shared-secret")
	if err := os.WriteFile(shared, []byte(cfg.ClientSecret), 0o644); err != nil {
		t.Fatal(err)
	}
	roles := filepath.Join(dir, "roles.json")
	if err := os.WriteFile(roles, []byte(`{"claim":"groups","grants":[{"value":"g","role":"caseworker","las":["E09000001"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	badRoles := filepath.Join(dir, "bad-roles.json")
	if err := os.WriteFile(badRoles, []byte(`{"claim":"groups","grants":[{"value":"g","role":"inspector","las":["*"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	full := func(redirect string) []string {
		return []string{"--oidc-issuer", cfg.Issuer, "--oidc-client-id", cfg.ClientID, "--oidc-client-secret-file", secret,
			"--oidc-redirect-url", redirect, "--oidc-roles", roles}
	}
	t.Run("nothing configured means the development sign-in", func(t *testing.T) {
		o, _, err := oidcFlagsFrom(t).provider(context.Background())
		if o != nil || err != nil {
			t.Fatalf("%v %v", o, err)
		}
	})
	t.Run("a full configuration signs in with the provider, with Secure cookies behind HTTPS", func(t *testing.T) {
		o, secure, err := oidcFlagsFrom(t, full("https://ehc.example.gov.uk"+auth.CallbackPath)...).provider(context.Background())
		if o == nil || !secure || err != nil {
			t.Fatalf("%v %v %v", o, secure, err)
		}
		if _, secure, _ := oidcFlagsFrom(t, full("http://127.0.0.1:8080"+auth.CallbackPath)...).provider(context.Background()); secure {
			t.Fatal("Secure cookies over plain HTTP")
		}
	})
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"part of a configuration":        {[]string{"--oidc-issuer", cfg.Issuer, "--oidc-client-id", "x"}, "--oidc-client-secret-file, --oidc-redirect-url, --oidc-roles"},
		"a secret others may read":       {append(full("https://e.example"+auth.CallbackPath), "--oidc-client-secret-file", shared), "may be read by others"},
		"a role map granting too much":   {append(full("https://e.example"+auth.CallbackPath), "--oidc-roles", badRoles), "only an admin"},
		"a redirect URL elsewhere":       {full("https://e.example/callback"), auth.CallbackPath},
		"an issuer that does not answer": {append(full("https://e.example"+auth.CallbackPath), "--oidc-issuer", "http://127.0.0.1:1/nowhere"), "discovery document"},
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			_, _, err := oidcFlagsFrom(t, c.args...).provider(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error naming %q", err, c.want)
			}
		})
	}
	t.Run("sessions with no lifetime are refused", func(t *testing.T) {
		if _, err := oidcFlagsFrom(t, "--session-idle", "0s").sessions(); err == nil {
			t.Fatal("accepted")
		}
	})
}
