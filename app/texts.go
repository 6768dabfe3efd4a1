package app

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/keys"
)

// Free text (domain.Text in an event, and the reason a step was recorded
// late) may name the child or the family: it is sealed with the case's key
// before it is stored, like the personal details, opened for a view, and
// gone with them when they are erased.

var textType = reflect.TypeFor[domain.Text]()

// walkTexts calls f on every Text reachable from v: fields, embedded
// structs, slices and pointers.
func walkTexts(v reflect.Value, f func(*domain.Text) error) error {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return walkTexts(v.Elem(), f)
	case reflect.Struct:
		if v.Type() == textType {
			return f(v.Addr().Interface().(*domain.Text))
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				if err := walkTexts(v.Field(i), f); err != nil {
					return err
				}
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			if err := walkTexts(v.Index(i), f); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasText reports whether a type holds a Text anywhere.
func hasText(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		return hasText(t.Elem())
	case reflect.Struct:
		if t == textType {
			return true
		}
		for i := 0; i < t.NumField(); i++ {
			if hasText(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}

// sealTexts seals, in place, every Text of an event in the clear; a
// correction's data is read as its command's data so that the text in it is
// sealed too.
func sealTexts(k Keys, caseID string, e domain.Event) error {
	seal := func(t *domain.Text) error {
		if t.Plain == "" {
			return nil
		}
		sealed, err := sealBytes(k, caseID, []byte(t.Plain))
		if err != nil {
			return err
		}
		t.Plain, t.Sealed = "", sealed
		return nil
	}
	if err := walkTexts(reflect.ValueOf(e), seal); err != nil {
		return err
	}
	fix, ok := e.(*domain.StepCorrected)
	if !ok || len(fix.Data) == 0 {
		return nil
	}
	spec := domain.LookupCommand(domain.CommandForEvent(fix.Type))
	if spec == nil || spec.Data == nil || !hasText(reflect.TypeOf(spec.Data)) {
		return nil
	}
	d := reflect.New(reflect.TypeOf(spec.Data))
	if err := json.Unmarshal(fix.Data, d.Interface()); err != nil {
		return &domain.Error{Code: domain.Internal, Message: "could not read a correction's data to seal it", Err: err}
	}
	if err := walkTexts(d, seal); err != nil {
		return err
	}
	b, err := json.Marshal(d.Interface())
	if err != nil {
		return &domain.Error{Code: domain.Internal, Message: "could not write a correction's sealed data", Err: err}
	}
	fix.Data = b
	return nil
}

// openTexts opens, in place, every sealed Text of an event, marking them
// erased once the case's key is destroyed.
func openTexts(k Keys, caseID string, e domain.Event) error {
	return walkTexts(reflect.ValueOf(e), func(t *domain.Text) error {
		if t.Sealed == nil || t.Plain != "" {
			return nil
		}
		plain, erased, err := openBytes(k, caseID, t.Sealed)
		if err != nil {
			return err
		}
		t.Plain, t.Erased = string(plain), erased
		return nil
	})
}

// sealedPrefix marks a reason stored sealed.
const sealedPrefix = "sealed:"

// sealReason seals the reason a step was recorded late, for the envelope.
func sealReason(k Keys, caseID, reason string) (string, error) {
	if reason == "" {
		return "", nil
	}
	sealed, err := sealBytes(k, caseID, []byte(reason))
	if err != nil {
		return "", err
	}
	return sealedPrefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// OpenReason returns a stored reason as a view shows it: opened, "(erased)"
// once the case's key is destroyed, or as stored when it was stored in the
// clear (before reasons were sealed).
func (l *Ledger) OpenReason(caseID, stored string) string {
	rest, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return stored
	}
	sealed, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "(unreadable)"
	}
	plain, erased, err := openBytes(l.Keys, caseID, sealed)
	switch {
	case err != nil:
		return "(sealed)"
	case erased:
		return "(erased)"
	}
	return string(plain)
}

func sealBytes(k Keys, caseID string, plain []byte) ([]byte, error) {
	if k == nil {
		return nil, &domain.Error{Code: domain.Internal, Message: "there is no key store to seal free text with"}
	}
	sealed, err := k.Seal(caseID, plain)
	if errors.Is(err, keys.ErrErased) {
		// The case's personal data is erased: a step on it keeps its place
		// but not its words, which could only be stored in the clear.
		return []byte{}, nil
	}
	if err != nil {
		return nil, &domain.Error{Code: domain.Internal, Message: "could not seal free text", Err: err}
	}
	return sealed, nil
}

func openBytes(k Keys, caseID string, sealed []byte) ([]byte, bool, error) {
	if k == nil {
		return nil, false, &domain.Error{Code: domain.Internal, Message: "there is no key store to open free text with"}
	}
	plain, err := k.Open(caseID, sealed)
	if errors.Is(err, keys.ErrErased) {
		return nil, true, nil
	}
	if errors.Is(err, keys.ErrNoKey) {
		// Sealed with a key the key store does not hold (restored from an
		// older backup): the text stays sealed, and shows as such.
		return nil, false, nil
	}
	if err != nil {
		return nil, false, &domain.Error{Code: domain.Internal, Message: "could not open free text", Err: err}
	}
	return plain, false, nil
}
