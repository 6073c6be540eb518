package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/switchboardhq/switchboard"
)

// AuditService implements switchboard.AuditService.
type AuditService struct{ *DB }

var _ switchboard.AuditService = (*AuditService)(nil)

// ListAuditEvents lists events newest first. Admin or owner.
func (s *AuditService) ListAuditEvents(ctx context.Context, orgID string, req switchboard.PageRequest) ([]*switchboard.AuditEvent, string, error) {
	var v switchboard.Violations
	v.CheckID("organization_id", switchboard.PrefixOrganization, orgID)
	page := v.CheckPage(req)
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	if _, _, err := authorize(ctx, s.Pool, orgID, switchboard.RoleAdmin); err != nil {
		return nil, "", err
	}
	rows, err := s.Pool.Query(ctx, `SELECT id, organization_id, actor, action, resource_id, details, created_at FROM audit_events
		WHERE organization_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, orgID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", err
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*switchboard.AuditEvent, error) {
		e := &switchboard.AuditEvent{}
		err := r.Scan(&e.ID, &e.OrganizationID, &e.Actor, &e.Action, &e.ResourceID, &e.Details, &e.CreatedAt)
		return e, err
	})
	if err != nil {
		return nil, "", err
	}
	events, next := pageOf(events, page.Limit, func(e *switchboard.AuditEvent) string { return e.ID })
	return events, next, nil
}
