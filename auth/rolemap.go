package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ehcledger/ehcledger/domain"
)

// RoleMap says what role and LAs a person signed in by the LA's identity
// provider holds, from a claim of their ID token: the groups they belong to
// (Microsoft Entra ID's "groups", as group object IDs) or the application
// roles they were assigned ("roles"). It is read from a JSON file such as
//
//	{
//	  "claim": "groups",
//	  "subject_claim": "oid",
//	  "grants": [
//	    {"value": "6f0b7c1e-…", "role": "caseworker", "las": ["E09000001"]},
//	    {"value": "0c2d9a44-…", "role": "manager", "las": ["E09000001"]}
//	  ]
//	}
//
// Nothing is granted by default: a person none of whose claim values is
// granted is refused (fail closed), and so is one whose values grant two
// different roles, since a principal holds one role and guessing which is
// meant would widen or narrow access silently. Grants of one role add
// their LAs together.
type RoleMap struct {
	// Claim names the ID token claim whose values are matched, a string or
	// a list of strings.
	Claim string `json:"claim"`
	// SubjectClaim names the claim recorded as the actor of what the person
	// does: "sub" unless set ("oid" for Entra ID, which is stable across
	// applications; "preferred_username" to read the sign-in name).
	SubjectClaim string `json:"subject_claim,omitempty"`
	// Grants are the claim values that give a role.
	Grants []Grant `json:"grants"`
}

// Grant gives the holders of one claim value a role in some LAs.
type Grant struct {
	// Value is the claim value, such as a group's object ID.
	Value string `json:"value"`
	// Role is the role it gives.
	Role Role `json:"role"`
	// LAs are the LA codes it gives; ["*"] (every LA) is for admins only.
	LAs []string `json:"las"`
}

// ParseRoleMap reads and checks a role map: unknown fields, an unknown
// role, a grant without a value or LAs, a grant of every LA to anyone but an
// admin, or a value given twice are errors.
func ParseRoleMap(b []byte) (RoleMap, error) {
	var m RoleMap
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("role map: %w", err)
	}
	if strings.TrimSpace(m.Claim) == "" {
		return m, errors.New(`role map: name the claim whose values are granted roles ("claim": "groups" or "roles")`)
	}
	if m.SubjectClaim == "" {
		m.SubjectClaim = "sub"
	}
	if len(m.Grants) == 0 {
		return m, errors.New("role map: it grants nothing, so nobody could sign in")
	}
	seen := map[string]bool{}
	for i, g := range m.Grants {
		if strings.TrimSpace(g.Value) == "" {
			return m, fmt.Errorf("role map: grant %d has no value", i+1)
		}
		if seen[g.Value] {
			return m, fmt.Errorf("role map: value %q is granted twice", g.Value)
		}
		seen[g.Value] = true
		if err := CheckPrincipal(Principal{Subject: "grant", Role: g.Role, LAs: g.LAs}); err != nil {
			return m, fmt.Errorf("role map: grant %d (%q): %w", i+1, g.Value, err)
		}
	}
	return m, nil
}

// Principal is the holder of an ID token's claims, as the map grants. A
// refusal is a forbidden error whose message names no claim value.
func (m RoleMap) Principal(claims map[string]any) (Principal, error) {
	subject, _ := claims[m.SubjectClaim].(string)
	if strings.TrimSpace(subject) == "" {
		return Principal{}, &domain.Error{Code: domain.Forbidden,
			Message: "your identity provider did not say who you are (claim " + m.SubjectClaim + "); ask your administrator"}
	}
	values := claimValues(claims[m.Claim])
	var role Role
	var las []string
	for _, g := range m.Grants {
		if !slices.Contains(values, g.Value) {
			continue
		}
		if role != "" && role != g.Role {
			return Principal{}, &domain.Error{Code: domain.Forbidden,
				Message: fmt.Sprintf("your account is given more than one role in EHC Ledger (%s and %s); ask your administrator to give it one", role, g.Role)}
		}
		role = g.Role
		for _, la := range g.LAs {
			if !slices.Contains(las, la) {
				las = append(las, la)
			}
		}
	}
	if role == "" {
		return Principal{}, &domain.Error{Code: domain.Forbidden,
			Message: "your account is given no role in EHC Ledger; ask your administrator"}
	}
	p := Principal{Subject: subject, Role: role, LAs: las}
	if err := CheckPrincipal(p); err != nil {
		return Principal{}, &domain.Error{Code: domain.Forbidden, Message: "your account cannot be signed in: " + err.Error(), Err: err}
	}
	return p, nil
}

// claimValues reads a claim that is a string or a list of strings.
func claimValues(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
