package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ehcledger/ehcledger/api"
	"github.com/ehcledger/ehcledger/auth"
)

// oidcFlags are serve's settings for signing people in to the pages with
// their LA's identity provider, and for the sessions that follow.
type oidcFlags struct {
	issuer, clientID, secretFile, redirectURL, scopes, roles *string
	maxAge, idle                                             *time.Duration
	maxSessions                                              *int
	envErr                                                   error
}

func addOIDCFlags(fs *flag.FlagSet) oidcFlags {
	f := oidcFlags{
		issuer:      fs.String("oidc-issuer", envOr("EHC_OIDC_ISSUER", ""), "issuer URL of the identity provider that signs people in to the pages (Entra ID: https://login.microsoftonline.com/TENANT/v2.0)"),
		clientID:    fs.String("oidc-client-id", envOr("EHC_OIDC_CLIENT_ID", ""), "this application's client ID at the identity provider"),
		secretFile:  fs.String("oidc-client-secret-file", envOr("EHC_OIDC_CLIENT_SECRET_FILE", ""), "file holding the client secret (mode 0600, this user's)"),
		redirectURL: fs.String("oidc-redirect-url", envOr("EHC_OIDC_REDIRECT_URL", ""), "this server's "+auth.CallbackPath+" as browsers reach it, registered at the provider"),
		scopes:      fs.String("oidc-scopes", envOr("EHC_OIDC_SCOPES", "openid profile"), "scopes asked for, space- or comma-separated (openid is always asked for)"),
		roles:       fs.String("oidc-roles", envOr("EHC_OIDC_ROLES", ""), "JSON file mapping a claim's values (groups, app roles) to a role and LAs"),
	}
	var errs []error
	dur := func(env string, def time.Duration) time.Duration {
		if v := os.Getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, usageError(fmt.Sprintf("%s: %q is not a duration such as 8h", env, v)))
				return def
			}
			return d
		}
		return def
	}
	f.maxAge = fs.Duration("session-max-age", dur("EHC_SESSION_MAX_AGE", api.DefaultSessionMaxAge), "longest a page session lasts from sign-in")
	f.idle = fs.Duration("session-idle", dur("EHC_SESSION_IDLE", api.DefaultSessionIdle), "a page session unused this long ends")
	defMax := api.DefaultMaxSessions
	if v := os.Getenv("EHC_MAX_SESSIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, usageError(fmt.Sprintf("EHC_MAX_SESSIONS: %q is not a number", v)))
		} else {
			defMax = n
		}
	}
	f.maxSessions = fs.Int("max-sessions", defMax, "most page sessions kept at once (a sign-in beyond it is refused)")
	if len(errs) > 0 {
		f.envErr = errs[0]
	}
	return f
}

// sessions builds the store of page sessions.
func (f oidcFlags) sessions() (*api.Sessions, error) {
	if f.envErr != nil {
		return nil, f.envErr
	}
	if *f.maxAge <= 0 || *f.idle <= 0 || *f.maxSessions < 1 {
		return nil, usageError("serve: --session-max-age and --session-idle must be positive and --max-sessions at least 1")
	}
	return api.NewSessions(api.SessionConfig{MaxAge: *f.maxAge, Idle: *f.idle, Max: *f.maxSessions}), nil
}

// provider builds the sign-in with the identity provider, or nil when none
// is configured. Part of a configuration is an error: a server meant to
// sign people in with their LA's accounts must not quietly offer the
// development sign-in instead. secure reports that the redirect URL is
// HTTPS, so cookies are to be Secure.
func (f oidcFlags) provider(ctx context.Context) (o *auth.OIDC, secure bool, err error) {
	set := map[string]string{"--oidc-issuer": *f.issuer, "--oidc-client-id": *f.clientID, "--oidc-client-secret-file": *f.secretFile,
		"--oidc-redirect-url": *f.redirectURL, "--oidc-roles": *f.roles}
	var missing []string
	given := 0
	for _, name := range []string{"--oidc-issuer", "--oidc-client-id", "--oidc-client-secret-file", "--oidc-redirect-url", "--oidc-roles"} {
		if set[name] == "" {
			missing = append(missing, name)
		} else {
			given++
		}
	}
	if given == 0 {
		return nil, false, nil
	}
	if len(missing) > 0 {
		return nil, false, usageError("serve: signing in with an identity provider also needs " + strings.Join(missing, ", "))
	}
	secret, err := readPrivateFile(*f.secretFile)
	if err != nil {
		return nil, false, usageError(fmt.Sprintf("--oidc-client-secret-file %s: %v", *f.secretFile, err))
	}
	secret = trimNewline(secret)
	if len(secret) == 0 {
		return nil, false, usageError(fmt.Sprintf("--oidc-client-secret-file %s is empty", *f.secretFile))
	}
	text, err := os.ReadFile(*f.roles)
	if err != nil {
		return nil, false, usageError(fmt.Sprintf("--oidc-roles: %v", err))
	}
	roles, err := auth.ParseRoleMap(text)
	if err != nil {
		return nil, false, usageError(fmt.Sprintf("--oidc-roles %s: %v", *f.roles, err))
	}
	scopes := strings.FieldsFunc(*f.scopes, func(r rune) bool { return r == ',' || r == ' ' })
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	o, err = auth.NewOIDC(dctx, auth.OIDCConfig{Issuer: *f.issuer, ClientID: *f.clientID, ClientSecret: string(secret),
		RedirectURL: *f.redirectURL, Scopes: scopes, Roles: roles})
	if err != nil {
		return nil, false, fmt.Errorf("serve: %w", err)
	}
	return o, strings.HasPrefix(*f.redirectURL, "https://"), nil
}
