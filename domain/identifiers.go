package domain

import (
	"regexp"
	"strings"
)

// The identifiers the SEN2 return and the school census use for a child
// and for the settings they attend, checked as the Department for
// Education defines them, so that a return is not refused for a mistyped
// number months after it was recorded.

// upnLetters are the letters a UPN's check letter (and a temporary UPN's
// last character) is written in: the alphabet without I, O and S.
const upnLetters = "ABCDEFGHJKLMNPQRTUVWXYZ"

// upnShape is a UPN's form: a check letter, eleven digits, and a twelfth
// digit or, for a temporary UPN, a letter.
var upnShape = regexp.MustCompile(`^[A-Z][0-9]{11}[0-9A-Z]$`)

// CheckUPN checks a unique pupil number: thirteen characters whose first is
// the check letter of the other twelve. Each of characters 2 to 13 is
// multiplied by its position (2 to 13), a letter counting as its place in
// upnLetters; the sum modulo 23 is the check letter's place.
func CheckUPN(upn string) error {
	if !upnShape.MatchString(upn) {
		return FieldErrorf("data.upn", "must be 13 characters: a capital letter, 11 digits, and a digit or (for a temporary UPN) a capital letter")
	}
	want, ok := UPNCheckLetter(upn[1:])
	if !ok {
		return FieldErrorf("data.upn", "a temporary UPN does not end in I, O or S")
	}
	if upn[0] != want {
		return FieldErrorf("data.upn", "the check letter is wrong (it would be %c): check the number", want)
	}
	return nil
}

// UPNCheckLetter is the check letter of a UPN's other twelve characters
// (eleven digits and a digit or letter); ok is false when they cannot be
// a UPN's.
func UPNCheckLetter(rest string) (letter byte, ok bool) {
	if len(rest) != 12 {
		return 0, false
	}
	sum := 0
	for i := 0; i < len(rest); i++ {
		ch := rest[i]
		var v int
		switch {
		case ch >= '0' && ch <= '9':
			v = int(ch - '0')
		case i == 11 && strings.IndexByte(upnLetters, ch) >= 0:
			v = strings.IndexByte(upnLetters, ch)
		default:
			return 0, false
		}
		sum += v * (i + 2)
	}
	return upnLetters[sum%23], true
}

var (
	ulnShape   = regexp.MustCompile(`^[1-9][0-9]{9}$`)
	urnShape   = regexp.MustCompile(`^[1-9][0-9]{5}$`)
	ukprnShape = regexp.MustCompile(`^1[0-9]{7}$`)
)

// CheckULN checks a unique learner number: ten digits, not starting with 0.
func CheckULN(uln string) error {
	if !ulnShape.MatchString(uln) {
		return FieldErrorf("data.uln", "must be 10 digits, not starting with 0")
	}
	return nil
}

// CheckURN checks a setting's unique reference number in Get Information
// about Schools: six digits.
func CheckURN(field, urn string) error {
	if !urnShape.MatchString(urn) {
		return FieldErrorf(field, "must be a 6-digit URN from Get Information about Schools")
	}
	return nil
}

// CheckUKPRN checks a provider's UK provider reference number: eight
// digits beginning with 1.
func CheckUKPRN(field, ukprn string) error {
	if !ukprnShape.MatchString(ukprn) {
		return FieldErrorf(field, "must be an 8-digit UKPRN beginning with 1")
	}
	return nil
}

// checkSEN2Person checks the person items: well-formed identifiers, and a
// reason for having neither only when there is neither.
func checkSEN2Person(p SEN2Person) error {
	if err := checkEnums(&p); err != nil {
		return err
	}
	if p.UPN != "" {
		if err := CheckUPN(p.UPN); err != nil {
			return err
		}
	}
	if p.ULN != "" {
		if err := CheckULN(p.ULN); err != nil {
			return err
		}
	}
	if p.UPNUnknown != "" && (p.UPN != "" || p.ULN != "") {
		return FieldErrorf("data.upn_unknown", "says why there is no UPN or ULN: leave it out when one is given")
	}
	return nil
}
