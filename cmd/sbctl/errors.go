package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"connectrpc.com/connect"

	"github.com/switchboardhq/switchboard/client"
)

// usageError is a mistake in how sbctl was called: exit code 2.
type usageError struct {
	err  error
	path string // the command's path, for the help hint
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// hintError is an error with advice on what to do next.
type hintError struct {
	msg, hint string
	// details are extra lines, such as field violations.
	details []string
}

func (e *hintError) Error() string { return e.msg }

// report prints err as one line plus a hint and returns the exit code.
func report(w io.Writer, err error, apiURL string) int {
	var uerr *usageError
	if errors.As(err, &uerr) {
		fmt.Fprintf(w, "error: %s\n", oneLine(uerr.err.Error()))
		fmt.Fprintf(w, "hint: run `%s --help` for usage\n", firstNonEmpty(uerr.path, "sbctl"))
		return 2
	}
	herr := explain(err, apiURL)
	fmt.Fprintf(w, "error: %s\n", oneLine(herr.msg))
	for _, d := range herr.details {
		fmt.Fprintf(w, "  %s\n", oneLine(d))
	}
	if herr.hint != "" {
		fmt.Fprintf(w, "hint: %s\n", herr.hint)
	}
	return 1
}

// explain turns any error into a message and a hint a person can act on.
func explain(err error, apiURL string) *hintError {
	var herr *hintError
	if errors.As(err, &herr) {
		return herr
	}
	if errors.Is(err, context.Canceled) {
		return &hintError{msg: "interrupted"}
	}
	var ferr *client.InstanceFailedError
	if errors.As(err, &ferr) {
		return &hintError{msg: ferr.Error(), hint: fmt.Sprintf("inspect it with `sbctl instance get %s`; delete it with `sbctl instance delete %s`", ferr.Instance.GetId(), ferr.Instance.GetId())}
	}
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		if errors.Is(err, context.DeadlineExceeded) {
			return &hintError{msg: "timed out", hint: "raise --timeout, or check the server"}
		}
		return &hintError{msg: err.Error()}
	}
	msg := cerr.Message()
	h := &hintError{msg: msg}
	switch cerr.Code() {
	case connect.CodeUnauthenticated:
		h.msg = "the API refused your credentials: " + msg
		h.hint = "log in again with `sbctl login` (API keys stop working once revoked or expired), or set SWITCHBOARD_TOKEN"
	case connect.CodePermissionDenied:
		h.hint = "your role in this organization does not allow this; ask an admin or owner"
	case connect.CodeNotFound:
		h.hint = "check the id; resources of organizations you are not in are reported as not found"
	case connect.CodeInvalidArgument:
		for _, v := range client.FieldViolations(err) {
			h.details = append(h.details, v.GetField()+": "+v.GetDescription())
		}
		h.hint = "fix the fields named above and try again"
	case connect.CodeAlreadyExists:
		h.hint = "the name is taken; choose another"
	case connect.CodeFailedPrecondition:
		h.hint = "the resource changed or is in the wrong state; fetch it again (for configs: `sbctl config diff`) and retry"
	case connect.CodeResourceExhausted:
		h.hint = "a quota or rate limit was hit; wait a moment, or delete what you no longer need"
	case connect.CodeUnavailable:
		h.msg = "cannot reach the Switchboard API at " + apiURL + ": " + msg
		h.hint = "check that the server is running, and --api-url or SWITCHBOARD_API_URL"
	case connect.CodeUnimplemented:
		h.msg = "the API at " + apiURL + " does not support this yet: " + msg
		h.hint = "upgrade the Switchboard server, or check --api-url"
	case connect.CodeDeadlineExceeded:
		h.hint = "raise --timeout, or try again"
	default:
		h.hint = "try again; if it keeps failing, report it with the time it happened"
	}
	if h.msg == "" {
		h.msg = cerr.Code().String()
	}
	return h
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
