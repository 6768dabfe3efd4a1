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
	tok, err := auth.Issue(secret, auth.Principal{Subject: "ian", Role: auth.Inspector, LAs: []string{auth.AnyLA}}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(tok)
	if err != nil || p.Role != auth.Inspector || !p.AllLAs() || !p.InLA("E06000001") {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := auth.Issue(secret, auth.Principal{Subject: "x", Role: "wizard", LAs: []string{"E09000001"}}, time.Hour, now); err == nil {
		t.Fatal("issued a token for an unknown role")
	}
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
