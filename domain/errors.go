package domain

import (
	"errors"
	"fmt"
)

// Code classifies an Error so that every interface (HTTP, CLI) can answer it the
// same way. The set is small on purpose.
type Code string

// The error codes. The api package maps each to one HTTP status.
const (
	Invalid      Code = "invalid"
	NotFound     Code = "not_found"
	Conflict     Code = "conflict"
	Forbidden    Code = "forbidden"
	Unauthorized Code = "unauthorized"
	Internal     Code = "internal"
	// TooMany says a caller sent more requests than it may in a while.
	TooMany Code = "too_many_requests"
	// Unavailable says a service the step needs (the email service that
	// sends an invitation, the event store during a leader election) did
	// not answer in time: the same request may succeed later. It shows
	// through an internal error that wraps it (see ErrorCode).
	Unavailable Code = "unavailable"
)

// Error is the one error type of the project. Message is safe to show to a
// user; Field names the input at fault when there is one; Err keeps the
// underlying cause for logs and is never shown.
type Error struct {
	Code    Code
	Field   string
	Message string
	Err     error
}

// Error returns the user-facing message, prefixed by the field when known.
func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf builds an invalid-input Error naming the field at fault.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// answer is the Error an interface answers err with: the outermost one,
// unless that is internal and caused by a service that did not answer. A
// step that could not read the case because the store is electing a leader
// is worth trying again, and its caller should be told so (503 with
// Retry-After, not 500).
func answer(err error) (*Error, bool) {
	var e *Error
	if !errors.As(err, &e) {
		return nil, false
	}
	for cause := e; cause.Code == Internal; {
		if !errors.As(cause.Err, &cause) {
			break
		}
		if cause.Code == Unavailable {
			return cause, true
		}
	}
	return e, true
}

// ErrorCode returns the Code of err, or Internal when err is not an *Error.
func ErrorCode(err error) Code {
	if e, ok := answer(err); ok {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the user-facing message of err; errors that are not an
// *Error are internal and their text is hidden.
func ErrorMessage(err error) string {
	if e, ok := answer(err); ok && e.Code != Internal {
		return e.Error()
	}
	return "internal error"
}

// withFieldPrefix returns err with its field nested under prefix, for data
// checked inside another command's data (a correction's "data.data").
func withFieldPrefix(err error, prefix string) error {
	var e *Error
	if errors.As(err, &e) && e.Field != "" {
		c := *e
		c.Field = prefix + e.Field
		return &c
	}
	return err
}
