package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/apitest"
	"github.com/switchboardhq/switchboard/client"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
	"github.com/switchboardhq/switchboard/gen/switchboard/v1/switchboardv1connect"
)

const password = "correct horse battery"

// signUp signs up a new user through the SDK and returns a client carrying
// their session token, and their personal organization's id.
func signUp(t *testing.T, env *apitest.Env) (*client.Client, string) {
	t.Helper()
	anon := client.New(env.URL)
	res, err := anon.Auth.SignUp(context.Background(), &switchboardv1.SignUpRequest{
		Email: time.Now().Format("150405.000000000") + "@example.com", Password: password, Name: "Ada",
	})
	require.NoError(t, err)
	return client.New(env.URL, client.WithAPIKey(res.SessionToken)), res.Organization.Id
}

func TestJourney(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	ctx := context.Background()
	c, orgID := signUp(t, env)

	key, err := c.APIKeys.CreateAPIKey(ctx, &switchboardv1.CreateAPIKeyRequest{OrganizationId: orgID, Name: "ci", Role: switchboardv1.Role_ROLE_ADMIN})
	require.NoError(t, err)
	require.Contains(t, key.Secret, "sb_key_")

	kc := client.New(env.URL, client.WithAPIKey(key.Secret), client.WithHTTPClient(http.DefaultClient), client.WithUserAgent("client-test"))
	orgs, err := kc.Organizations.ListOrganizations(ctx, &switchboardv1.ListOrganizationsRequest{})
	require.NoError(t, err)
	require.Len(t, orgs.Organizations, 1)
	require.Equal(t, orgID, orgs.Organizations[0].Id)

	me, err := kc.Auth.GetCurrentUser(ctx, &switchboardv1.GetCurrentUserRequest{})
	require.NoError(t, err)
	require.Equal(t, "Ada", me.User.Name)

	events, err := kc.Audit.ListAuditEvents(ctx, &switchboardv1.ListAuditEventsRequest{OrganizationId: orgID})
	require.NoError(t, err)
	require.NotEmpty(t, events.AuditEvents)

	_, err = c.APIKeys.RevokeAPIKey(ctx, &switchboardv1.RevokeAPIKeyRequest{Id: key.ApiKey.Id})
	require.NoError(t, err)
	_, err = kc.Organizations.ListOrganizations(ctx, &switchboardv1.ListOrganizationsRequest{})
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "err: %v", err)

	// The gRPC protocol reaches the same API.
	gc := client.New(env.URL, client.WithAPIKey(me.User.Id), client.WithConnectOptions(connect.WithGRPC()))
	_, err = gc.Organizations.ListOrganizations(ctx, &switchboardv1.ListOrganizationsRequest{})
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err), "err: %v", err)
}

func TestFieldViolations(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	_, err := client.New(env.URL).Auth.SignUp(context.Background(), &switchboardv1.SignUpRequest{Email: "plain", Password: "short", Name: "N"})
	require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err))
	var fields []string
	for _, v := range client.FieldViolations(err) {
		fields = append(fields, v.Field)
		require.NotEmpty(t, v.Description)
	}
	require.Contains(t, fields, "email")
	require.Nil(t, client.FieldViolations(errors.New("plain")))
	require.Nil(t, client.FieldViolations(nil))
}

// flakyOrgs fails every call with Unavailable until failures runs out.
type flakyOrgs struct {
	switchboardv1connect.UnimplementedOrganizationServiceHandler
	failures, calls atomic.Int32
}

func (f *flakyOrgs) fail() error {
	f.calls.Add(1)
	if f.failures.Add(-1) >= 0 {
		return connect.NewError(connect.CodeUnavailable, errors.New("restarting"))
	}
	return nil
}

func (f *flakyOrgs) GetOrganization(context.Context, *switchboardv1.GetOrganizationRequest) (*switchboardv1.GetOrganizationResponse, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return &switchboardv1.GetOrganizationResponse{Organization: &switchboardv1.Organization{Id: "org_1"}}, nil
}

func (f *flakyOrgs) CreateOrganization(context.Context, *switchboardv1.CreateOrganizationRequest) (*switchboardv1.CreateOrganizationResponse, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return &switchboardv1.CreateOrganizationResponse{}, nil
}

func newFlaky(t *testing.T, failures int32) (*flakyOrgs, string) {
	f := &flakyOrgs{}
	f.failures.Store(failures)
	srv := httptest.NewServer(func() http.Handler {
		mux := http.NewServeMux()
		mux.Handle(switchboardv1connect.NewOrganizationServiceHandler(f))
		return mux
	}())
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func TestRetriesReadsOnUnavailable(t *testing.T) {
	t.Parallel()
	f, url := newFlaky(t, 3)
	c := client.New(url, client.WithRetryBackoff(time.Millisecond, 5*time.Millisecond))
	res, err := c.Organizations.GetOrganization(context.Background(), &switchboardv1.GetOrganizationRequest{Id: "org_1"})
	require.NoError(t, err)
	require.Equal(t, "org_1", res.Organization.Id)
	require.EqualValues(t, 4, f.calls.Load())
}

func TestRetriesGiveUp(t *testing.T) {
	t.Parallel()
	f, url := newFlaky(t, 100)
	c := client.New(url, client.WithMaxRetries(2), client.WithRetryBackoff(time.Millisecond, 5*time.Millisecond))
	_, err := c.Organizations.GetOrganization(context.Background(), &switchboardv1.GetOrganizationRequest{Id: "org_1"})
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(err))
	require.EqualValues(t, 3, f.calls.Load())

	// The context's deadline bounds the retries.
	slow := client.New(url, client.WithMaxRetries(1000), client.WithRetryBackoff(50*time.Millisecond, 50*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = slow.Organizations.GetOrganization(ctx, &switchboardv1.GetOrganizationRequest{Id: "org_1"})
	require.Error(t, err)
	require.Less(t, time.Since(start), 2*time.Second)
}

func TestNeverRetriesWrites(t *testing.T) {
	t.Parallel()
	f, url := newFlaky(t, 1)
	c := client.New(url, client.WithRetryBackoff(time.Millisecond, time.Millisecond))
	_, err := c.Organizations.CreateOrganization(context.Background(), &switchboardv1.CreateOrganizationRequest{Name: "x"})
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(err))
	require.EqualValues(t, 1, f.calls.Load())
}

func TestRetriesWhenServerIsDown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused: Unavailable
	c := client.New(url, client.WithMaxRetries(2), client.WithRetryBackoff(time.Millisecond, time.Millisecond))
	_, err := c.Organizations.ListOrganizations(context.Background(), &switchboardv1.ListOrganizationsRequest{})
	require.Equal(t, connect.CodeUnavailable, connect.CodeOf(err), "err: %v", err)
}

// setState moves an instance along as the provisioning worker would.
func setState(t *testing.T, env *apitest.Env, id, state, detail, reason string) {
	t.Helper()
	_, err := env.DB.Pool.Exec(context.Background(),
		`UPDATE instances SET state = $2, state_detail = $3, failure_reason = $4, updated_at = now() WHERE id = $1`, id, state, detail, reason)
	require.NoError(t, err)
}

func createInstance(t *testing.T, c *client.Client, orgID, name string) string {
	t.Helper()
	res, err := c.Instances.CreateInstance(context.Background(), &switchboardv1.CreateInstanceRequest{
		OrganizationId: orgID, Name: name, Kind: switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER,
	})
	require.NoError(t, err)
	require.Equal(t, switchboardv1.InstanceState_INSTANCE_STATE_PENDING, res.Instance.State)
	return res.Instance.Id
}

func TestWaitForInstance(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	c, orgID := signUp(t, env)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	t.Run("running", func(t *testing.T) {
		id := createInstance(t, c, orgID, "edge")
		var seen []switchboardv1.InstanceState
		done := make(chan struct{})
		go func() {
			defer close(done)
			time.Sleep(300 * time.Millisecond)
			setState(t, env, id, "provisioning", "creating machine", "")
			time.Sleep(300 * time.Millisecond)
			setState(t, env, id, "running", "", "")
		}()
		inst, err := c.FollowInstance(ctx, id, func(i *switchboardv1.Instance) { seen = append(seen, i.State) })
		<-done
		require.NoError(t, err)
		require.Equal(t, switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, inst.State)
		require.Equal(t, []switchboardv1.InstanceState{
			switchboardv1.InstanceState_INSTANCE_STATE_PENDING,
			switchboardv1.InstanceState_INSTANCE_STATE_PROVISIONING,
			switchboardv1.InstanceState_INSTANCE_STATE_RUNNING,
		}, seen)

		inst, err = c.WaitForInstance(ctx, id) // already running: returns at once
		require.NoError(t, err)
		require.Equal(t, id, inst.Id)
	})

	t.Run("failed", func(t *testing.T) {
		id := createInstance(t, c, orgID, "doomed")
		setState(t, env, id, "failed", "", "region iad has no capacity for shared-cpu-1x")
		_, err := c.WaitForInstance(ctx, id)
		var ferr *client.InstanceFailedError
		require.ErrorAs(t, err, &ferr)
		require.Contains(t, err.Error(), "no capacity")
	})

	t.Run("deleted", func(t *testing.T) {
		id := createInstance(t, c, orgID, "gone")
		setState(t, env, id, "deleted", "", "")
		_, err := c.WaitForInstance(ctx, id)
		require.ErrorIs(t, err, client.ErrInstanceDeleted)
	})

	t.Run("not found", func(t *testing.T) {
		other, _ := signUp(t, env)
		id := createInstance(t, c, orgID, "mine")
		_, err := other.WaitForInstance(ctx, id)
		require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "err: %v", err)
	})
}

// choppyWatch ends its first stream early, as a restarting server would,
// and reports RUNNING on the next.
type choppyWatch struct {
	switchboardv1connect.UnimplementedInstanceServiceHandler
	calls atomic.Int32
}

func (w *choppyWatch) WatchInstance(_ context.Context, req *switchboardv1.WatchInstanceRequest, s *connect.ServerStream[switchboardv1.WatchInstanceResponse]) error {
	state := switchboardv1.InstanceState_INSTANCE_STATE_PROVISIONING
	switch w.calls.Add(1) {
	case 1:
	case 2:
		return connect.NewError(connect.CodeUnavailable, errors.New("shutting down"))
	default:
		state = switchboardv1.InstanceState_INSTANCE_STATE_RUNNING
	}
	return s.Send(&switchboardv1.WatchInstanceResponse{Instance: &switchboardv1.Instance{Id: req.Id, State: state}})
}

func TestFollowInstanceReconnects(t *testing.T) {
	t.Parallel()
	w := &choppyWatch{}
	mux := http.NewServeMux()
	mux.Handle(switchboardv1connect.NewInstanceServiceHandler(w))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := client.New(srv.URL, client.WithRetryBackoff(time.Millisecond, time.Millisecond))
	inst, err := c.WaitForInstance(context.Background(), "ins_1")
	require.NoError(t, err)
	require.Equal(t, switchboardv1.InstanceState_INSTANCE_STATE_RUNNING, inst.State)
	require.EqualValues(t, 3, w.calls.Load())
}
