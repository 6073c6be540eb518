package realtime_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard/compile"
	"github.com/switchboardhq/switchboard/dataplane/configsync"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// fakeCDN serves one signed artifact with an ETag, as the CDN does.
type fakeCDN struct {
	t     *testing.T
	keys  *compile.Keyring
	token string
	mu    sync.Mutex
	body  []byte
	etag  string
}

func (f *fakeCDN) publish(version int64, cfg *switchboardv1.RealtimeConfig) {
	f.t.Helper()
	payload, err := compile.Compile(instanceID, artifactv1.Kind_KIND_REALTIME, version, time.Now(), cfg)
	require.NoError(f.t, err)
	env, err := proto.Marshal(f.keys.Sign(payload))
	require.NoError(f.t, err)
	f.mu.Lock()
	f.body, f.etag = env, `"v`+strconv.FormatInt(version, 10)+`"`
	f.mu.Unlock()
}

func (f *fakeCDN) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	if r.URL.Path != "/v1/instances/"+instanceID+"/artifact" {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	body, etag := f.body, f.etag
	f.mu.Unlock()
	switch {
	case body == nil:
		http.NotFound(w, r)
	case r.Header.Get("If-None-Match") == etag:
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
	default:
		w.Header().Set("ETag", etag)
		_, _ = w.Write(body)
	}
}

func TestAppliedThroughConfigsync(t *testing.T) {
	t.Parallel()
	b := setup(t)
	priv, err := compile.GenerateKey()
	require.NoError(t, err)
	keys, err := compile.NewKeyring(priv)
	require.NoError(t, err)
	cdn := &fakeCDN{t: t, keys: keys, token: "sb_dp_test"}
	cdnServer := httptest.NewServer(cdn)
	t.Cleanup(cdnServer.Close)

	agent, err := configsync.New(configsync.Config{
		InstanceID: instanceID,
		Kind:       artifactv1.Kind_KIND_REALTIME,
		URLs:       []string{cdnServer.URL},
		Token:      cdn.token,
		Trusted:    keys.TrustedKeys(),
		CacheDir:   t.TempDir(),
		Logger:     testLogger(t),
		Registerer: b.reg,
	}, b.srv)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})

	// No artifact yet: not ready, nothing served.
	code, _ := b.get(t, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)

	cdn.publish(1, baseConfig())
	require.Eventually(t, b.srv.Ready, 10*time.Second, 20*time.Millisecond)
	oldToken := token(t, jwtSecret, "1")
	c := b.connect(t, oldToken)
	id := pubsubIdentifier("signed_stream_name", signStream(streamsSecret, "s"))
	require.Equal(t, "confirm_subscription", c.subscribe(id))
	require.Equal(t, http.StatusCreated, b.broadcast(t, broadcastKey, "s", `"one"`))
	require.Equal(t, "one", c.read()["message"])

	cfg := baseConfig()
	cfg.JwtSecret = jwtSecret2
	cdn.publish(2, cfg)
	require.Equal(t, "disconnect", c.read()["type"], "the node restarts")
	require.Eventually(t, func() bool {
		return metricValue(t, b.reg, "switchboard_config_applied_version") == 2
	}, 10*time.Second, 20*time.Millisecond)
	old, _, err := b.dial(t, oldToken, nil)
	require.NoError(t, err)
	require.Equal(t, "unauthorized", old.read()["reason"])
	b.connect(t, token(t, jwtSecret2, "1"))
}
