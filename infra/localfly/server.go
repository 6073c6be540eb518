package localfly

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultRegions returns the regions a Server accepts when Params.Regions is
// empty: a handful of real Fly regions.
func DefaultRegions() []string {
	return []string{"iad", "ord", "lhr", "ams", "fra", "sin", "syd", "nrt"}
}

// Params configures a Server.
type Params struct {
	// Logger receives request and process logs. Required.
	Logger *slog.Logger
	// Token is the bearer token every request must carry. Required.
	Token string
	// SpecPath is the Swagger 2.0 Machines API spec requests are checked
	// against. Required.
	SpecPath string
	// Images maps an image name (as in config.image) to a local binary.
	Images map[string]string
	// Regions are the accepted regions; the first is used when a create
	// request names none. Defaults to DefaultRegions().
	Regions []string
	// Faults are injected from the start; /localfly/faults changes them.
	Faults Faults
	// BaseEnv is given to every machine process before secrets and
	// config.env, e.g. PATH. Machines inherit nothing else.
	BaseEnv []string
	// DataDir holds one directory per machine: its working directory, HOME
	// and XDG_CACHE_HOME. It survives stops and restarts (as a volume would
	// on Fly) and is removed when the machine is destroyed. Defaults to a
	// new temporary directory.
	DataDir string
	// StopTimeout is how long a stopping process gets between its stop
	// signal and SIGKILL when neither the request nor the config says.
	// Defaults to 5s.
	StopTimeout time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Rand returns a number in [0, 1) for fault injection. Defaults to
	// math/rand/v2.Float64.
	Rand func() float64
}

// Server is a local Machines API. It is an http.Handler; Close stops every
// machine process.
type Server struct {
	log         *slog.Logger
	token       string
	images      map[string]string
	regions     []string
	baseEnv     []string
	dataDir     string
	stopTimeout time.Duration
	now         func() time.Time
	rand        func() float64
	validator   *validator
	mux         *http.ServeMux

	faultsMu sync.Mutex
	faults   Faults

	// mu guards everything below and every app and machine reachable from it.
	mu       sync.Mutex
	closed   bool
	apps     map[string]*app
	machines map[string]*machine // by id, across apps
	nextNum  int32
	procs    sync.WaitGroup // one per running process
}

// New returns a Server, or an error if the spec cannot be loaded or a
// required parameter is missing.
func New(p Params) (*Server, error) {
	if p.Logger == nil {
		return nil, errors.New("localfly: Params.Logger is required")
	}
	if p.Token == "" {
		return nil, errors.New("localfly: Params.Token is required")
	}
	v, err := newValidator(p.SpecPath)
	if err != nil {
		return nil, fmt.Errorf("localfly: %w", err)
	}
	if err := p.Faults.validate(); err != nil {
		return nil, fmt.Errorf("localfly: faults: %w", err)
	}
	s := &Server{
		log:         p.Logger,
		token:       p.Token,
		images:      p.Images,
		regions:     slices.Clone(p.Regions),
		baseEnv:     slices.Clone(p.BaseEnv),
		dataDir:     p.DataDir,
		stopTimeout: p.StopTimeout,
		now:         p.Now,
		rand:        p.Rand,
		validator:   v,
		faults:      p.Faults,
		apps:        map[string]*app{},
		machines:    map[string]*machine{},
	}
	if len(s.regions) == 0 {
		s.regions = DefaultRegions()
	}
	if s.stopTimeout <= 0 {
		s.stopTimeout = 5 * time.Second
	}
	if s.dataDir == "" {
		if s.dataDir, err = os.MkdirTemp("", "localfly-"); err != nil {
			return nil, fmt.Errorf("localfly: machine data directory: %w", err)
		}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Float64
	}
	s.mux = s.routes()
	return s, nil
}

func (s *Server) routes() *http.ServeMux {
	m := http.NewServeMux()
	h := s.handle

	m.HandleFunc("POST /v1/apps", h(s.createApp))
	m.HandleFunc("GET /v1/apps", h(s.listApps))
	m.HandleFunc("GET /v1/apps/{app}", h(s.getApp))
	m.HandleFunc("DELETE /v1/apps/{app}", h(s.deleteApp))

	m.HandleFunc("GET /v1/apps/{app}/secrets", h(s.listSecrets))
	m.HandleFunc("POST /v1/apps/{app}/secrets", h(s.updateSecrets))
	m.HandleFunc("GET /v1/apps/{app}/secrets/{name}", h(s.getSecret))
	m.HandleFunc("POST /v1/apps/{app}/secrets/{name}", h(s.setSecret))
	m.HandleFunc("DELETE /v1/apps/{app}/secrets/{name}", h(s.deleteSecret))

	const mp = "/v1/apps/{app}/machines"
	m.HandleFunc("POST "+mp, h(s.createMachine))
	m.HandleFunc("GET "+mp, h(s.listMachines))
	m.HandleFunc("GET "+mp+"/{id}", h(s.getMachine))
	m.HandleFunc("POST "+mp+"/{id}", h(s.updateMachine))
	m.HandleFunc("DELETE "+mp+"/{id}", h(s.destroyMachine))
	m.HandleFunc("POST "+mp+"/{id}/start", h(s.startMachine))
	m.HandleFunc("POST "+mp+"/{id}/stop", h(s.stopMachine))
	m.HandleFunc("POST "+mp+"/{id}/restart", h(s.restartMachine))
	m.HandleFunc("GET "+mp+"/{id}/wait", h(s.waitMachine))
	m.HandleFunc("GET "+mp+"/{id}/events", h(s.listEvents))
	m.HandleFunc("GET "+mp+"/{id}/lease", h(s.getLease))
	m.HandleFunc("POST "+mp+"/{id}/lease", h(s.acquireLease))
	m.HandleFunc("DELETE "+mp+"/{id}/lease", h(s.releaseLease))
	m.HandleFunc("GET "+mp+"/{id}/metadata", h(s.getMetadata))
	m.HandleFunc("POST "+mp+"/{id}/metadata/{key}", h(s.setMetadata))
	m.HandleFunc("DELETE "+mp+"/{id}/metadata/{key}", h(s.deleteMetadata))

	m.HandleFunc("GET /localfly/machines/{id}", h(s.machineAddress))
	m.HandleFunc("GET /localfly/faults", h(s.getFaults))
	m.HandleFunc("PUT /localfly/faults", h(s.putFaults))
	m.HandleFunc("POST /localfly/faults", h(s.putFaults))
	m.HandleFunc("DELETE /localfly/faults", h(s.deleteFaults))

	m.HandleFunc("/", h(func(http.ResponseWriter, *http.Request) error {
		return errorf(http.StatusNotFound, "not found")
	}))
	return m
}

// ServeHTTP authenticates, injects faults, checks the request against the
// spec and dispatches, in that order: a request without a token never sees a
// fault, and a fault never depends on whether the body is valid.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		s.log.DebugContext(r.Context(), "localfly: request", "method", r.Method, "path", r.URL.Path,
			"status", rw.status, "duration", time.Since(start))
	}()

	if !s.authorized(r) {
		writeJSON(rw, http.StatusUnauthorized, errorBody{Error: "unauthorized"})
		return
	}
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		if s.injectFault(rw, r) {
			return
		}
		if err := s.validator.validate(r); err != nil {
			s.writeError(rw, r, err)
			return
		}
	}
	s.mux.ServeHTTP(rw, r)
}

// authorized accepts the token with either scheme fly-go may send: "Bearer"
// for plain tokens, "FlyV1" for macaroons.
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	for _, scheme := range []string{"Bearer ", "FlyV1 "} {
		if tok, ok := strings.CutPrefix(h, scheme); ok {
			return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.token)) == 1
		}
	}
	return false
}

// Close stops every machine process (stop signal, then SIGKILL after the
// stop timeout) and waits for them to exit. The Server answers 503 after.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, m := range s.machines {
		if m.proc != nil {
			m.intent = intentShutdown
			m.proc.stop(stopSignal(m, ""), s.stopTimeoutFor(m, 0))
		}
	}
	s.mu.Unlock()
	s.procs.Wait()
	return nil
}

// Shutdown is Close bounded by ctx, for callers that cannot wait forever.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		_ = s.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
