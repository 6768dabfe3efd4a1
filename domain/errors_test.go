package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/ehcledger/ehcledger/domain"
)

func TestAnInternalErrorCausedByAnOutageIsAnsweredAsUnavailable(t *testing.T) {
	outage := &domain.Error{Code: domain.Unavailable, Message: "the event store has not answered for 30s (append)", Err: errors.New("rpc error")}
	for name, c := range map[string]struct {
		err     error
		code    domain.Code
		message string
	}{
		"an outage wrapped once is unavailable": {
			&domain.Error{Code: domain.Internal, Message: "could not record the step", Err: outage},
			domain.Unavailable, outage.Message},
		"an outage wrapped twice is unavailable": {
			fmt.Errorf("serve: %w", &domain.Error{Code: domain.Internal, Message: "could not read the case",
				Err: &domain.Error{Code: domain.Internal, Message: "a stored event could not be read", Err: outage}}),
			domain.Unavailable, outage.Message},
		"an internal error caused by invalid data stays internal": {
			&domain.Error{Code: domain.Internal, Message: "a stored event could not be read", Err: domain.FieldErrorf("on", "not a date")},
			domain.Internal, "internal error"},
		"a conflict caused by an outage stays a conflict": {
			&domain.Error{Code: domain.Conflict, Message: "the case has changed", Err: outage},
			domain.Conflict, "the case has changed"},
		"an error of another type is internal": {errors.New("disk full"), domain.Internal, "internal error"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := domain.ErrorCode(c.err); got != c.code {
				t.Errorf("code %s, want %s", got, c.code)
			}
			if got := domain.ErrorMessage(c.err); got != c.message {
				t.Errorf("message %q, want %q", got, c.message)
			}
		})
	}
}
