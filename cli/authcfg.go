package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/auth"
)

// authFlags are serve's token settings, from flags or the environment.
type authFlags struct {
	secret, secretFile, jwks, jwksURL, issuer, audience *string
	maxLifetime                                         *time.Duration
}

func addAuthFlags(fs *flag.FlagSet) authFlags {
	return authFlags{
		secret:     fs.String("auth-secret", envOr("EHC_AUTH_SECRET", ""), "shared HS256 secret for bearer tokens, at least 32 bytes (development)"),
		secretFile: fs.String("auth-secret-file", envOr("EHC_AUTH_SECRET_FILE", ""), "file holding the shared secret"),
		jwks:       fs.String("auth-jwks", envOr("EHC_AUTH_JWKS", ""), "file holding the identity provider's public key set (JWKS), for production"),
		jwksURL:    fs.String("auth-jwks-url", envOr("EHC_AUTH_JWKS_URL", ""), "URL where the identity provider publishes its key set (read hourly and on an unknown key)"),
		issuer:     fs.String("auth-issuer", envOr("EHC_AUTH_ISSUER", ""), "required iss of tokens"),
		audience:   fs.String("auth-audience", envOr("EHC_AUTH_AUDIENCE", ""), "required aud of tokens"),
		maxLifetime: fs.Duration("auth-max-token-lifetime", envDuration("EHC_AUTH_MAX_TOKEN_LIFETIME", auth.DefaultMaxLifetime),
			"longest a bearer token may live, from issue to expiry; longer ones are refused"),
	}
}

// envDuration reads a duration from the environment, def when unset or
// unreadable: an unreadable one is reported by check.
func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

// check reports a setting that cannot be used.
func (f authFlags) check() error {
	if v := os.Getenv("EHC_AUTH_MAX_TOKEN_LIFETIME"); v != "" {
		if _, err := time.ParseDuration(v); err != nil {
			return usageError(fmt.Sprintf("EHC_AUTH_MAX_TOKEN_LIFETIME: %q is not a duration such as 12h", v))
		}
	}
	if *f.maxLifetime <= 0 {
		return usageError("--auth-max-token-lifetime must be a positive duration such as 12h")
	}
	return nil
}

// verifier builds the token verifier and returns the shared secret, if
// tokens are verified with one. Nothing configured is an error (no
// verifier, no service), except for a demo: with devSecretFile set and
// nothing configured, the secret is that file's, made if it is missing, so
// that `make run` can print tokens to try the API with and `ehcledger token`
// can make more.
func (f authFlags) verifier(ctx context.Context, devSecretFile string) (*auth.Verifier, []byte, error) {
	if err := f.check(); err != nil {
		return nil, nil, err
	}
	c := auth.Config{Issuer: *f.issuer, Audience: *f.audience, JWKSURL: *f.jwksURL, Ctx: ctx, MaxLifetime: *f.maxLifetime}
	switch {
	case *f.secret != "":
		c.Secret = []byte(*f.secret)
	case *f.secretFile != "":
		b, err := os.ReadFile(*f.secretFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--auth-secret-file: %w", err)
		}
		c.Secret = trimNewline(b)
	}
	if *f.jwks != "" {
		b, err := os.ReadFile(*f.jwks)
		if err != nil {
			return nil, nil, fmt.Errorf("--auth-jwks: %w", err)
		}
		c.JWKS = b
	}
	if len(c.Secret) == 0 && len(c.JWKS) == 0 && c.JWKSURL == "" {
		if devSecretFile == "" {
			return nil, nil, usageError("serve: say how to verify bearer tokens: --auth-jwks-url URL or --auth-jwks FILE (production), or --auth-secret / --auth-secret-file (development); --demo makes a development secret")
		}
		secret, err := loadOrCreateDevSecret(devSecretFile)
		if err != nil {
			return nil, nil, err
		}
		c.Secret = secret
	}
	v, err := auth.NewVerifier(c)
	if err != nil {
		return nil, nil, usageError("serve: " + err.Error())
	}
	return v, c.Secret, nil
}

// DevSecretPath is where `serve --demo` keeps the development secret of
// the views at views: beside them, like the case keys.
func DevSecretPath(views string) string { return strings.TrimSuffix(views, ".views") + ".dev-secret" }

// loadOrCreateDevSecret reads the development secret at path, or makes one
// there, readable by its owner only. It is written to a temporary file and
// linked into place, so a concurrent start never reads it half written. A
// file that is a symbolic link, belongs to another user, may be read by
// others or is too short is refused rather than trusted: whoever controls it
// can sign tokens for any role.
func loadOrCreateDevSecret(path string) ([]byte, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	text := hex.EncodeToString(secret)
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".new-*")
	if err != nil {
		return nil, fmt.Errorf("--demo: making the development secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.WriteString(text + "\n")
		if err == nil {
			err = tmp.Sync()
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("--demo: writing the development secret: %w", err)
	}
	switch err := os.Link(tmp.Name(), path); {
	case err == nil:
		return []byte(text), nil
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("--demo: making the development secret: %w", err)
	}
	b, err := readPrivateFile(path)
	if err != nil {
		return nil, usageError(fmt.Sprintf("--demo: the development secret %s: %v; remove it to have a new one made", path, err))
	}
	b = trimNewline(b)
	if len(b) < 32 {
		return nil, usageError(fmt.Sprintf("--demo: the development secret %s is too short (%d bytes); remove it to have a new one made", path, len(b)))
	}
	return b, nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// printDevTokens prints a development token for each role in the demo LA,
// valid for ttl (the longest a token may live), and how to make more with
// the secret in secretFile.
func printDevTokens(w io.Writer, secret []byte, secretFile, la string, ttl time.Duration) error {
	fmt.Fprintf(w, "development tokens for LA %s (valid %s; send as 'Authorization: Bearer TOKEN', or paste at /ui/login):\n", la, ttl)
	for _, r := range auth.Roles {
		tok, err := auth.Issue(secret, auth.Principal{Subject: "demo-" + string(r), Role: r, LAs: []string{la}}, ttl, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %-10s %s\n", r, tok)
	}
	fmt.Fprintf(w, "DEVELOPMENT SETTING: tokens are signed with the shared secret in %s, made by --demo; production verifies an identity provider's tokens (--auth-jwks-url).\n", secretFile)
	fmt.Fprintf(w, "more tokens: ehcledger token --auth-secret-file %s --role ROLE --las %s\n", secretFile, la)
	return nil
}

// token mints a development token with a shared secret.
func token(args []string, stdout io.Writer) error {
	fs := newFlags("token")
	role := fs.String("role", "", "caseworker, manager, auditor, inspector or admin")
	las := fs.String("las", "", "comma-separated LA codes, * for every LA (admins only), or england for the national figures (inspectors only)")
	subject := fs.String("subject", "", "who holds the token (default: dev-ROLE)")
	ttl := fs.Duration("ttl", 8*time.Hour, "how long the token is valid (at most --auth-max-token-lifetime, 12h unless set)")
	af := addAuthFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	noSecret := usageError("token: only a shared secret (--auth-secret or --auth-secret-file) can sign tokens")
	if *af.secret == "" && *af.secretFile == "" {
		return noSecret
	}
	_, secret, err := af.verifier(context.Background(), "")
	if err != nil {
		return err
	}
	if len(secret) == 0 {
		return noSecret
	}
	if *ttl <= 0 || *ttl > *af.maxLifetime {
		return usageError(fmt.Sprintf("token: --ttl must be positive and at most %s (--auth-max-token-lifetime): servers refuse longer-lived tokens", *af.maxLifetime))
	}
	if *subject == "" {
		*subject = "dev-" + *role
	}
	var list []string
	for _, la := range strings.Split(*las, ",") {
		if la = strings.TrimSpace(la); la != "" {
			list = append(list, la)
		}
	}
	tok, err := auth.Issue(secret, auth.Principal{Subject: *subject, Role: auth.Role(*role), LAs: list}, *ttl, time.Now())
	if err != nil {
		return usageError("token: " + err.Error())
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
