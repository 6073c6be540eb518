package services_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/apitest"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func createInstance(t *testing.T, f *instFixture, name string) *switchboardv1.Instance {
	t.Helper()
	res, err := f.env.Instances.CreateInstance(f.owner.Ctx(), &switchboardv1.CreateInstanceRequest{
		OrganizationId: f.owner.OrgID, Name: name, Kind: switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER,
	})
	require.NoError(t, err)
	return res.Instance
}

// setRunning stands in for the workers, which these tests do not run.
func setRunning(t *testing.T, f *instFixture, id string) {
	t.Helper()
	_, err := f.env.DB.Pool.Exec(context.Background(), `UPDATE instances SET state = 'running' WHERE id = $1`, id)
	require.NoError(t, err)
}

// instFixture is the authorization fixture plus the test, so RPC calls can
// make the instances they act on.
type instFixture struct {
	*fixture
	t *testing.T
}

func newInstFixture(t *testing.T) *instFixture { return &instFixture{fixture: newFixture(t), t: t} }

// instRPC is one instance method: the least role that may call it and a
// call that succeeds for that role.
type instRPC struct {
	name    string
	minRole switchboardv1.Role
	call    func(ctx context.Context, f *instFixture) error
}

func instanceRPCs() []instRPC {
	return []instRPC{
		{"CreateInstance", switchboardv1.Role_ROLE_MEMBER, func(ctx context.Context, f *instFixture) error {
			_, err := f.env.Instances.CreateInstance(ctx, &switchboardv1.CreateInstanceRequest{
				OrganizationId: f.owner.OrgID, Name: uniqueName(),
				Kind: switchboardv1.InstanceKind_INSTANCE_KIND_REALTIME, Region: "lhr", Size: "shared-cpu-2x",
			})
			return err
		}},
		{"GetInstance", switchboardv1.Role_ROLE_VIEWER, func(ctx context.Context, f *instFixture) error {
			_, err := f.env.Instances.GetInstance(ctx, &switchboardv1.GetInstanceRequest{Id: createInstance(f.t, f, uniqueName()).Id})
			return err
		}},
		{"ListInstances", switchboardv1.Role_ROLE_VIEWER, func(ctx context.Context, f *instFixture) error {
			_, err := f.env.Instances.ListInstances(ctx, &switchboardv1.ListInstancesRequest{OrganizationId: f.owner.OrgID})
			return err
		}},
		{"DeleteInstance", switchboardv1.Role_ROLE_MEMBER, func(ctx context.Context, f *instFixture) error {
			_, err := f.env.Instances.DeleteInstance(ctx, &switchboardv1.DeleteInstanceRequest{Id: createInstance(f.t, f, uniqueName()).Id})
			return err
		}},
		{"RestartInstance", switchboardv1.Role_ROLE_MEMBER, func(ctx context.Context, f *instFixture) error {
			i := createInstance(f.t, f, uniqueName())
			setRunning(f.t, f, i.Id)
			_, err := f.env.Instances.RestartInstance(ctx, &switchboardv1.RestartInstanceRequest{Id: i.Id})
			return err
		}},
		{"WatchInstance", switchboardv1.Role_ROLE_VIEWER, func(ctx context.Context, f *instFixture) error {
			i := createInstance(f.t, f, uniqueName())
			setRunning(f.t, f, i.Id)
			stream, err := f.env.Instances.WatchInstance(ctx, &switchboardv1.WatchInstanceRequest{Id: i.Id})
			if err != nil {
				return err
			}
			defer stream.Close()
			for stream.Receive() {
			}
			return stream.Err()
		}},
	}
}

var nameSeq = make(chan int, 1)

func init() { nameSeq <- 0 }

func uniqueName() string {
	n := <-nameSeq
	nameSeq <- n + 1
	return fmt.Sprintf("ins-%d", n)
}

func TestInstanceRPCAuthorization(t *testing.T) {
	t.Parallel()
	for _, r := range instanceRPCs() {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			f := newInstFixture(t)
			bg := context.Background()
			// Lift the quota: this test makes many instances.
			_, err := f.env.DB.Pool.Exec(bg, `UPDATE organizations SET instance_quota = 1000 WHERE id = $1`, f.owner.OrgID)
			require.NoError(t, err)

			apitest.RequireCode(t, r.call(bg, f), connect.CodeUnauthenticated)
			apitest.RequireCode(t, r.call(apitest.WithToken(bg, "sb_key_nope"), f), connect.CodeUnauthenticated)

			apitest.RequireCode(t, r.call(f.outsider.Ctx(), f), connect.CodeNotFound)
			otherKey := f.env.APIKey(t, f.outsider, switchboardv1.Role_ROLE_OWNER).Secret
			apitest.RequireCode(t, r.call(apitest.WithToken(bg, otherKey), f), connect.CodeNotFound)

			if r.minRole > switchboardv1.Role_ROLE_VIEWER {
				apitest.RequireCode(t, r.call(f.viewer.Ctx(), f), connect.CodePermissionDenied)
				key := f.env.APIKey(t, f.owner, switchboardv1.Role_ROLE_VIEWER).Secret
				apitest.RequireCode(t, r.call(apitest.WithToken(bg, key), f), connect.CodePermissionDenied)
			}

			revoked := f.env.APIKey(t, f.owner, r.minRole)
			_, err = f.env.Keys.RevokeAPIKey(f.owner.Ctx(), &switchboardv1.RevokeAPIKeyRequest{Id: revoked.ApiKey.Id})
			require.NoError(t, err)
			apitest.RequireCode(t, r.call(apitest.WithToken(bg, revoked.Secret), f), connect.CodeUnauthenticated)

			allowed := f.viewer
			if r.minRole == switchboardv1.Role_ROLE_MEMBER {
				allowed = f.member
			}
			require.NoError(t, r.call(allowed.Ctx(), f))
			key := f.env.APIKey(t, f.owner, r.minRole).Secret
			require.NoError(t, r.call(apitest.WithToken(bg, key), f))
		})
	}
}

func TestCreateInstanceBadInput(t *testing.T) {
	t.Parallel()
	f := newInstFixture(t)
	ok := &switchboardv1.CreateInstanceRequest{OrganizationId: f.owner.OrgID, Name: "good", Kind: switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER}
	with := func(mod func(r *switchboardv1.CreateInstanceRequest)) *switchboardv1.CreateInstanceRequest {
		r := &switchboardv1.CreateInstanceRequest{OrganizationId: ok.OrganizationId, Name: ok.Name, Kind: ok.Kind}
		mod(r)
		return r
	}
	cases := []struct {
		name, field string
		req         *switchboardv1.CreateInstanceRequest
	}{
		{"bad org id", "organization_id", with(func(r *switchboardv1.CreateInstanceRequest) { r.OrganizationId = "org_nope" })},
		{"empty org id", "organization_id", with(func(r *switchboardv1.CreateInstanceRequest) { r.OrganizationId = "" })},
		{"unspecified kind", "kind", with(func(r *switchboardv1.CreateInstanceRequest) { r.Kind = 0 })},
		{"unknown kind", "kind", with(func(r *switchboardv1.CreateInstanceRequest) { r.Kind = 99 })},
		{"unknown region", "region", with(func(r *switchboardv1.CreateInstanceRequest) { r.Region = "mars" })},
		{"sql region", "region", with(func(r *switchboardv1.CreateInstanceRequest) { r.Region = "iad'--" })},
		{"unknown size", "size", with(func(r *switchboardv1.CreateInstanceRequest) { r.Size = "huge" })},
	}
	for _, s := range []string{"", strings.Repeat("a", 41), "UPPER", "1starts-with-digit", "-dash", "spa ce",
		"'; DROP TABLE instances; --", "ünïcode", "nul\x00", "\u202eevil", "under_score"} {
		cases = append(cases, struct {
			name, field string
			req         *switchboardv1.CreateInstanceRequest
		}{"name " + s, "name", with(func(r *switchboardv1.CreateInstanceRequest) { r.Name = s })})
	}
	before, jobsBefore := f.env.Count(t, "instances"), f.env.Count(t, "river_job")
	for _, c := range cases {
		_, err := f.env.Instances.CreateInstance(f.owner.Ctx(), c.req)
		apitest.RequireInvalidField(t, err, c.field)
	}
	require.Equal(t, before, f.env.Count(t, "instances"), "a refused create wrote a row")
	require.Equal(t, jobsBefore, f.env.Count(t, "river_job"), "a refused create enqueued a job")

	for _, id := range []string{"", "ins_short", "org_00000000000000000000000000", "ins_'--", strings.Repeat("x", 300)} {
		_, err := f.env.Instances.GetInstance(f.owner.Ctx(), &switchboardv1.GetInstanceRequest{Id: id})
		apitest.RequireInvalidField(t, err, "id")
		_, err = f.env.Instances.DeleteInstance(f.owner.Ctx(), &switchboardv1.DeleteInstanceRequest{Id: id})
		apitest.RequireInvalidField(t, err, "id")
		_, err = f.env.Instances.RestartInstance(f.owner.Ctx(), &switchboardv1.RestartInstanceRequest{Id: id})
		apitest.RequireInvalidField(t, err, "id")
	}
	_, err := f.env.Instances.ListInstances(f.owner.Ctx(), &switchboardv1.ListInstancesRequest{OrganizationId: "nope"})
	apitest.RequireInvalidField(t, err, "organization_id")
	_, err = f.env.Instances.ListInstances(f.owner.Ctx(), &switchboardv1.ListInstancesRequest{OrganizationId: f.owner.OrgID, PageSize: -1})
	apitest.RequireInvalidField(t, err, "page_size")
	require.Equal(t, jobsBefore, f.env.Count(t, "river_job"))
}

func TestCreateInstanceEnqueuesProvisioningAndAudits(t *testing.T) {
	t.Parallel()
	f := newInstFixture(t)
	i := createInstance(t, f, "edge")
	require.Equal(t, switchboardv1.InstanceState_INSTANCE_STATE_PENDING, i.State)
	require.Equal(t, "iad", i.Region)
	require.Equal(t, "shared-cpu-1x", i.Size)
	var n int
	require.NoError(t, f.env.DB.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'provision_instance' AND args->>'instance_id' = $1`, i.Id).Scan(&n))
	require.Equal(t, 1, n)
	require.NoError(t, f.env.DB.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM audit_events WHERE action = 'instance.create' AND resource_id = $1`, i.Id).Scan(&n))
	require.Equal(t, 1, n)

	// Same name in the same organization: AlreadyExists; another tenant may use it.
	_, err := f.env.Instances.CreateInstance(f.owner.Ctx(), &switchboardv1.CreateInstanceRequest{
		OrganizationId: f.owner.OrgID, Name: "edge", Kind: switchboardv1.InstanceKind_INSTANCE_KIND_REALTIME,
	})
	apitest.RequireCode(t, err, connect.CodeAlreadyExists)
	_, err = f.env.Instances.CreateInstance(f.outsider.Ctx(), &switchboardv1.CreateInstanceRequest{
		OrganizationId: f.outsider.OrgID, Name: "edge", Kind: switchboardv1.InstanceKind_INSTANCE_KIND_REALTIME,
	})
	require.NoError(t, err)

	// Deleting enqueues deprovisioning; deleting twice is harmless.
	res, err := f.env.Instances.DeleteInstance(f.member.Ctx(), &switchboardv1.DeleteInstanceRequest{Id: i.Id})
	require.NoError(t, err)
	require.Equal(t, switchboardv1.InstanceState_INSTANCE_STATE_DELETING, res.Instance.State)
	_, err = f.env.Instances.DeleteInstance(f.member.Ctx(), &switchboardv1.DeleteInstanceRequest{Id: i.Id})
	require.NoError(t, err)
	require.NoError(t, f.env.DB.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'deprovision_instance' AND args->>'instance_id' = $1`, i.Id).Scan(&n))
	require.Equal(t, 1, n)

	// Restarting needs a running instance.
	_, err = f.env.Instances.RestartInstance(f.member.Ctx(), &switchboardv1.RestartInstanceRequest{Id: i.Id})
	apitest.RequireCode(t, err, connect.CodeFailedPrecondition)
}

func TestInstanceQuota(t *testing.T) {
	t.Parallel()
	f := newInstFixture(t)
	for n := range 10 {
		createInstance(t, f, fmt.Sprintf("q-%d", n))
	}
	before := f.env.Count(t, "river_job")
	_, err := f.env.Instances.CreateInstance(f.owner.Ctx(), &switchboardv1.CreateInstanceRequest{
		OrganizationId: f.owner.OrgID, Name: "one-too-many", Kind: switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER,
	})
	apitest.RequireCode(t, err, connect.CodeResourceExhausted)
	require.Contains(t, err.Error(), "quota of 10 instances")
	require.Equal(t, before, f.env.Count(t, "river_job"))

	// A deleted instance frees its slot.
	list, err := f.env.Instances.ListInstances(f.viewer.Ctx(), &switchboardv1.ListInstancesRequest{OrganizationId: f.owner.OrgID, PageSize: 3})
	require.NoError(t, err)
	require.Len(t, list.Instances, 3)
	require.NotEmpty(t, list.NextPageToken)
	_, err = f.env.DB.Pool.Exec(context.Background(), `UPDATE instances SET state = 'deleted' WHERE id = $1`, list.Instances[0].Id)
	require.NoError(t, err)
	createInstance(t, f, "one-more")
}

func TestWatchInstanceStreamsUntilTerminal(t *testing.T) {
	t.Parallel()
	f := newInstFixture(t)
	i := createInstance(t, f, "watched")
	ctx, cancel := context.WithTimeout(f.viewer.Ctx(), 10*time.Second)
	defer cancel()
	stream, err := f.env.Instances.WatchInstance(ctx, &switchboardv1.WatchInstanceRequest{Id: i.Id})
	require.NoError(t, err)
	defer stream.Close()
	// The first message is the state when the watch began; then the steps
	// follow, each shorter than the poll interval.
	require.True(t, stream.Receive(), "no first message: %v", stream.Err())
	seen := []string{stream.Msg().Instance.State.String() + "/" + stream.Msg().Instance.StateDetail}
	go func() {
		for _, step := range []string{"creating app", "creating machine"} {
			time.Sleep(30 * time.Millisecond)
			_, _ = f.env.DB.Pool.Exec(context.Background(), `UPDATE instances SET state = 'provisioning', state_detail = $2 WHERE id = $1`, i.Id, step)
		}
		time.Sleep(30 * time.Millisecond)
		_, _ = f.env.DB.Pool.Exec(context.Background(), `UPDATE instances SET state = 'running', state_detail = 'running' WHERE id = $1`, i.Id)
	}()
	for stream.Receive() {
		seen = append(seen, stream.Msg().Instance.State.String()+"/"+stream.Msg().Instance.StateDetail)
	}
	require.NoError(t, stream.Err())
	// Every step, in order, however short: they are recorded by a trigger.
	require.Equal(t, []string{
		"INSTANCE_STATE_PENDING/queued",
		"INSTANCE_STATE_PROVISIONING/creating app",
		"INSTANCE_STATE_PROVISIONING/creating machine",
		"INSTANCE_STATE_RUNNING/running",
	}, seen)
}
