package configsync_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard/blob/blobtest"
	"github.com/switchboardhq/switchboard/compile"
	"github.com/switchboardhq/switchboard/dataplane/configsync"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
	"github.com/switchboardhq/switchboard/internal/promtest"
)

func TestMain(m *testing.M) { blobtest.Main(m) }

var issued = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newKeyring(t *testing.T) *compile.Keyring {
	t.Helper()
	priv, err := compile.GenerateKey()
	require.NoError(t, err)
	k, err := compile.NewKeyring(priv)
	require.NoError(t, err)
	return k
}

// breakerSpec is a valid breaker config whose single service's timeout
// marks the version, so tests can tell applied configs apart.
func breakerSpec(version int64) *switchboardv1.BreakerConfig {
	return &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{{
		Name:        "api",
		UpstreamUrl: "https://api.example.com",
		TimeoutMs:   int32(1000 + version),
	}}}
}

// sign compiles and signs a breaker artifact.
func sign(t *testing.T, k *compile.Keyring, instanceID string, version int64) []byte {
	t.Helper()
	return signSpec(t, k, instanceID, artifactv1.Kind_KIND_BREAKER, version, breakerSpec(version))
}

func signSpec(t *testing.T, k *compile.Keyring, instanceID string, kind artifactv1.Kind, version int64, spec proto.Message) []byte {
	t.Helper()
	payload, err := compile.Compile(instanceID, kind, version, issued, spec)
	require.NoError(t, err)
	b, err := proto.Marshal(k.Sign(payload))
	require.NoError(t, err)
	return b
}

// applier records what it is given.
type applier struct {
	mu       sync.Mutex
	versions []int64
	fail     error
	applied  chan int64
}

func newApplier() *applier { return &applier{applied: make(chan int64, 100)} }

func (a *applier) Apply(_ context.Context, p *artifactv1.Payload) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
	}
	a.versions = append(a.versions, p.Version)
	a.applied <- p.Version
	return nil
}

func (a *applier) setFail(err error) {
	a.mu.Lock()
	a.fail = err
	a.mu.Unlock()
}

func (a *applier) BreakerStates() []*switchboardv1.ServiceBreakerState {
	return []*switchboardv1.ServiceBreakerState{{Service: "api", State: "closed"}}
}

// waitApplied waits for version to be applied.
func (a *applier) waitApplied(t *testing.T, version int64) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case v := <-a.applied:
			if v == version {
				return
			}
		case <-timeout:
			t.Fatalf("version %d not applied within 10s", version)
		}
	}
}

// fakeCDN serves one artifact with ETags and long-polls, like cdn/, and can
// fail on demand.
type fakeCDN struct {
	srv     *httptest.Server
	mu      sync.Mutex
	body    []byte
	etag    string
	seq     int
	changed chan struct{}
	status  int // when nonzero, every request gets it
	token   string
	reqs    int
}

func newFakeCDN(t *testing.T, token string) *fakeCDN {
	f := &fakeCDN{changed: make(chan struct{}), token: token}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCDN) set(body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.body = body
	f.seq++
	f.etag = fmt.Sprintf(`"v%d"`, f.seq)
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeCDN) setStatus(code int) {
	f.mu.Lock()
	f.status = code
	f.mu.Unlock()
}

func (f *fakeCDN) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs
}

func (f *fakeCDN) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs++
	status := f.status
	f.mu.Unlock()
	if status != 0 {
		http.Error(w, "injected", status)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	deadline := time.After(wait)
	for {
		f.mu.Lock()
		body, etag, changed := f.body, f.etag, f.changed
		f.mu.Unlock()
		if body == nil {
			http.Error(w, "no artifact", http.StatusNotFound)
			return
		}
		if inm := r.Header.Get("If-None-Match"); inm != etag || wait == 0 {
			w.Header().Set("ETag", etag)
			if inm == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			_, _ = w.Write(body)
			return
		}
		select {
		case <-changed:
		case <-deadline:
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// bundle is an agent under test with its collaborators.
type bundle struct {
	cfg     configsync.Config
	reg     *prometheus.Registry
	applier *applier
	agent   *configsync.Agent
	cancel  context.CancelFunc
	done    chan struct{}
}

const testToken = "sb_dp_test"

func baseConfig(t *testing.T, k *compile.Keyring, instanceID string, urls ...string) configsync.Config {
	return configsync.Config{
		InstanceID:  instanceID,
		Kind:        artifactv1.Kind_KIND_BREAKER,
		URLs:        urls,
		Token:       testToken,
		Trusted:     k.TrustedKeys(),
		CacheDir:    t.TempDir(),
		LongPoll:    2 * time.Second,
		BackoffBase: 10 * time.Millisecond,
		BackoffMax:  50 * time.Millisecond,
	}
}

// start runs an agent with cfg until the test ends (or stop is called).
func start(t *testing.T, cfg configsync.Config) *bundle {
	t.Helper()
	b := &bundle{cfg: cfg, reg: prometheus.NewRegistry(), applier: newApplier(), done: make(chan struct{})}
	cfg.Registerer = b.reg
	var err error
	b.agent, err = configsync.New(cfg, b.applier)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() {
		defer close(b.done)
		require.NoError(t, b.agent.Run(ctx))
	}()
	t.Cleanup(b.stop)
	return b
}

// waitApplied waits until the agent has applied version.
func (b *bundle) waitApplied(t *testing.T, version int64) {
	t.Helper()
	b.applier.waitApplied(t, version)
	eventually(t, func() bool { return b.agent.Status().AppliedVersion == version }, "status shows the version")
}

func (b *bundle) stop() {
	b.cancel()
	<-b.done
}

// metric returns one sample's value from the agent's registry.
func (b *bundle) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return promtest.Value(t, b.reg, name, labels...)
}

func (b *bundle) rejections(t *testing.T, reason string) float64 {
	return b.metric(t, "switchboard_config_rejections_total", "reason", reason)
}

func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 5*time.Millisecond, msg)
}
