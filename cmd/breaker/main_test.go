package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/blob/blobtest"
	"github.com/switchboardhq/switchboard/cdn"
	"github.com/switchboardhq/switchboard/compile"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func TestMain(m *testing.M) { blobtest.Main(m) }

// proc is one run of the program on port 0.
type proc struct {
	url    string
	cancel context.CancelFunc
	done   chan error
}

func startProc(t *testing.T, env map[string]string) *proc {
	t.Helper()
	env["PORT"] = "0"
	ctx, cancel := context.WithCancel(context.Background())
	p := &proc{cancel: cancel, done: make(chan error, 1)}
	listening := make(chan string, 1)
	go func() { p.done <- run(ctx, func(k string) string { return env[k] }, io.Discard, listening) }()
	select {
	case addr := <-listening:
		p.url = "http://" + strings.Replace(addr, "[::]", "127.0.0.1", 1)
	case err := <-p.done:
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *proc) stop(t *testing.T) {
	p.cancel()
	select {
	case err := <-p.done:
		require.NoError(t, err)
		p.done <- nil
	case <-time.After(30 * time.Second):
		t.Fatal("did not stop")
	}
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

func keyring(t *testing.T) *compile.Keyring {
	t.Helper()
	priv, err := compile.GenerateKey()
	require.NoError(t, err)
	k, err := compile.NewKeyring(priv)
	require.NoError(t, err)
	return k
}

func TestColdStartWithoutCacheOrCDN(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(up.Close)
	p := startProc(t, map[string]string{
		"SWITCHBOARD_INSTANCE_ID":  "ins_cold",
		"SWITCHBOARD_TOKEN":        "sb_dp_x",
		"SWITCHBOARD_CDN_URL":      dead.URL,
		"SWITCHBOARD_TRUSTED_KEYS": keyring(t).TrustedKeys().String(),
		"SWITCHBOARD_CACHE_DIR":    t.TempDir(),
	})
	code, body, _ := get(t, p.url+"/_switchboard/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "no config yet")
	code, body, _ = get(t, p.url+"/api/anything")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, "no config yet")
	code, _, _ = get(t, p.url+"/_switchboard/healthz")
	require.Equal(t, http.StatusOK, code)
	require.Zero(t, hits.Load())
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	keys := keyring(t).TrustedKeys().String()
	for name, env := range map[string]map[string]string{
		"no instance":  {"SWITCHBOARD_TRUSTED_KEYS": keys},
		"no keys":      {"SWITCHBOARD_INSTANCE_ID": "ins_x"},
		"bad keys":     {"SWITCHBOARD_INSTANCE_ID": "ins_x", "SWITCHBOARD_TRUSTED_KEYS": "nope"},
		"no token":     {"SWITCHBOARD_INSTANCE_ID": "ins_x", "SWITCHBOARD_TRUSTED_KEYS": keys, "SWITCHBOARD_CDN_URL": "http://cdn"},
		"bad private":  {"SWITCHBOARD_INSTANCE_ID": "ins_x", "SWITCHBOARD_TRUSTED_KEYS": keys, "SWITCHBOARD_ALLOW_PRIVATE_TARGETS": "maybe"},
		"bad port":     {"SWITCHBOARD_INSTANCE_ID": "ins_x", "SWITCHBOARD_TRUSTED_KEYS": keys, "PORT": "http"},
		"bad loglevel": {"SWITCHBOARD_INSTANCE_ID": "ins_x", "SWITCHBOARD_TRUSTED_KEYS": keys, "SWITCHBOARD_LOG_LEVEL": "loud"},
	} {
		_, err := readConfig(func(k string) string { return env[k] })
		require.Error(t, err, name)
	}
	cfg, err := readConfig(func(k string) string {
		return map[string]string{"SWITCHBOARD_INSTANCE_ID": "ins_x", "SWITCHBOARD_TRUSTED_KEYS": keys,
			"SWITCHBOARD_CDN_URL": "http://a, http://b", "SWITCHBOARD_TOKEN": "sb_dp_x", "XDG_CACHE_HOME": "/xdg"}[k]
	})
	require.NoError(t, err)
	require.Equal(t, []string{"http://a", "http://b"}, cfg.Agent.URLs)
	require.Equal(t, "/xdg/switchboard", cfg.Agent.CacheDir)
	require.Equal(t, ":8080", cfg.Addr)
	require.False(t, cfg.AllowPrivate)
}

// TestOverRealCDN runs the program against the real CDN over versitygw:
// config applied, forced_open within 2 s, a tampered artifact refused, the
// cache used when the CDN is gone, and a drain on shutdown.
func TestOverRealCDN(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := blobtest.NewStore(t)
	srv := cdn.New(cdn.Params{Store: store})
	cdnHTTP := httptest.NewServer(srv.Handler())
	t.Cleanup(cdnHTTP.Close)
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); _ = srv.Run(feedCtx) }()
	t.Cleanup(func() { stopFeed(); <-feedDone })

	id := switchboard.NewID(switchboard.PrefixInstance, time.Now())
	tokenID := switchboard.NewID(switchboard.PrefixDataPlaneToken, time.Now())
	token := switchboard.NewToken(switchboard.TokenDataPlane, tokenID)
	sum := switchboard.HashToken(token)
	entry, _ := json.Marshal(switchboard.TokenRegistryEntry{TokenID: tokenID, InstanceID: id, SHA256: hex.EncodeToString(sum[:])})
	_, err := store.Put(ctx, switchboard.TokenRegistryKey(tokenID), entry, "application/json")
	require.NoError(t, err)

	k := keyring(t)
	var seq int64
	publish := func(version int64, k *compile.Keyring, services ...*switchboardv1.BreakerService) {
		t.Helper()
		payload, err := compile.Compile(id, artifactv1.Kind_KIND_BREAKER, version, time.Now(), &switchboardv1.BreakerConfig{Services: services})
		require.NoError(t, err)
		body, err := proto.Marshal(k.Sign(payload))
		require.NoError(t, err)
		_, err = store.Put(ctx, switchboard.ArtifactKey(id, version), body, switchboard.ArtifactContentType)
		require.NoError(t, err)
		_, err = store.Put(ctx, switchboard.LatestArtifactKey(id), body, switchboard.ArtifactContentType)
		require.NoError(t, err)
		seq++
		_, err = store.Put(ctx, switchboard.ChangeKey(seq), []byte(id), "text/plain")
		require.NoError(t, err)
	}

	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "hello from "+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	api := &switchboardv1.BreakerService{Name: "api", UpstreamUrl: up.URL}
	publish(1, k, api)

	env := map[string]string{
		"SWITCHBOARD_INSTANCE_ID":           id,
		"SWITCHBOARD_TOKEN":                 token,
		"SWITCHBOARD_CDN_URL":               cdnHTTP.URL,
		"SWITCHBOARD_TRUSTED_KEYS":          k.TrustedKeys().String(),
		"SWITCHBOARD_CACHE_DIR":             t.TempDir(),
		"SWITCHBOARD_ALLOW_PRIVATE_TARGETS": "true",
	}
	p := startProc(t, env)
	require.Eventually(t, func() bool { c, _, _ := get(t, p.url+"/readyz"); return c == http.StatusOK }, 10*time.Second, 10*time.Millisecond)
	code, body, _ := get(t, p.url+"/api/x")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "hello from /x", body)

	// forced_open through a new artifact takes effect within 2 s.
	forced := proto.CloneOf(api)
	forced.ForcedState = switchboardv1.ForcedState_FORCED_STATE_FORCED_OPEN
	published := time.Now()
	publish(2, k, forced)
	require.Eventually(t, func() bool { c, _, _ := get(t, p.url+"/api/x"); return c == http.StatusServiceUnavailable }, 2*time.Second, 10*time.Millisecond)
	t.Logf("forced_open applied after %s", time.Since(published))
	publish(3, k, api)
	require.Eventually(t, func() bool { c, _, _ := get(t, p.url+"/api/x"); return c == http.StatusOK }, 2*time.Second, 10*time.Millisecond)

	// An artifact signed by another key is refused and counted; v3 stays.
	publish(4, keyring(t), forced)
	require.Eventually(t, func() bool {
		_, m, _ := get(t, p.url+"/_switchboard/metrics")
		return strings.Contains(m, `switchboard_config_rejections_total{reason="unknown_key"} 1`)
	}, 5*time.Second, 10*time.Millisecond)
	code, _, _ = get(t, p.url+"/api/x")
	require.Equal(t, http.StatusOK, code)
	_, status, _ := get(t, p.url+"/_switchboard/status")
	require.Contains(t, status, `"applied_version":3`)
	require.Contains(t, status, "unknown_key")

	// Shutdown drains an in-flight request.
	inflight := make(chan string, 1)
	go func() {
		resp, err := http.Get(p.url + "/api/slow")
		if err != nil {
			inflight <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		inflight <- string(b)
	}()
	time.Sleep(100 * time.Millisecond)
	p.cancel()
	time.Sleep(100 * time.Millisecond)
	close(release)
	require.Equal(t, "hello from /slow", <-inflight)
	p.stop(t)

	// The CDN goes away; a restarted data plane serves from its cache.
	cdnHTTP.Close()
	p2 := startProc(t, env)
	code, body, _ = get(t, p2.url+"/api/y")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "hello from /y", body)
}
