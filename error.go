package switchboard

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. services/error.go maps each to one Connect code.
const (
	EINVALID         = "invalid"
	ENOTFOUND        = "not_found"
	ECONFLICT        = "conflict"
	EPRECONDITION    = "precondition"
	EQUOTA           = "quota"
	EUNAUTHENTICATED = "unauthenticated"
	EFORBIDDEN       = "forbidden"
	EUNAVAILABLE     = "unavailable"
	ERATELIMITED     = "rate_limited"
	EINTERNAL        = "internal"
)

// Error is a failure the caller may see. Any other error is reported as an
// opaque internal error and logged.
type Error struct {
	Code    string
	Message string
	// Violations names each invalid field; set with Code EINVALID.
	Violations []FieldViolation
}

// FieldViolation is one invalid field: its path (`services[2].timeout_ms`)
// and the rule it broke, in words.
type FieldViolation struct {
	Field string
	Rule  string
}

func (e *Error) Error() string {
	if len(e.Violations) == 0 {
		return e.Message
	}
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Rule
	}
	if e.Message == "" {
		return strings.Join(parts, "; ")
	}
	return e.Message + ": " + strings.Join(parts, "; ")
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic one for internal errors.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "internal error"
}

// Violations collects field violations while validating input.
type Violations []FieldViolation

// Add records that field broke rule.
func (v *Violations) Add(field, rule string) {
	*v = append(*v, FieldViolation{Field: field, Rule: rule})
}

// Addf records a violation with a formatted rule.
func (v *Violations) Addf(field, format string, args ...any) {
	v.Add(field, fmt.Sprintf(format, args...))
}

// Err returns an EINVALID *Error carrying the violations, or nil if none.
func (v Violations) Err() error {
	if len(v) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "invalid argument", Violations: v}
}

// Invalid returns an EINVALID error for one field.
func Invalid(field, rule string) error {
	return Violations{{Field: field, Rule: rule}}.Err()
}
