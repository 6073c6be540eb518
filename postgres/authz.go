package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/switchboardhq/switchboard"
)

// querier is what both the pool and a transaction offer.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// authorize returns the principal and its role in orgID, requiring at least
// min. An organization the principal cannot see, or that is deleted, is
// ENOTFOUND — never EFORBIDDEN — so ids of other tenants reveal nothing.
func authorize(ctx context.Context, q querier, orgID string, min switchboard.Role) (*switchboard.Principal, switchboard.Role, error) {
	p, err := switchboard.RequirePrincipal(ctx)
	if err != nil {
		return nil, 0, err
	}
	role, err := roleIn(ctx, q, p, orgID)
	if err != nil {
		return nil, 0, err
	}
	if !role.AtLeast(min) {
		return nil, 0, switchboard.Errorf(switchboard.EFORBIDDEN, "this needs the %s role or higher in the organization; yours is %s", min, role)
	}
	return p, role, nil
}

func roleIn(ctx context.Context, q querier, p *switchboard.Principal, orgID string) (switchboard.Role, error) {
	notFound := switchboard.Errorf(switchboard.ENOTFOUND, "organization not found")
	if p.APIKeyID != "" && p.KeyOrganizationID != orgID {
		return 0, notFound
	}
	var role string
	err := q.QueryRow(ctx, `SELECT m.role FROM memberships m JOIN organizations o ON o.id = m.organization_id
		WHERE m.organization_id = $1 AND m.user_id = $2 AND o.deleted_at IS NULL`, orgID, p.UserID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, notFound
	}
	if err != nil {
		return 0, err
	}
	r := switchboard.ParseRole(role)
	// A key never acts above its own role, nor above its creator's current one.
	if p.APIKeyID != "" && p.KeyRole < r {
		r = p.KeyRole
	}
	return r, nil
}
