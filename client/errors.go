package client

import (
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// FieldViolations returns the field violations of an InvalidArgument error:
// which request field (a path such as "services[2].timeout_ms") broke which
// rule. It returns nil for any other error.
func FieldViolations(err error) []*errdetails.BadRequest_FieldViolation {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		return nil
	}
	var out []*errdetails.BadRequest_FieldViolation
	for _, d := range cerr.Details() {
		v, derr := d.Value()
		if derr != nil {
			continue
		}
		if br, ok := v.(*errdetails.BadRequest); ok {
			out = append(out, br.GetFieldViolations()...)
		}
	}
	return out
}
