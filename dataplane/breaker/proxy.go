package breaker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// Params configure a Proxy.
type Params struct {
	Logger *slog.Logger
	// Registerer receives the per-service metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Gatherer is served on /_switchboard/metrics; nil serves nothing there.
	Gatherer prometheus.Gatherer
	// AllowPrivateTargets lets the dialer connect to loopback, private and
	// link-local addresses (never cloud metadata addresses).
	AllowPrivateTargets bool
	// Transport overrides the upstream transport (default NewTransport).
	Transport http.RoundTripper
	Now       func() time.Time
}

// Proxy is the breaker data plane's HTTP handler and configsync.Applier.
type Proxy struct {
	log       *slog.Logger
	errorLog  *log.Logger
	now       func() time.Time
	transport http.RoundTripper
	gatherer  prometheus.Gatherer
	m         *metrics

	applyMu sync.Mutex // serializes Apply
	table   atomic.Pointer[table]
}

// table is an immutable route table, swapped whole on Apply.
type table struct {
	version int64
	routes  map[string]*route
	ordered []*route
}

// New returns a proxy with no config: it answers 503 until Apply.
func New(p Params) (*Proxy, error) {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.Transport == nil {
		p.Transport = NewTransport(p.AllowPrivateTargets)
	}
	px := &Proxy{
		log:       p.Logger,
		errorLog:  slog.NewLogLogger(p.Logger.Handler(), slog.LevelDebug),
		now:       p.Now,
		transport: p.Transport,
		gatherer:  p.Gatherer,
		m:         newMetrics(),
	}
	if p.Registerer != nil {
		if err := px.m.register(p.Registerer, stateCollector{px}); err != nil {
			return nil, fmt.Errorf("breaker: register metrics: %w", err)
		}
	}
	return px, nil
}

// Apply installs a breaker config. Requests already routed finish on the
// old table; unchanged services keep their breakers.
func (p *Proxy) Apply(ctx context.Context, pl *artifactv1.Payload) error {
	cfg := pl.GetBreaker()
	if cfg == nil {
		return errors.New("breaker: payload carries no breaker config")
	}
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	old := p.table.Load()
	t := &table{version: pl.GetVersion(), routes: make(map[string]*route, len(cfg.Services))}
	kept := 0
	for _, s := range cfg.Services {
		var prev *route
		if old != nil {
			prev = old.routes[s.Name]
		}
		r, err := p.newRoute(s, prev)
		if err != nil {
			return fmt.Errorf("breaker: %w", err)
		}
		if prev != nil && r.core == prev.core {
			kept++
		}
		t.routes[s.Name] = r
		t.ordered = append(t.ordered, r)
	}
	p.table.Store(t)
	if old != nil {
		for name := range old.routes {
			if _, ok := t.routes[name]; !ok {
				p.m.forget(name)
			}
		}
	}
	p.log.InfoContext(ctx, "breaker config applied", "version", t.version, "services", len(t.ordered), "breakers_kept", kept)
	return nil
}

// Version is the applied config version; 0 before the first.
func (p *Proxy) Version() int64 {
	if t := p.table.Load(); t != nil {
		return t.version
	}
	return 0
}

// BreakerStates reports each service's state, for configsync's status
// reports.
func (p *Proxy) BreakerStates() []*switchboardv1.ServiceBreakerState {
	t := p.table.Load()
	if t == nil {
		return nil
	}
	now := p.now()
	out := make([]*switchboardv1.ServiceBreakerState, 0, len(t.ordered))
	for _, r := range t.ordered {
		out = append(out, &switchboardv1.ServiceBreakerState{Service: r.name, State: r.state(now)})
	}
	return out
}

// state names the route's effective state.
func (r *route) state(now time.Time) string {
	switch r.forced {
	case switchboardv1.ForcedState_FORCED_STATE_FORCED_OPEN:
		return stateForcedOpen
	case switchboardv1.ForcedState_FORCED_STATE_DISABLED:
		return stateDisabled
	case switchboardv1.ForcedState_FORCED_STATE_METRICS_ONLY:
		return stateMetricsOnly
	}
	return r.core.breaker.Snapshot(now).State.String()
}

// ServeHTTP proxies /{service}/… through the service's breaker.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	t := p.table.Load()
	if t == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"error":   "no config yet",
			"message": "this breaker has not applied a verified config yet, so it proxies nothing",
		})
		return
	}
	name, _ := serviceOf(req.URL.Path)
	r := t.routes[name]
	if r == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown service", "service": name})
		return
	}
	c := r.core
	c.counts.requests.Add(1)
	p.m.requests.WithLabelValues(r.name).Inc()

	cl := &call{}
	switch r.forced {
	case switchboardv1.ForcedState_FORCED_STATE_FORCED_OPEN:
		p.serveFallback(w, r, stateForcedOpen)
		return
	case switchboardv1.ForcedState_FORCED_STATE_DISABLED:
		cl.mode = modeDisabled
	case switchboardv1.ForcedState_FORCED_STATE_METRICS_ONLY:
		cl.mode = modeMetricsOnly
	default:
		permit, ok := c.breaker.Acquire(p.now())
		if !ok {
			c.counts.rejected.Add(1)
			p.m.outcomes.WithLabelValues(r.name, labelRejected).Inc()
			p.serveFallback(w, r, c.breaker.Snapshot(p.now()).State.String())
			return
		}
		cl.permit = permit
	}
	defer p.finish(cl, r, outcomeCancelled, 0, 0) // if the transport never ran
	// Stream both ways: HTTP/1 handlers otherwise read the whole request
	// body before the response may start. (HTTP/2 always is full duplex.)
	_ = http.NewResponseController(w).EnableFullDuplex()
	r.proxy.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), callKey{}, cl)))
}

// serviceOf splits "/name/rest" into name and "/rest".
func serviceOf(path string) (string, string) {
	path = strings.TrimPrefix(path, "/")
	name, rest, found := strings.Cut(path, "/")
	if found {
		rest = "/" + rest
	}
	return name, rest
}

// finish records a call's outcome once.
func (p *Proxy) finish(c *call, r *route, o outcome, status int, elapsed time.Duration) {
	if c == nil || !c.done.CompareAndSwap(false, true) {
		return
	}
	if o == outcomeCancelled {
		if c.mode == modeNormal {
			r.core.breaker.Release(c.permit)
		}
		return
	}
	if c.mode == modeDisabled {
		return
	}
	var failure bool
	switch o {
	case outcomeTimeout:
		failure = r.failTimeout
	case outcomeConnError:
		failure = r.failConn
	default:
		failure = status >= 500 && r.fail5xx || status == http.StatusTooManyRequests && r.fail429
	}
	slow := elapsed > r.slowAfter
	cnt := &r.core.counts
	if failure {
		cnt.failures.Add(1)
		p.m.outcomes.WithLabelValues(r.name, labelFailure).Inc()
	} else {
		cnt.successes.Add(1)
		p.m.outcomes.WithLabelValues(r.name, labelSuccess).Inc()
	}
	if slow {
		cnt.slow.Add(1)
		p.m.outcomes.WithLabelValues(r.name, labelSlow).Inc()
	}
	p.m.duration.WithLabelValues(r.name).Observe(elapsed.Seconds())
	now := p.now()
	if c.mode == modeMetricsOnly {
		r.core.breaker.Observe(failure, slow, now)
		return
	}
	r.core.breaker.Record(c.permit, failure, slow, now)
}

// serveFallback answers with the service's fallback response.
func (p *Proxy) serveFallback(w http.ResponseWriter, r *route, state string) {
	r.core.counts.fallbacks.Add(1)
	p.m.outcomes.WithLabelValues(r.name, labelFallback).Inc()
	h := w.Header()
	for k, v := range r.fallback.header {
		h[k] = v
	}
	h.Set("X-Switchboard-Breaker", state)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(r.fallback.status)
	_, _ = w.Write(r.fallback.body)
}

// proxyError answers when the upstream call failed.
func (p *Proxy) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	name, _ := serviceOf(req.URL.Path)
	var blocked *BlockedAddressError
	switch {
	case errors.Is(err, errUpstreamTimeout):
		writeJSON(w, http.StatusGatewayTimeout, map[string]string{"error": "upstream timed out", "service": name})
	case errors.As(err, &blocked):
		p.log.WarnContext(req.Context(), "upstream address refused", "service", name, "addr", blocked.Addr)
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "upstream address not allowed", "service": name})
	case req.Context().Err() != nil:
		// The client left; nobody reads an answer.
		w.WriteHeader(499)
	default:
		p.log.DebugContext(req.Context(), "upstream call failed", "service", name, "err", err)
		writeJSON(w, http.StatusBadGateway, map[string]string{"error": "upstream unreachable", "service": name})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
