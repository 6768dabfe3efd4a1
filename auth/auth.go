// Package auth verifies the bearer tokens of EHC Ledger's users and says
// what each may do. A token is a JWT naming a role and the LAs the holder
// works for; it is verified with a shared secret in development or with a
// public key set in production (github.com/golang-jwt/jwt/v5 verifies,
// github.com/MicahParks/keyfunc/v3 reads the key set).
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/ehcledger/ehcledger/domain"
	"github.com/golang-jwt/jwt/v5"
)

// Role is what a user does; each route allows some roles.
type Role string

// The roles of issue 7.
const (
	// Caseworker sends commands and reads cases in their LAs.
	Caseworker Role = "caseworker"
	// Manager does what a caseworker does and also assigns work.
	Manager Role = "manager"
	// Auditor reads histories, timelines, as-at views and the access log.
	Auditor Role = "auditor"
	// Inspector reads aggregates only, never a case.
	Inspector Role = "inspector"
	// Admin manages rulebooks and school calendars.
	Admin Role = "admin"
)

// Roles lists every role a token or an identity provider may give: the
// staff's.
var Roles = []Role{Caseworker, Manager, Auditor, Inspector, Admin}

// The people invited to one case through the portal. No token gives these
// roles: a person has one only in a session opened with their invitation's
// link, for that case (Principal.Case).
const (
	// Family is a parent or young person invited to their case.
	Family Role = "family"
	// Professional is a professional invited to give advice on a case.
	Professional Role = "professional"
)

// AnyLA, among a token's LAs, grants every LA.
const AnyLA = "*"

// England, among an inspector's LAs, grants the national figures: England's
// total and every LA's row, with small numbers suppressed, as DfE and the
// inspectorates read them. It is an inspector's grant only: it opens
// figures, never a case.
const England = "england"

// Principal is the verified holder of a token.
type Principal struct {
	Subject string
	Role    Role
	LAs     []string
	// TokenID is the token's jti, or its subject and issue time when it has
	// none: what rate limits count by.
	TokenID string
	// Expires is when the token ends (zero when unknown): a session opened
	// with a token ends no later.
	Expires time.Time
	// Case is, for a participant (Family, Professional), the one case they
	// may see; empty for staff.
	Case string
}

// Participant reports whether the principal is a person invited to one
// case, not staff.
func (p Principal) Participant() bool {
	return (p.Role == Family || p.Role == Professional) && p.Case != ""
}

// InLA reports whether the principal works for la.
func (p Principal) InLA(la string) bool {
	if p.Participant() {
		return false // a participant's scope is their case, never an LA
	}
	return slices.Contains(p.LAs, AnyLA) || slices.Contains(p.LAs, la) || p.National()
}

// AllLAs reports whether the principal is granted every LA.
func (p Principal) AllLAs() bool { return slices.Contains(p.LAs, AnyLA) }

// National reports whether the principal is an inspector granted the
// national figures (England).
func (p Principal) National() bool { return p.Role == Inspector && slices.Contains(p.LAs, England) }

// Claims are the JWT claims EHC Ledger reads: the registered ones (sub, exp
// and, when configured, iss and aud) and its own role and las.
type Claims struct {
	Role string   `json:"role"`
	LAs  []string `json:"las"`
	jwt.RegisteredClaims
}

// Config says how tokens are verified. Exactly one of Secret and JWKS is set.
type Config struct {
	// Secret is a shared HMAC secret (HS256), for development.
	Secret []byte
	// JWKS is a JSON Web Key Set of public keys (RSA, ECDSA or Ed25519), for
	// production: tokens are signed by an identity provider.
	JWKS json.RawMessage
	// JWKSURL is where the identity provider publishes its key set; it is
	// read at start, again every hour and when a token names an unknown
	// key, so keys can rotate. Ctx ends the refreshing.
	JWKSURL string
	Ctx     context.Context
	// Issuer and Audience, when set, must match the token's iss and aud: a
	// token without them is refused.
	Issuer, Audience string
	// MaxLifetime bounds how long a token may live, from its issue (iat) to
	// its expiry (exp), and how far ahead of now its expiry may be: a token
	// that would outlive it is refused, so that a stolen token is not good
	// for days. Zero means DefaultMaxLifetime; there is no unbounded setting.
	MaxLifetime time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Verifier checks bearer tokens.
type Verifier struct {
	parser      *jwt.Parser
	keyfunc     jwt.Keyfunc
	maxLifetime time.Duration
	now         func() time.Time
}

// DefaultMaxLifetime is the longest a token may live unless configured
// otherwise: a working day and a half, so a token minted in the morning
// lasts the day but not the week.
const DefaultMaxLifetime = 12 * time.Hour

// leeway is the clock skew tolerated between the issuer and this server.
const leeway = 30 * time.Second

// MinSecretLen is the shortest shared secret accepted: 32 bytes, as HS256
// needs a key at least as long as its hash.
const MinSecretLen = 32

// NewVerifier builds a verifier from its configuration.
func NewVerifier(c Config) (*Verifier, error) {
	opts := []jwt.ParserOption{jwt.WithExpirationRequired(), jwt.WithLeeway(leeway)}
	if c.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(c.Now))
	}
	if c.MaxLifetime < 0 {
		return nil, errors.New("auth: the longest token lifetime must be positive")
	}
	if c.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.Issuer))
	}
	if c.Audience != "" {
		opts = append(opts, jwt.WithAudience(c.Audience))
	}
	v := &Verifier{maxLifetime: c.MaxLifetime, now: c.Now}
	if v.maxLifetime == 0 {
		v.maxLifetime = DefaultMaxLifetime
	}
	if v.now == nil {
		v.now = time.Now
	}
	kinds := 0
	for _, set := range []bool{len(c.Secret) > 0, len(c.JWKS) > 0, c.JWKSURL != ""} {
		if set {
			kinds++
		}
	}
	asymmetric := []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	switch {
	case kinds > 1:
		return nil, errors.New("auth: give one of a shared secret, a public key set or its URL")
	case len(c.Secret) > 0:
		if len(c.Secret) < MinSecretLen {
			return nil, fmt.Errorf("auth: the shared secret must be at least %d bytes", MinSecretLen)
		}
		secret := c.Secret
		v.keyfunc = func(*jwt.Token) (any, error) { return secret, nil }
		opts = append(opts, jwt.WithValidMethods([]string{"HS256"}))
	case len(c.JWKS) > 0:
		k, err := keyfunc.NewJWKSetJSON(c.JWKS)
		if err != nil {
			return nil, fmt.Errorf("auth: public key set: %w", err)
		}
		v.keyfunc = k.Keyfunc
		// Only asymmetric algorithms: a key set must never let a public key
		// be used as an HMAC secret.
		opts = append(opts, jwt.WithValidMethods(asymmetric))
	case c.JWKSURL != "":
		ctx := c.Ctx
		if ctx == nil {
			ctx = context.Background()
		}
		k, err := keyfunc.NewDefaultCtx(ctx, []string{c.JWKSURL})
		if err != nil {
			return nil, fmt.Errorf("auth: public key set at %s: %w", c.JWKSURL, err)
		}
		v.keyfunc = k.Keyfunc
		opts = append(opts, jwt.WithValidMethods(asymmetric))
	default:
		return nil, errors.New("auth: no shared secret or public key set to verify tokens with")
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Verify checks a bearer token and returns its holder. Every failure is an
// unauthorized error whose message says what was wrong without echoing the
// token.
func (v *Verifier) Verify(token string) (Principal, error) {
	var c Claims
	if _, err := v.parser.ParseWithClaims(token, &c, v.keyfunc); err != nil {
		return Principal{}, &domain.Error{Code: domain.Unauthorized, Message: "the bearer token is not valid: " + reason(err), Err: err}
	}
	if err := v.checkLifetime(c.RegisteredClaims); err != nil {
		return Principal{}, &domain.Error{Code: domain.Unauthorized, Message: "the bearer token is not valid: " + err.Error()}
	}
	p, err := principalOf(c)
	if err != nil {
		return Principal{}, &domain.Error{Code: domain.Unauthorized, Message: "the bearer token is not valid: " + err.Error()}
	}
	p.Expires = c.ExpiresAt.Time
	return p, nil
}

// MaxLifetime is the longest a token this verifier accepts may live.
func (v *Verifier) MaxLifetime() time.Duration { return v.maxLifetime }

// checkLifetime refuses a token that lives longer than the maximum: from
// its issue to its expiry, or, whatever its issue time says (it may have
// none, or lie), from now to its expiry.
func (v *Verifier) checkLifetime(c jwt.RegisteredClaims) error {
	if c.ExpiresAt == nil { // the parser requires exp; this is belt and braces
		return errors.New("it has no expiry")
	}
	limit := v.maxLifetime + leeway
	if c.IssuedAt != nil && c.ExpiresAt.Sub(c.IssuedAt.Time) > limit {
		return fmt.Errorf("it lives longer than %s", v.maxLifetime)
	}
	if c.ExpiresAt.Sub(v.now()) > limit {
		return fmt.Errorf("it lives longer than %s", v.maxLifetime)
	}
	return nil
}

// reason names what was wrong with a token in words safe to show.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "it has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "it is not valid yet"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "it has no expiry"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "it was issued by someone else"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "it is meant for another service"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "its signature does not verify"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "it is malformed"
	}
	return "it could not be verified"
}

func principalOf(c Claims) (Principal, error) {
	p := Principal{Subject: c.Subject, Role: Role(c.Role), LAs: c.LAs, TokenID: c.ID}
	if strings.TrimSpace(p.Subject) == "" {
		return p, errors.New("it names no subject (sub)")
	}
	if !slices.Contains(Roles, p.Role) {
		return p, fmt.Errorf("role %q is not one of caseworker, manager, auditor, inspector, admin", c.Role)
	}
	if len(p.Subject) > MaxSubjectLen || strings.ContainsFunc(p.Subject, unicode.IsControl) {
		return p, fmt.Errorf("its subject (sub) is longer than %d characters or holds control characters", MaxSubjectLen)
	}
	if len(p.LAs) == 0 {
		return p, errors.New("it grants no LA (las)")
	}
	// Every LA at once is the service's administration, never casework or
	// inspection: a caseworker's, manager's, auditor's or inspector's token
	// names the LAs it is for.
	if p.AllLAs() && p.Role != Admin {
		return p, fmt.Errorf("only an admin may be granted every LA (las: %q); a %s's token names its LAs", AnyLA, p.Role)
	}
	if slices.Contains(p.LAs, England) && p.Role != Inspector {
		// England's grant opens every LA's figures; on another role it
		// would read as an LA code and open nothing, or worse.
		return p, fmt.Errorf("only an inspector may be granted the national figures (las: %q)", England)
	}
	for _, la := range p.LAs {
		if la != AnyLA && domain.ValidateID("las", la) != nil {
			return p, fmt.Errorf("las holds %q, which is not an LA code", la)
		}
	}
	if p.TokenID == "" {
		iat := ""
		if c.IssuedAt != nil {
			iat = c.IssuedAt.UTC().Format(time.RFC3339)
		}
		p.TokenID = p.Subject + "@" + iat
	}
	return p, nil
}

// MaxSubjectLen bounds a token's subject, which is recorded as the actor of
// every step its holder sends.
const MaxSubjectLen = 200

// CheckPrincipal says whether p is a principal a token may name: a subject,
// a known role and LAs (every LA for admins only). Sign-in with an identity
// provider holds the principals it maps to the same rules.
func CheckPrincipal(p Principal) error {
	_, err := principalOf(Claims{Role: string(p.Role), LAs: p.LAs, RegisteredClaims: jwt.RegisteredClaims{Subject: p.Subject, ID: p.TokenID}})
	return err
}

// Issue signs a development token with a shared secret: what `make run`
// prints and what tests use. Production tokens come from an identity
// provider.
func Issue(secret []byte, p Principal, ttl time.Duration, now time.Time) (string, error) {
	if ttl <= 0 {
		return "", errors.New("auth: a token must live for some time (ttl)")
	}
	c := Claims{Role: string(p.Role), LAs: p.LAs, RegisteredClaims: jwt.RegisteredClaims{
		Subject: p.Subject, ID: p.TokenID, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	if _, err := principalOf(c); err != nil {
		return "", fmt.Errorf("auth: %w", err)
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}
