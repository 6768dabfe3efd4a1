package app

import (
	"encoding/json"
	"errors"

	"github.com/ehcledger/ehcledger/domain"
	"github.com/ehcledger/ehcledger/keys"
)

// Keys seals personal data with a key per case and erases it by destroying
// the key; keys.Store is the implementation.
type Keys interface {
	Seal(caseID string, plain []byte) ([]byte, error)
	Open(caseID string, sealed []byte) ([]byte, error)
	Erase(caseID string) error
}

// Seal replaces the clear personal details of a case's new events with
// their sealed form, so they are never stored as they are.
func Seal(k Keys, caseID string, events []domain.Event) error {
	for _, e := range events {
		r, ok := e.(*domain.RequestReceived)
		if !ok || r.Details == nil {
			continue
		}
		if k == nil {
			return &domain.Error{Code: domain.Internal, Message: "there is no key store to seal personal details with"}
		}
		plain, err := json.Marshal(r.Details)
		if err != nil {
			return &domain.Error{Code: domain.Internal, Message: "could not encode personal details", Err: err}
		}
		sealed, err := k.Seal(caseID, plain)
		if errors.Is(err, keys.ErrErased) {
			return domain.Errorf(domain.Conflict, "the personal data of case %s has been erased: it takes no new personal details", caseID)
		}
		if err != nil {
			return &domain.Error{Code: domain.Internal, Message: "could not seal personal details", Err: err}
		}
		r.Personal, r.Details = sealed, nil
	}
	return nil
}

// Person is a case's personal details as a view shows them: opened, or
// marked erased.
type Person struct {
	*domain.PersonalDetails
	// Erased says the details were destroyed; the fields are then empty.
	Erased bool `json:"erased,omitempty"`
}

// openPersonal opens the sealed details of a request, leaving them on the
// event for age-based warnings; nil details and erased true once erased.
func openPersonal(k Keys, caseID string, r *domain.RequestReceived) (Person, error) {
	switch {
	case r.Personal == nil && !r.BirthDate.IsZero():
		// Stored before details were sealed (schema 1).
		return Person{PersonalDetails: &domain.PersonalDetails{BirthDate: r.BirthDate}}, nil
	case r.Personal == nil:
		return Person{}, nil
	case k == nil:
		return Person{}, &domain.Error{Code: domain.Internal, Message: "there is no key store to open personal details with"}
	}
	plain, err := k.Open(caseID, r.Personal)
	if errors.Is(err, keys.ErrErased) {
		return Person{Erased: true}, nil
	}
	if err != nil {
		return Person{}, &domain.Error{Code: domain.Internal, Message: "could not open personal details", Err: err}
	}
	var d domain.PersonalDetails
	if err := json.Unmarshal(plain, &d); err != nil {
		return Person{}, &domain.Error{Code: domain.Internal, Message: "could not read personal details", Err: err}
	}
	r.Details = &d
	return Person{PersonalDetails: &d}, nil
}
