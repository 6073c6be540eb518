package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/switchboardhq/switchboard"
)

// ConfigService implements switchboard.ConfigService and the PublishStore
// the publish_config worker uses.
type ConfigService struct {
	*DB
	Instances *InstanceService
}

var (
	_ switchboard.ConfigService = (*ConfigService)(nil)
	_ switchboard.PublishStore  = (*ConfigService)(nil)
)

// publishOpts enqueue publish_config without River uniqueness: a unique job
// stays "running" until River's completer flushes it, so an update landing
// in that window would be dropped. The worker coalesces instead: each job
// publishes the latest version under a per-instance lock, and jobs that find
// it already published return at once, so a burst still yields one artifact.
var publishOpts *river.InsertOpts

func checkInstanceID(id string) error {
	var v switchboard.Violations
	v.CheckID("instance_id", switchboard.PrefixInstance, id)
	return v.Err()
}

// access loads the instance for a config RPC with the caller's role checked.
func (s *ConfigService) access(ctx context.Context, tx pgx.Tx, instanceID string, min switchboard.Role, lock bool) (*switchboard.InstanceRecord, *switchboard.Principal, error) {
	if err := checkInstanceID(instanceID); err != nil {
		return nil, nil, err
	}
	rec, p, err := s.Instances.loadAuthorized(ctx, tx, instanceID, min, lock)
	if err != nil {
		return nil, nil, err
	}
	if rec.State == switchboard.StateDeleting || rec.State == switchboard.StateDeleted {
		return nil, nil, switchboard.Errorf(switchboard.EPRECONDITION, "instance %s is %s", instanceID, rec.State)
	}
	return rec, p, nil
}

const configColumns = `v.instance_id, v.version, i.kind, v.spec, v.created_by, v.created_at, i.published_version`

func scanConfig(row pgx.CollectableRow) (*switchboard.ConfigVersion, error) {
	c := &switchboard.ConfigVersion{}
	err := row.Scan(&c.InstanceID, &c.Version, &c.Kind, &c.Spec, &c.CreatedBy, &c.CreatedAt, &c.PublishedVersion)
	return c, err
}

func (s *ConfigService) latest(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, rec *switchboard.InstanceRecord, configVersion int64) (*switchboard.ConfigVersion, error) {
	rows, err := q.Query(ctx, `SELECT `+configColumns+` FROM config_versions v JOIN instances i ON i.id = v.instance_id
		WHERE v.instance_id = $1 AND v.version = $2`, rec.ID, configVersion)
	if err != nil {
		return nil, err
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanConfig)
	if errors.Is(err, pgx.ErrNoRows) {
		return &switchboard.ConfigVersion{InstanceID: rec.ID, Kind: rec.Kind}, nil
	}
	return c, err
}

// CheckConfigAccess returns the instance when the caller may edit its config.
func (s *ConfigService) CheckConfigAccess(ctx context.Context, instanceID string) (*switchboard.Instance, error) {
	rec, _, err := s.access(ctx, nil, instanceID, switchboard.RoleMember, false)
	if err != nil {
		return nil, err
	}
	return rec.Instance, nil
}

// GetConfig returns the latest version. Viewer or above.
func (s *ConfigService) GetConfig(ctx context.Context, instanceID string) (*switchboard.ConfigVersion, error) {
	rec, _, err := s.access(ctx, nil, instanceID, switchboard.RoleViewer, false)
	if err != nil {
		return nil, err
	}
	var version int64
	if err := s.Pool.QueryRow(ctx, `SELECT config_version FROM instances WHERE id = $1`, instanceID).Scan(&version); err != nil {
		return nil, err
	}
	return s.latest(ctx, s.Pool, rec, version)
}

// UpdateConfig stores a new version when base_version is current, and
// enqueues its publication, in one transaction. Member or above.
func (s *ConfigService) UpdateConfig(ctx context.Context, in switchboard.UpdateConfigInput) (*switchboard.ConfigVersion, error) {
	var v switchboard.Violations
	v.CheckID("instance_id", switchboard.PrefixInstance, in.InstanceID)
	if in.BaseVersion < 0 {
		v.Add("base_version", "must not be negative")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *switchboard.ConfigVersion
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rec, p, err := s.access(ctx, tx, in.InstanceID, switchboard.RoleMember, true)
		if err != nil {
			return err
		}
		if in.Kind != rec.Kind {
			return switchboard.Invalid(string(in.Kind), fmt.Sprintf("instance %s is a %s instance; send a %s config", rec.ID, rec.Kind, rec.Kind))
		}
		var current int64
		if err := tx.QueryRow(ctx, `SELECT config_version FROM instances WHERE id = $1`, rec.ID).Scan(&current); err != nil {
			return err
		}
		if in.BaseVersion != current {
			return switchboard.Errorf(switchboard.EPRECONDITION,
				"base_version %d is stale: the config is at version %d; fetch it, reapply your change and retry", in.BaseVersion, current)
		}
		cur, err := s.latest(ctx, tx, rec, current)
		if err != nil {
			return err
		}
		spec, err := in.Prepare(cur.Spec)
		if err != nil {
			return err
		}
		out, err = s.insertVersion(ctx, tx, rec, p, current+1, spec, "config.update", nil)
		return err
	})
	return out, err
}

func (s *ConfigService) insertVersion(ctx context.Context, tx pgx.Tx, rec *switchboard.InstanceRecord, p *switchboard.Principal,
	version int64, spec []byte, action string, details map[string]any) (*switchboard.ConfigVersion, error) {
	now := s.now()
	if _, err := tx.Exec(ctx, `INSERT INTO config_versions (instance_id, version, spec, created_by, created_at) VALUES ($1, $2, $3, $4, $5)`,
		rec.ID, version, spec, p.Actor(), now); err != nil {
		return nil, mapErr(err, "config version")
	}
	var published int64
	if err := tx.QueryRow(ctx, `UPDATE instances SET config_version = $2, updated_at = $3 WHERE id = $1 RETURNING published_version`,
		rec.ID, version, now).Scan(&published); err != nil {
		return nil, err
	}
	if _, err := s.Jobs.InsertTx(ctx, tx, switchboard.PublishConfigArgs{InstanceID: rec.ID}, publishOpts); err != nil {
		return nil, fmt.Errorf("enqueue publish_config: %w", err)
	}
	if details == nil {
		details = map[string]any{}
	}
	details["version"] = version
	if err := s.audit(ctx, tx, rec.OrganizationID, p.Actor(), action, rec.ID, details); err != nil {
		return nil, err
	}
	return &switchboard.ConfigVersion{InstanceID: rec.ID, Version: version, Kind: rec.Kind, Spec: spec, CreatedBy: p.Actor(),
		CreatedAt: now, PublishedVersion: published}, nil
}

// ListConfigVersions lists versions newest first. Viewer or above.
func (s *ConfigService) ListConfigVersions(ctx context.Context, instanceID string, req switchboard.PageRequest) ([]*switchboard.ConfigVersion, string, error) {
	var v switchboard.Violations
	v.CheckID("instance_id", switchboard.PrefixInstance, instanceID)
	page := v.CheckPage(req)
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	if _, _, err := s.access(ctx, nil, instanceID, switchboard.RoleViewer, false); err != nil {
		return nil, "", err
	}
	var after int64
	if page.After != "" {
		if _, err := fmt.Sscanf(page.After, "%d", &after); err != nil || after <= 0 {
			return nil, "", switchboard.Invalid("page_token", "must be a next_page_token from a previous response")
		}
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+configColumns+` FROM config_versions v JOIN instances i ON i.id = v.instance_id
		WHERE v.instance_id = $1 AND ($2 = 0 OR v.version < $2) ORDER BY v.version DESC LIMIT $3`, instanceID, after, page.Limit+1)
	if err != nil {
		return nil, "", err
	}
	versions, err := pgx.CollectRows(rows, scanConfig)
	if err != nil {
		return nil, "", err
	}
	versions, next := pageOf(versions, page.Limit, func(c *switchboard.ConfigVersion) string { return fmt.Sprint(c.Version) })
	return versions, next, nil
}

// RollbackConfig makes a new version with an old version's content.
func (s *ConfigService) RollbackConfig(ctx context.Context, instanceID string, toVersion, baseVersion int64) (*switchboard.ConfigVersion, error) {
	var v switchboard.Violations
	v.CheckID("instance_id", switchboard.PrefixInstance, instanceID)
	if toVersion <= 0 {
		v.Add("to_version", "must be a positive version number")
	}
	if baseVersion < 0 {
		v.Add("base_version", "must not be negative")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out *switchboard.ConfigVersion
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rec, p, err := s.access(ctx, tx, instanceID, switchboard.RoleMember, true)
		if err != nil {
			return err
		}
		var current int64
		if err := tx.QueryRow(ctx, `SELECT config_version FROM instances WHERE id = $1`, rec.ID).Scan(&current); err != nil {
			return err
		}
		if baseVersion != 0 && baseVersion != current {
			return switchboard.Errorf(switchboard.EPRECONDITION, "base_version %d is stale: the config is at version %d", baseVersion, current)
		}
		var spec []byte
		err = tx.QueryRow(ctx, `SELECT spec FROM config_versions WHERE instance_id = $1 AND version = $2`, rec.ID, toVersion).Scan(&spec)
		if errors.Is(err, pgx.ErrNoRows) {
			return switchboard.Errorf(switchboard.ENOTFOUND, "instance %s has no config version %d", rec.ID, toVersion)
		}
		if err != nil {
			return err
		}
		out, err = s.insertVersion(ctx, tx, rec, p, current+1, spec, "config.rollback", map[string]any{"to_version": toVersion})
		return err
	})
	return out, err
}

// GetRollout returns the latest version and every node's last report.
func (s *ConfigService) GetRollout(ctx context.Context, instanceID string) (*switchboard.ConfigVersion, []*switchboard.RolloutNode, error) {
	c, err := s.GetConfig(ctx, instanceID)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.Pool.Query(ctx, `SELECT node_id, applied_version, last_seen_at, last_sync_at, last_error, agent_version
		FROM data_plane_nodes WHERE instance_id = $1 ORDER BY node_id LIMIT 1000`, instanceID)
	if err != nil {
		return nil, nil, err
	}
	nodes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*switchboard.RolloutNode, error) {
		n := &switchboard.RolloutNode{}
		err := r.Scan(&n.NodeID, &n.AppliedVersion, &n.LastSeenAt, &n.LastSyncAt, &n.LastError, &n.AgentVersion)
		return n, err
	})
	if err != nil {
		return nil, nil, err
	}
	return c, nodes, nil
}

// LatestConfig implements switchboard.PublishStore.
func (s *ConfigService) LatestConfig(ctx context.Context, instanceID string) (*switchboard.ConfigVersion, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+configColumns+` FROM config_versions v JOIN instances i ON i.id = v.instance_id
		WHERE v.instance_id = $1 AND v.version = i.config_version AND i.state NOT IN ('deleting', 'deleted')`, instanceID)
	if err != nil {
		return nil, err
	}
	c, err := pgx.CollectExactlyOneRow(rows, scanConfig)
	return c, mapErr(err, "config of instance "+instanceID)
}

// LockPublish takes a session advisory lock for the instance on its own
// connection, held until unlock.
func (s *ConfigService) LockPublish(ctx context.Context, instanceID string) (func(), error) {
	conn, err := s.Pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended('publish:' || $1, 0))`, instanceID); err != nil {
		conn.Release()
		return nil, fmt.Errorf("lock publish of %s: %w", instanceID, err)
	}
	return func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended('publish:' || $1, 0))`, instanceID)
		conn.Release()
	}, nil
}

// NextPublishSequence implements switchboard.PublishStore.
func (s *ConfigService) NextPublishSequence(ctx context.Context) (int64, error) {
	var n int64
	err := s.Pool.QueryRow(ctx, `SELECT nextval('publish_sequence')`).Scan(&n)
	return n, err
}

// MarkPublished implements switchboard.PublishStore; it never lowers the version.
func (s *ConfigService) MarkPublished(ctx context.Context, instanceID string, version int64) error {
	_, err := s.Pool.Exec(ctx, `UPDATE instances SET published_version = greatest(published_version, $2) WHERE id = $1`, instanceID, version)
	return err
}

// LoadTokenRegistryEntry implements switchboard.PublishStore.
func (s *ConfigService) LoadTokenRegistryEntry(ctx context.Context, tokenID string) (*switchboard.TokenRegistryEntry, error) {
	e := &switchboard.TokenRegistryEntry{TokenID: tokenID}
	var hash []byte
	err := s.Pool.QueryRow(ctx, `SELECT t.instance_id, t.secret_hash FROM data_plane_tokens t JOIN instances i ON i.id = t.instance_id
		WHERE t.id = $1 AND t.revoked_at IS NULL AND i.state <> 'deleted'`, tokenID).Scan(&e.InstanceID, &hash)
	if err != nil {
		return nil, mapErr(err, "live data-plane token "+tokenID)
	}
	e.SHA256 = fmt.Sprintf("%x", hash)
	return e, nil
}
