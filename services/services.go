// Package services serves the public Connect API (Connect, gRPC and
// gRPC-Web): handlers convert between proto and domain types, and
// interceptors authenticate callers and map domain errors to Connect codes.
// It depends only on the domain interfaces; cmd/ wires the implementations.
package services

import (
	"log/slog"
	"net/http"

	"connectrpc.com/connect"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/compile"
	"github.com/switchboardhq/switchboard/gen/switchboard/v1/switchboardv1connect"
)

// MaxRequestBytes bounds every request message.
const MaxRequestBytes = 1 << 20

// Params are the services the API serves. Nil services are not mounted.
type Params struct {
	Logger        *slog.Logger
	Auth          switchboard.AuthService
	Organizations switchboard.OrganizationService
	APIKeys       switchboard.APIKeyService
	Audit         switchboard.AuditService
	Instances     switchboard.InstanceService
	Configs       switchboard.ConfigService
	Tokens        switchboard.DataPlaneTokenService
	DataPlanes    switchboard.DataPlaneService
	// Compile is the deployment's config policy (e.g. private upstreams).
	Compile compile.Options
	// CDNURL and TrustedKeys are handed to self-hosted data planes.
	CDNURL      string
	TrustedKeys compile.TrustedKeys
}

// NewHandler returns the API's http.Handler.
func NewHandler(p Params) http.Handler {
	opts := []connect.HandlerOption{
		connect.WithInterceptors(errorInterceptor{logger: p.Logger}, authInterceptor{auth: p.Auth}),
		connect.WithReadMaxBytes(MaxRequestBytes),
	}
	mux := http.NewServeMux()
	mux.Handle(switchboardv1connect.NewAuthServiceHandler(&AuthHandler{Auth: p.Auth}, opts...))
	mux.Handle(switchboardv1connect.NewOrganizationServiceHandler(&OrganizationHandler{Orgs: p.Organizations}, opts...))
	mux.Handle(switchboardv1connect.NewAPIKeyServiceHandler(&APIKeyHandler{Keys: p.APIKeys}, opts...))
	mux.Handle(switchboardv1connect.NewAuditServiceHandler(&AuditHandler{Audit: p.Audit}, opts...))
	if p.Instances != nil {
		mux.Handle(switchboardv1connect.NewInstanceServiceHandler(&InstanceHandler{Instances: p.Instances}, opts...))
	}
	if p.Configs != nil {
		strict := append([]connect.HandlerOption{connect.WithCodec(strictJSON{})}, opts...)
		mux.Handle(switchboardv1connect.NewConfigServiceHandler(&ConfigHandler{Configs: p.Configs, Compile: p.Compile}, strict...))
	}
	if p.Tokens != nil {
		mux.Handle(switchboardv1connect.NewDataPlaneTokenServiceHandler(&DataPlaneTokenHandler{
			Tokens: p.Tokens, CDNURL: p.CDNURL, TrustedKeys: p.TrustedKeys,
		}, opts...))
	}
	if p.DataPlanes != nil {
		mux.Handle(switchboardv1connect.NewDataPlaneServiceHandler(&DataPlaneHandler{DataPlanes: p.DataPlanes}, opts...))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return http.MaxBytesHandler(mux, 2*MaxRequestBytes)
}
