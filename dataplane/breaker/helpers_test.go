package breaker_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/compile"
	"github.com/switchboardhq/switchboard/dataplane/breaker"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
	"github.com/switchboardhq/switchboard/internal/promtest"
)

// bundle is a proxy over real HTTP with its registry.
type bundle struct {
	proxy   *breaker.Proxy
	reg     *prometheus.Registry
	url     string
	version int64
}

func setup(t *testing.T, allowPrivate bool) *bundle {
	t.Helper()
	reg := prometheus.NewRegistry()
	p, err := breaker.New(breaker.Params{Registerer: reg, Gatherer: reg, AllowPrivateTargets: allowPrivate})
	require.NoError(t, err)
	srv := httptest.NewServer(p.Handler(nil))
	t.Cleanup(srv.Close)
	return &bundle{proxy: p, reg: reg, url: srv.URL}
}

// apply installs services (defaults filled in, as in an artifact).
func (b *bundle) apply(t *testing.T, services ...*switchboardv1.BreakerService) {
	t.Helper()
	cfg, err := compile.ValidateBreaker(&switchboardv1.BreakerConfig{Services: services}, compile.Options{AllowPrivateTargets: true})
	require.NoError(t, err)
	b.version++
	require.NoError(t, b.proxy.Apply(context.Background(), &artifactv1.Payload{
		InstanceId: "ins_test", Kind: artifactv1.Kind_KIND_BREAKER, Version: b.version,
		Spec: &artifactv1.Payload_Breaker{Breaker: cfg},
	}))
}

type response struct {
	code   int
	header http.Header
	body   string
}

func (b *bundle) do(t *testing.T, method, path string, body io.Reader, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, body)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{code: resp.StatusCode, header: resp.Header, body: string(got)}
}

func (b *bundle) get(t *testing.T, path string) response {
	t.Helper()
	return b.do(t, http.MethodGet, path, nil, nil)
}

func (b *bundle) status(t *testing.T) breaker.StatusReport {
	t.Helper()
	r := b.get(t, "/_switchboard/status")
	require.Equal(t, http.StatusOK, r.code)
	var rep breaker.StatusReport
	require.NoError(t, json.Unmarshal([]byte(r.body), &rep))
	return rep
}

func (b *bundle) service(t *testing.T, name string) breaker.ServiceStatus {
	t.Helper()
	for _, s := range b.status(t).Services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("service %s not in status", name)
	return breaker.ServiceStatus{}
}

func (b *bundle) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return promtest.Value(t, b.reg, name, labels...)
}

func (b *bundle) outcome(t *testing.T, service, outcome string) float64 {
	return b.metric(t, "switchboard_breaker_outcomes_total", "service", service, "outcome", outcome)
}

// upstream is a test server whose behaviour can change, counting hits.
type upstream struct {
	srv     *httptest.Server
	hits    atomic.Int64
	status  atomic.Int32
	handler atomic.Pointer[http.HandlerFunc]
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	u.status.Store(http.StatusOK)
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		if h := u.handler.Load(); h != nil {
			(*h)(w, r)
			return
		}
		w.WriteHeader(int(u.status.Load()))
		_, _ = io.WriteString(w, "upstream "+r.Method+" "+r.URL.RequestURI())
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) setHandler(h http.HandlerFunc) { u.handler.Store(&h) }

// service returns a breaker service for upstream u with small, fast settings.
func service(name, url string) *switchboardv1.BreakerService {
	return &switchboardv1.BreakerService{
		Name: name, UpstreamUrl: url, TimeoutMs: 2000,
		WindowSize: 10, MinimumCalls: 4, FailureRateThreshold: 50,
		WaitInOpenMs: 300, HalfOpenPermittedCalls: 2,
	}
}

func localhostURL(u *upstream) string { return strings.Replace(u.srv.URL, "127.0.0.1", "localhost", 1) }
