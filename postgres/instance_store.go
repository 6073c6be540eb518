package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/switchboardhq/switchboard"
)

// InstanceStore implements switchboard.InstanceStore for the workers.
type InstanceStore struct{ *DB }

var _ switchboard.InstanceStore = (*InstanceStore)(nil)

// managedTokenCreator marks the token provisioning sets as the app secret.
const managedTokenCreator = "system"

// LoadInstance returns any instance, deleted or not.
func (s *InstanceStore) LoadInstance(ctx context.Context, id string) (*switchboard.InstanceRecord, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+instanceColumns+` FROM instances WHERE id = $1`, id)
	if err != nil {
		return nil, err
	}
	rec, err := pgx.CollectExactlyOneRow(rows, scanInstance)
	return rec, mapErr(err, "instance")
}

// SaveProgress writes the checkpoint's non-nil fields.
func (s *InstanceStore) SaveProgress(ctx context.Context, id string, p switchboard.InstanceProgress) error {
	sets := []string{"updated_at = $2"}
	args := []any{id, s.now()}
	add := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	toDeleted := false
	if p.State != nil {
		add("state", *p.State)
		toDeleted = *p.State == switchboard.StateDeleted
		if toDeleted {
			sets = append(sets, "deleted_at = $2")
		}
	}
	if p.StateDetail != nil {
		add("state_detail", *p.StateDetail)
	}
	if p.FailureReason != nil {
		add("failure_reason", *p.FailureReason)
	}
	if p.EndpointURL != nil {
		add("endpoint_url", *p.EndpointURL)
	}
	if p.Region != nil {
		add("region", *p.Region)
	}
	if p.FlyAppName != nil {
		add("fly_app_name", *p.FlyAppName)
	}
	if p.FlyMachineID != nil {
		add("fly_machine_id", *p.FlyMachineID)
	}
	if p.DataPlaneTokenID != nil {
		add("data_plane_token_id", *p.DataPlaneTokenID)
	}
	where := `id = $1 AND state NOT IN ('deleting', 'deleted')`
	if toDeleted {
		where = `id = $1 AND state <> 'deleted'`
	} else if p.State == nil {
		// Progress notes (step, checkpoints) are fine while deleting.
		where = `id = $1 AND state <> 'deleted'`
	}
	tag, err := s.Pool.Exec(ctx, `UPDATE instances SET `+strings.Join(sets, ", ")+` WHERE `+where, args...)
	if err != nil {
		return fmt.Errorf("save progress of %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return switchboard.Errorf(switchboard.EPRECONDITION, "instance %s is being deleted", id)
	}
	return nil
}

// MintDataPlaneToken revokes unconfirmed managed tokens and records a new one.
func (s *InstanceStore) MintDataPlaneToken(ctx context.Context, instanceID string) (string, string, error) {
	now := s.now()
	id := switchboard.NewID(switchboard.PrefixDataPlaneToken, now)
	secret := switchboard.NewToken(switchboard.TokenDataPlane, id)
	hash := switchboard.HashToken(secret)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var confirmed string
		if err := tx.QueryRow(ctx, `SELECT data_plane_token_id FROM instances WHERE id = $1 FOR UPDATE`, instanceID).Scan(&confirmed); err != nil {
			return mapErr(err, "instance")
		}
		rows, err := tx.Query(ctx, `UPDATE data_plane_tokens SET revoked_at = $3
			WHERE instance_id = $1 AND created_by = $2 AND revoked_at IS NULL AND id <> $4 RETURNING id`,
			instanceID, managedTokenCreator, now, confirmed)
		if err != nil {
			return err
		}
		revoked, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO data_plane_tokens (id, instance_id, name, prefix, secret_hash, created_by, created_at)
			VALUES ($1, $2, 'managed', $3, $4, $5, $6)`, id, instanceID, switchboard.TokenPrefix(secret), hash[:], managedTokenCreator, now); err != nil {
			return err
		}
		// The CDN learns of both through its registry in S3.
		return s.syncTokenRegistry(ctx, tx, append(revoked, id)...)
	})
	if err != nil {
		return "", "", fmt.Errorf("mint data-plane token for %s: %w", instanceID, err)
	}
	return id, secret, nil
}

// RevokeDataPlaneTokens revokes every token of the instance, and in the same
// transaction queues the removal of their registry entries and of the
// instance's artifacts (publish_config purges a deleted instance's objects).
func (s *InstanceStore) RevokeDataPlaneTokens(ctx context.Context, instanceID string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE data_plane_tokens SET revoked_at = $2 WHERE instance_id = $1 AND revoked_at IS NULL RETURNING id`,
			instanceID, s.now())
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if err := s.syncTokenRegistry(ctx, tx, ids...); err != nil {
			return err
		}
		_, err = s.Jobs.InsertTx(ctx, tx, switchboard.PublishConfigArgs{InstanceID: instanceID}, publishOpts)
		return err
	})
}

// ListInstancesInState returns instances in any of the states.
func (s *InstanceStore) ListInstancesInState(ctx context.Context, states ...switchboard.InstanceState) ([]*switchboard.InstanceRecord, error) {
	names := make([]string, len(states))
	for i, st := range states {
		names[i] = string(st)
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+instanceColumns+` FROM instances WHERE state = ANY($1) ORDER BY id`, names)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanInstance)
}

// ReplaceMachine bumps the generation and re-enqueues provisioning, if the
// instance is still RUNNING at the generation the caller saw.
func (s *InstanceStore) ReplaceMachine(ctx context.Context, id string, generation int64, reason string) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE instances SET generation = generation + 1, fly_machine_id = '', state = 'updating',
			state_detail = $3, updated_at = $4 WHERE id = $1 AND generation = $2 AND state = 'running'`,
			id, generation, reason, s.now())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // something else changed it first; the next pass looks again
		}
		_, err = s.Jobs.InsertTx(ctx, tx, switchboard.ProvisionInstanceArgs{InstanceID: id}, provisionUnique)
		return err
	})
}
