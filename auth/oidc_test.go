package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/oauth2-proxy/mockoidc"
)

// The identity provider of these tests is github.com/oauth2-proxy/mockoidc,
// a real OpenID Connect server (discovery, authorization and token
// endpoints, signed ID tokens, PKCE) run in this process on 127.0.0.1; it
// signs in whichever user a test queues.

const roleMapJSON = `{
  "claim": "groups",
  "subject_claim": "preferred_username",
  "grants": [
    {"value": "ehc-caseworkers-camden", "role": "caseworker", "las": ["E09000007"]},
    {"value": "ehc-caseworkers-islington", "role": "caseworker", "las": ["E09000019"]},
    {"value": "ehc-managers-camden", "role": "manager", "las": ["E09000007"]},
    {"value": "ehc-admins", "role": "admin", "las": ["*"]}
  ]
}`

func startProvider(t *testing.T) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	return m
}

func newOIDC(t *testing.T, m *mockoidc.MockOIDC) *auth.OIDC {
	t.Helper()
	roles, err := auth.ParseRoleMap([]byte(roleMapJSON))
	if err != nil {
		t.Fatal(err)
	}
	cfg := m.Config()
	o, err := auth.NewOIDC(context.Background(), auth.OIDCConfig{Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		RedirectURL: "http://ehc.test" + auth.CallbackPath, Scopes: []string{"profile", "groups"}, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// authorize sends a browser to the authorization URL as the provider's
// queued user and returns where the provider sends it back.
func authorize(t *testing.T, to string) *url.URL {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(to)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("the provider answered %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return back
}

func user(name string, groups ...string) *mockoidc.MockUser {
	return &mockoidc.MockUser{Subject: "oid-" + name, PreferredUsername: name + "@camden.example", Email: name + "@camden.example", Groups: groups}
}

func TestSignInWithAnOpenIDConnectProvider(t *testing.T) {
	m := startProvider(t)
	o := newOIDC(t, m)
	ctx := context.Background()

	t.Run("the browser is sent for a code with a PKCE challenge, a state and a nonce", func(t *testing.T) {
		to, l := o.Begin()
		u, _ := url.Parse(to)
		q := u.Query()
		sum := sha256.Sum256([]byte(l.Verifier))
		if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
			q.Get("code_challenge") != base64.RawURLEncoding.EncodeToString(sum[:]) || q.Get("state") != l.State || q.Get("nonce") != l.Nonce ||
			q.Get("redirect_uri") != "http://ehc.test"+auth.CallbackPath || q.Get("scope") != "openid profile groups" {
			t.Fatalf("authorization URL %s", to)
		}
		if len(l.State) < 40 || len(l.Nonce) < 40 || len(l.Verifier) < 43 || l.State == l.Nonce {
			t.Fatalf("login %+v", l)
		}
		if _, again := o.Begin(); again.State == l.State || again.Verifier == l.Verifier {
			t.Fatal("two sign-ins share a secret")
		}
	})
	t.Run("a person in a granted group is signed in with its role and LAs", func(t *testing.T) {
		m.QueueUser(user("amy", "staff", "ehc-caseworkers-camden", "ehc-caseworkers-islington"))
		to, l := o.Begin()
		back := authorize(t, to)
		if back.Query().Get("state") != l.State {
			t.Fatalf("came back with state %q", back.Query().Get("state"))
		}
		p, err := o.Finish(ctx, l, back.Query().Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != "amy@camden.example" || p.Role != auth.Caseworker || !slices.Equal(p.LAs, []string{"E09000007", "E09000019"}) || p.TokenID == "" {
			t.Fatalf("principal %+v", p)
		}
	})
	t.Run("an admin group grants every LA", func(t *testing.T) {
		m.QueueUser(user("ada", "ehc-admins"))
		to, l := o.Begin()
		p, err := o.Finish(ctx, l, authorize(t, to).Query().Get("code"))
		if err != nil || p.Role != auth.Admin || !p.AllLAs() {
			t.Fatalf("%+v %v", p, err)
		}
	})
	for name, groups := range map[string][]string{
		"in no granted group":               {"staff", "finance"},
		"in no group at all":                nil,
		"in groups granting two roles":      {"ehc-caseworkers-camden", "ehc-managers-camden"},
		"in a group of a similar name":      {"ehc-caseworkers-camden-old"},
		"in a group differing only by case": {"EHC-CASEWORKERS-CAMDEN"},
	} {
		t.Run("a person "+name+" is refused as given no role", func(t *testing.T) {
			m.QueueUser(user("bob", groups...))
			to, l := o.Begin()
			_, err := o.Finish(ctx, l, authorize(t, to).Query().Get("code"))
			if domain.ErrorCode(err) != domain.Forbidden || strings.Contains(domain.ErrorMessage(err), "ehc-") {
				t.Fatalf("got %v", err)
			}
		})
	}
	t.Run("a code exchanged without the sign-in's PKCE verifier is refused", func(t *testing.T) {
		m.QueueUser(user("eve", "ehc-managers-camden"))
		to, l := o.Begin()
		code := authorize(t, to).Query().Get("code")
		_, other := o.Begin()
		l.Verifier = other.Verifier
		if _, err := o.Finish(ctx, l, code); domain.ErrorCode(err) != domain.Unauthorized {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("an ID token made for another sign-in (nonce) is refused", func(t *testing.T) {
		m.QueueUser(user("eve", "ehc-managers-camden"))
		to, l := o.Begin()
		code := authorize(t, to).Query().Get("code")
		l.Nonce = auth.RandomToken()
		if _, err := o.Finish(ctx, l, code); domain.ErrorCode(err) != domain.Unauthorized {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a made-up code is refused", func(t *testing.T) {
		_, l := o.Begin()
		if _, err := o.Finish(ctx, l, "made-up"); domain.ErrorCode(err) != domain.Unauthorized {
			t.Fatalf("got %v", err)
		}
	})
}

func TestOIDCConfigurationMistakesAreReported(t *testing.T) {
	m := startProvider(t)
	cfg := m.Config()
	roles, err := auth.ParseRoleMap([]byte(roleMapJSON))
	if err != nil {
		t.Fatal(err)
	}
	good := auth.OIDCConfig{Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		RedirectURL: "https://ehc.example.gov.uk" + auth.CallbackPath, Roles: roles}
	if _, err := auth.NewOIDC(context.Background(), good); err != nil {
		t.Fatalf("a good configuration: %v", err)
	}
	for name, change := range map[string]func(*auth.OIDCConfig){
		"a redirect URL elsewhere":      func(c *auth.OIDCConfig) { c.RedirectURL = "https://ehc.example.gov.uk/callback" },
		"a redirect URL that is a path": func(c *auth.OIDCConfig) { c.RedirectURL = auth.CallbackPath },
		"no client secret":              func(c *auth.OIDCConfig) { c.ClientSecret = "" },
		"no role map":                   func(c *auth.OIDCConfig) { c.Roles = auth.RoleMap{} },
		"an issuer that is not there":   func(c *auth.OIDCConfig) { c.Issuer = "http://127.0.0.1:1/nowhere" },
		"an issuer its document denies": func(c *auth.OIDCConfig) { c.Issuer = strings.TrimSuffix(cfg.Issuer, "/oidc") + "/oidc/" },
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			c := good
			change(&c)
			if _, err := auth.NewOIDC(context.Background(), c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestRoleMapMistakesAreReported(t *testing.T) {
	for name, text := range map[string]string{
		"no claim":                   `{"grants":[{"value":"g","role":"caseworker","las":["E09000001"]}]}`,
		"no grants":                  `{"claim":"groups","grants":[]}`,
		"an unknown field":           `{"claim":"groups","grant":[]}`,
		"an unknown role":            `{"claim":"groups","grants":[{"value":"g","role":"boss","las":["E09000001"]}]}`,
		"a grant without LAs":        `{"claim":"groups","grants":[{"value":"g","role":"caseworker"}]}`,
		"a grant without a value":    `{"claim":"groups","grants":[{"value":" ","role":"caseworker","las":["E09000001"]}]}`,
		"a bad LA code":              `{"claim":"groups","grants":[{"value":"g","role":"caseworker","las":["Camden!"]}]}`,
		"every LA for an inspector":  `{"claim":"groups","grants":[{"value":"g","role":"inspector","las":["*"]}]}`,
		"a value granted twice":      `{"claim":"groups","grants":[{"value":"g","role":"caseworker","las":["E09000001"]},{"value":"g","role":"manager","las":["E09000001"]}]}`,
		"something that is not JSON": `claim: groups`,
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			if _, err := auth.ParseRoleMap([]byte(text)); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	t.Run("the subject is sub unless named", func(t *testing.T) {
		m, err := auth.ParseRoleMap([]byte(`{"claim":"roles","grants":[{"value":"EHC.Auditor","role":"auditor","las":["E09000001"]}]}`))
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.Principal(map[string]any{"sub": "pairwise-1", "roles": "EHC.Auditor"})
		if err != nil || p.Subject != "pairwise-1" || p.Role != auth.Auditor {
			t.Fatalf("%+v %v", p, err)
		}
		if _, err := m.Principal(map[string]any{"roles": []any{"EHC.Auditor"}}); domain.ErrorCode(err) != domain.Forbidden {
			t.Fatalf("a token without a subject: %v", err)
		}
	})
}

func TestAProviderWithoutAnEndSessionEndpointGivesNoLogoutURL(t *testing.T) {
	if to := newOIDC(t, startProvider(t)).LogoutURL(); to != "" {
		t.Fatalf("mockoidc publishes no end_session_endpoint, yet the logout URL is %q", to)
	}
}
