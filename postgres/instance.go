package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/switchboardhq/switchboard"
)

// InstanceService implements switchboard.InstanceService. Every state change
// that needs work commits together with the River job that does it.
type InstanceService struct {
	*DB
	// DefaultQuota applies to organizations without their own
	// instance_quota. Defaults to switchboard.DefaultInstanceQuota.
	DefaultQuota int
	// WatchInterval is how often WatchInstance polls the row. Defaults to 200ms.
	WatchInterval time.Duration
}

var _ switchboard.InstanceService = (*InstanceService)(nil)

const instanceColumns = `id, organization_id, name, kind, region, size, state, state_detail, failure_reason,
	endpoint_url, allow_region_fallback, created_at, updated_at, fly_app_name, fly_machine_id, generation, data_plane_token_id`

func scanInstance(row pgx.CollectableRow) (*switchboard.InstanceRecord, error) {
	return scanInstanceAnd(row)
}

// scanInstanceAnd scans instanceColumns followed by extra columns.
func scanInstanceAnd(row pgx.CollectableRow, extra ...any) (*switchboard.InstanceRecord, error) {
	i := &switchboard.Instance{}
	r := &switchboard.InstanceRecord{Instance: i}
	dest := append([]any{&i.ID, &i.OrganizationID, &i.Name, &i.Kind, &i.Region, &i.Size, &i.State, &i.StateDetail, &i.FailureReason,
		&i.EndpointURL, &i.AllowRegionFallback, &i.CreatedAt, &i.UpdatedAt, &r.FlyAppName, &r.FlyMachineID, &r.Generation, &r.DataPlaneTokenID}, extra...)
	err := row.Scan(dest...)
	return r, err
}

// provisionUnique keeps one provision job per instance queued or running,
// while letting a later one (a machine replacement) in after it completes.
var provisionUnique = &river.InsertOpts{UniqueOpts: river.UniqueOpts{
	ByArgs: true,
	ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled},
}}

// CreateInstance records the instance as PENDING and enqueues
// provision_instance in the same transaction. Member or above.
func (s *InstanceService) CreateInstance(ctx context.Context, in switchboard.CreateInstanceInput) (*switchboard.Instance, error) {
	if in.Region == "" {
		in.Region = switchboard.DefaultRegion
	}
	if in.Size == "" {
		in.Size = switchboard.Sizes[0].Name
	}
	var v switchboard.Violations
	v.CheckID("organization_id", switchboard.PrefixOrganization, in.OrganizationID)
	v.CheckInstanceName("name", in.Name)
	v.CheckInstanceKind("kind", in.Kind)
	v.CheckRegion("region", in.Region)
	v.CheckSize("size", in.Size)
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	inst := &switchboard.Instance{
		ID: switchboard.NewID(switchboard.PrefixInstance, now), OrganizationID: in.OrganizationID, Name: in.Name,
		Kind: in.Kind, Region: in.Region, Size: in.Size, State: switchboard.StatePending, StateDetail: "queued",
		AllowRegionFallback: in.AllowRegionFallback, CreatedAt: now, UpdatedAt: now,
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		p, _, err := authorize(ctx, tx, in.OrganizationID, switchboard.RoleMember)
		if err != nil {
			return err
		}
		// The organization's row lock serializes creates, so the count holds.
		var quota int
		if err := tx.QueryRow(ctx, `SELECT coalesce(instance_quota, $2) FROM organizations WHERE id = $1 FOR UPDATE`,
			in.OrganizationID, s.defaultQuota()).Scan(&quota); err != nil {
			return mapErr(err, "organization")
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM instances WHERE organization_id = $1 AND state <> 'deleted'`,
			in.OrganizationID).Scan(&n); err != nil {
			return err
		}
		if n >= quota {
			return switchboard.Errorf(switchboard.EQUOTA,
				"the organization has reached its quota of %d instances; delete one or ask for a higher instance quota", quota)
		}
		_, err = tx.Exec(ctx, `INSERT INTO instances (id, organization_id, name, kind, region, size, state, state_detail,
			allow_region_fallback, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
			inst.ID, inst.OrganizationID, inst.Name, inst.Kind, inst.Region, inst.Size, inst.State, inst.StateDetail,
			inst.AllowRegionFallback, now)
		if err != nil {
			return mapErr(err, "an instance named "+in.Name)
		}
		if _, err := s.Jobs.InsertTx(ctx, tx, switchboard.ProvisionInstanceArgs{InstanceID: inst.ID}, provisionUnique); err != nil {
			return err
		}
		return s.audit(ctx, tx, in.OrganizationID, p.Actor(), "instance.create", inst.ID, map[string]any{
			"name": inst.Name, "kind": string(inst.Kind), "region": inst.Region, "size": inst.Size,
		})
	})
	if err != nil {
		return nil, err
	}
	return inst, nil
}

func (s *InstanceService) defaultQuota() int {
	if s.DefaultQuota > 0 {
		return s.DefaultQuota
	}
	return switchboard.DefaultInstanceQuota
}

// loadAuthorized reads the instance (locking it in a transaction) and checks
// the caller's role in its organization. Another tenant's instance is
// ENOTFOUND, exactly like a missing one.
func (s *InstanceService) loadAuthorized(ctx context.Context, q pgx.Tx, id string, min switchboard.Role, lock bool) (*switchboard.InstanceRecord, *switchboard.Principal, error) {
	var v switchboard.Violations
	v.CheckID("id", switchboard.PrefixInstance, id)
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	if _, err := switchboard.RequirePrincipal(ctx); err != nil {
		return nil, nil, err
	}
	sql := `SELECT ` + instanceColumns + ` FROM instances WHERE id = $1`
	var rows pgx.Rows
	var err error
	if q != nil {
		if lock {
			sql += ` FOR UPDATE`
		}
		rows, err = q.Query(ctx, sql, id)
	} else {
		rows, err = s.Pool.Query(ctx, sql, id)
	}
	if err != nil {
		return nil, nil, err
	}
	rec, err := pgx.CollectExactlyOneRow(rows, scanInstance)
	if err != nil {
		return nil, nil, mapErr(err, "instance")
	}
	var qr querier = s.Pool
	if q != nil {
		qr = q
	}
	p, _, err := authorize(ctx, qr, rec.OrganizationID, min)
	if err != nil {
		if switchboard.ErrorCode(err) == switchboard.ENOTFOUND {
			return nil, nil, switchboard.Errorf(switchboard.ENOTFOUND, "instance not found")
		}
		return nil, nil, err
	}
	return rec, p, nil
}

// GetInstance returns an instance, deleted ones included. Viewer or above.
func (s *InstanceService) GetInstance(ctx context.Context, id string) (*switchboard.Instance, error) {
	rec, _, err := s.loadAuthorized(ctx, nil, id, switchboard.RoleViewer, false)
	if err != nil {
		return nil, err
	}
	return rec.Instance, nil
}

// ListInstances lists the organization's instances that are not deleted,
// newest first. Viewer or above.
func (s *InstanceService) ListInstances(ctx context.Context, orgID string, req switchboard.PageRequest) ([]*switchboard.Instance, string, error) {
	var v switchboard.Violations
	v.CheckID("organization_id", switchboard.PrefixOrganization, orgID)
	page := v.CheckPage(req)
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	if _, _, err := authorize(ctx, s.Pool, orgID, switchboard.RoleViewer); err != nil {
		return nil, "", err
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+instanceColumns+` FROM instances
		WHERE organization_id = $1 AND state <> 'deleted' AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`,
		orgID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", err
	}
	recs, err := pgx.CollectRows(rows, scanInstance)
	if err != nil {
		return nil, "", err
	}
	recs, next := pageOf(recs, page.Limit, func(r *switchboard.InstanceRecord) string { return r.ID })
	out := make([]*switchboard.Instance, len(recs))
	for i, r := range recs {
		out[i] = r.Instance
	}
	return out, next, nil
}

// DeleteInstance moves the instance to DELETING and enqueues
// deprovision_instance in one transaction. Deleting twice is harmless.
// Member or above.
func (s *InstanceService) DeleteInstance(ctx context.Context, id string) (*switchboard.Instance, error) {
	var inst *switchboard.Instance
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rec, p, err := s.loadAuthorized(ctx, tx, id, switchboard.RoleMember, true)
		if err != nil {
			return err
		}
		inst = rec.Instance
		if inst.State == switchboard.StateDeleting || inst.State == switchboard.StateDeleted {
			return nil
		}
		now := s.now()
		inst.State, inst.StateDetail, inst.UpdatedAt = switchboard.StateDeleting, "queued for deletion", now
		if _, err := tx.Exec(ctx, `UPDATE instances SET state = $2, state_detail = $3, updated_at = $4 WHERE id = $1`,
			id, inst.State, inst.StateDetail, now); err != nil {
			return err
		}
		if _, err := s.Jobs.InsertTx(ctx, tx, switchboard.DeprovisionInstanceArgs{InstanceID: id}, nil); err != nil {
			return err
		}
		return s.audit(ctx, tx, inst.OrganizationID, p.Actor(), "instance.delete", id, map[string]any{"name": inst.Name})
	})
	if err != nil {
		return nil, err
	}
	return inst, nil
}

// RestartInstance moves a RUNNING instance to UPDATING and enqueues
// restart_instance in one transaction. Member or above.
func (s *InstanceService) RestartInstance(ctx context.Context, id string) (*switchboard.Instance, error) {
	var inst *switchboard.Instance
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rec, p, err := s.loadAuthorized(ctx, tx, id, switchboard.RoleMember, true)
		if err != nil {
			return err
		}
		inst = rec.Instance
		if inst.State != switchboard.StateRunning {
			return switchboard.Errorf(switchboard.EPRECONDITION, "only a running instance can be restarted; this one is %s", inst.State)
		}
		now := s.now()
		inst.State, inst.StateDetail, inst.UpdatedAt = switchboard.StateUpdating, "restart queued", now
		if _, err := tx.Exec(ctx, `UPDATE instances SET state = $2, state_detail = $3, updated_at = $4 WHERE id = $1`,
			id, inst.State, inst.StateDetail, now); err != nil {
			return err
		}
		if _, err := s.Jobs.InsertTx(ctx, tx, switchboard.RestartInstanceArgs{InstanceID: id}, nil); err != nil {
			return err
		}
		return s.audit(ctx, tx, inst.OrganizationID, p.Actor(), "instance.restart", id, nil)
	})
	if err != nil {
		return nil, err
	}
	return inst, nil
}

// WatchInstance calls fn with the instance now and then with every change
// of state, step or endpoint, in order, as recorded in instance_events by a
// trigger (so no step is skipped however short, and any API replica sees
// them). It polls that table every WatchInterval. Viewer or above; access
// is checked once, at the start.
func (s *InstanceService) WatchInstance(ctx context.Context, id string, fn func(*switchboard.Instance) bool) error {
	if _, _, err := s.loadAuthorized(ctx, nil, id, switchboard.RoleViewer, false); err != nil {
		return err
	}
	interval := s.WatchInterval
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	// The row and the newest event id from one statement: one snapshot.
	var after int64
	rows, err := s.Pool.Query(ctx, `SELECT `+instanceColumns+`,
		(SELECT coalesce(max(e.id), 0) FROM instance_events e WHERE e.instance_id = $1) FROM instances WHERE id = $1`, id)
	if err != nil {
		return err
	}
	rec, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (*switchboard.InstanceRecord, error) {
		return scanInstanceAnd(row, &after)
	})
	if err != nil {
		return mapErr(err, "instance")
	}
	cur := *rec.Instance
	if !fn(&cur) || cur.State.Terminal() {
		return nil
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
		rows, err := s.Pool.Query(ctx, `SELECT id, state, state_detail, endpoint_url, failure_reason, created_at
			FROM instance_events WHERE instance_id = $1 AND id > $2 ORDER BY id`, id, after)
		if err != nil {
			return err
		}
		events, err := pgx.CollectRows(rows, pgx.RowToStructByPos[instanceEvent])
		if err != nil {
			return err
		}
		for _, e := range events {
			after = e.ID
			next := cur
			next.State, next.StateDetail, next.EndpointURL, next.FailureReason, next.UpdatedAt =
				switchboard.InstanceState(e.State), e.StateDetail, e.EndpointURL, e.FailureReason, e.CreatedAt
			cur = next
			if !fn(&next) || next.State.Terminal() {
				return nil
			}
		}
	}
}

// instanceEvent is a row of instance_events.
type instanceEvent struct {
	ID            int64
	State         string
	StateDetail   string
	EndpointURL   string
	FailureReason string
	CreatedAt     time.Time
}
