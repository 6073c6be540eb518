package breaker

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboardhq/switchboard/dataplane/configsync"
)

// AdminPrefix is where the admin endpoints live, on the proxy's own port:
// healthz, readyz, metrics and status. A service cannot be named
// `_switchboard`, since names start with a letter.
const AdminPrefix = "/_switchboard/"

// SyncStatus is what the admin endpoints show of the config agent;
// *configsync.Agent implements it.
type SyncStatus interface {
	Ready() bool
	Status() configsync.Status
}

// Handler serves the proxy with its admin endpoints under AdminPrefix. The
// same endpoints answer at /healthz, /readyz and /metrics too, unless a
// configured service has that name (services win).
func (p *Proxy) Handler(sync SyncStatus) http.Handler {
	admin := http.NewServeMux()
	admin.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	admin.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { p.readyz(w, sync) })
	admin.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) { p.status(w, sync) })
	if p.gatherer != nil {
		admin.Handle("GET /metrics", promhttp.HandlerFor(p.gatherer, promhttp.HandlerOpts{}))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if rest, ok := strings.CutPrefix(path, AdminPrefix); ok {
			r2 := *r
			u := *r.URL
			u.Path, u.RawPath = "/"+rest, ""
			r2.URL = &u
			admin.ServeHTTP(w, &r2)
			return
		}
		switch path {
		case "/healthz", "/readyz", "/metrics":
			if t := p.table.Load(); t == nil || t.routes[path[1:]] == nil {
				admin.ServeHTTP(w, r)
				return
			}
		}
		p.ServeHTTP(w, r)
	})
}

func (p *Proxy) readyz(w http.ResponseWriter, sync SyncStatus) {
	if p.table.Load() != nil && (sync == nil || sync.Ready()) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "version": p.Version()})
		return
	}
	reason := "no config yet: no verified artifact in the cache and none received from the CDN"
	if sync != nil {
		if e := sync.Status().LastError; e != "" {
			reason += "; last error: " + e
		}
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not_ready", "reason": reason})
}

// StatusReport is the JSON of the status endpoint.
type StatusReport struct {
	Ready          bool             `json:"ready"`
	AppliedVersion int64            `json:"applied_version"`
	Source         string           `json:"source,omitempty"`
	LastSync       *time.Time       `json:"last_sync,omitempty"`
	LastError      string           `json:"last_error,omitempty"`
	Rejections     map[string]int64 `json:"rejections,omitempty"`
	Services       []ServiceStatus  `json:"services"`
}

// ServiceStatus is one service's breaker on the status endpoint. Window
// figures are the current window's (the probes' while half-open); totals
// count since the breaker was created.
type ServiceStatus struct {
	Name         string     `json:"name"`
	Upstream     string     `json:"upstream"`
	State        string     `json:"state"`
	WindowCalls  int        `json:"window_calls"`
	WindowFails  int        `json:"window_failures"`
	WindowSlow   int        `json:"window_slow"`
	FailureRate  float64    `json:"failure_rate"`
	SlowCallRate float64    `json:"slow_call_rate"`
	OpenUntil    *time.Time `json:"open_until,omitempty"`
	Requests     int64      `json:"requests"`
	Successes    int64      `json:"successes"`
	Failures     int64      `json:"failures"`
	Slow         int64      `json:"slow"`
	Rejected     int64      `json:"rejected"`
	Fallbacks    int64      `json:"fallbacks"`
}

// Services returns each service's status.
func (p *Proxy) Services() []ServiceStatus {
	t := p.table.Load()
	if t == nil {
		return []ServiceStatus{}
	}
	now := p.now()
	out := make([]ServiceStatus, 0, len(t.ordered))
	for _, r := range t.ordered {
		snap := r.core.breaker.Snapshot(now)
		c := &r.core.counts
		s := ServiceStatus{
			Name: r.name, Upstream: r.svc.UpstreamUrl, State: r.state(now),
			WindowCalls: snap.Calls, WindowFails: snap.Failures, WindowSlow: snap.Slow,
			FailureRate: snap.FailureRate, SlowCallRate: snap.SlowCallRate,
			Requests: c.requests.Load(), Successes: c.successes.Load(), Failures: c.failures.Load(),
			Slow: c.slow.Load(), Rejected: c.rejected.Load(), Fallbacks: c.fallbacks.Load(),
		}
		if !snap.OpenUntil.IsZero() {
			s.OpenUntil = &snap.OpenUntil
		}
		out = append(out, s)
	}
	return out
}

func (p *Proxy) status(w http.ResponseWriter, sync SyncStatus) {
	rep := StatusReport{AppliedVersion: p.Version(), Services: p.Services(), Ready: p.table.Load() != nil}
	if sync != nil {
		st := sync.Status()
		rep.Ready = rep.Ready && sync.Ready()
		rep.Source, rep.LastError, rep.Rejections = st.Source, st.LastError, st.Rejections
		if !st.LastSync.IsZero() {
			rep.LastSync = &st.LastSync
		}
	}
	writeJSON(w, http.StatusOK, rep)
}
