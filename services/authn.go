package services

import (
	"context"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/gen/switchboard/v1/switchboardv1connect"
)

// public procedures need no credentials.
var public = map[string]bool{
	switchboardv1connect.AuthServiceSignUpProcedure: true,
	switchboardv1connect.AuthServiceLogInProcedure:  true,
	// Data planes authenticate with their own token inside the handler.
	switchboardv1connect.DataPlaneServiceReportStatusProcedure: true,
}

// authInterceptor resolves the bearer token into a principal. Every
// procedure except the public ones requires one.
type authInterceptor struct{ auth switchboard.AuthService }

func (i authInterceptor) authenticate(ctx context.Context, procedure, peer string, h http.Header) (context.Context, error) {
	if public[procedure] {
		return withClientAddr(ctx, peer), nil
	}
	token, ok := bearer(h)
	if !ok {
		return nil, switchboard.Errorf(switchboard.EUNAUTHENTICATED, "missing credentials: send Authorization: Bearer <session token or API key>")
	}
	p, err := i.auth.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	p.ClientAddr = peer
	return switchboard.NewContextWithPrincipal(ctx, p), nil
}

func (i authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, err := i.authenticate(ctx, req.Spec().Procedure, req.Peer().Addr, req.Header())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.authenticate(ctx, conn.Spec().Procedure, conn.Peer().Addr, conn.RequestHeader())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

func bearer(h http.Header) (string, bool) {
	v := h.Get("Authorization")
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return strings.TrimSpace(token), true
}

type clientAddrKey struct{}

func withClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// clientAddr is the caller's host, without the port, so one client's
// connections share one rate limit.
func clientAddr(ctx context.Context) string {
	addr, _ := ctx.Value(clientAddrKey{}).(string)
	if i := strings.LastIndexByte(addr, ':'); i > 0 && !strings.HasSuffix(addr, "]") {
		addr = addr[:i]
	}
	return addr
}
