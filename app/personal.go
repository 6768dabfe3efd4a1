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
	// MAC is a deterministic keyed fingerprint under the case's key; it
	// ties a retried command to the request it first answered.
	MAC(caseID string, msg []byte) ([]byte, error)
}

// Seal replaces the clear personal details and free text of a case's new
// events (an opening or a correction of one; evidence, reasons) with their
// sealed form, so they are never stored as they are.
func Seal(k Keys, caseID string, events []domain.Event) error {
	for _, e := range events {
		if err := sealTexts(k, caseID, e); err != nil {
			return err
		}
		var err error
		switch v := e.(type) {
		case domain.Opener:
			if o := v.Opened(); o.Details != nil {
				o.Personal, err = seal(k, caseID, o.Details)
				o.Details = nil
			}
		case *domain.StepCorrected:
			if v.Details != nil {
				v.Personal, err = seal(k, caseID, v.Details)
				v.Details = nil
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func seal(k Keys, caseID string, d *domain.PersonalDetails) ([]byte, error) {
	if k == nil {
		return nil, &domain.Error{Code: domain.Internal, Message: "there is no key store to seal personal details with"}
	}
	plain, err := json.Marshal(d)
	if err != nil {
		return nil, &domain.Error{Code: domain.Internal, Message: "could not encode personal details", Err: err}
	}
	sealed, err := k.Seal(caseID, plain)
	if errors.Is(err, keys.ErrErased) {
		return nil, domain.Errorf(domain.Conflict, "the personal data of case %s has been erased: it takes no new personal details", caseID)
	}
	if err != nil {
		return nil, &domain.Error{Code: domain.Internal, Message: "could not seal personal details", Err: err}
	}
	return sealed, nil
}

// Person is a case's personal details as a view shows them: opened, or
// marked erased.
type Person struct {
	*domain.PersonalDetails
	// Erased says the details were destroyed; the fields are then empty.
	Erased bool `json:"erased,omitempty"`
	// Unavailable says the details are sealed with a key the key store
	// does not hold: it was restored from a backup taken before they were
	// recorded (docs/operations.md). The fields are then empty.
	Unavailable bool `json:"unavailable,omitempty"`
}

// openPersonal opens the sealed details of a case's opening, leaving them on
// the event for age-based warnings; nil details and erased true once erased.
func openPersonal(k Keys, caseID string, r *domain.Opening) (Person, error) {
	switch {
	case r.Personal == nil && !r.BirthDate.IsZero():
		// Stored before details were sealed (schema 1).
		return Person{PersonalDetails: &domain.PersonalDetails{BirthDate: r.BirthDate}}, nil
	case r.Personal == nil:
		return Person{}, nil
	}
	d, erased, err := open(k, caseID, r.Personal)
	if err != nil || erased {
		return Person{Erased: erased}, err
	}
	if d == nil {
		return Person{Unavailable: true}, nil
	}
	r.Details = d
	return Person{PersonalDetails: d}, nil
}

// openHistory opens in place every sealed detail of a case's history (the
// opening's and its corrections', and every free text), so that the domain
// can check a correction against them and a view show them. It returns the person as the
// history stands before corrections.
func openHistory(k Keys, caseID string, history []domain.Step) (Person, error) {
	var person Person
	for i, st := range history {
		if err := openTexts(k, caseID, st.Event); err != nil {
			return Person{}, err
		}
		switch v := st.Event.(type) {
		case domain.Opener:
			if i > 0 {
				continue
			}
			p, err := openPersonal(k, caseID, v.Opened())
			if err != nil {
				return Person{}, err
			}
			person = p
		case *domain.StepCorrected:
			if v.Personal == nil || person.Erased {
				continue
			}
			d, _, err := open(k, caseID, v.Personal)
			if err != nil {
				return Person{}, err
			}
			v.Details = d
		}
	}
	return person, nil
}

// open opens sealed personal details; erased says the case's key is gone.
// Details sealed with a key the key store does not hold (restored from an
// older backup) are nil, neither erased nor an error: the case's other
// steps stay readable.
func open(k Keys, caseID string, sealed []byte) (*domain.PersonalDetails, bool, error) {
	if k == nil {
		return nil, false, &domain.Error{Code: domain.Internal, Message: "there is no key store to open personal details with"}
	}
	plain, err := k.Open(caseID, sealed)
	if errors.Is(err, keys.ErrErased) {
		return nil, true, nil
	}
	if errors.Is(err, keys.ErrNoKey) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, &domain.Error{Code: domain.Internal, Message: "could not open personal details", Err: err}
	}
	var d domain.PersonalDetails
	if err := json.Unmarshal(plain, &d); err != nil {
		return nil, false, &domain.Error{Code: domain.Internal, Message: "could not read personal details", Err: err}
	}
	return &d, false, nil
}
