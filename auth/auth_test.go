package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ehcledger/ehcledger/auth"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/golang-jwt/jwt/v5"
)

var (
	now    = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	secret = []byte("a-development-secret-of-32-bytes-or-more")
)

func clock() time.Time { return now }

func verifier(t *testing.T, c auth.Config) *auth.Verifier {
	t.Helper()
	c.Now = clock
	v, err := auth.NewVerifier(c)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func signHS(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func valid() jwt.MapClaims {
	return jwt.MapClaims{"sub": "amy", "role": "caseworker", "las": []string{"E09000001"}, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
}

func TestASharedSecretTokenGivesItsHolder(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret})
	p, err := v.Verify(signHS(t, valid()))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "amy" || p.Role != auth.Caseworker || !p.InLA("E09000001") || p.InLA("E09000002") || p.AllLAs() || p.TokenID == "" {
		t.Fatalf("principal %+v", p)
	}
}

func TestBadTokensAreUnauthorized(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret, Issuer: "https://idp.example", Audience: "ehcledger"})
	with := func(change func(jwt.MapClaims)) string {
		c := valid()
		c["iss"], c["aud"] = "https://idp.example", "ehcledger"
		change(c)
		return signHS(t, c)
	}
	other, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, valid()).SignedString([]byte("another-secret-another-secret-123456"))
	cases := map[string]string{
		"expired":           with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }),
		"without expiry":    with(func(c jwt.MapClaims) { delete(c, "exp") }),
		"from another iss":  with(func(c jwt.MapClaims) { c["iss"] = "https://elsewhere.example" }),
		"for another aud":   with(func(c jwt.MapClaims) { c["aud"] = "other" }),
		"of unknown role":   with(func(c jwt.MapClaims) { c["role"] = "superuser" }),
		"without LAs":       with(func(c jwt.MapClaims) { delete(c, "las") }),
		"with a bad LA":     with(func(c jwt.MapClaims) { c["las"] = []string{"not an LA!"} }),
		"without a subject": with(func(c jwt.MapClaims) { delete(c, "sub") }),
		"signed by another": other,
		"malformed":         "not.a.token",
		"unsigned (none)": func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, valid()).SignedString(jwt.UnsafeAllowNoneSignatureType)
			return s
		}(),
	}
	for name, tok := range cases {
		t.Run("a token "+name+" is refused", func(t *testing.T) {
			_, err := v.Verify(tok)
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.Unauthorized {
				t.Fatalf("got %v, want an unauthorized error", err)
			}
		})
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestAPublicKeySetVerifiesItsKeysTokensAndNothingElse(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pad := func(n *big.Int) []byte { b := make([]byte, 32); return n.FillBytes(b) }
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256", "x": b64(pad(key.X)), "y": b64(pad(key.Y)),
	}}})
	v := verifier(t, auth.Config{JWKS: set})
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, valid())
	tok.Header["kid"] = "k1"
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a token signed by the provider's key is accepted", func(t *testing.T) {
		if p, err := v.Verify(signed); err != nil || p.Subject != "amy" {
			t.Fatalf("%+v %v", p, err)
		}
	})
	t.Run("a token signed with a shared secret is refused", func(t *testing.T) {
		if _, err := v.Verify(signHS(t, valid())); err == nil {
			t.Fatal("an HS256 token passed a public key set")
		}
	})
	t.Run("a token signed by another key is refused", func(t *testing.T) {
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, valid())
		tok.Header["kid"] = "k1"
		s, _ := tok.SignedString(other)
		if _, err := v.Verify(s); err == nil {
			t.Fatal("a token signed by another key passed")
		}
	})
}

func TestConfigurationMistakesAreReported(t *testing.T) {
	for name, c := range map[string]auth.Config{
		"nothing to verify with": {},
		"a short secret":         {Secret: []byte("short")},
		"both kinds of key":      {Secret: secret, JWKS: []byte(`{"keys":[]}`)},
		"a key set that is not":  {JWKS: []byte(`not json`)},
		"a negative lifetime":    {Secret: secret, MaxLifetime: -time.Hour},
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			if _, err := auth.NewVerifier(c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestIssueSignsWhatVerifyAccepts(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret})
	tok, err := auth.Issue(secret, auth.Principal{Subject: "ian", Role: auth.Inspector, LAs: []string{"E06000001", "E06000002"}}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(tok)
	if err != nil || p.Role != auth.Inspector || p.AllLAs() || !p.InLA("E06000001") || p.InLA("E06000003") {
		t.Fatalf("%+v %v", p, err)
	}
	admin, err := auth.Issue(secret, auth.Principal{Subject: "ada", Role: auth.Admin, LAs: []string{auth.AnyLA}}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(admin); err != nil || !p.AllLAs() {
		t.Fatalf("an admin of every LA: %+v %v", p, err)
	}
	for name, p := range map[string]auth.Principal{
		"an unknown role":             {Subject: "x", Role: "wizard", LAs: []string{"E09000001"}},
		"an inspector of every LA":    {Subject: "x", Role: auth.Inspector, LAs: []string{auth.AnyLA}},
		"a caseworker of every LA":    {Subject: "x", Role: auth.Caseworker, LAs: []string{"E09000001", auth.AnyLA}},
		"a subject with a line break": {Subject: "x\ny", Role: auth.Caseworker, LAs: []string{"E09000001"}},
	} {
		t.Run("a token for "+name+" is not issued", func(t *testing.T) {
			if _, err := auth.Issue(secret, p, time.Hour, now); err == nil {
				t.Fatal("issued")
			}
		})
	}
}

// TestTokenRules holds tokens to the rules of issue 14 (item 9): an expiry,
// a bounded lifetime, the configured issuer and audience, and every LA for
// admins only.
func TestTokenRules(t *testing.T) {
	v := verifier(t, auth.Config{Secret: secret, Issuer: "https://idp.example", Audience: "ehcledger", MaxLifetime: 8 * time.Hour})
	with := func(change func(jwt.MapClaims)) string {
		c := valid()
		c["iss"], c["aud"] = "https://idp.example", "ehcledger"
		change(c)
		return signHS(t, c)
	}
	refused := map[string]string{
		"without an expiry":              with(func(c jwt.MapClaims) { delete(c, "exp") }),
		"living longer than the maximum": with(func(c jwt.MapClaims) { c["exp"] = now.Add(9 * time.Hour).Unix() }),
		"issued long ago and expiring in a year": with(func(c jwt.MapClaims) {
			c["iat"] = now.Add(-time.Hour).Unix()
			c["exp"] = now.Add(365 * 24 * time.Hour).Unix()
		}),
		"without an issue time expiring in a month": with(func(c jwt.MapClaims) { delete(c, "iat"); c["exp"] = now.Add(30 * 24 * time.Hour).Unix() }),
		"issued a day before it expires":            with(func(c jwt.MapClaims) { c["iat"] = now.Add(-23 * time.Hour).Unix() }),
		"without an issuer":                         with(func(c jwt.MapClaims) { delete(c, "iss") }),
		"without an audience":                       with(func(c jwt.MapClaims) { delete(c, "aud") }),
		"of an inspector of every LA":               with(func(c jwt.MapClaims) { c["role"] = "inspector"; c["las"] = []string{"*"} }),
		"of a manager of every LA and one":          with(func(c jwt.MapClaims) { c["role"] = "manager"; c["las"] = []string{"E09000001", "*"} }),
		"of a caseworker of every LA":               with(func(c jwt.MapClaims) { c["las"] = []string{"*"} }),
		"of a manager of the national figures":      with(func(c jwt.MapClaims) { c["role"] = "manager"; c["las"] = []string{auth.England} }),
		"of an admin of the national figures":       with(func(c jwt.MapClaims) { c["role"] = "admin"; c["las"] = []string{auth.England} }),
	}
	for name, tok := range refused {
		t.Run("a token "+name+" is refused", func(t *testing.T) {
			_, err := v.Verify(tok)
			var de *domain.Error
			if !errors.As(err, &de) || de.Code != domain.Unauthorized {
				t.Fatalf("got %v, want an unauthorized error", err)
			}
		})
	}
	accepted := map[string]string{
		"living exactly the maximum":         with(func(c jwt.MapClaims) { c["exp"] = now.Add(8 * time.Hour).Unix() }),
		"without an issue time, for an hour": with(func(c jwt.MapClaims) { delete(c, "iat") }),
		"with the audience among others":     with(func(c jwt.MapClaims) { c["aud"] = []string{"other", "ehcledger"} }),
		"of an admin of every LA":            with(func(c jwt.MapClaims) { c["role"] = "admin"; c["las"] = []string{"*"} }),
		"of an inspector of two LAs by name": with(func(c jwt.MapClaims) { c["role"] = "inspector"; c["las"] = []string{"E09000001", "E09000002"} }),
		"of an inspector of England":         with(func(c jwt.MapClaims) { c["role"] = "inspector"; c["las"] = []string{auth.England} }),
		"issued an hour ago for seven more":  with(func(c jwt.MapClaims) { c["iat"] = now.Add(-time.Hour).Unix(); c["exp"] = now.Add(7 * time.Hour).Unix() }),
	}
	for name, tok := range accepted {
		t.Run("a token "+name+" is accepted", func(t *testing.T) {
			if _, err := v.Verify(tok); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("without a configured maximum, twelve hours is the limit", func(t *testing.T) {
		d := verifier(t, auth.Config{Secret: secret})
		if d.MaxLifetime() != auth.DefaultMaxLifetime || auth.DefaultMaxLifetime != 12*time.Hour {
			t.Fatalf("default maximum %s", d.MaxLifetime())
		}
		day := valid()
		day["exp"] = now.Add(24 * time.Hour).Unix()
		if _, err := d.Verify(signHS(t, day)); err == nil {
			t.Fatal("a day-long token passed the default maximum")
		}
	})
}

func TestAKeySetPublishedAtAURLVerifiesTokens(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pad := func(n *big.Int) []byte { b := make([]byte, 32); return n.FillBytes(b) }
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "k2", "use": "sig", "alg": "ES256", "x": b64(pad(key.X)), "y": b64(pad(key.Y)),
	}}})
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(set)
	}))
	defer idp.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v := verifier(t, auth.Config{JWKSURL: idp.URL, Ctx: ctx})
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, valid())
	tok.Header["kid"] = "k2"
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(signed); err != nil || p.Subject != "amy" {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := v.Verify(signHS(t, valid())); err == nil {
		t.Fatal("an HS256 token passed a published key set")
	}
}
