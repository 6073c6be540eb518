package cdn

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests      *prometheus.CounterVec
	byCode        map[int]prometheus.Counter // resolved once: no label hashing per request
	cacheHits     prometheus.Counter
	cacheMisses   prometheus.Counter
	cacheBytes    prometheus.Gauge
	s3Errors      *prometheus.CounterVec
	waiters       prometheus.Gauge
	revalidations *prometheus.CounterVec
	tokenLookups  *prometheus.CounterVec
	feedChanges   prometheus.Counter
	degraded      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_cdn_requests_total",
			Help: "Artifact requests by HTTP status code.",
		}, []string{"code"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_cdn_cache_hits_total",
			Help: "Artifact requests answered from the cache without a blob store call.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_cdn_cache_misses_total",
			Help: "Artifact requests that waited for a blob store call.",
		}),
		cacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_cdn_cache_bytes",
			Help: "Bytes of artifact bodies held in the cache.",
		}),
		s3Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_cdn_s3_errors_total",
			Help: "Failed blob store calls by operation.",
		}, []string{"op"}),
		waiters: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_cdn_longpoll_waiters",
			Help: "Long-poll requests waiting for a new artifact.",
		}),
		revalidations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_cdn_revalidations_total",
			Help: "Artifact revalidations against the blob store by result.",
		}, []string{"result"}),
		tokenLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_cdn_token_lookups_total",
			Help: "Token registry reads by result.",
		}, []string{"result"}),
		feedChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_cdn_feed_changes_total",
			Help: "Change feed entries read.",
		}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_cdn_degraded",
			Help: "1 while the last blob store call failed.",
		}),
	}
	reg.MustRegister(m.requests, m.cacheHits, m.cacheMisses, m.cacheBytes, m.s3Errors,
		m.waiters, m.revalidations, m.tokenLookups, m.feedChanges, m.degraded)
	m.byCode = make(map[int]prometheus.Counter)
	for _, c := range []int{200, 304, 400, 401, 404, 405, 503} {
		m.byCode[c] = m.requests.WithLabelValues(strconv.Itoa(c))
	}
	return m
}

func (m *metrics) request(code int) {
	if c, ok := m.byCode[code]; ok {
		c.Inc()
		return
	}
	m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
}
