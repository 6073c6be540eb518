package localfly

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// apiError is an error a handler wants the client to see as is, in Fly's
// {"error": "...", "status": "..."} shape. Any other error is reported as an
// opaque 500 and logged.
type apiError struct {
	status  int
	message string
	// code fills Fly's "status" field (e.g. insufficient_capacity), which
	// fly-go reads with flaps.GetErrorStatusCode.
	code string
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, message: fmt.Sprintf(format, args...)}
}

func errAppNotFound() *apiError     { return errorf(http.StatusNotFound, "app not found") }
func errMachineNotFound() *apiError { return errorf(http.StatusNotFound, "machine not found") }

type errorBody struct {
	Error  string `json:"error"`
	Status string `json:"status,omitempty"`
}

// handlerFunc is an HTTP handler that reports failure by returning an error,
// so the mapping to statuses lives in one place (writeError).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		s.log.ErrorContext(r.Context(), "localfly: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = errorf(http.StatusInternalServerError, "internal error")
	}
	writeJSON(w, ae.status, errorBody{Error: ae.message, Status: ae.code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v == nil {
		return
	}
	// The status line is already sent; a failed write means the client left.
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody decodes an optional JSON body into v. The spec check has already
// run, so a failure here is a shape the spec allows but fly-go's types do not.
func decodeBody(r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return errorf(http.StatusBadRequest, "invalid request body: %v", err)
	}
	return nil
}
