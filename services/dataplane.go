package services

import (
	"context"
	"sort"

	"connectrpc.com/connect"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/compile"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// DataPlaneTokenHandler serves switchboard.v1.DataPlaneTokenService.
type DataPlaneTokenHandler struct {
	Tokens switchboard.DataPlaneTokenService
	// CDNURL and TrustedKeys are what a self-hosted data plane needs besides its token.
	CDNURL      string
	TrustedKeys compile.TrustedKeys
}

func dataPlaneTokenToProto(t *switchboard.DataPlaneToken) *switchboardv1.DataPlaneToken {
	return &switchboardv1.DataPlaneToken{
		Id: t.ID, InstanceId: t.InstanceID, Name: t.Name, Prefix: t.Prefix, CreatedBy: t.CreatedBy,
		CreateTime: ts(t.CreatedAt), LastUsedTime: tsp(t.LastUsedAt), RevokeTime: tsp(t.RevokedAt),
	}
}

func (h *DataPlaneTokenHandler) CreateDataPlaneToken(ctx context.Context, req *switchboardv1.CreateDataPlaneTokenRequest) (*switchboardv1.CreateDataPlaneTokenResponse, error) {
	t, secret, err := h.Tokens.CreateDataPlaneToken(ctx, req.InstanceId, req.Name)
	if err != nil {
		return nil, err
	}
	res := &switchboardv1.CreateDataPlaneTokenResponse{Token: dataPlaneTokenToProto(t), Secret: secret, CdnUrl: h.CDNURL}
	ids := make([]string, 0, len(h.TrustedKeys))
	for id := range h.TrustedKeys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		res.TrustedKeys = append(res.TrustedKeys, &switchboardv1.TrustedKey{KeyId: id, PublicKey: h.TrustedKeys[id]})
	}
	return res, nil
}

func (h *DataPlaneTokenHandler) ListDataPlaneTokens(ctx context.Context, req *switchboardv1.ListDataPlaneTokensRequest) (*switchboardv1.ListDataPlaneTokensResponse, error) {
	toks, next, err := h.Tokens.ListDataPlaneTokens(ctx, req.InstanceId, page(req.PageSize, req.PageToken))
	if err != nil {
		return nil, err
	}
	return &switchboardv1.ListDataPlaneTokensResponse{Tokens: mapSlice(toks, dataPlaneTokenToProto), NextPageToken: next}, nil
}

func (h *DataPlaneTokenHandler) RevokeDataPlaneToken(ctx context.Context, req *switchboardv1.RevokeDataPlaneTokenRequest) (*switchboardv1.RevokeDataPlaneTokenResponse, error) {
	t, err := h.Tokens.RevokeDataPlaneToken(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.RevokeDataPlaneTokenResponse{Token: dataPlaneTokenToProto(t)}, nil
}

// DataPlaneHandler serves switchboard.v1.DataPlaneService. Its callers use
// data-plane tokens, which the auth interceptor does not resolve.
type DataPlaneHandler struct{ DataPlanes switchboard.DataPlaneService }

func (h *DataPlaneHandler) ReportStatus(ctx context.Context, req *switchboardv1.ReportStatusRequest) (*switchboardv1.ReportStatusResponse, error) {
	info, ok := connect.CallInfoForHandlerContext(ctx)
	var token string
	if ok {
		token, ok = bearer(info.RequestHeader())
	}
	if !ok {
		return nil, switchboard.Errorf(switchboard.EUNAUTHENTICATED, "missing credentials: send Authorization: Bearer <data-plane token>")
	}
	st := switchboard.NodeStatus{
		InstanceID: req.InstanceId, NodeID: req.NodeId, AppliedVersion: req.AppliedVersion, LastError: req.LastError,
		AgentVersion: req.AgentVersion, BreakerStates: map[string]string{},
	}
	if req.LastSyncTime != nil {
		t := req.LastSyncTime.AsTime()
		st.LastSyncAt = &t
	}
	for _, b := range req.BreakerStates {
		st.BreakerStates[b.Service] = b.State
	}
	return &switchboardv1.ReportStatusResponse{}, h.DataPlanes.ReportStatus(ctx, token, st)
}
