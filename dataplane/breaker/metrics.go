package breaker

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcome labels of the outcomes metric. success and failure are upstream
// calls as judged by failure_outcomes; slow is counted besides either;
// rejected is a call the breaker refused (open, or half-open with every
// probe taken); fallback is every fallback response sent, rejected or
// forced_open.
const (
	labelSuccess  = "success"
	labelFailure  = "failure"
	labelSlow     = "slow"
	labelRejected = "rejected"
	labelFallback = "fallback"
)

// Forced-state names, as reported.
const (
	stateForcedOpen  = "forced_open"
	stateDisabled    = "disabled"
	stateMetricsOnly = "metrics_only"
)

var allStates = []string{"closed", "open", "half_open", stateForcedOpen, stateDisabled, stateMetricsOnly}

type metrics struct {
	requests     *prometheus.CounterVec
	outcomes     *prometheus.CounterVec
	stateChanges *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	stateDesc    *prometheus.Desc
}

func newMetrics() *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_breaker_requests_total",
			Help: "Requests routed to a service, whatever happened to them.",
		}, []string{"service"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_breaker_outcomes_total",
			Help: "Request outcomes per service: success, failure, slow (besides either), rejected, fallback.",
		}, []string{"service", "outcome"}),
		stateChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_breaker_state_changes_total",
			Help: "Breaker transitions per service, by the state entered.",
		}, []string{"service", "to"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_breaker_upstream_duration_seconds",
			Help:    "Time to the upstream's response headers (or error), per service.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"service"}),
		stateDesc: prometheus.NewDesc("switchboard_breaker_state",
			"1 for each service's current state (closed, open, half_open, forced_open, disabled, metrics_only), 0 for the others.",
			[]string{"service", "state"}, nil),
	}
}

func (m *metrics) register(reg prometheus.Registerer, states prometheus.Collector) error {
	for _, c := range []prometheus.Collector{m.requests, m.outcomes, m.stateChanges, m.duration, states} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// forget drops a removed service's series.
func (m *metrics) forget(service string) {
	l := prometheus.Labels{"service": service}
	m.requests.DeletePartialMatch(l)
	m.outcomes.DeletePartialMatch(l)
	m.stateChanges.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
}

// stateCollector reports each service's state at scrape time, so an open
// breaker that became half-open while idle shows as such.
type stateCollector struct{ p *Proxy }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.p.m.stateDesc }

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.p.table.Load()
	if t == nil {
		return
	}
	now := c.p.now()
	for _, r := range t.ordered {
		cur := r.state(now)
		for _, s := range allStates {
			v := 0.0
			if s == cur {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.p.m.stateDesc, prometheus.GaugeValue, v, r.name, s)
		}
	}
}

// counters are a service's totals since its breaker was created, for the
// status endpoint.
type counters struct {
	requests, successes, failures, slow, rejected, fallbacks atomic.Int64
}
