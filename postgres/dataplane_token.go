package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/switchboardhq/switchboard"
)

// DataPlaneTokenService implements switchboard.DataPlaneTokenService and
// switchboard.DataPlaneService.
type DataPlaneTokenService struct {
	*DB
	Instances *InstanceService
}

var (
	_ switchboard.DataPlaneTokenService = (*DataPlaneTokenService)(nil)
	_ switchboard.DataPlaneService      = (*DataPlaneTokenService)(nil)
)

// syncTokenRegistry enqueues the job that mirrors a token into S3's registry.
func (db *DB) syncTokenRegistry(ctx context.Context, tx pgx.Tx, tokenIDs ...string) error {
	for _, id := range tokenIDs {
		if _, err := db.Jobs.InsertTx(ctx, tx, switchboard.SyncTokenRegistryArgs{TokenID: id}, nil); err != nil {
			return fmt.Errorf("enqueue sync_token_registry: %w", err)
		}
	}
	return nil
}

const dataPlaneTokenColumns = `id, instance_id, name, prefix, created_by, created_at, last_used_at, revoked_at`

func scanDataPlaneToken(row pgx.CollectableRow) (*switchboard.DataPlaneToken, error) {
	t := &switchboard.DataPlaneToken{}
	err := row.Scan(&t.ID, &t.InstanceID, &t.Name, &t.Prefix, &t.CreatedBy, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt)
	return t, err
}

// CreateDataPlaneToken mints a token for a self-hosted (or extra) data
// plane. Member or above.
func (s *DataPlaneTokenService) CreateDataPlaneToken(ctx context.Context, instanceID, name string) (*switchboard.DataPlaneToken, string, error) {
	var v switchboard.Violations
	v.CheckID("instance_id", switchboard.PrefixInstance, instanceID)
	v.CheckName("name", name, 100)
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	now := s.now()
	tok := &switchboard.DataPlaneToken{ID: switchboard.NewID(switchboard.PrefixDataPlaneToken, now), InstanceID: instanceID, Name: name, CreatedAt: now}
	secret := switchboard.NewToken(switchboard.TokenDataPlane, tok.ID)
	tok.Prefix = switchboard.TokenPrefix(secret)
	hash := switchboard.HashToken(secret)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rec, p, err := s.Instances.loadAuthorized(ctx, tx, instanceID, switchboard.RoleMember, true)
		if err != nil {
			return err
		}
		if rec.State == switchboard.StateDeleting || rec.State == switchboard.StateDeleted {
			return switchboard.Errorf(switchboard.EPRECONDITION, "instance %s is %s", instanceID, rec.State)
		}
		tok.CreatedBy = p.Actor()
		if _, err := tx.Exec(ctx, `INSERT INTO data_plane_tokens (id, instance_id, name, prefix, secret_hash, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, tok.ID, instanceID, name, tok.Prefix, hash[:], tok.CreatedBy, now); err != nil {
			return err
		}
		if err := s.syncTokenRegistry(ctx, tx, tok.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, rec.OrganizationID, p.Actor(), "data_plane_token.create", tok.ID, map[string]any{"instance_id": instanceID, "name": name})
	})
	if err != nil {
		return nil, "", err
	}
	return tok, secret, nil
}

// ListDataPlaneTokens lists an instance's tokens, newest first. Viewer or above.
func (s *DataPlaneTokenService) ListDataPlaneTokens(ctx context.Context, instanceID string, req switchboard.PageRequest) ([]*switchboard.DataPlaneToken, string, error) {
	var v switchboard.Violations
	v.CheckID("instance_id", switchboard.PrefixInstance, instanceID)
	page := v.CheckPage(req)
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	if _, _, err := s.Instances.loadAuthorized(ctx, nil, instanceID, switchboard.RoleViewer, false); err != nil {
		return nil, "", err
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+dataPlaneTokenColumns+` FROM data_plane_tokens
		WHERE instance_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, instanceID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", err
	}
	toks, err := pgx.CollectRows(rows, scanDataPlaneToken)
	if err != nil {
		return nil, "", err
	}
	toks, next := pageOf(toks, page.Limit, func(t *switchboard.DataPlaneToken) string { return t.ID })
	return toks, next, nil
}

// RevokeDataPlaneToken revokes a token: at once at the API, and at the CDN
// once sync_token_registry deletes its registry object (within seconds,
// plus the CDN's ≤ 10 s cache). Member or above.
func (s *DataPlaneTokenService) RevokeDataPlaneToken(ctx context.Context, id string) (*switchboard.DataPlaneToken, error) {
	var v switchboard.Violations
	v.CheckID("id", switchboard.PrefixDataPlaneToken, id)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var tok *switchboard.DataPlaneToken
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+dataPlaneTokenColumns+` FROM data_plane_tokens WHERE id = $1 FOR UPDATE`, id)
		if err != nil {
			return err
		}
		if tok, err = pgx.CollectExactlyOneRow(rows, scanDataPlaneToken); err != nil {
			return mapErr(err, "data-plane token")
		}
		rec, p, err := s.Instances.loadAuthorized(ctx, tx, tok.InstanceID, switchboard.RoleMember, false)
		if err != nil {
			if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
				return switchboard.Errorf(switchboard.ENOTFOUND, "data-plane token not found")
			}
			return err
		}
		if tok.RevokedAt != nil {
			return nil
		}
		now := s.now()
		tok.RevokedAt = &now
		if _, err := tx.Exec(ctx, `UPDATE data_plane_tokens SET revoked_at = $2 WHERE id = $1`, id, now); err != nil {
			return err
		}
		if err := s.syncTokenRegistry(ctx, tx, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, rec.OrganizationID, p.Actor(), "data_plane_token.revoke", id, map[string]any{"instance_id": tok.InstanceID})
	})
	if err != nil {
		return nil, err
	}
	return tok, nil
}

var errBadDataPlaneToken = switchboard.Errorf(switchboard.EUNAUTHENTICATED, "the data-plane token is invalid or revoked")

// ReportStatus records a node's report, authenticated by its data-plane
// token, which must belong to the reported instance.
func (s *DataPlaneTokenService) ReportStatus(ctx context.Context, token string, st switchboard.NodeStatus) error {
	pt, ok := switchboard.ParseToken(token)
	if !ok || pt.Kind != switchboard.TokenDataPlane {
		return errBadDataPlaneToken
	}
	var v switchboard.Violations
	v.CheckID("instance_id", switchboard.PrefixInstance, st.InstanceID)
	v.CheckName("node_id", st.NodeID, 100)
	if st.AppliedVersion < 0 {
		v.Add("applied_version", "must not be negative")
	}
	if len(st.LastError) > 4096 {
		v.Add("last_error", "must be at most 4096 bytes")
	}
	if len(st.AgentVersion) > 100 {
		v.Add("agent_version", "must be at most 100 bytes")
	}
	if len(st.BreakerStates) > 100 {
		v.Add("breaker_states", "must have at most 100 entries")
	}
	var instanceID string
	var stored []byte
	err := s.Pool.QueryRow(ctx, `SELECT t.instance_id, t.secret_hash FROM data_plane_tokens t JOIN instances i ON i.id = t.instance_id
		WHERE t.id = $1 AND t.revoked_at IS NULL AND i.state <> 'deleted'`, pt.ID).Scan(&instanceID, &stored)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !switchboard.TokenMatches(pt.Hash, stored)) {
		return errBadDataPlaneToken
	}
	if err != nil {
		return err
	}
	if err := v.Err(); err != nil {
		return err
	}
	if st.InstanceID != instanceID {
		return switchboard.Errorf(switchboard.ENOTFOUND, "instance not found")
	}
	now := s.now()
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO data_plane_nodes (instance_id, node_id, applied_version, last_seen_at, last_sync_at, last_error, agent_version, breaker_states)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (instance_id, node_id) DO UPDATE SET applied_version = excluded.applied_version, last_seen_at = excluded.last_seen_at,
				last_sync_at = excluded.last_sync_at, last_error = excluded.last_error, agent_version = excluded.agent_version,
				breaker_states = excluded.breaker_states`,
			instanceID, st.NodeID, st.AppliedVersion, now, st.LastSyncAt, st.LastError, st.AgentVersion, breakerStatesJSON(st.BreakerStates)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE data_plane_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')`, pt.ID, now)
		return err
	})
}

// breakerStatesJSON is how node breaker states are stored.
func breakerStatesJSON(m map[string]string) []byte {
	if m == nil {
		m = map[string]string{}
	}
	b, _ := json.Marshal(m)
	return b
}
