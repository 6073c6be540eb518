// Command provision measures the control plane's overhead per provisioned
// instance: the time from CreateInstance to RUNNING that is spent outside
// the Machines API (product goal: under 200 ms at p99).
//
// Everything runs in this process except Postgres and the machines: the API
// (Connect over HTTP), the River client with the provisioning workers, the
// fly adapter (fly-go) and localfly, whose machines are the echoserver
// stand-in image. localfly's handler is wrapped to sum, per app (and per
// machine for its /localfly/machines address endpoint), how long each
// request took to answer: the "inside the Machines API" time. The worker's
// health check (its HTTP client is ours) is timed per machine from its first
// /healthz request to the first 200; that wait for the process to listen is
// counted as machine time too. overhead = total - machines.
//
// The reference, measured in the same run and interleaved with it in rounds,
// is the same call sequence done directly with fly-go against the same
// localfly (create app, set secret, create machine, wait started, find its
// address, poll /healthz as the worker does), with no Postgres or River.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/bench/internal/benchkit"
	"github.com/switchboardhq/switchboard/fly"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
	"github.com/switchboardhq/switchboard/gen/switchboard/v1/switchboardv1connect"
	"github.com/switchboardhq/switchboard/infra/localfly"
	"github.com/switchboardhq/switchboard/password"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/services"
	"github.com/switchboardhq/switchboard/workers"
)

const flyToken = "bench-fly-token"

// healthInterval is how long the worker waits between /healthz attempts
// (workers.ProvisionInstanceWorker.healthy); the reference polls the same way.
const healthInterval = 100 * time.Millisecond

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "provision:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 200, "instances to provision (and reference sequences to run)")
	conc := flag.Int("c", 10, "instances in flight at once")
	rounds := flag.Int("rounds", 4, "alternate reference and provisioning in this many rounds")
	spec := flag.String("spec", "", "Machines API Swagger spec (default <root>/../shared/specs/fly-machines-api.swagger.json)")
	verbose := flag.Bool("v", false, "log workers and localfly at info level on stderr")
	flag.Parse()
	if *n < 1 || *conc < 1 || *rounds < 1 {
		return errors.New("-n, -c and -rounds must be positive")
	}
	*rounds = min(*rounds, *n)

	ctx, stop := benchkit.SignalContext()
	defer stop()
	root, err := benchkit.Root()
	if err != nil {
		return err
	}
	if *spec == "" {
		*spec = filepath.Join(root, "..", "shared", "specs", "fly-machines-api.swagger.json")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	quiet := slog.New(slog.DiscardHandler)
	if *verbose {
		quiet = logger
	}

	tmp, err := os.MkdirTemp("", "bench-provision-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// As root, postgres.sh runs the cluster as the postgres user, which must
	// reach its directory inside ours.
	_ = os.Chmod(tmp, 0o755)

	// Postgres.
	dbURL, dropDB, err := database(ctx, root, tmp)
	if err != nil {
		return err
	}
	defer dropDB()
	pool, err := postgres.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool, quiet); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}

	// The stand-in image.
	standin := filepath.Join(tmp, "standin")
	benchkit.Logf("building the stand-in image (echoserver)...")
	build := exec.CommandContext(ctx, "go", "build", "-o", standin, "./infra/localfly/testdata/echoserver")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build echoserver: %w", err)
	}

	// localfly, metered.
	lf, err := localfly.New(localfly.Params{
		Logger: quiet, Token: flyToken, SpecPath: *spec, StopTimeout: 2 * time.Second,
		DataDir: filepath.Join(tmp, "machines"), BaseEnv: []string{"PATH=" + os.Getenv("PATH")},
		Images: map[string]string{"switchboard/breaker": standin, "switchboard/realtime": standin},
	})
	if err != nil {
		return err
	}
	defer func() {
		benchkit.Logf("stopping machines...")
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = lf.Shutdown(sctx)
	}()
	meter := &meter{next: lf, sums: map[string]time.Duration{}}
	flyURL, stopFly, err := serve(meter)
	if err != nil {
		return err
	}
	defer stopFly()

	// fly-go reads its base URL only while the client is built.
	if err := os.Setenv("FLY_FLAPS_BASE_URL", flyURL); err != nil {
		return err
	}
	machines, err := fly.New(ctx, fly.Params{Token: flyToken, Org: "personal", LocalBaseURL: flyURL})
	if err != nil {
		return err
	}
	health := &healthMeter{next: http.DefaultTransport, hosts: map[string]*healthTimes{}}
	healthClient := &http.Client{Timeout: 5 * time.Second, Transport: health}

	// Services, workers and River, as cmd/switchboard wires them.
	db := &postgres.DB{Pool: pool, Now: time.Now, Logger: quiet}
	svc := postgres.NewServices(db, password.Fast)
	store := &watchStore{InstanceStore: svc.InstanceStore, done: map[string]*doneMark{}}
	w := river.NewWorkers()
	workers.Register(w, workers.Params{
		Store: store, Machines: machines, Logger: quiet, HTTPClient: healthClient,
		Config: switchboard.WorkerConfig{CDNURL: "http://cdn.invalid", APIURL: "http://api.invalid", HealthTimeout: 20 * time.Second},
	})
	// Minting a data-plane token enqueues sync_token_registry (an S3 write
	// in production, on the same queue). There is no S3 here: a no-op
	// worker takes the job so it neither fails nor retries.
	river.AddWorker(w, river.WorkFunc(func(context.Context, *river.Job[switchboard.SyncTokenRegistryArgs]) error { return nil }))
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:            logger,
		Workers:           w,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 50}},
		FetchCooldown:     50 * time.Millisecond,
		FetchPollInterval: 100 * time.Millisecond,
		RetryPolicy:       workers.RetryPolicy{Base: time.Second, Max: 2 * time.Minute},
		JobTimeout:        2 * time.Minute,
	})
	if err != nil {
		return err
	}
	db.Jobs = jobs
	if err := jobs.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = jobs.Stop(sctx)
	}()

	apiURL, stopAPI, err := serve(services.NewHandler(services.Params{
		Logger: logger, Auth: svc.Auth, Organizations: svc.Organizations, APIKeys: svc.APIKeys, Audit: svc.Audit,
		Instances: svc.Instances, Configs: svc.Configs, Tokens: svc.Tokens, DataPlanes: svc.Tokens,
		CDNURL: "http://cdn.invalid",
	}))
	if err != nil {
		return err
	}
	defer stopAPI()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	auth := switchboardv1connect.NewAuthServiceClient(hc, apiURL)
	signup, err := auth.SignUp(ctx, &switchboardv1.SignUpRequest{
		Email: "bench-" + randHex(4) + "@example.com", Password: "correct horse battery", Name: "Bench",
	})
	if err != nil {
		return fmt.Errorf("sign up: %w", err)
	}
	token, orgID := signup.SessionToken, signup.Organization.Id
	// The signed-up user's session token on every call.
	instances := switchboardv1connect.NewInstanceServiceClient(hc, apiURL, connect.WithInterceptors(
		connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+token)
				return next(ctx, req)
			}
		})))
	if _, err := pool.Exec(ctx, `UPDATE organizations SET instance_quota = $1 WHERE id = $2`, *n+10, orgID); err != nil {
		return err
	}

	// One provisioning: create as the user, wait for the RUNNING checkpoint.
	var (
		mu      sync.Mutex
		results []provisioned
		refs    []reference
		failed  int
	)
	provisionOne := func(ctx context.Context, i int) error {
		req := &switchboardv1.CreateInstanceRequest{
			OrganizationId: orgID, Name: fmt.Sprintf("bench-%d", i), Kind: switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER,
		}
		start := time.Now()
		res, err := instances.CreateInstance(ctx, req)
		if err != nil {
			return fmt.Errorf("create instance: %w", err)
		}
		id := res.Instance.Id
		mark := store.mark(id)
		select {
		case <-mark.ch:
		case <-time.After(2 * time.Minute):
			return fmt.Errorf("instance %s not running after 2m", id)
		case <-ctx.Done():
			return ctx.Err()
		}
		mu.Lock()
		defer mu.Unlock()
		if mark.state != switchboard.StateRunning {
			failed++
			benchkit.Logf("instance %s ended %s", id, mark.state)
			return nil
		}
		results = append(results, provisioned{id: id, total: mark.at.Sub(start)})
		return nil
	}

	// One reference: the same Machines API sequence straight through fly-go.
	size, _ := switchboard.LookupSize(switchboard.Sizes[0].Name)
	referenceOne := func(ctx context.Context, i int) error {
		app := fmt.Sprintf("ref-%d-%s", i, randHex(4))
		start := time.Now()
		if _, err := machines.CreateApp(ctx, app); err != nil {
			return err
		}
		if err := machines.SetSecret(ctx, app, workers.SecretDataPlaneToken, "sb_dp_"+randHex(16)); err != nil {
			return err
		}
		instanceID := switchboard.NewID(switchboard.PrefixInstance, time.Now())
		m, err := machines.CreateMachine(ctx, app, switchboard.MachineSpec{
			Name: fmt.Sprintf("ref-%d", i), Image: switchboard.Images[switchboard.KindBreaker], Region: switchboard.DefaultRegion,
			Env: map[string]string{
				"SWITCHBOARD_INSTANCE_ID": instanceID, "SWITCHBOARD_CDN_URL": "http://cdn.invalid",
				"SWITCHBOARD_API_URL": "http://api.invalid", "SWITCHBOARD_TRUSTED_KEYS": "",
			},
			Metadata: map[string]string{switchboard.MetadataInstanceID: instanceID, switchboard.MetadataGeneration: "1"},
			CPUKind:  size.CPUKind, CPUs: size.CPUs, MemoryMB: size.MemoryMB, InternalPort: switchboard.ServicePort,
		})
		if err != nil {
			return err
		}
		if err := machines.WaitMachine(ctx, app, m.ID, switchboard.MachineStarted, 30*time.Second); err != nil {
			return err
		}
		endpoint, err := machines.MachineURL(ctx, app, m.ID)
		if err != nil {
			return err
		}
		if err := pollHealth(ctx, healthClient, endpoint, 20*time.Second); err != nil {
			return err
		}
		total := time.Since(start)
		mu.Lock()
		refs = append(refs, reference{app: app, machineID: m.ID, endpoint: endpoint, total: total})
		mu.Unlock()
		return nil
	}

	// Warm up both paths (connections, River's first fetch, page cache).
	benchkit.Logf("warming up...")
	if err := fanOut(ctx, 2, 2, *n, referenceOne); err != nil {
		return fmt.Errorf("warm-up reference: %w", err)
	}
	if err := fanOut(ctx, 2, 2, *n, provisionOne); err != nil {
		return fmt.Errorf("warm-up provisioning: %w", err)
	}
	mu.Lock()
	results, refs, failed = nil, nil, 0
	mu.Unlock()

	began := time.Now()
	next := 0
	for r := range *rounds {
		count := *n / *rounds
		if r < *n%*rounds {
			count++
		}
		benchkit.Logf("round %d/%d: %d reference sequences, then %d instances, %d at a time", r+1, *rounds, count, count, *conc)
		if err := fanOut(ctx, count, *conc, next, referenceOne); err != nil {
			return fmt.Errorf("reference: %w", err)
		}
		if err := fanOut(ctx, count, *conc, next, provisionOne); err != nil {
			return fmt.Errorf("provisioning: %w", err)
		}
		next += count
	}
	benchkit.Logf("measured in %s", time.Since(began).Round(time.Millisecond))

	// Attribute Machines API and health-check time to each instance.
	var totals, overheads, apiTimes, healthWaits []time.Duration
	for _, p := range results {
		rec, err := svc.InstanceStore.LoadInstance(ctx, p.id)
		if err != nil {
			return err
		}
		api := meter.get(rec.FlyAppName) + meter.get("machine:"+rec.FlyMachineID)
		hw, ok := health.get(rec.EndpointURL)
		if !ok {
			return fmt.Errorf("no health check seen for %s (%s)", p.id, rec.EndpointURL)
		}
		totals = append(totals, p.total)
		apiTimes = append(apiTimes, api)
		healthWaits = append(healthWaits, hw)
		overheads = append(overheads, p.total-api-hw)
	}
	var refTotals, refOverheads []time.Duration
	for _, r := range refs {
		hw, _ := health.get(r.endpoint)
		refTotals = append(refTotals, r.total)
		refOverheads = append(refOverheads, r.total-meter.get(r.app)-meter.get("machine:"+r.machineID)-hw)
	}
	ov, tot, api, hw := benchkit.Summarize(overheads), benchkit.Summarize(totals), benchkit.Summarize(apiTimes), benchkit.Summarize(healthWaits)
	ref, refOv := benchkit.Summarize(refTotals), benchkit.Summarize(refOverheads)

	benchkit.Print("provision_instances", ov.N)
	benchkit.Print("provision_failed", failed)
	benchkit.Print("provision_concurrency", *conc)
	benchkit.Print("provision_overhead_p50_ms", benchkit.Ms(ov.P50))
	benchkit.Print("provision_overhead_p90_ms", benchkit.Ms(ov.P90))
	benchkit.Print("provision_overhead_p99_ms", benchkit.Ms(ov.P99))
	benchkit.Print("provision_overhead_max_ms", benchkit.Ms(ov.Max))
	benchkit.Print("provision_total_p50_ms", benchkit.Ms(tot.P50))
	benchkit.Print("provision_total_p99_ms", benchkit.Ms(tot.P99))
	benchkit.Print("machines_api_p50_ms", benchkit.Ms(api.P50))
	benchkit.Print("machines_api_p99_ms", benchkit.Ms(api.P99))
	benchkit.Print("health_wait_p50_ms", benchkit.Ms(hw.P50))
	benchkit.Print("health_wait_p99_ms", benchkit.Ms(hw.P99))
	benchkit.Print("reference_sequences", ref.N)
	benchkit.Print("reference_direct_p50_ms", benchkit.Ms(ref.P50))
	benchkit.Print("reference_direct_p99_ms", benchkit.Ms(ref.P99))
	benchkit.Print("reference_overhead_p50_ms", benchkit.Ms(refOv.P50))
	benchkit.Print("reference_overhead_p99_ms", benchkit.Ms(refOv.P99))
	benchkit.Print("ratio_total_vs_direct_p50", benchkit.Ratio(float64(tot.P50), float64(ref.P50)))
	benchkit.Print("ratio_total_vs_direct_p99", benchkit.Ratio(float64(tot.P99), float64(ref.P99)))
	return nil
}

type provisioned struct {
	id    string
	total time.Duration
}

type reference struct {
	app, machineID, endpoint string
	total                    time.Duration
}

// fanOut runs fn for count indexes from first, conc at a time, and returns
// the first error.
func fanOut(ctx context.Context, count, conc, first int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idx := make(chan int)
	errc := make(chan error, conc)
	var wg sync.WaitGroup
	for range min(conc, count) {
		wg.Go(func() {
			for i := range idx {
				if err := fn(ctx, i); err != nil {
					errc <- err
					cancel()
					return
				}
			}
		})
	}
feed:
	for i := range count {
		select {
		case idx <- first + i:
		case <-ctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return ctx.Err()
	}
}

// pollHealth polls endpoint/healthz as the worker does: every
// healthInterval until a 200.
func pollHealth(ctx context.Context, client *http.Client, endpoint string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/healthz", nil)
		if err != nil {
			return err
		}
		res, err := client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/healthz: no 200 after %s", endpoint, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(healthInterval):
		}
	}
}

// meter sums how long localfly took to answer, per app (key: the app name,
// from the path or, for POST /v1/apps, the body) and per machine for the
// local address endpoint (key: "machine:<id>").
type meter struct {
	next http.Handler
	mu   sync.Mutex
	sums map[string]time.Duration
}

func (m *meter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := ""
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[0] == "v1" && parts[1] == "apps":
		key = parts[2]
	case len(parts) == 2 && parts[0] == "v1" && parts[1] == "apps" && r.Method == http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in struct {
			AppName string `json:"app_name"`
		}
		_ = json.Unmarshal(body, &in)
		key = in.AppName
	case len(parts) == 3 && parts[0] == "localfly" && parts[1] == "machines":
		key = "machine:" + parts[2]
	}
	start := time.Now()
	m.next.ServeHTTP(w, r)
	d := time.Since(start)
	if key != "" {
		m.mu.Lock()
		m.sums[key] += d
		m.mu.Unlock()
	}
}

func (m *meter) get(key string) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sums[key]
}

// healthMeter times health checks per machine address: from the first
// request's start to the end of the first 200.
type healthMeter struct {
	next  http.RoundTripper
	mu    sync.Mutex
	hosts map[string]*healthTimes
}

type healthTimes struct{ first, ok time.Time }

func (h *healthMeter) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	h.mu.Lock()
	t := h.hosts[r.URL.Host]
	if t == nil {
		t = &healthTimes{first: start}
		h.hosts[r.URL.Host] = t
	}
	h.mu.Unlock()
	res, err := h.next.RoundTrip(r)
	if err == nil && res.StatusCode == http.StatusOK {
		// The worker closes the body without reading "ok"; the response
		// is complete once its headers are in.
		end := time.Now()
		h.mu.Lock()
		if t.ok.IsZero() {
			t.ok = end
		}
		h.mu.Unlock()
	}
	return res, err
}

// get returns the health-check duration for a machine's base URL.
func (h *healthMeter) get(endpoint string) (time.Duration, bool) {
	host := strings.TrimPrefix(strings.TrimPrefix(endpoint, "http://"), "https://")
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.hosts[host]
	if t == nil || t.ok.IsZero() {
		return 0, false
	}
	return t.ok.Sub(t.first), true
}

// watchStore is the workers' store, noting when each instance's RUNNING (or
// FAILED) checkpoint has been committed.
type watchStore struct {
	switchboard.InstanceStore
	mu   sync.Mutex
	done map[string]*doneMark
}

type doneMark struct {
	ch    chan struct{}
	at    time.Time
	state switchboard.InstanceState
}

func (s *watchStore) mark(id string) *doneMark {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.done[id]
	if m == nil {
		m = &doneMark{ch: make(chan struct{})}
		s.done[id] = m
	}
	return m
}

func (s *watchStore) SaveProgress(ctx context.Context, id string, p switchboard.InstanceProgress) error {
	err := s.InstanceStore.SaveProgress(ctx, id, p)
	if err == nil && p.State != nil && (*p.State == switchboard.StateRunning || *p.State == switchboard.StateFailed) {
		at := time.Now()
		m := s.mark(id)
		s.mu.Lock()
		if m.at.IsZero() {
			m.at, m.state = at, *p.State
			close(m.ch)
		}
		s.mu.Unlock()
	}
	return err
}

// serve serves h on a free loopback port until the returned stop is called.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// database returns a fresh, empty database: a new one in $DATABASE_URL's
// server when that is set (dropped afterwards), else a throwaway cluster
// started with infra/postgres.sh (stopped afterwards).
func database(ctx context.Context, root, tmp string) (string, func(), error) {
	if admin := os.Getenv("DATABASE_URL"); admin != "" {
		name := "bench_provision_" + randHex(6)
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return "", nil, err
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			return "", nil, fmt.Errorf("create database: %w", err)
		}
		u, err := neturl.Parse(admin)
		if err != nil {
			return "", nil, err
		}
		u.Path = "/" + name
		benchkit.Logf("using database %s on $DATABASE_URL's server", name)
		return u.String(), func() {
			c, err := pgx.Connect(context.Background(), admin)
			if err == nil {
				_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
				_ = c.Close(context.Background())
			}
		}, nil
	}
	dir := filepath.Join(tmp, "pg")
	script := filepath.Join(root, "infra", "postgres.sh")
	benchkit.Logf("starting a throwaway Postgres (infra/postgres.sh)...")
	cmd := exec.CommandContext(ctx, script, "start", dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", nil, fmt.Errorf("postgres.sh start: %w", err)
	}
	return strings.TrimSpace(string(out)), func() {
		stop := exec.Command(script, "stop", dir)
		stop.Stderr = os.Stderr
		_ = stop.Run()
	}, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
