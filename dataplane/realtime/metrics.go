package realtime

import (
	"github.com/prometheus/client_golang/prometheus"

	metricspkg "github.com/anycable/anycable-go/metrics"
)

// Reasons a request is refused, the `reason` label of the refusals metric.
const (
	refusedNotReady          = "not_ready"
	refusedOrigin            = "origin"
	refusedLimit             = "connection_limit"
	refusedBroadcastAuth     = "broadcast_unauthorized"
	refusedBroadcastDisabled = "broadcast_disabled"
)

type serverMetrics struct {
	nodeStarts prometheus.Counter
	refused    *prometheus.CounterVec
}

func newServerMetrics(reg prometheus.Registerer, s *Server) (*serverMetrics, error) {
	m := &serverMetrics{
		nodeStarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_realtime_node_starts_total",
			Help: "Embedded AnyCable nodes started: the first config, then each change AnyCable cannot apply live.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_realtime_refused_total",
			Help: "Requests refused in front of AnyCable, by reason.",
		}, []string{"reason"}),
	}
	for _, r := range []string{refusedNotReady, refusedOrigin, refusedLimit, refusedBroadcastAuth, refusedBroadcastDisabled} {
		m.refused.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	connections := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "switchboard_realtime_connections",
		Help: "Open WebSocket and SSE connections, the number max_connections limits.",
	}, func() float64 { return float64(s.active.Load()) })
	for _, c := range []prometheus.Collector{m.nodeStarts, m.refused, connections, anycableCollector{s}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// anycableCollector exposes the running AnyCable node's own metrics
// (anycable_go_…). Their set depends on AnyCable, so the collector is
// unchecked; counters start again from zero when a node is replaced.
type anycableCollector struct{ s *Server }

func (anycableCollector) Describe(chan<- *prometheus.Desc) {}

func (c anycableCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.state.Load()
	if st == nil || st.node.metrics == nil {
		return
	}
	st.node.metrics.EachCounter(func(m *metricspkg.Counter) {
		desc := prometheus.NewDesc("anycable_go_"+m.Name(), m.Desc(), nil, nil)
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(m.Value()))
	})
	st.node.metrics.EachGauge(func(m *metricspkg.Gauge) {
		desc := prometheus.NewDesc("anycable_go_"+m.Name(), m.Desc(), nil, nil)
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(m.Value()))
	})
}
