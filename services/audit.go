package services

import (
	"context"

	"github.com/switchboardhq/switchboard"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// AuditHandler serves switchboard.v1.AuditService.
type AuditHandler struct{ Audit switchboard.AuditService }

func (h *AuditHandler) ListAuditEvents(ctx context.Context, req *switchboardv1.ListAuditEventsRequest) (*switchboardv1.ListAuditEventsResponse, error) {
	events, next, err := h.Audit.ListAuditEvents(ctx, req.OrganizationId, page(req.PageSize, req.PageToken))
	if err != nil {
		return nil, err
	}
	return &switchboardv1.ListAuditEventsResponse{AuditEvents: mapSlice(events, auditEventToProto), NextPageToken: next}, nil
}
