package services_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboardhq/switchboard/apitest"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func (f *fixture) instance(t *testing.T, kind switchboardv1.InstanceKind) string {
	t.Helper()
	res, err := f.env.Instances.CreateInstance(f.owner.Ctx(), &switchboardv1.CreateInstanceRequest{
		OrganizationId: f.owner.OrgID, Name: strings.ToLower(fmt.Sprintf("i%d", len(t.Name())+int(kind)*1000+f.env.Count(t, "instances"))), Kind: kind,
	})
	require.NoError(t, err)
	return res.Instance.Id
}

func breakerSpec(upstream string) *switchboardv1.BreakerConfig {
	return &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{{Name: "payments", UpstreamUrl: upstream}}}
}

func updateBreaker(ctx context.Context, f *fixture, id string, base int64, cfg *switchboardv1.BreakerConfig) (*switchboardv1.UpdateConfigResponse, error) {
	return f.env.Configs.UpdateConfig(ctx, &switchboardv1.UpdateConfigRequest{
		InstanceId: id, BaseVersion: base, Spec: &switchboardv1.UpdateConfigRequest_Breaker{Breaker: cfg},
	})
}

func TestConfigRPCAuthorization(t *testing.T) {
	t.Parallel()
	type call func(ctx context.Context, f *fixture, id string) error
	rpcs := []struct {
		name    string
		minRole switchboardv1.Role
		call    call
	}{
		{"GetConfig", switchboardv1.Role_ROLE_VIEWER, func(ctx context.Context, f *fixture, id string) error {
			_, err := f.env.Configs.GetConfig(ctx, &switchboardv1.GetConfigRequest{InstanceId: id})
			return err
		}},
		{"UpdateConfig", switchboardv1.Role_ROLE_MEMBER, func(ctx context.Context, f *fixture, id string) error {
			cur, err := f.env.Configs.GetConfig(f.owner.Ctx(), &switchboardv1.GetConfigRequest{InstanceId: id})
			require.NoError(t, err)
			_, err = updateBreaker(ctx, f, id, cur.Config.Version, breakerSpec("https://api.example.com"))
			return err
		}},
		{"ValidateConfig", switchboardv1.Role_ROLE_MEMBER, func(ctx context.Context, f *fixture, id string) error {
			_, err := f.env.Configs.ValidateConfig(ctx, &switchboardv1.ValidateConfigRequest{InstanceId: id,
				Spec: &switchboardv1.ValidateConfigRequest_Breaker{Breaker: breakerSpec("https://api.example.com")}})
			return err
		}},
		{"ListConfigVersions", switchboardv1.Role_ROLE_VIEWER, func(ctx context.Context, f *fixture, id string) error {
			_, err := f.env.Configs.ListConfigVersions(ctx, &switchboardv1.ListConfigVersionsRequest{InstanceId: id})
			return err
		}},
		{"RollbackConfig", switchboardv1.Role_ROLE_MEMBER, func(ctx context.Context, f *fixture, id string) error {
			_, err := f.env.Configs.RollbackConfig(ctx, &switchboardv1.RollbackConfigRequest{InstanceId: id, ToVersion: 1})
			return err
		}},
		{"GetRollout", switchboardv1.Role_ROLE_VIEWER, func(ctx context.Context, f *fixture, id string) error {
			_, err := f.env.Configs.GetRollout(ctx, &switchboardv1.GetRolloutRequest{InstanceId: id})
			return err
		}},
		{"CreateDataPlaneToken", switchboardv1.Role_ROLE_MEMBER, func(ctx context.Context, f *fixture, id string) error {
			_, err := f.env.Tokens.CreateDataPlaneToken(ctx, &switchboardv1.CreateDataPlaneTokenRequest{InstanceId: id, Name: "edge"})
			return err
		}},
		{"ListDataPlaneTokens", switchboardv1.Role_ROLE_VIEWER, func(ctx context.Context, f *fixture, id string) error {
			_, err := f.env.Tokens.ListDataPlaneTokens(ctx, &switchboardv1.ListDataPlaneTokensRequest{InstanceId: id})
			return err
		}},
		{"RevokeDataPlaneToken", switchboardv1.Role_ROLE_MEMBER, func(ctx context.Context, f *fixture, id string) error {
			tok, err := f.env.Tokens.CreateDataPlaneToken(f.owner.Ctx(), &switchboardv1.CreateDataPlaneTokenRequest{InstanceId: id, Name: "victim"})
			require.NoError(t, err)
			_, err = f.env.Tokens.RevokeDataPlaneToken(ctx, &switchboardv1.RevokeDataPlaneTokenRequest{Id: tok.Token.Id})
			return err
		}},
	}
	for _, r := range rpcs {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			id := f.instance(t, switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER)
			_, err := updateBreaker(f.owner.Ctx(), f, id, 0, breakerSpec("https://api.example.com"))
			require.NoError(t, err)
			bg := context.Background()

			apitest.RequireCode(t, r.call(bg, f, id), connect.CodeUnauthenticated)
			apitest.RequireCode(t, r.call(f.outsider.Ctx(), f, id), connect.CodeNotFound)
			otherKey := f.env.APIKey(t, f.outsider, switchboardv1.Role_ROLE_OWNER).Secret
			apitest.RequireCode(t, r.call(apitest.WithToken(bg, otherKey), f, id), connect.CodeNotFound)
			if r.minRole > switchboardv1.Role_ROLE_VIEWER {
				apitest.RequireCode(t, r.call(f.viewer.Ctx(), f, id), connect.CodePermissionDenied)
				viewerKey := f.env.APIKey(t, f.owner, switchboardv1.Role_ROLE_VIEWER).Secret
				apitest.RequireCode(t, r.call(apitest.WithToken(bg, viewerKey), f, id), connect.CodePermissionDenied)
			}
			revoked := f.env.APIKey(t, f.owner, switchboardv1.Role_ROLE_ADMIN)
			_, err = f.env.Keys.RevokeAPIKey(f.owner.Ctx(), &switchboardv1.RevokeAPIKeyRequest{Id: revoked.ApiKey.Id})
			require.NoError(t, err)
			apitest.RequireCode(t, r.call(apitest.WithToken(bg, revoked.Secret), f, id), connect.CodeUnauthenticated)

			allowed := f.member
			if r.minRole == switchboardv1.Role_ROLE_VIEWER {
				allowed = f.viewer
			}
			require.NoError(t, r.call(allowed.Ctx(), f, id))
		})
	}
}

func TestConfigVersionsAndConcurrency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := f.member.Ctx()
	id := f.instance(t, switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER)

	empty, err := f.env.Configs.GetConfig(ctx, &switchboardv1.GetConfigRequest{InstanceId: id})
	require.NoError(t, err)
	require.Zero(t, empty.Config.Version)

	v1, err := updateBreaker(ctx, f, id, 0, breakerSpec("https://one.example.com"))
	require.NoError(t, err)
	require.EqualValues(t, 1, v1.Config.Version)
	// Defaults are filled in and documented values come back.
	svc := v1.Config.GetBreaker().Services[0]
	require.EqualValues(t, 5000, svc.TimeoutMs)
	require.EqualValues(t, 10, svc.MinimumCalls)

	// Two editors both based on version 1: the second is refused.
	_, err = updateBreaker(ctx, f, id, 1, breakerSpec("https://two.example.com"))
	require.NoError(t, err)
	_, err = updateBreaker(f.admin.Ctx(), f, id, 1, breakerSpec("https://three.example.com"))
	apitest.RequireCode(t, err, connect.CodeFailedPrecondition)
	require.Contains(t, err.Error(), "at version 2")

	// Rollback makes version 3 with version 1's content.
	rb, err := f.env.Configs.RollbackConfig(ctx, &switchboardv1.RollbackConfigRequest{InstanceId: id, ToVersion: 1})
	require.NoError(t, err)
	require.EqualValues(t, 3, rb.Config.Version)
	require.Equal(t, "https://one.example.com", rb.Config.GetBreaker().Services[0].UpstreamUrl)
	_, err = f.env.Configs.RollbackConfig(ctx, &switchboardv1.RollbackConfigRequest{InstanceId: id, ToVersion: 42})
	apitest.RequireCode(t, err, connect.CodeNotFound)

	list, err := f.env.Configs.ListConfigVersions(ctx, &switchboardv1.ListConfigVersionsRequest{InstanceId: id, PageSize: 2})
	require.NoError(t, err)
	require.Equal(t, []int64{3, 2}, []int64{list.Configs[0].Version, list.Configs[1].Version})
	more, err := f.env.Configs.ListConfigVersions(ctx, &switchboardv1.ListConfigVersionsRequest{InstanceId: id, PageSize: 2, PageToken: list.NextPageToken})
	require.NoError(t, err)
	require.Len(t, more.Configs, 1)
	require.EqualValues(t, 1, more.Configs[0].Version)
	require.Empty(t, more.NextPageToken)

	// Every accepted version queued its publish in the same transaction.
	var publishes int
	require.NoError(t, f.env.DB.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'publish_config' AND args->>'instance_id' = $1`, id).Scan(&publishes))
	require.Equal(t, 3, publishes)

	// A realtime config for a breaker instance names the field.
	_, err = f.env.Configs.UpdateConfig(ctx, &switchboardv1.UpdateConfigRequest{InstanceId: id, BaseVersion: 3,
		Spec: &switchboardv1.UpdateConfigRequest_Realtime{Realtime: &switchboardv1.RealtimeConfig{}}})
	apitest.RequireInvalidField(t, err, "realtime")
}

func TestRealtimeSecretsAreWriteOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := f.member.Ctx()
	id := f.instance(t, switchboardv1.InstanceKind_INSTANCE_KIND_REALTIME)
	secret := strings.Repeat("s", 40)
	res, err := f.env.Configs.UpdateConfig(ctx, &switchboardv1.UpdateConfigRequest{InstanceId: id,
		Spec: &switchboardv1.UpdateConfigRequest_Realtime{Realtime: &switchboardv1.RealtimeConfig{JwtSecret: secret, StreamsSecret: secret + "x"}}})
	require.NoError(t, err)
	require.NotContains(t, res.Config.String(), secret)

	got, err := f.env.Configs.GetConfig(ctx, &switchboardv1.GetConfigRequest{InstanceId: id})
	require.NoError(t, err)
	masked := got.Config.GetRealtime()
	require.NotContains(t, got.Config.String(), secret)
	require.NotEmpty(t, masked.JwtSecret)

	// Sending the masked values back keeps the stored secrets.
	masked.PublicStreams = true
	_, err = f.env.Configs.UpdateConfig(ctx, &switchboardv1.UpdateConfigRequest{InstanceId: id, BaseVersion: 1,
		Spec: &switchboardv1.UpdateConfigRequest_Realtime{Realtime: masked}})
	require.NoError(t, err)
	var spec []byte
	require.NoError(t, f.env.DB.Pool.QueryRow(context.Background(),
		`SELECT spec FROM config_versions WHERE instance_id = $1 AND version = 2`, id).Scan(&spec))
	require.Contains(t, string(spec), secret)
}

// badConfigs are ≥ 30 invalid breaker configs, each with the field it names.
func badConfigs() []struct {
	name, field string
	cfg         *switchboardv1.BreakerConfig
} {
	svc := func(mod func(s *switchboardv1.BreakerService)) *switchboardv1.BreakerConfig {
		s := &switchboardv1.BreakerService{Name: "api", UpstreamUrl: "https://api.example.com"}
		mod(s)
		return &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{s}}
	}
	type c = struct {
		name, field string
		cfg         *switchboardv1.BreakerConfig
	}
	cases := []c{
		{"empty name", "breaker.services[0].name", svc(func(s *switchboardv1.BreakerService) { s.Name = "" })},
		{"upper-case name", "breaker.services[0].name", svc(func(s *switchboardv1.BreakerService) { s.Name = "API" })},
		{"sql name", "breaker.services[0].name", svc(func(s *switchboardv1.BreakerService) { s.Name = "a'; drop table x;--" })},
		{"unicode name", "breaker.services[0].name", svc(func(s *switchboardv1.BreakerService) { s.Name = "pаyments" })},
		{"long name", "breaker.services[0].name", svc(func(s *switchboardv1.BreakerService) { s.Name = "a" + strings.Repeat("b", 63) })},
		{"timeout zero below", "breaker.services[0].timeout_ms", svc(func(s *switchboardv1.BreakerService) { s.TimeoutMs = -1 })},
		{"timeout too big", "breaker.services[0].timeout_ms", svc(func(s *switchboardv1.BreakerService) { s.TimeoutMs = 60001 })},
		{"window size", "breaker.services[0].window_size", svc(func(s *switchboardv1.BreakerService) { s.WindowSize = 5000 })},
		{"window type", "breaker.services[0].window_type", svc(func(s *switchboardv1.BreakerService) { s.WindowType = 9 })},
		{"minimum calls", "breaker.services[0].minimum_calls", svc(func(s *switchboardv1.BreakerService) { s.MinimumCalls = -5 })},
		{"failure rate", "breaker.services[0].failure_rate_threshold", svc(func(s *switchboardv1.BreakerService) { s.FailureRateThreshold = 101 })},
		{"slow rate", "breaker.services[0].slow_call_rate_threshold", svc(func(s *switchboardv1.BreakerService) { s.SlowCallRateThreshold = 200 })},
		{"slow duration", "breaker.services[0].slow_call_duration_ms", svc(func(s *switchboardv1.BreakerService) { s.SlowCallDurationMs = 70000 })},
		{"wait in open", "breaker.services[0].wait_in_open_ms", svc(func(s *switchboardv1.BreakerService) { s.WaitInOpenMs = 5 })},
		{"half-open calls", "breaker.services[0].half_open_permitted_calls", svc(func(s *switchboardv1.BreakerService) { s.HalfOpenPermittedCalls = 1000 })},
		{"forced state", "breaker.services[0].forced_state", svc(func(s *switchboardv1.BreakerService) { s.ForcedState = 77 })},
		{"fallback status", "breaker.services[0].fallback.status", svc(func(s *switchboardv1.BreakerService) {
			s.Fallback = &switchboardv1.FallbackResponse{Status: 99}
		})},
		{"fallback body", "breaker.services[0].fallback.body", svc(func(s *switchboardv1.BreakerService) {
			s.Fallback = &switchboardv1.FallbackResponse{Body: strings.Repeat("x", 70<<10)}
		})},
		{"no url", "breaker.services[0].upstream_url", svc(func(s *switchboardv1.BreakerService) { s.UpstreamUrl = "" })},
		{"ftp url", "breaker.services[0].upstream_url", svc(func(s *switchboardv1.BreakerService) { s.UpstreamUrl = "ftp://files.example.com" })},
		{"userinfo url", "breaker.services[0].upstream_url", svc(func(s *switchboardv1.BreakerService) { s.UpstreamUrl = "https://u:p@example.com" })},
		{"loopback", "breaker.services[0].upstream_url", svc(func(s *switchboardv1.BreakerService) { s.UpstreamUrl = "http://127.0.0.1:8080" })},
		{"localhost", "breaker.services[0].upstream_url", svc(func(s *switchboardv1.BreakerService) { s.UpstreamUrl = "http://localhost" })},
		{"ipv6 loopback", "breaker.services[0].upstream_url", svc(func(s *switchboardv1.BreakerService) { s.UpstreamUrl = "http://[::1]/" })},
		{"private 10", "breaker.services[0].upstream_url", svc(func(s *switchboardv1.BreakerService) { s.UpstreamUrl = "http://10.0.0.5/" })},
		{"private 192", "breaker.services[0].upstream_url", svc(func(s *switchboardv1.BreakerService) { s.UpstreamUrl = "http://192.168.1.1/" })},
		{"metadata", "breaker.services[0].upstream_url", svc(func(s *switchboardv1.BreakerService) { s.UpstreamUrl = "http://169.254.169.254/latest" })},
		{"gcp metadata", "breaker.services[0].upstream_url", svc(func(s *switchboardv1.BreakerService) { s.UpstreamUrl = "http://metadata.google.internal/" })},
		{"hex ip", "breaker.services[0].upstream_url", svc(func(s *switchboardv1.BreakerService) { s.UpstreamUrl = "http://0x7f000001/" })},
		{"mapped v6", "breaker.services[0].upstream_url", svc(func(s *switchboardv1.BreakerService) { s.UpstreamUrl = "http://[::ffff:127.0.0.1]/" })},
		{"bad header", "breaker.services[0].fallback.headers[\"Bad Header\"]", svc(func(s *switchboardv1.BreakerService) {
			s.Fallback = &switchboardv1.FallbackResponse{Headers: map[string]string{"Bad Header": "x"}}
		})},
		{"duplicate names", "breaker.services[1].name", &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{
			{Name: "a", UpstreamUrl: "https://a.example.com"}, {Name: "a", UpstreamUrl: "https://b.example.com"}}}},
	}
	many := &switchboardv1.BreakerConfig{}
	for i := range 51 {
		many.Services = append(many.Services, &switchboardv1.BreakerService{Name: fmt.Sprintf("s%d", i), UpstreamUrl: "https://a.example.com"})
	}
	cases = append(cases, c{"too many services", "breaker.services", many})
	huge := &switchboardv1.BreakerConfig{}
	for i := range 5 {
		huge.Services = append(huge.Services, &switchboardv1.BreakerService{Name: fmt.Sprintf("s%d", i), UpstreamUrl: "https://a.example.com",
			Fallback: &switchboardv1.FallbackResponse{Body: strings.Repeat("x", 60<<10)}})
	}
	cases = append(cases, c{"oversize document", "breaker", huge})
	return cases
}

func TestInvalidConfigsAreRefusedAndCreateNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := f.member.Ctx()
	id := f.instance(t, switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER)
	cases := badConfigs()
	require.GreaterOrEqual(t, len(cases), 30)
	versions, jobs := f.env.Count(t, "config_versions"), f.env.Count(t, "river_job")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := updateBreaker(ctx, f, id, 0, c.cfg)
			apitest.RequireInvalidField(t, err, c.field)
			_, err = f.env.Configs.ValidateConfig(ctx, &switchboardv1.ValidateConfigRequest{InstanceId: id,
				Spec: &switchboardv1.ValidateConfigRequest_Breaker{Breaker: c.cfg}})
			apitest.RequireInvalidField(t, err, c.field)
		})
	}
	require.Equal(t, versions, f.env.Count(t, "config_versions"))
	require.Equal(t, jobs, f.env.Count(t, "river_job"))

	// Bad ids and empty specs, for every config and token RPC.
	_, err := f.env.Configs.UpdateConfig(ctx, &switchboardv1.UpdateConfigRequest{InstanceId: id})
	apitest.RequireInvalidField(t, err, "spec")
	for _, bad := range []string{"", "org_06h2axpxg3ghk455mxrnfscxxg", "ins_'--"} {
		_, err = f.env.Configs.GetConfig(ctx, &switchboardv1.GetConfigRequest{InstanceId: bad})
		apitest.RequireInvalidField(t, err, "instance_id")
		_, err = updateBreaker(ctx, f, bad, 0, breakerSpec("https://a.example.com"))
		apitest.RequireInvalidField(t, err, "instance_id")
		_, err = f.env.Configs.ListConfigVersions(ctx, &switchboardv1.ListConfigVersionsRequest{InstanceId: bad})
		apitest.RequireInvalidField(t, err, "instance_id")
		_, err = f.env.Configs.RollbackConfig(ctx, &switchboardv1.RollbackConfigRequest{InstanceId: bad, ToVersion: 1})
		apitest.RequireInvalidField(t, err, "instance_id")
		_, err = f.env.Configs.GetRollout(ctx, &switchboardv1.GetRolloutRequest{InstanceId: bad})
		apitest.RequireInvalidField(t, err, "instance_id")
		_, err = f.env.Tokens.CreateDataPlaneToken(ctx, &switchboardv1.CreateDataPlaneTokenRequest{InstanceId: bad, Name: "x"})
		apitest.RequireInvalidField(t, err, "instance_id")
		_, err = f.env.Tokens.ListDataPlaneTokens(ctx, &switchboardv1.ListDataPlaneTokensRequest{InstanceId: bad})
		apitest.RequireInvalidField(t, err, "instance_id")
		_, err = f.env.Tokens.RevokeDataPlaneToken(ctx, &switchboardv1.RevokeDataPlaneTokenRequest{Id: bad})
		apitest.RequireInvalidField(t, err, "id")
	}
	_, err = f.env.Configs.RollbackConfig(ctx, &switchboardv1.RollbackConfigRequest{InstanceId: id, ToVersion: -1})
	apitest.RequireInvalidField(t, err, "to_version")
	_, err = f.env.Tokens.CreateDataPlaneToken(ctx, &switchboardv1.CreateDataPlaneTokenRequest{InstanceId: id, Name: strings.Repeat("n", 101)})
	apitest.RequireInvalidField(t, err, "name")
	require.Equal(t, 0, f.env.Count(t, "data_plane_tokens"))
}

func TestDataPlaneTokensAndReportStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.instance(t, switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER)
	other := f.instance(t, switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER)
	res, err := f.env.Tokens.CreateDataPlaneToken(f.member.Ctx(), &switchboardv1.CreateDataPlaneTokenRequest{InstanceId: id, Name: "edge-1"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(res.Secret, "sb_dp_"))
	require.Equal(t, "http://cdn.invalid", res.CdnUrl)
	require.Len(t, res.TrustedKeys, 1)
	require.Equal(t, apitest.Keyring.KeyID(), res.TrustedKeys[0].KeyId)

	// The registry sync is queued with the token.
	var syncs int
	require.NoError(t, f.env.DB.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'sync_token_registry' AND args->>'token_id' = $1`, res.Token.Id).Scan(&syncs))
	require.Equal(t, 1, syncs)

	report := &switchboardv1.ReportStatusRequest{InstanceId: id, NodeId: "node-a", AppliedVersion: 3, LastError: "",
		LastSyncTime: timestamppb.Now(), AgentVersion: "test"}
	dp := apitest.WithToken(context.Background(), res.Secret)
	_, err = f.env.DataPlanes.ReportStatus(context.Background(), report)
	apitest.RequireCode(t, err, connect.CodeUnauthenticated)
	_, err = f.env.DataPlanes.ReportStatus(f.owner.Ctx(), report) // a session is not a data-plane token
	apitest.RequireCode(t, err, connect.CodeUnauthenticated)
	_, err = f.env.DataPlanes.ReportStatus(dp, &switchboardv1.ReportStatusRequest{InstanceId: other, NodeId: "node-a"})
	apitest.RequireCode(t, err, connect.CodeNotFound)
	_, err = f.env.DataPlanes.ReportStatus(dp, &switchboardv1.ReportStatusRequest{InstanceId: id, NodeId: ""})
	apitest.RequireInvalidField(t, err, "node_id")
	_, err = f.env.DataPlanes.ReportStatus(dp, report)
	require.NoError(t, err)

	rollout, err := f.env.Configs.GetRollout(f.viewer.Ctx(), &switchboardv1.GetRolloutRequest{InstanceId: id})
	require.NoError(t, err)
	require.Len(t, rollout.Nodes, 1)
	require.EqualValues(t, 3, rollout.Nodes[0].AppliedVersion)

	_, err = f.env.Tokens.RevokeDataPlaneToken(f.member.Ctx(), &switchboardv1.RevokeDataPlaneTokenRequest{Id: res.Token.Id})
	require.NoError(t, err)
	_, err = f.env.DataPlanes.ReportStatus(dp, report)
	apitest.RequireCode(t, err, connect.CodeUnauthenticated)
	list, err := f.env.Tokens.ListDataPlaneTokens(f.viewer.Ctx(), &switchboardv1.ListDataPlaneTokensRequest{InstanceId: id})
	require.NoError(t, err)
	require.Len(t, list.Tokens, 1)
	require.NotNil(t, list.Tokens[0].RevokeTime)
	require.NotNil(t, list.Tokens[0].LastUsedTime)
}

// TestUnknownJSONFieldsAreRefused: Connect JSON with a misspelled config
// field is InvalidArgument naming it, and nothing is stored.
func TestUnknownJSONFieldsAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.instance(t, switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER)
	body := `{"instanceId":"` + id + `","breaker":{"services":[{"name":"api","upstreamUrl":"https://a.example.com","timoutMs":100}]}}`
	req, err := http.NewRequest(http.MethodPost, f.env.URL+"/switchboard.v1.ConfigService/UpdateConfig", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.member.Token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var got struct{ Code, Message string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&got))
	require.Equal(t, "invalid_argument", got.Code)
	require.Contains(t, got.Message, "timoutMs")
	require.Equal(t, 0, f.env.Count(t, "config_versions"))
}
