package services

import (
	"context"
	"time"

	"github.com/switchboardhq/switchboard"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// APIKeyHandler serves switchboard.v1.APIKeyService.
type APIKeyHandler struct{ Keys switchboard.APIKeyService }

func (h *APIKeyHandler) CreateAPIKey(ctx context.Context, req *switchboardv1.CreateAPIKeyRequest) (*switchboardv1.CreateAPIKeyResponse, error) {
	var expires *time.Time
	if req.ExpireTime != nil {
		if err := req.ExpireTime.CheckValid(); err != nil {
			return nil, switchboard.Invalid("expire_time", "must be a valid timestamp")
		}
		t := req.ExpireTime.AsTime()
		expires = &t
	}
	k, secret, err := h.Keys.CreateAPIKey(ctx, req.OrganizationId, req.Name, roleFromProto(req.Role), expires)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.CreateAPIKeyResponse{ApiKey: apiKeyToProto(k), Secret: secret}, nil
}

func (h *APIKeyHandler) ListAPIKeys(ctx context.Context, req *switchboardv1.ListAPIKeysRequest) (*switchboardv1.ListAPIKeysResponse, error) {
	keys, next, err := h.Keys.ListAPIKeys(ctx, req.OrganizationId, page(req.PageSize, req.PageToken))
	if err != nil {
		return nil, err
	}
	return &switchboardv1.ListAPIKeysResponse{ApiKeys: mapSlice(keys, apiKeyToProto), NextPageToken: next}, nil
}

func (h *APIKeyHandler) RevokeAPIKey(ctx context.Context, req *switchboardv1.RevokeAPIKeyRequest) (*switchboardv1.RevokeAPIKeyResponse, error) {
	k, err := h.Keys.RevokeAPIKey(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return &switchboardv1.RevokeAPIKeyResponse{ApiKey: apiKeyToProto(k)}, nil
}
