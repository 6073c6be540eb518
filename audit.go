package switchboard

import (
	"context"
	"time"
)

// AuditEvent records one mutation: who, what, on which resource.
type AuditEvent struct {
	ID             string
	OrganizationID string
	Actor          string
	Action         string
	ResourceID     string
	Details        map[string]any
	CreatedAt      time.Time
}

// AuditService reads the audit trail.
type AuditService interface {
	ListAuditEvents(ctx context.Context, orgID string, page PageRequest) ([]*AuditEvent, string, error)
}
