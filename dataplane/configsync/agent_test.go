package configsync_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/dataplane/configsync"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
	"github.com/switchboardhq/switchboard/gen/switchboard/v1/switchboardv1connect"
)

const instanceID = "ins_test1"

func TestAppliesFromCDNAndLongPolls(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	cdn := newFakeCDN(t, testToken)
	cdn.set(sign(t, k, instanceID, 1))
	b := start(t, baseConfig(t, k, instanceID, cdn.srv.URL))

	b.waitApplied(t, 1)
	require.True(t, b.agent.Ready())
	st := b.agent.Status()
	require.Equal(t, int64(1), st.AppliedVersion)
	require.Equal(t, "cdn", st.Source)
	require.False(t, st.LastSync.IsZero())
	require.Equal(t, float64(1), b.metric(t, "switchboard_config_applied_version"))
	require.Equal(t, float64(1), b.metric(t, "switchboard_config_ready"))
	require.NotZero(t, b.metric(t, "switchboard_config_last_sync_timestamp_seconds"))

	// The agent is now holding a long-poll; a new version arrives at once.
	time.Sleep(100 * time.Millisecond)
	published := time.Now()
	cdn.set(sign(t, k, instanceID, 2))
	b.waitApplied(t, 2)
	require.Less(t, time.Since(published), time.Second, "long-poll should deliver a change at once")

	// Idle long-polls do not spin.
	before := cdn.requests()
	time.Sleep(500 * time.Millisecond)
	require.LessOrEqual(t, cdn.requests()-before, 1)
}

func TestRestartServesFromCacheWithoutCDN(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	cdn := newFakeCDN(t, testToken)
	cdn.set(sign(t, k, instanceID, 3))
	cfg := baseConfig(t, k, instanceID, cdn.srv.URL)
	b := start(t, cfg)
	b.waitApplied(t, 3)
	b.stop()

	cdn.setStatus(http.StatusBadGateway)
	b2 := start(t, cfg)
	b2.waitApplied(t, 3)
	require.True(t, b2.agent.Ready())
	require.Equal(t, "cache", b2.agent.Status().Source)
	eventually(t, func() bool { return b2.metric(t, "switchboard_config_sync_errors_total", "reason", "http_status") > 0 },
		"CDN failures counted")
	require.True(t, b2.agent.Ready(), "still ready while the CDN fails")
	require.Contains(t, b2.agent.Status().LastError, "502")

	// The CDN comes back with a change: applied, error cleared.
	cdn.set(sign(t, k, instanceID, 4))
	cdn.setStatus(0)
	b2.waitApplied(t, 4)
	eventually(t, func() bool { return b2.agent.Status().LastError == "" }, "error cleared")
}

func TestColdStartWithoutCacheOrCDNIsNotReady(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	b := start(t, baseConfig(t, k, instanceID, dead.URL))
	eventually(t, func() bool { return b.metric(t, "switchboard_config_sync_errors_total", "reason", "network") >= 2 },
		"connection failures counted")
	require.False(t, b.agent.Ready())
	require.Zero(t, b.agent.Status().AppliedVersion)
	require.Equal(t, float64(0), b.metric(t, "switchboard_config_ready"))
	require.NotEmpty(t, b.agent.Status().LastError)
}

func TestBootstrapFileCoversColdStart(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	boot := filepath.Join(t.TempDir(), "bootstrap.pb")
	require.NoError(t, os.WriteFile(boot, sign(t, k, instanceID, 5), 0o600))
	cfg := baseConfig(t, k, instanceID)
	cfg.BootstrapFile = boot
	b := start(t, cfg)
	b.waitApplied(t, 5)
	require.Equal(t, "bootstrap", b.agent.Status().Source)
	b.stop()

	// It was cached like any accepted artifact.
	cfg.BootstrapFile = ""
	b2 := start(t, cfg)
	b2.waitApplied(t, 5)
	require.Equal(t, "cache", b2.agent.Status().Source)
}

func TestRejectionsKeepTheLastGoodConfig(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	other := newKeyring(t)

	good := sign(t, k, instanceID, 10)
	badSig := append([]byte(nil), sign(t, k, instanceID, 11)...)
	badSig[len(badSig)-1] ^= 0xff // last byte of the signature
	tooLarge := make([]byte, 64<<10)

	cases := []struct {
		reason string
		body   []byte
	}{
		{configsync.ReasonBadSignature, badSig},
		{configsync.ReasonUnknownKey, sign(t, other, instanceID, 12)},
		{configsync.ReasonWrongInstance, sign(t, k, "ins_other", 13)},
		{configsync.ReasonOldVersion, sign(t, k, instanceID, 9)},
		{configsync.ReasonTooLarge, tooLarge},
		{configsync.ReasonMalformed, []byte("not a protobuf \xff\xff\xff")},
		{configsync.ReasonWrongKind, signSpec(t, k, instanceID, artifactv1.Kind_KIND_REALTIME, 14, &switchboardv1.RealtimeConfig{})},
	}
	cdn := newFakeCDN(t, testToken)
	cdn.set(good)
	cfg := baseConfig(t, k, instanceID, cdn.srv.URL)
	cfg.MaxArtifactBytes = 32 << 10
	b := start(t, cfg)
	b.waitApplied(t, 10)

	for _, c := range cases {
		cdn.set(c.body)
		eventually(t, func() bool { return b.rejections(t, c.reason) == 1 }, c.reason+" counted")
		st := b.agent.Status()
		require.Equal(t, int64(10), st.AppliedVersion, c.reason)
		require.Equal(t, int64(1), st.Rejections[c.reason], c.reason)
		require.Contains(t, st.LastError, c.reason)
		require.True(t, b.agent.Ready())
	}
	// The rejected artifact is not downloaded over and over.
	before := cdn.requests()
	time.Sleep(300 * time.Millisecond)
	require.LessOrEqual(t, cdn.requests()-before, 1)

	b.applier.mu.Lock()
	require.Equal(t, []int64{10}, b.applier.versions)
	b.applier.mu.Unlock()

	cdn.set(sign(t, k, instanceID, 15))
	b.waitApplied(t, 15)
	require.Empty(t, b.agent.Status().LastError)
}

func TestCorruptCacheIsDiscarded(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	cfg := baseConfig(t, k, instanceID) // no CDN: only the cache could make it ready
	dir := filepath.Join(cfg.CacheDir, instanceID)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	full := sign(t, k, instanceID, 7)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "artifact.pb"), full[:len(full)-10], 0o600))

	b := start(t, cfg)
	eventually(t, func() bool { return b.rejections(t, configsync.ReasonCorruptCache) == 1 }, "corrupt cache counted")
	require.False(t, b.agent.Ready())
	_, err := os.Stat(filepath.Join(dir, "artifact.pb"))
	require.ErrorIs(t, err, os.ErrNotExist, "discarded")
}

func TestHighestVersionSurvivesCacheRollback(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	cdn := newFakeCDN(t, testToken)
	old := sign(t, k, instanceID, 1)
	cdn.set(old)
	cfg := baseConfig(t, k, instanceID, cdn.srv.URL)
	b := start(t, cfg)
	b.waitApplied(t, 1)
	cdn.set(sign(t, k, instanceID, 2))
	b.waitApplied(t, 2)
	b.stop()

	// Someone puts version 1 back into the cache, and the CDN serves it.
	require.NoError(t, os.WriteFile(filepath.Join(cfg.CacheDir, instanceID, "artifact.pb"), old, 0o600))
	cdn.set(old)
	b2 := start(t, cfg)
	eventually(t, func() bool { return b2.rejections(t, configsync.ReasonOldVersion) >= 2 }, "rolled-back cache and CDN copy refused")
	require.False(t, b2.agent.Ready())
	require.Equal(t, int64(2), b2.agent.Status().HighestVersion)

	// Version 2 itself is welcome again.
	cdn.set(sign(t, k, instanceID, 2))
	b2.waitApplied(t, 2)
}

func TestTriesURLsInOrder(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	down := newFakeCDN(t, testToken)
	down.setStatus(http.StatusServiceUnavailable)
	up := newFakeCDN(t, testToken)
	up.set(sign(t, k, instanceID, 1))
	b := start(t, baseConfig(t, k, instanceID, down.srv.URL, up.srv.URL))
	b.waitApplied(t, 1)
	require.Positive(t, down.requests())
	require.Zero(t, b.metric(t, "switchboard_config_sync_errors_total", "reason", "http_status"),
		"one URL answering is not a sync error")
}

func TestApplyFailureIsRetried(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	cdn := newFakeCDN(t, testToken)
	cdn.set(sign(t, k, instanceID, 1))
	cfg := baseConfig(t, k, instanceID, cdn.srv.URL)
	b := start(t, cfg)
	b.waitApplied(t, 1)

	b.applier.setFail(errors.New("cannot apply"))
	cdn.set(sign(t, k, instanceID, 2))
	eventually(t, func() bool { return b.metric(t, "switchboard_config_sync_errors_total", "reason", "apply") >= 2 }, "apply retried")
	require.Equal(t, int64(1), b.agent.Status().AppliedVersion)
	require.Contains(t, b.agent.Status().LastError, "cannot apply")
	b.applier.setFail(nil)
	b.waitApplied(t, 2)
}

// reportServer is a DataPlaneService that records reports.
type reportServer struct {
	mu      sync.Mutex
	reports []*switchboardv1.ReportStatusRequest
	auth    []string
}

func (s *reportServer) ReportStatus(_ context.Context, req *switchboardv1.ReportStatusRequest) (*switchboardv1.ReportStatusResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reports = append(s.reports, req)
	return &switchboardv1.ReportStatusResponse{}, nil
}

func (s *reportServer) last() *switchboardv1.ReportStatusRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reports) == 0 {
		return nil
	}
	return s.reports[len(s.reports)-1]
}

func TestReportsStatus(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	rs := &reportServer{}
	path, h := switchboardv1connect.NewDataPlaneServiceHandler(rs, connect.WithInterceptors(
		connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				rs.mu.Lock()
				rs.auth = append(rs.auth, req.Header().Get("Authorization"))
				rs.mu.Unlock()
				return next(ctx, req)
			}
		})))
	mux := http.NewServeMux()
	mux.Handle(path, h)
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)

	cdn := newFakeCDN(t, testToken)
	cdn.set(sign(t, k, instanceID, 1))
	cfg := baseConfig(t, k, instanceID, cdn.srv.URL)
	cfg.APIURL = api.URL
	cfg.NodeID = "node-1"
	cfg.AgentVersion = "test"
	b := start(t, cfg)
	b.waitApplied(t, 1)
	eventually(t, func() bool { r := rs.last(); return r != nil && r.AppliedVersion == 1 }, "apply reported")
	r := rs.last()
	require.Equal(t, instanceID, r.InstanceId)
	require.Equal(t, "node-1", r.NodeId)
	require.Equal(t, "test", r.AgentVersion)
	require.NotNil(t, r.LastSyncTime)
	require.Equal(t, "closed", r.BreakerStates[0].State)
	rs.mu.Lock()
	require.Equal(t, "Bearer "+testToken, rs.auth[0])
	rs.mu.Unlock()

	// A rejection is reported with its reason.
	cdn.set(sign(t, k, "ins_other", 2))
	eventually(t, func() bool {
		r := rs.last()
		return r != nil && r.AppliedVersion == 1 && r.LastError != "" &&
			strings.Contains(r.LastError, configsync.ReasonWrongInstance)
	}, "rejection reported")
}

func TestReportFailuresDoNotMatter(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	cdn := newFakeCDN(t, testToken)
	cdn.set(sign(t, k, instanceID, 1))
	cfg := baseConfig(t, k, instanceID, cdn.srv.URL)
	cfg.APIURL = dead.URL
	b := start(t, cfg)
	b.waitApplied(t, 1)
	require.True(t, b.agent.Ready())
	require.Empty(t, b.agent.Status().LastError)
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	for name, mutate := range map[string]func(*configsync.Config){
		"no instance":       func(c *configsync.Config) { c.InstanceID = "" },
		"path in instance":  func(c *configsync.Config) { c.InstanceID = "../etc" },
		"no kind":           func(c *configsync.Config) { c.Kind = artifactv1.Kind_KIND_UNSPECIFIED },
		"no trusted keys":   func(c *configsync.Config) { c.Trusted = nil },
		"URLs but no token": func(c *configsync.Config) { c.Token = "" },
	} {
		cfg := baseConfig(t, k, instanceID, "http://cdn.example")
		mutate(&cfg)
		_, err := configsync.New(cfg, newApplier())
		require.Error(t, err, name)
	}
	_, err := configsync.New(baseConfig(t, k, instanceID), nil)
	require.Error(t, err, "no applier")
}

func TestLoadAppliesTheCacheBeforeServing(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	cdn := newFakeCDN(t, testToken)
	cdn.set(sign(t, k, instanceID, 8))
	cfg := baseConfig(t, k, instanceID, cdn.srv.URL)
	b := start(t, cfg)
	b.waitApplied(t, 8)
	b.stop()

	cdn.setStatus(http.StatusServiceUnavailable)
	a := newApplier()
	agent, err := configsync.New(cfg, a)
	require.NoError(t, err)
	require.False(t, agent.Ready())
	require.NoError(t, agent.Load(context.Background()))
	require.True(t, agent.Ready(), "ready as soon as Load returns")
	require.Equal(t, int64(8), agent.Status().AppliedVersion)
	require.Equal(t, []int64{8}, a.versions)
}

func TestFirstPublishArrivesQuickly(t *testing.T) {
	t.Parallel()
	k := newKeyring(t)
	cdn := newFakeCDN(t, testToken) // 404 until set
	cfg := baseConfig(t, k, instanceID, cdn.srv.URL)
	cfg.BackoffBase, cfg.BackoffMax = time.Second, time.Minute
	b := start(t, cfg)
	eventually(t, func() bool { return cdn.requests() >= 1 }, "polled")
	time.Sleep(3 * time.Second) // long enough for an uncapped backoff to grow
	published := time.Now()
	cdn.set(sign(t, k, instanceID, 1))
	b.waitApplied(t, 1)
	require.Less(t, time.Since(published), 2500*time.Millisecond)
}
