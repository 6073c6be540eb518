// Package cdn serves compiled artifacts to data planes: it checks data-plane
// tokens against the token registry in the blob store, keeps artifacts in a
// bounded memory cache, answers conditional GETs and long-polls, learns of new
// versions from publish notices and the change feed, and keeps serving what it
// has when the blob store fails. It never talks to Postgres.
package cdn

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboardhq/switchboard"
)

// Defaults for Params fields left zero.
const (
	DefaultMaxCacheBytes = 64 << 20
	DefaultFeedInterval  = time.Second
	// DefaultTokenTTL leaves 2 s of the 10 s revocation promise for the
	// control plane's registry sync job to delete the entry.
	DefaultTokenTTL         = 8 * time.Second
	DefaultNegativeTokenTTL = 5 * time.Second
	DefaultMinRevalidate    = time.Second
	DefaultMaxRevalidate    = time.Minute
	DefaultMaxWait          = 30 * time.Second
	DefaultS3Timeout        = 5 * time.Second
)

// NotifySecretHeader carries Params.NotifySecret on POST /internal/notify.
const NotifySecretHeader = "X-Switchboard-Notify-Secret"

// VersionHeader names the artifact version in responses, when known.
const VersionHeader = "X-Switchboard-Version"

// Params are the CDN's dependencies and settings.
type Params struct {
	Store  switchboard.BlobStore
	Logger *slog.Logger
	Now    func() time.Time
	// MaxCacheBytes bounds cached artifact bodies (LRU); default 64 MiB.
	MaxCacheBytes int64
	// NotifySecret authenticates POST /internal/notify; empty disables it.
	NotifySecret string
	// FeedInterval is how often Run lists the change feed; default 1 s.
	FeedInterval time.Duration
	// TokenTTL and NegativeTokenTTL bound how long a registry lookup (found,
	// not found) is trusted; defaults 10 s and 5 s, so a revocation reaches
	// the CDN within 10 s.
	TokenTTL         time.Duration
	NegativeTokenTTL time.Duration
	// MinRevalidate and MaxRevalidate bound how often a cached artifact is
	// checked against the store: at most once per MinRevalidate (1 s), at
	// least once per MaxRevalidate (1 min) while it is requested.
	MinRevalidate time.Duration
	MaxRevalidate time.Duration
	// MaxWait caps ?wait=; default 30 s.
	MaxWait time.Duration
	// S3Timeout bounds each store call; default 5 s.
	S3Timeout time.Duration
	// Registry receives the CDN's metrics and is served on /metrics; nil
	// means a private one.
	Registry *prometheus.Registry
}

// Server is the CDN. Handler serves requests; Run follows the change feed.
type Server struct {
	store  switchboard.BlobStore
	log    *slog.Logger
	now    func() time.Time
	p      Params
	m      *metrics
	mux    *http.ServeMux
	tokens tokenCache

	mu         sync.RWMutex // guards instances
	instances  map[string]*instance
	cacheBytes atomic.Int64
	evicting   sync.Mutex

	// done is closed when Run returns, answering every long-poll.
	done     chan struct{}
	doneOnce sync.Once

	// Blob store health: the sequence numbers of the last successful and
	// failed calls, when the failures began, and the last error.
	healthSeq atomic.Int64
	lastOK    atomic.Int64
	lastFail  atomic.Int64
	failSince atomic.Int64
	lastErr   atomic.Pointer[string]
}

// New returns a CDN server.
func New(p Params) *Server {
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	if p.MaxCacheBytes <= 0 {
		p.MaxCacheBytes = DefaultMaxCacheBytes
	}
	if p.FeedInterval <= 0 {
		p.FeedInterval = DefaultFeedInterval
	}
	if p.TokenTTL <= 0 {
		p.TokenTTL = DefaultTokenTTL
	}
	if p.NegativeTokenTTL <= 0 {
		p.NegativeTokenTTL = DefaultNegativeTokenTTL
	}
	if p.MinRevalidate <= 0 {
		p.MinRevalidate = DefaultMinRevalidate
	}
	if p.MaxRevalidate <= 0 {
		p.MaxRevalidate = DefaultMaxRevalidate
	}
	if p.MaxWait <= 0 {
		p.MaxWait = DefaultMaxWait
	}
	if p.S3Timeout <= 0 {
		p.S3Timeout = DefaultS3Timeout
	}
	if p.Registry == nil {
		p.Registry = prometheus.NewRegistry()
	}
	s := &Server{
		store:     p.Store,
		log:       p.Logger,
		now:       p.Now,
		p:         p,
		m:         newMetrics(p.Registry),
		instances: make(map[string]*instance),
		done:      make(chan struct{}),
	}
	s.tokens.entries = make(map[string]*tokenEntry)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.Registry, promhttp.HandlerOpts{Registry: p.Registry}))
	mux.HandleFunc("POST /internal/notify", s.notify)
	s.mux = mux
	return s
}

// Handler serves the CDN's HTTP API.
func (s *Server) Handler() http.Handler { return s }

const artifactPrefix, artifactSuffix = "/v1/instances/", "/artifact"

// ServeHTTP routes artifact requests without a mux, since they are the hot
// path; everything else goes through one.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if len(path) > len(artifactPrefix)+len(artifactSuffix) &&
		strings.HasPrefix(path, artifactPrefix) && strings.HasSuffix(path, artifactSuffix) {
		id := path[len(artifactPrefix) : len(path)-len(artifactSuffix)]
		if !strings.Contains(id, "/") {
			s.serveArtifact(w, r, id)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// readyz is 200 while the last blob store call succeeded, else 503 with the
// reason; the CDN keeps serving its cache either way.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !s.degraded() {
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
		return
	}
	reason := "blob store failing"
	if e := s.lastErr.Load(); e != nil {
		reason = "blob store failing: " + *e
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"status": "degraded",
		"reason": reason,
		"since":  time.Unix(0, s.failSince.Load()).UTC().Format(time.RFC3339Nano),
	})
}

// storeOK and storeFailed record the outcome of each blob store call for
// readiness. Not-found and not-modified answers are successes.
func (s *Server) storeOK() {
	s.lastOK.Store(s.healthSeq.Add(1))
	s.m.degraded.Set(0)
}

func (s *Server) storeFailed(ctx context.Context, op string, err error) {
	msg := op + ": " + err.Error()
	s.lastErr.Store(&msg)
	if !s.degraded() {
		s.failSince.Store(s.now().UnixNano())
	}
	s.lastFail.Store(s.healthSeq.Add(1))
	s.m.s3Errors.WithLabelValues(op).Inc()
	s.m.degraded.Set(1)
	s.log.WarnContext(ctx, "blob store call failed", "op", op, "err", err)
}

// degraded reports whether the last blob store call failed.
func (s *Server) degraded() bool { return s.lastFail.Load() > s.lastOK.Load() }

// storeCtx bounds one blob store call. It is detached from any request:
// calls are shared by many requests and one client leaving must not cancel
// them for the others.
func (s *Server) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.p.S3Timeout)
}
