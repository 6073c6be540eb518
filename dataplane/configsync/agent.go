// Package configsync is the config agent every data plane embeds. It keeps a
// data plane running on the last good signed artifact: it starts from the
// verified copy in its cache directory (or a bootstrap file), polls one or
// more CDN URLs with ETags and long-polls, accepts only artifacts that verify
// against a trusted key, name this instance and kind and are newer than
// anything applied before, writes them atomically to the cache, hands them
// to an Applier, and reports status to the control plane, best effort.
//
// It imports only gen/, compile/ (pure), the standard library and libraries:
// never the control plane.
package configsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboardhq/switchboard/compile"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// Applier applies a verified payload to the running data plane. Apply must
// not drop in-flight requests or connections. An error keeps the agent
// retrying (with backoff) until it succeeds or a newer artifact arrives.
type Applier interface {
	Apply(ctx context.Context, p *artifactv1.Payload) error
}

// BreakerStater is implemented by appliers that have per-service breaker
// states to report to the control plane.
type BreakerStater interface {
	BreakerStates() []*switchboardv1.ServiceBreakerState
}

// Defaults for Config fields left zero.
const (
	DefaultLongPoll       = 25 * time.Second
	DefaultBackoffBase    = 500 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultReportInterval = 30 * time.Second
	// minPollInterval spaces out requests answered at once with 304 (a CDN
	// without long-poll, or one shutting down), so they never spin.
	minPollInterval = time.Second
)

// Config configures an Agent.
type Config struct {
	// InstanceID is the instance this data plane serves; artifacts naming
	// another instance are rejected.
	InstanceID string
	// Kind is the artifact kind this data plane runs.
	Kind artifactv1.Kind
	// URLs are CDN base URLs, tried in order on each poll:
	// GET {url}/v1/instances/{id}/artifact?wait=25s.
	URLs []string
	// Token is the data-plane token (sb_dp_…), sent as a Bearer token to
	// the CDN and to the control plane.
	Token string
	// Trusted are the public keys artifacts must be signed with.
	Trusted compile.TrustedKeys
	// CacheDir keeps the last good artifact and the highest version ever
	// applied, per instance. Empty keeps nothing (tests only).
	CacheDir string
	// BootstrapFile is an optional artifact (envelope bytes) used on a cold
	// start when the cache holds nothing usable.
	BootstrapFile string
	// APIURL is the control plane's base URL for ReportStatus; empty
	// disables reporting.
	APIURL string
	// NodeID names this node in reports; default the host name.
	NodeID string
	// AgentVersion is the data-plane binary version, reported.
	AgentVersion string
	// MaxArtifactBytes bounds a downloaded artifact; default
	// compile.MaxArtifactBytes.
	MaxArtifactBytes int
	// LongPoll is the ?wait= sent with a known ETag; default 25 s,
	// negative disables long-polling.
	LongPoll time.Duration
	// BackoffBase and BackoffMax shape the exponential backoff (with full
	// jitter) after failed polls; defaults 500 ms and 30 s.
	BackoffBase, BackoffMax time.Duration
	// ReportInterval is how often status is reported besides after each
	// apply or rejection; default 30 s.
	ReportInterval time.Duration
	// HTTPClient is used for the CDN and the control plane; default a
	// client with dial and header timeouts and no overall timeout.
	HTTPClient *http.Client
	// Logger is used as is; add the instance id to it (cmd/ does).
	Logger *slog.Logger
	// Registerer receives the agent's metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Rejection reasons, the `reason` label of the rejections metric.
const (
	ReasonBadSignature  = "bad_signature"
	ReasonUnknownKey    = "unknown_key"
	ReasonWrongInstance = "wrong_instance"
	ReasonWrongKind     = "wrong_kind"
	ReasonOldVersion    = "old_version"
	ReasonTooLarge      = "too_large"
	ReasonMalformed     = "malformed"
	ReasonInvalidSpec   = "invalid_spec"
	ReasonCorruptCache  = "corrupt_cache"
)

var rejectionReasons = []string{
	ReasonBadSignature, ReasonUnknownKey, ReasonWrongInstance, ReasonWrongKind, ReasonOldVersion,
	ReasonTooLarge, ReasonMalformed, ReasonInvalidSpec, ReasonCorruptCache,
}

// Status is a snapshot of the agent's state.
type Status struct {
	// AppliedVersion is the version applied in this process; 0 when none.
	AppliedVersion int64
	// HighestVersion is the highest version ever applied (persisted).
	HighestVersion int64
	// Source says where the applied artifact came from: "cache",
	// "bootstrap" or "cdn".
	Source string
	// LastSync is the last successful CDN answer (200 or 304); zero if none.
	LastSync time.Time
	// LastApply is when AppliedVersion was applied.
	LastApply time.Time
	// LastError is the last sync, apply or rejection error; empty after a
	// successful sync.
	LastError string
	// Rejections counts rejected artifacts by reason since start.
	Rejections map[string]int64
	// SyncErrors counts failed polls and applies since start.
	SyncErrors int64
}

// Agent keeps a data plane's config in sync. Create it with New and run it
// with Run.
type Agent struct {
	cfg     Config
	applier Applier
	log     *slog.Logger
	now     func() time.Time
	client  *http.Client
	m       *metrics
	ready   atomic.Bool
	reportC chan struct{}

	loadOnce sync.Once
	loadErr  error

	mu   sync.Mutex // guards st
	st   Status
	etag string
	// rejectedETag is the ETag of the CDN's artifact when it was rejected.
	rejectedETag string
	cache        *cache
}

var instanceIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)

// New checks cfg, fills in defaults and returns an agent that applies
// artifacts with a.
func New(cfg Config, a Applier) (*Agent, error) {
	switch {
	case a == nil:
		return nil, errors.New("configsync: an Applier is required")
	case !instanceIDPattern.MatchString(cfg.InstanceID):
		return nil, fmt.Errorf("configsync: invalid instance id %q", cfg.InstanceID)
	case cfg.Kind == artifactv1.Kind_KIND_UNSPECIFIED:
		return nil, errors.New("configsync: kind is required")
	case len(cfg.Trusted) == 0:
		return nil, errors.New("configsync: at least one trusted key is required")
	case len(cfg.URLs) > 0 && cfg.Token == "":
		return nil, errors.New("configsync: a data-plane token is required to poll the CDN")
	}
	if cfg.MaxArtifactBytes <= 0 {
		cfg.MaxArtifactBytes = compile.MaxArtifactBytes
	}
	if cfg.LongPoll == 0 {
		cfg.LongPoll = DefaultLongPoll
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = DefaultBackoffBase
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	if cfg.BackoffMax < cfg.BackoffBase {
		cfg.BackoffMax = cfg.BackoffBase
	}
	if cfg.ReportInterval <= 0 {
		cfg.ReportInterval = DefaultReportInterval
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NodeID == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			cfg.NodeID = h
		} else {
			cfg.NodeID = "node"
		}
	}
	if len(cfg.NodeID) > 100 {
		cfg.NodeID = cfg.NodeID[:100]
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("configsync: register metrics: %w", err)
	}
	ag := &Agent{
		cfg:     cfg,
		applier: a,
		log:     cfg.Logger,
		now:     cfg.Now,
		client:  cfg.HTTPClient,
		m:       m,
		reportC: make(chan struct{}, 1),
		st:      Status{Rejections: make(map[string]int64)},
	}
	if cfg.CacheDir != "" {
		ag.cache = &cache{dir: cfg.CacheDir, instanceID: cfg.InstanceID}
	}
	return ag, nil
}

func defaultHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 0, // long-polls hold the headers
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
	}}
}

// Ready reports whether a verified config has been applied.
func (a *Agent) Ready() bool { return a.ready.Load() }

// Status returns a snapshot of the agent's state.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.st
	s.Rejections = make(map[string]int64, len(a.st.Rejections))
	for k, v := range a.st.Rejections {
		s.Rejections[k] = v
	}
	return s
}

// Load applies the verified cached artifact, or else the bootstrap file,
// if there is one. Call it before serving, so a restart serves the last good
// config from its first request; Run calls it if it has not been called. It
// fails only if the cache directory cannot be used.
func (a *Agent) Load(ctx context.Context) error {
	a.loadOnce.Do(func() { a.loadErr = a.start(ctx) })
	return a.loadErr
}

// Run loads the cached (or bootstrap) artifact unless Load did, then polls
// the CDN until ctx ends, reporting status alongside. It returns nil when
// ctx ends, or Load's error.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.Load(ctx); err != nil {
		return err
	}
	var wg sync.WaitGroup
	if a.cfg.APIURL != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.reportLoop(ctx)
		}()
	}
	if len(a.cfg.URLs) > 0 {
		a.pollLoop(ctx)
	} else {
		a.log.WarnContext(ctx, "configsync: no CDN URLs configured; serving the cached or bootstrap config only")
		<-ctx.Done()
	}
	wg.Wait()
	return nil
}
