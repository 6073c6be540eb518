package breaker_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func TestNotReadyProxiesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	r := b.get(t, "/api/x")
	require.Equal(t, http.StatusServiceUnavailable, r.code)
	require.Contains(t, r.body, "no config yet")
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.Equal(t, http.StatusServiceUnavailable, b.get(t, "/_switchboard/readyz").code)
	require.Equal(t, http.StatusServiceUnavailable, b.get(t, "/readyz").code)
	require.Equal(t, http.StatusOK, b.get(t, "/_switchboard/healthz").code)
}

func TestRoutesWithHeadersAndStreaming(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	var got *http.Request
	var gotBody string
	var mu sync.Mutex
	up.setHandler(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, gotBody = r, string(body)
		mu.Unlock()
		w.Header().Set("X-Upstream", "yes")
		w.Header().Set("Proxy-Authenticate", "Basic")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI())
	})
	b := setup(t, true)
	b.apply(t, service("api", up.srv.URL+"/base"), service("other", up.srv.URL))
	require.Equal(t, http.StatusOK, b.get(t, "/_switchboard/readyz").code)

	h := http.Header{}
	h.Set("Connection", "X-Hop")
	h.Set("X-Hop", "drop me")
	h.Set("X-Forwarded-For", "203.0.113.7")
	h.Set("X-Custom", "keep")
	r := b.do(t, http.MethodPut, "/api/v1/items?q=1&r=%2F", strings.NewReader("payload"), h)
	require.Equal(t, http.StatusCreated, r.code)
	require.Equal(t, "PUT /base/v1/items?q=1&r=%2F", r.body)
	require.Equal(t, "yes", r.header.Get("X-Upstream"))
	require.Empty(t, r.header.Get("Proxy-Authenticate"), "hop-by-hop response header dropped")

	mu.Lock()
	require.Equal(t, "payload", gotBody)
	require.Equal(t, "keep", got.Header.Get("X-Custom"))
	require.Empty(t, got.Header.Get("X-Hop"), "hop-by-hop request header dropped")
	require.Equal(t, "203.0.113.7, 127.0.0.1", got.Header.Get("X-Forwarded-For"))
	require.Equal(t, strings.TrimPrefix(b.url, "http://"), got.Header.Get("X-Forwarded-Host"))
	require.Equal(t, "http", got.Header.Get("X-Forwarded-Proto"))
	require.Equal(t, strings.TrimPrefix(up.srv.URL, "http://"), got.Host)
	mu.Unlock()

	// Every method, and the bare service path.
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		require.Equal(t, http.StatusCreated, b.do(t, m, "/other/", nil, nil).code, m)
	}
	require.Equal(t, "GET /base", b.get(t, "/api").body)

	// Unknown service.
	r = b.get(t, "/nope/x")
	require.Equal(t, http.StatusNotFound, r.code)
	require.Contains(t, r.body, `"unknown service"`)
}

func TestStreamsBothWays(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	release := make(chan struct{})
	up.setHandler(func(w http.ResponseWriter, r *http.Request) {
		// Echo the request body line by line as it arrives.
		require.NoError(t, http.NewResponseController(w).EnableFullDuplex())
		sc := bufio.NewScanner(r.Body)
		for sc.Scan() {
			_, _ = io.WriteString(w, "echo "+sc.Text()+"\n")
			w.(http.Flusher).Flush()
			if sc.Text() == "last" {
				break
			}
		}
		<-release
	})
	b := setup(t, true)
	b.apply(t, service("api", up.srv.URL))

	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, b.url+"/api/stream", pr)
	require.NoError(t, err)
	respC := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			respC <- resp
		}
	}()
	_, _ = io.WriteString(pw, "one\n")
	resp := <-respC
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	line, err := rd.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "echo one\n", line, "first chunk arrives before the request body ends")
	_, _ = io.WriteString(pw, "last\n")
	line, err = rd.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "echo last\n", line)
	close(release)
	_ = pw.Close()
}

func TestBreakerOpensFallsBackAndHeals(t *testing.T) {
	t.Parallel()
	bad, good := newUpstream(t), newUpstream(t)
	bad.status.Store(http.StatusInternalServerError)
	b := setup(t, true)
	svc := service("bad", bad.srv.URL)
	svc.Fallback = &switchboardv1.FallbackResponse{Status: 503, Body: `{"fallback":true}`, Headers: map[string]string{"Content-Type": "application/json", "X-Fallback": "1"}}
	b.apply(t, svc, service("good", good.srv.URL))

	for i := range 4 {
		require.Equal(t, http.StatusInternalServerError, b.get(t, "/bad/x").code, i)
		require.Equal(t, http.StatusOK, b.get(t, "/good/x").code)
	}
	require.Equal(t, int64(4), bad.hits.Load())
	start := time.Now()
	r := b.get(t, "/bad/x")
	require.Less(t, time.Since(start), 100*time.Millisecond, "fallback at once")
	require.Equal(t, 503, r.code)
	require.Equal(t, `{"fallback":true}`, r.body)
	require.Equal(t, "1", r.header.Get("X-Fallback"))
	require.Equal(t, "open", r.header.Get("X-Switchboard-Breaker"))
	require.Equal(t, int64(4), bad.hits.Load(), "no upstream call while open")
	require.Equal(t, "open", b.service(t, "bad").State)
	require.Equal(t, "closed", b.service(t, "good").State)
	require.Equal(t, float64(1), b.metric(t, "switchboard_breaker_state", "service", "bad", "state", "open"))
	require.Equal(t, float64(1), b.metric(t, "switchboard_breaker_state_changes_total", "service", "bad", "to", "open"))
	require.Equal(t, float64(1), b.outcome(t, "bad", "rejected"))
	require.Equal(t, float64(4), b.outcome(t, "bad", "failure"))
	require.Equal(t, float64(4), b.outcome(t, "good", "success"))
	require.Equal(t, float64(5), b.metric(t, "switchboard_breaker_requests_total", "service", "bad"))
	require.Equal(t, float64(4), b.metric(t, "switchboard_breaker_upstream_duration_seconds", "service", "bad"))

	// Heal; after wait_in_open the two probes close it.
	bad.status.Store(http.StatusOK)
	time.Sleep(350 * time.Millisecond)
	require.Equal(t, "half_open", b.service(t, "bad").State)
	require.Equal(t, http.StatusOK, b.get(t, "/bad/x").code)
	require.Equal(t, http.StatusOK, b.get(t, "/bad/x").code)
	require.Equal(t, "closed", b.service(t, "bad").State)
	require.Equal(t, http.StatusOK, b.get(t, "/bad/x").code)
	require.Equal(t, "closed", b.service(t, "good").State)
	require.Zero(t, b.outcome(t, "good", "failure"))
	require.Zero(t, b.outcome(t, "good", "fallback"))
}

func TestHalfOpenFailureReopens(t *testing.T) {
	t.Parallel()
	bad := newUpstream(t)
	bad.status.Store(http.StatusBadGateway)
	b := setup(t, true)
	b.apply(t, service("bad", bad.srv.URL))
	for range 4 {
		b.get(t, "/bad/")
	}
	time.Sleep(350 * time.Millisecond)
	require.Equal(t, http.StatusBadGateway, b.get(t, "/bad/").code) // probe 1
	require.Equal(t, http.StatusBadGateway, b.get(t, "/bad/").code) // probe 2
	require.Equal(t, "open", b.service(t, "bad").State)
	require.Equal(t, 503, b.get(t, "/bad/").code)
}

func TestFailureOutcomes(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	up.status.Store(http.StatusTooManyRequests)
	b := setup(t, true)
	// 429 is not a failure by default...
	b.apply(t, service("api", up.srv.URL))
	for range 6 {
		require.Equal(t, http.StatusTooManyRequests, b.get(t, "/api/").code)
	}
	require.Equal(t, "closed", b.service(t, "api").State)
	// ...unless listed.
	s := service("api", up.srv.URL)
	s.FailureOutcomes = []switchboardv1.FailureOutcome{switchboardv1.FailureOutcome_FAILURE_OUTCOME_HTTP_429}
	b.apply(t, s)
	for range 4 {
		b.get(t, "/api/")
	}
	require.Equal(t, "open", b.service(t, "api").State)
}

func TestTimeoutAndConnectionErrors(t *testing.T) {
	t.Parallel()
	slow := newUpstream(t)
	slow.setHandler(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	dead := newUpstream(t)
	dead.srv.Close()
	b := setup(t, true)
	s := service("slow", slow.srv.URL)
	s.TimeoutMs = 50
	b.apply(t, s, service("dead", dead.srv.URL))

	start := time.Now()
	r := b.get(t, "/slow/")
	require.Equal(t, http.StatusGatewayTimeout, r.code)
	require.Less(t, time.Since(start), time.Second)
	require.Contains(t, r.body, "upstream timed out")
	r = b.get(t, "/dead/")
	require.Equal(t, http.StatusBadGateway, r.code)
	require.Contains(t, r.body, "upstream unreachable")
	for range 3 {
		b.get(t, "/slow/")
		b.get(t, "/dead/")
	}
	require.Equal(t, "open", b.service(t, "slow").State)
	require.Equal(t, "open", b.service(t, "dead").State)
	require.Equal(t, float64(4), b.outcome(t, "slow", "slow"), "a timed-out call is also slow")
}

func TestSlowCallRateOpensProxy(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	up.setHandler(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(60 * time.Millisecond)
		_, _ = io.WriteString(w, "ok, slowly")
	})
	b := setup(t, true)
	s := service("api", up.srv.URL)
	s.MinimumCalls, s.SlowCallDurationMs, s.SlowCallRateThreshold = 3, 20, 50
	b.apply(t, s)
	for range 3 {
		require.Equal(t, http.StatusOK, b.get(t, "/api/").code)
	}
	st := b.service(t, "api")
	require.Equal(t, "open", st.State)
	require.Equal(t, int64(3), st.Slow)
	require.Zero(t, st.Failures)
	require.Equal(t, 503, b.get(t, "/api/").code)
}

func TestForcedStates(t *testing.T) {
	t.Parallel()
	bad := newUpstream(t)
	bad.status.Store(http.StatusInternalServerError)
	b := setup(t, true)
	open := service("open", bad.srv.URL)
	open.ForcedState = switchboardv1.ForcedState_FORCED_STATE_FORCED_OPEN
	disabled := service("disabled", bad.srv.URL)
	disabled.ForcedState = switchboardv1.ForcedState_FORCED_STATE_DISABLED
	metricsOnly := service("metrics", bad.srv.URL)
	metricsOnly.ForcedState = switchboardv1.ForcedState_FORCED_STATE_METRICS_ONLY
	b.apply(t, open, disabled, metricsOnly)

	r := b.get(t, "/open/")
	require.Equal(t, 503, r.code)
	require.Contains(t, r.body, "circuit breaker open")
	require.Equal(t, "forced_open", r.header.Get("X-Switchboard-Breaker"))
	require.Zero(t, bad.hits.Load(), "forced_open calls nothing")

	for range 10 {
		require.Equal(t, http.StatusInternalServerError, b.get(t, "/disabled/").code)
		require.Equal(t, http.StatusInternalServerError, b.get(t, "/metrics/").code)
	}
	require.Equal(t, int64(20), bad.hits.Load())
	require.Equal(t, "disabled", b.service(t, "disabled").State)
	require.Equal(t, "metrics_only", b.service(t, "metrics").State)
	require.Zero(t, b.outcome(t, "disabled", "failure"), "disabled records nothing")
	require.Equal(t, float64(10), b.outcome(t, "metrics", "failure"), "metrics_only records")
	require.Equal(t, 10, b.service(t, "metrics").WindowCalls)
	require.Equal(t, float64(1), b.metric(t, "switchboard_breaker_state", "service", "open", "state", "forced_open"))

	states := b.proxy.BreakerStates()
	require.Len(t, states, 3)
	require.Equal(t, "forced_open", states[0].State)

	// Back to NONE: the window metrics_only filled can now open it.
	metricsOnly.ForcedState = switchboardv1.ForcedState_FORCED_STATE_NONE
	b.apply(t, open, disabled, metricsOnly)
	b.get(t, "/metrics/")
	require.Equal(t, "open", b.service(t, "metrics").State)
}

func TestReloadKeepsUnchangedBreakers(t *testing.T) {
	t.Parallel()
	bad := newUpstream(t)
	bad.status.Store(http.StatusInternalServerError)
	b := setup(t, true)
	a, c := service("a", bad.srv.URL), service("c", bad.srv.URL)
	b.apply(t, a, c)
	for range 4 {
		b.get(t, "/a/")
	}
	for range 3 {
		b.get(t, "/c/")
	}
	require.Equal(t, "open", b.service(t, "a").State)
	require.Equal(t, 3, b.service(t, "c").WindowCalls)

	// Only the fallback of a changes and c gets a new timeout: a keeps its
	// state (and shows the new fallback), c starts afresh.
	a.Fallback = &switchboardv1.FallbackResponse{Status: 599, Body: "new fallback"}
	c.TimeoutMs = 1500
	b.apply(t, a, c)
	require.Equal(t, "open", b.service(t, "a").State)
	r := b.get(t, "/a/")
	require.Equal(t, 599, r.code)
	require.Equal(t, "new fallback", r.body)
	require.Equal(t, "closed", b.service(t, "c").State)
	require.Zero(t, b.service(t, "c").WindowCalls)

	// A threshold change resets a.
	a.FailureRateThreshold = 90
	b.apply(t, a, c)
	require.Equal(t, "closed", b.service(t, "a").State)

	// A removed service is gone, with its metrics.
	b.apply(t, a)
	require.Equal(t, http.StatusNotFound, b.get(t, "/c/").code)
	require.Zero(t, b.metric(t, "switchboard_breaker_requests_total", "service", "c"))
}

func TestInFlightRequestSurvivesReload(t *testing.T) {
	t.Parallel()
	old, next := newUpstream(t), newUpstream(t)
	started, release := make(chan struct{}), make(chan struct{})
	old.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "first half;")
		w.(http.Flusher).Flush()
		close(started)
		<-release
		_, _ = io.WriteString(w, "second half")
	})
	b := setup(t, true)
	b.apply(t, service("api", old.srv.URL))

	done := make(chan response, 1)
	go func() {
		resp, err := http.Get(b.url + "/api/slow")
		if err != nil {
			done <- response{code: -1, body: err.Error()}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		done <- response{code: resp.StatusCode, body: string(body)}
	}()
	<-started
	b.apply(t, service("api", next.srv.URL))
	require.Equal(t, "upstream GET /after", b.get(t, "/api/after").body, "new requests use the new upstream")
	close(release)
	r := <-done
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, "first half;second half", r.body)
	require.Equal(t, int64(1), old.hits.Load())
}

func TestDialGuard(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	b := setup(t, false) // private targets not allowed
	b.apply(t, service("loop", up.srv.URL), service("named", localhostURL(up)))
	for _, path := range []string{"/loop/", "/named/"} {
		r := b.get(t, path)
		require.Equal(t, http.StatusBadGateway, r.code, path)
		require.Contains(t, r.body, "upstream address not allowed", path)
	}
	require.Zero(t, up.hits.Load())

	allowed := setup(t, true)
	allowed.apply(t, service("loop", up.srv.URL))
	require.Equal(t, http.StatusOK, allowed.get(t, "/loop/").code)
}

func TestClientGoingAwayIsNotCounted(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	arrived := make(chan struct{}, 5)
	up.setHandler(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	b := setup(t, true)
	b.apply(t, service("api", up.srv.URL))
	for range 5 {
		// Leave only once the request is at the upstream, so the proxy has
		// surely seen it, however loaded the machine is.
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/api/", nil)
		errc := make(chan error, 1)
		go func() {
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				res.Body.Close()
			}
			errc <- err
		}()
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the request never reached the upstream")
		}
		cancel()
		require.Error(t, <-errc)
	}
	require.Eventually(t, func() bool { return b.service(t, "api").Requests == 5 }, 10*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	st := b.service(t, "api")
	require.Equal(t, "closed", st.State)
	require.Zero(t, st.WindowCalls)
	require.Zero(t, st.Failures)
}

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	up := newUpstream(t)
	b := setup(t, true)
	b.apply(t, service("api", up.srv.URL), service("metrics", up.srv.URL))
	b.get(t, "/api/")
	rep := b.status(t)
	require.True(t, rep.Ready)
	require.Equal(t, int64(1), rep.AppliedVersion)
	require.Len(t, rep.Services, 2)
	require.Equal(t, int64(1), rep.Services[0].Requests)

	m := b.get(t, "/_switchboard/metrics")
	require.Equal(t, http.StatusOK, m.code)
	require.Contains(t, m.body, `switchboard_breaker_requests_total{service="api"} 1`)
	require.Contains(t, m.body, `switchboard_breaker_state{service="api",state="closed"} 1`)
	// A service named metrics wins over the root /metrics alias.
	require.Equal(t, "upstream GET /", b.get(t, "/metrics").body)
	require.Equal(t, http.StatusOK, b.get(t, "/healthz").code)
}
