package services

import (
	"context"
	"errors"
	"log/slog"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/switchboardhq/switchboard"
)

// codes maps domain error codes to Connect codes: the one table.
var codes = map[string]connect.Code{
	switchboard.EINVALID:         connect.CodeInvalidArgument,
	switchboard.ENOTFOUND:        connect.CodeNotFound,
	switchboard.ECONFLICT:        connect.CodeAlreadyExists,
	switchboard.EPRECONDITION:    connect.CodeFailedPrecondition,
	switchboard.EQUOTA:           connect.CodeResourceExhausted,
	switchboard.ERATELIMITED:     connect.CodeResourceExhausted,
	switchboard.EUNAUTHENTICATED: connect.CodeUnauthenticated,
	switchboard.EFORBIDDEN:       connect.CodePermissionDenied,
	switchboard.EUNAVAILABLE:     connect.CodeUnavailable,
}

// toConnectError turns any error into what the client sees: domain errors
// with their code and field violations (as a google.rpc.BadRequest detail),
// everything else logged and returned as an opaque Internal error.
func toConnectError(ctx context.Context, logger *slog.Logger, procedure string, err error) error {
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		return cerr
	}
	if errors.Is(err, context.Canceled) {
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("deadline exceeded"))
	}
	var derr *switchboard.Error
	code, known := connect.Code(0), false
	if errors.As(err, &derr) {
		code, known = codes[derr.Code]
	}
	if !known {
		logger.ErrorContext(ctx, "internal error", "procedure", procedure, "err", err)
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	out := connect.NewError(code, errors.New(derr.Error()))
	if len(derr.Violations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range derr.Violations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Rule})
		}
		if detail, derr := connect.NewErrorDetail(br); derr == nil {
			out.AddDetail(detail)
		}
	}
	return out
}

// errorInterceptor applies toConnectError to every handler's error.
type errorInterceptor struct{ logger *slog.Logger }

func (i errorInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err != nil {
			return nil, toConnectError(ctx, i.logger, req.Spec().Procedure, err)
		}
		return res, nil
	}
}

func (errorInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i errorInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := next(ctx, conn); err != nil {
			return toConnectError(ctx, i.logger, conn.Spec().Procedure, err)
		}
		return nil
	}
}
