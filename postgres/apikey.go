package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboardhq/switchboard"
)

// APIKeyService implements switchboard.APIKeyService.
type APIKeyService struct{ *DB }

var _ switchboard.APIKeyService = (*APIKeyService)(nil)

const apiKeyColumns = `id, organization_id, name, role, prefix, created_by, created_at, last_used_at, expires_at, revoked_at`

func scanAPIKey(row pgx.CollectableRow) (*switchboard.APIKey, error) {
	k := &switchboard.APIKey{}
	var role string
	err := row.Scan(&k.ID, &k.OrganizationID, &k.Name, &role, &k.Prefix, &k.CreatedBy, &k.CreatedAt, &k.LastUsedAt, &k.ExpiresAt, &k.RevokedAt)
	k.Role = switchboard.ParseRole(role)
	return k, err
}

// CreateAPIKey creates a key and returns its secret once. Admin or owner, and
// never with a role above the caller's own.
func (s *APIKeyService) CreateAPIKey(ctx context.Context, orgID, name string, role switchboard.Role, expiresAt *time.Time) (*switchboard.APIKey, string, error) {
	var v switchboard.Violations
	v.CheckID("organization_id", switchboard.PrefixOrganization, orgID)
	v.CheckName("name", name, 100)
	if role == switchboard.RoleUnknown {
		role = switchboard.RoleMember
	}
	v.CheckRole("role", role)
	now := s.now()
	if expiresAt != nil && !expiresAt.After(now) {
		v.Add("expire_time", "must be in the future")
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	key := &switchboard.APIKey{ID: switchboard.NewID(switchboard.PrefixAPIKey, now), OrganizationID: orgID, Name: name,
		Role: role, CreatedAt: now, ExpiresAt: expiresAt}
	secret := switchboard.NewToken(switchboard.TokenAPIKey, key.ID)
	key.Prefix = switchboard.TokenPrefix(secret)
	hash := switchboard.HashToken(secret)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		p, callerRole, err := authorize(ctx, tx, orgID, switchboard.RoleAdmin)
		if err != nil {
			return err
		}
		if role > callerRole {
			return switchboard.Errorf(switchboard.EFORBIDDEN, "a key cannot have a higher role (%s) than its creator (%s)", role, callerRole)
		}
		key.CreatedBy = p.UserID
		_, err = tx.Exec(ctx, `INSERT INTO api_keys (id, organization_id, name, role, prefix, secret_hash, created_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			key.ID, orgID, name, role.String(), key.Prefix, hash[:], p.UserID, now, expiresAt)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, p.Actor(), "api_key.create", key.ID, map[string]any{"name": name, "role": role.String()})
	})
	if err != nil {
		return nil, "", err
	}
	return key, secret, nil
}

// ListAPIKeys lists an organization's keys, newest first. Admin or owner.
func (s *APIKeyService) ListAPIKeys(ctx context.Context, orgID string, req switchboard.PageRequest) ([]*switchboard.APIKey, string, error) {
	var v switchboard.Violations
	v.CheckID("organization_id", switchboard.PrefixOrganization, orgID)
	page := v.CheckPage(req)
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	if _, _, err := authorize(ctx, s.Pool, orgID, switchboard.RoleAdmin); err != nil {
		return nil, "", err
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE organization_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, orgID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", err
	}
	keys, err := pgx.CollectRows(rows, scanAPIKey)
	if err != nil {
		return nil, "", err
	}
	keys, next := pageOf(keys, page.Limit, func(k *switchboard.APIKey) string { return k.ID })
	return keys, next, nil
}

// RevokeAPIKey revokes a key; it fails on its next request. Admin or owner.
func (s *APIKeyService) RevokeAPIKey(ctx context.Context, id string) (*switchboard.APIKey, error) {
	var v switchboard.Violations
	v.CheckID("id", switchboard.PrefixAPIKey, id)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var key *switchboard.APIKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1 FOR UPDATE`, id)
		if err != nil {
			return err
		}
		if key, err = pgx.CollectExactlyOneRow(rows, scanAPIKey); err != nil {
			return mapErr(err, "API key")
		}
		p, _, err := authorize(ctx, tx, key.OrganizationID, switchboard.RoleAdmin)
		if err != nil {
			if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
				return switchboard.Errorf(switchboard.ENOTFOUND, "API key not found")
			}
			return err
		}
		if key.RevokedAt != nil {
			return nil // revoking twice is harmless
		}
		now := s.now()
		key.RevokedAt = &now
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1`, id, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, key.OrganizationID, p.Actor(), "api_key.revoke", id, nil)
	})
	if err != nil {
		return nil, err
	}
	return key, nil
}
