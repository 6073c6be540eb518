package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/switchboardhq/switchboard/compile"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
)

// Defaults for Options fields left zero.
const (
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultMaxBroadcastBytes = 1 << 20
)

// Options configures a Server.
type Options struct {
	// NodeID names the AnyCable node in its logs; default AnyCable's
	// random id.
	NodeID string
	// Logger receives this package's and AnyCable's logs; default none.
	Logger *slog.Logger
	// Registerer receives this package's metrics and a collector of the
	// running AnyCable node's; nil registers nowhere.
	Registerer prometheus.Registerer
	// Gatherer is served at /metrics; nil serves 404 there.
	Gatherer prometheus.Gatherer
	// ShutdownTimeout bounds how long a replaced node gets to disconnect
	// its clients before their connections are closed; default 10 s.
	ShutdownTimeout time.Duration
	// MaxBroadcastBytes bounds a /_broadcast request body; default 1 MiB.
	MaxBroadcastBytes int64
}

// state is what one request sees: the node and the settings applied live.
type state struct {
	version      int64
	node         *node
	origins      originPolicy
	maxConns     int
	broadcastKey []byte
}

// Server is the realtime data plane's http.Handler and configsync.Applier.
// Create it with New.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	m    *serverMetrics

	state  atomic.Pointer[state]
	active atomic.Int64 // open WebSocket and SSE connections, all nodes

	applyMu sync.Mutex // serializes Apply and Shutdown
	closed  bool
}

// New returns a Server that answers 503 until its first Apply.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.MaxBroadcastBytes <= 0 {
		opts.MaxBroadcastBytes = DefaultMaxBroadcastBytes
	}
	s := &Server{opts: opts, log: opts.Logger}
	m, err := newServerMetrics(opts.Registerer, s)
	if err != nil {
		return nil, fmt.Errorf("realtime: register metrics: %w", err)
	}
	s.m = m

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			http.Error(w, "not ready: no config applied yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	if opts.Gatherer != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/cable", s.serveWebSocket)
	mux.HandleFunc("/events", s.serveSSE)
	mux.HandleFunc("/_broadcast", s.serveBroadcast)
	s.mux = mux
	return s, nil
}

// ServeHTTP serves every endpoint; see the package doc.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Ready reports whether a config has been applied and the server is not
// shut down.
func (s *Server) Ready() bool { return s.state.Load() != nil }

// Apply applies the realtime config in p. Settings enforced in front of
// AnyCable change at once; a change to a setting AnyCable fixes at start
// starts a new node, swaps it in and shuts the old one down gracefully
// (see the package doc for what clients see). The same settings again are
// a no-op. Apply returns once the old node is shut down.
func (s *Server) Apply(ctx context.Context, p *artifactv1.Payload) error {
	rc := p.GetRealtime()
	if rc == nil {
		return fmt.Errorf("realtime: artifact version %d carries no realtime config", p.GetVersion())
	}
	// The agent verified the artifact; validating again fills in defaults
	// and normalizes origins when Apply is called directly.
	cfg, err := compile.ValidateRealtime(rc, compile.Options{})
	if err != nil {
		return fmt.Errorf("realtime: artifact version %d: %w", p.GetVersion(), err)
	}

	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	if s.closed {
		return errors.New("realtime: server is shut down")
	}
	next := &state{
		version:      p.GetVersion(),
		origins:      newOriginPolicy(cfg.GetAllowedOrigins()),
		maxConns:     int(cfg.GetMaxConnections()),
		broadcastKey: []byte(cfg.GetBroadcastKey()),
	}
	settings := nodeSettingsOf(cfg)
	cur := s.state.Load()
	if cur != nil && cur.node.settings == settings {
		next.node = cur.node
		s.state.Store(next)
		s.log.InfoContext(ctx, "realtime: config applied live", "version", next.version)
		return nil
	}

	n, err := startNode(s.opts.NodeID, settings, s.log.With("component", "anycable"))
	if err != nil {
		return fmt.Errorf("realtime: artifact version %d: %w", p.GetVersion(), err)
	}
	next.node = n
	s.state.Store(next)
	s.m.nodeStarts.Inc()
	if cur == nil {
		s.log.InfoContext(ctx, "realtime: node started", "version", next.version)
		return nil
	}
	s.log.InfoContext(ctx, "realtime: node replaced; shutting down the old one", "version", next.version)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	if err := cur.node.shutdown(sctx); err != nil {
		// The new config is in service; the old node's leftovers are
		// closed all the same.
		s.log.WarnContext(ctx, "realtime: old node shutdown", "error", err)
	}
	return nil
}

// Shutdown stops serving (new requests get 503) and shuts the node down
// gracefully: its clients get a disconnect message with reconnect: true.
// Connections still open when ctx ends are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.closed = true
	cur := s.state.Swap(nil)
	if cur == nil {
		return nil
	}
	return cur.node.shutdown(ctx)
}

// current returns the state, or answers 503 and returns nil.
func (s *Server) current(w http.ResponseWriter) *state {
	st := s.state.Load()
	if st == nil {
		s.m.refused.WithLabelValues(refusedNotReady).Inc()
		w.Header().Set("Retry-After", "1")
		http.Error(w, "not ready: no config applied yet", http.StatusServiceUnavailable)
	}
	return st
}

// acquire takes a connection slot, or returns false past max (0: no limit).
func (s *Server) acquire(max int) bool {
	n := s.active.Add(1)
	if max > 0 && n > int64(max) {
		s.active.Add(-1)
		return false
	}
	return true
}

func (s *Server) release() { s.active.Add(-1) }

// admit checks the origin and takes a connection slot, or answers and
// returns false.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, st *state) bool {
	if !st.origins.allows(r.Header.Get("Origin")) {
		s.m.refused.WithLabelValues(refusedOrigin).Inc()
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return false
	}
	if !s.acquire(st.maxConns) {
		s.m.refused.WithLabelValues(refusedLimit).Inc()
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return false
	}
	return true
}

func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	st := s.current(w)
	if st == nil || !s.admit(w, r, st) {
		return
	}
	hw := &hijackWriter{ResponseWriter: w, set: st.node.conns, release: s.release}
	st.node.ws.ServeHTTP(hw, r)
	if !hw.hijacked {
		s.release() // the upgrade failed before taking the connection
	}
}

func (s *Server) serveSSE(w http.ResponseWriter, r *http.Request) {
	st := s.current(w)
	if st == nil || !s.admit(w, r, st) {
		return
	}
	defer s.release()
	st.node.sse.ServeHTTP(&corsWriter{ResponseWriter: w, origin: r.Header.Get("Origin")}, r)
}

func (s *Server) serveBroadcast(w http.ResponseWriter, r *http.Request) {
	st := s.current(w)
	if st == nil {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if len(st.broadcastKey) == 0 {
		s.m.refused.WithLabelValues(refusedBroadcastDisabled).Inc()
		http.Error(w, "broadcasting is disabled: the config sets no broadcast_key", http.StatusForbidden)
		return
	}
	if !bearerMatches(r, st.broadcastKey) {
		s.m.refused.WithLabelValues(refusedBroadcastAuth).Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="broadcast"`)
		http.Error(w, "missing or wrong broadcast key", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBroadcastBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("broadcast body over %d bytes", tooLarge.Limit), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if !json.Valid(body) {
		// AnyCable would log it and answer 201.
		http.Error(w, `body must be JSON: {"stream":"…","data":"…"} or a list of them`, http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	st.node.broadcast.ServeHTTP(w, r)
}
