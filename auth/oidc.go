package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/ehcledger/ehcledger/domain"
	"golang.org/x/oauth2"
)

// Sign-in with the LA's identity provider: the OpenID Connect
// authorization-code flow with PKCE (RFC 7636), for the web pages.
// github.com/coreos/go-oidc/v3 reads the provider's discovery document and
// verifies its ID tokens; golang.org/x/oauth2 builds the authorization URL
// and exchanges the code. Bearer tokens for the API are verified apart, by
// Verifier.

// CallbackPath is where the identity provider sends the browser back: the
// path every configured redirect URL must have.
const CallbackPath = "/ui/auth/callback"

// OIDCConfig says which identity provider signs people in and how.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL, whose discovery document is at
	// Issuer + "/.well-known/openid-configuration" (Entra ID:
	// https://login.microsoftonline.com/TENANT-ID/v2.0).
	Issuer string
	// ClientID and ClientSecret are this application's registration at the
	// provider (a confidential web client).
	ClientID, ClientSecret string
	// RedirectURL is this server's CallbackPath as the browser reaches it,
	// such as https://ehc.example.gov.uk/ui/auth/callback; it must be
	// registered at the provider exactly.
	RedirectURL string
	// Scopes are asked for beside openid, which is always asked for.
	Scopes []string
	// Roles maps the ID token's claims to a role and LAs.
	Roles RoleMap
	// HTTPClient reaches the provider; a client with a 10 s timeout when nil.
	HTTPClient *http.Client
	// Now is the clock ID tokens are checked against; time.Now when nil.
	Now func() time.Time
}

// OIDC signs people in with an OpenID Connect provider.
type OIDC struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	roles    RoleMap
	client   *http.Client
	// logout is the provider's end-session URL with this client's
	// parameters, or "" when the provider publishes none.
	logout string
}

// NewOIDC reads the provider's discovery document and returns a client of
// it. ctx bounds the discovery only.
func NewOIDC(ctx context.Context, c OIDCConfig) (*OIDC, error) {
	if c.Issuer == "" || c.ClientID == "" || c.ClientSecret == "" || c.RedirectURL == "" {
		return nil, errors.New("oidc: the issuer, client ID, client secret and redirect URL are all needed")
	}
	u, err := url.Parse(c.RedirectURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != CallbackPath || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("oidc: the redirect URL must be this server's %s, such as https://ehc.example.gov.uk%s", CallbackPath, CallbackPath)
	}
	if len(c.Roles.Grants) == 0 {
		return nil, errors.New("oidc: a role map granting roles is needed: without one nobody could sign in")
	}
	client := c.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("oidc: reading the provider's discovery document at %s: %w", c.Issuer, err)
	}
	logout, err := logoutURL(provider, c.ClientID, u)
	if err != nil {
		return nil, err
	}
	scopes := []string{oidc.ScopeOpenID}
	for _, s := range c.Scopes {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	return &OIDC{
		oauth: oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
			Endpoint: provider.Endpoint(), Scopes: scopes},
		verifier: provider.VerifierContext(oidc.ClientContext(context.Background(), client), &oidc.Config{ClientID: c.ClientID, Now: c.Now}),
		roles:    c.Roles,
		client:   client,
		logout:   logout,
	}, nil
}

// PostLogoutPath is where the provider sends the browser back after signing
// the person out there: the sign-in page, saying they have signed out. Its
// URL on this server (the redirect URL's origin and this path) must be
// registered at the provider as a post-logout redirect URI.
const PostLogoutPath = "/ui/login?signed_out=1"

// logoutURL builds the URL that ends the person's session at the provider
// too (OpenID Connect RP-Initiated Logout 1.0): its end_session_endpoint
// with this client's ID and where to come back to. A provider that
// publishes no such endpoint gives "".
func logoutURL(provider *oidc.Provider, clientID string, redirect *url.URL) (string, error) {
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return "", fmt.Errorf("oidc: reading the provider's discovery document: %w", err)
	}
	if meta.EndSession == "" {
		return "", nil
	}
	end, err := url.Parse(meta.EndSession)
	if err != nil || (end.Scheme != "https" && end.Scheme != "http") || end.Host == "" {
		return "", fmt.Errorf("oidc: the provider's end_session_endpoint %q is not a URL", meta.EndSession)
	}
	q := end.Query()
	q.Set("client_id", clientID)
	q.Set("post_logout_redirect_uri", redirect.Scheme+"://"+redirect.Host+PostLogoutPath)
	end.RawQuery = q.Encode()
	return end.String(), nil
}

// LogoutURL is where to send the browser once its session here has ended,
// so that the provider ends the person's session there too and sends them
// back to PostLogoutPath; "" when the provider offers no such endpoint.
// Without it, the next sign-in may pass at the provider without a password
// for as long as the provider's own session lasts.
func (o *OIDC) LogoutURL() string { return o.logout }

// Login is what a sign-in under way keeps between sending the browser to
// the provider and its coming back: the state it must return, the nonce its
// ID token must carry and the PKCE verifier only this server knows.
type Login struct {
	State, Nonce, Verifier string
}

// Begin starts a sign-in: the URL to send the browser to, and the Login to
// keep, server-side, until the browser comes back.
func (o *OIDC) Begin() (string, Login) {
	l := Login{State: RandomToken(), Nonce: RandomToken(), Verifier: oauth2.GenerateVerifier()}
	return o.oauth.AuthCodeURL(l.State, oidc.Nonce(l.Nonce), oauth2.S256ChallengeOption(l.Verifier)), l
}

// Finish completes a sign-in: it exchanges the code (with the PKCE
// verifier), verifies the ID token (signature, issuer, audience, expiry and
// nonce) and maps its claims to a principal. A failure is an unauthorized
// error, or a forbidden one when the person is known but given no role;
// its message is safe to show, and the cause is wrapped for the log.
func (o *OIDC) Finish(ctx context.Context, l Login, code string) (Principal, error) {
	refused := func(msg string, err error) error {
		return &domain.Error{Code: domain.Unauthorized, Message: "the sign-in did not complete: " + msg, Err: err}
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, o.client)
	tok, err := o.oauth.Exchange(ctx, code, oauth2.VerifierOption(l.Verifier))
	if err != nil {
		return Principal{}, refused("the identity provider did not accept it", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Principal{}, refused("the identity provider sent no ID token", errors.New("no id_token in the token response"))
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		return Principal{}, refused("the identity provider's ID token did not verify", err)
	}
	if idt.Nonce == "" || idt.Nonce != l.Nonce {
		return Principal{}, refused("the ID token was not made for this sign-in", errors.New("ID token nonce mismatch"))
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return Principal{}, refused("the ID token could not be read", err)
	}
	p, err := o.roles.Principal(claims)
	if err != nil {
		return Principal{}, err
	}
	// What rate limits count by: the person and this sign-in.
	p.TokenID = "oidc:" + p.Subject + "@" + idt.IssuedAt.UTC().Format(time.RFC3339)
	return p, nil
}

// RandomToken returns 32 random bytes, base64url-encoded: an unguessable
// value for a sign-in's state and nonce, a session ID or a form's
// anti-forgery token.
func RandomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24 and later)
	return base64.RawURLEncoding.EncodeToString(b)
}
