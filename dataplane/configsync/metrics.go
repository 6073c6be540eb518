package configsync

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	appliedVersion prometheus.Gauge
	lastSync       prometheus.Gauge
	ready          prometheus.Gauge
	rejections     *prometheus.CounterVec
	syncErrors     *prometheus.CounterVec
}

// Sync error kinds, the `reason` label of the sync errors metric.
const (
	syncErrNetwork    = "network"
	syncErrHTTPStatus = "http_status"
	syncErrApply      = "apply"
	syncErrCache      = "cache_write"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		appliedVersion: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_config_applied_version",
			Help: "Version of the config artifact applied by this data plane; 0 when none.",
		}),
		lastSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_config_last_sync_timestamp_seconds",
			Help: "Unix time of the last successful answer from the CDN.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_config_ready",
			Help: "1 once a verified config is applied.",
		}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_config_rejections_total",
			Help: "Artifacts rejected or cache files discarded, by reason.",
		}, []string{"reason"}),
		syncErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_config_sync_errors_total",
			Help: "Failed polls of every CDN URL, failed applies and failed cache writes.",
		}, []string{"reason"}),
	}
	for _, r := range rejectionReasons {
		m.rejections.WithLabelValues(r)
	}
	for _, r := range []string{syncErrNetwork, syncErrHTTPStatus, syncErrApply, syncErrCache} {
		m.syncErrors.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.appliedVersion, m.lastSync, m.ready, m.rejections, m.syncErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
