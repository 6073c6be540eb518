// Command longpoll measures the CDN's long-poll fan-out: how long after a
// publish notice every one of N pollers has the new artifact.
//
// N data planes (goroutines, one data-plane token each, all registered in
// the token registry) long-poll one instance's artifact on the CDN (its own
// process, as in bench/cdn) with If-None-Match and ?wait=25s. Once all N are
// parked in the CDN, the benchmark publishes a new version the way
// publish_config does (put latest.pb, then POST /internal/notify) and records,
// for each poller, the time from the notice to the 200 carrying the new
// version. Pollers re-poll at once with the new ETag, as configsync does; the
// next round starts when all are parked again.
//
// The reference, measured in the same run with the same client: a trivial Go
// server (this binary, `longpoll serve-floor`) that parks requests on a
// channel and releases them all when told. It does no token check, no S3
// call, no revalidation: it is the floor for this fan-out on this machine.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard/bench/internal/benchkit"
)

const serveFloorArg = "serve-floor"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case benchkit.ServeCDNArg:
			benchkit.ServeCDNMain(os.Args[2:])
			return
		case serveFloorArg:
			if err := benchkit.ServeUntilEOF("127.0.0.1:0", newFloor()); err != nil {
				fmt.Fprintln(os.Stderr, "floor:", err)
				os.Exit(1)
			}
			return
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/longpoll:", err)
		os.Exit(1)
	}
}

type options struct {
	pollers, rounds int
	wait            time.Duration
	settle, gap     time.Duration
}

func run() error {
	var o options
	flag.IntVar(&o.pollers, "pollers", 1000, "concurrent long-pollers (one data-plane token each)")
	flag.IntVar(&o.rounds, "rounds", 5, "publishes measured per target")
	flag.DurationVar(&o.wait, "wait", 25*time.Second, "the pollers' ?wait=")
	flag.DurationVar(&o.settle, "settle", 500*time.Millisecond, "pause after all pollers are parked, before publishing")
	flag.DurationVar(&o.gap, "gap", 1500*time.Millisecond, "least time between two publishes to the same target (the CDN revalidates an instance at most once per second, so notices closer than that wait)")
	flag.Parse()

	ctx, cancel := benchkit.SignalContext()
	defer cancel()
	dir, err := os.MkdirTemp("", "bench-longpoll-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	s3, err := benchkit.StartS3(ctx, dir)
	if err != nil {
		return err
	}
	defer s3.Stop()
	const bucket = "bench-longpoll"
	store, err := benchkit.Store(ctx, s3.Endpoint, bucket)
	if err != nil {
		return err
	}
	pub, err := benchkit.NewPublisher(store)
	if err != nil {
		return err
	}
	if _, err := pub.Publish(ctx, 1); err != nil {
		return err
	}
	tokens := make([]string, o.pollers)
	if err := registerTokens(ctx, pub, tokens); err != nil {
		return fmt.Errorf("register tokens: %w", err)
	}
	benchkit.Logf("registered %d data-plane tokens", len(tokens))

	cdnProc, err := benchkit.StartCDN(ctx, s3.Endpoint, bucket)
	if err != nil {
		return err
	}
	defer cdnProc.Stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	floorProc, err := benchkit.StartChild(ctx, 10*time.Second,
		[]string{fmt.Sprintf("GOMAXPROCS=%d", runtime.NumCPU())}, self, serveFloorArg)
	if err != nil {
		return err
	}
	defer floorProc.Stop()

	benchkit.Print("longpoll_pollers", o.pollers)

	floorT := &target{
		name: "floor",
		url:  floorProc.Ready + "/poll",
		parked: func(ctx context.Context, c *http.Client) (int, error) {
			return intFromURL(ctx, c, floorProc.Ready+"/held", "")
		},
		publish: func(ctx context.Context, c *http.Client, version int64) (time.Time, time.Duration, error) {
			t0 := time.Now()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, floorProc.Ready+"/release", nil)
			res, err := c.Do(req)
			if err != nil {
				return t0, 0, err
			}
			res.Body.Close()
			return t0, 0, nil
		},
	}
	cdnT := &target{
		name:   "cdn",
		url:    cdnProc.Ready + "/v1/instances/" + pub.InstanceID + "/artifact",
		tokens: tokens,
		parked: func(ctx context.Context, c *http.Client) (int, error) {
			return intFromURL(ctx, c, cdnProc.Ready+"/metrics", "switchboard_cdn_longpoll_waiters ")
		},
		publish: func(ctx context.Context, c *http.Client, v int64) (time.Time, time.Duration, error) {
			start := time.Now()
			if _, err := pub.Publish(ctx, v); err != nil {
				return start, 0, err
			}
			t0 := time.Now()
			return t0, t0.Sub(start), benchkit.Notify(ctx, c, cdnProc.Ready, benchkit.NotifySecret, pub.InstanceID)
		},
	}
	floorFleet := startFleet(ctx, o, floorT)
	defer floorFleet.stop()
	cdnFleet := startFleet(ctx, o, cdnT)
	defer cdnFleet.stop()
	if err := measure(ctx, o, floorFleet, cdnFleet); err != nil {
		return err
	}
	ours := result{lat: benchkit.Summarize(cdnFleet.lat), put: benchkit.Summarize(cdnFleet.puts)}
	floor := result{lat: benchkit.Summarize(floorFleet.lat)}

	benchkit.Print("longpoll_p50_ms", benchkit.Ms(ours.lat.P50))
	benchkit.Print("longpoll_p90_ms", benchkit.Ms(ours.lat.P90))
	benchkit.Print("longpoll_p99_ms", benchkit.Ms(ours.lat.P99))
	benchkit.Print("longpoll_max_ms", benchkit.Ms(ours.lat.Max))
	benchkit.Print("longpoll_samples", ours.lat.N)
	benchkit.Print("longpoll_s3_put_p50_ms", benchkit.Ms(ours.put.P50))
	benchkit.Print("floor_p50_ms", benchkit.Ms(floor.lat.P50))
	benchkit.Print("floor_p99_ms", benchkit.Ms(floor.lat.P99))
	benchkit.Print("floor_max_ms", benchkit.Ms(floor.lat.Max))
	benchkit.Print("ratio_p50", benchkit.Ratio(float64(ours.lat.P50), float64(floor.lat.P50)))
	benchkit.Print("ratio", benchkit.Ratio(float64(ours.lat.P99), float64(floor.lat.P99)))
	return nil
}

// registerTokens fills tokens with fresh registered data-plane tokens, 16
// registry writes at a time.
func registerTokens(ctx context.Context, pub *benchkit.Publisher, tokens []string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(tokens))
	sem := make(chan struct{}, 16)
	for i := range tokens {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			tokens[i], errs[i] = pub.NewToken(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// target is a long-poll server and how to publish to it.
type target struct {
	name   string
	url    string
	tokens []string // one per poller; none for the floor
	// parked reports how many requests the server holds.
	parked func(ctx context.Context, c *http.Client) (int, error)
	// publish makes version available and tells the server; t0 is when
	// the server was told, put how long the store write before it took.
	publish func(ctx context.Context, c *http.Client, version int64) (t0 time.Time, put time.Duration, err error)
}

type result struct{ lat, put benchkit.Stats }

type sample struct {
	version int64
	at      time.Time
}

// fleet is o.pollers long-pollers running against one target.
type fleet struct {
	t           *target
	samples     chan sample
	errs        atomic.Int64
	ctl         *http.Client
	lat, puts   []time.Duration
	lastPublish time.Time
	version     int64
	stop        func()
}

// startFleet starts o.pollers pollers against t, each on its own connection.
func startFleet(ctx context.Context, o options, t *target) *fleet {
	ctx, cancel := context.WithCancel(ctx)
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        o.pollers + 100,
		MaxIdleConnsPerHost: o.pollers + 100,
		IdleConnTimeout:     2 * time.Minute,
		DisableCompression:  true,
	}
	client := &http.Client{Transport: tr}
	f := &fleet{
		t:       t,
		samples: make(chan sample, o.pollers*2),
		ctl:     &http.Client{Timeout: 30 * time.Second}, // control requests, on their own connections
		version: 1,
	}
	var wg sync.WaitGroup
	for i := 0; i < o.pollers; i++ {
		token := ""
		if t.tokens != nil {
			token = t.tokens[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			poll(ctx, client, t.url, token, o.wait, f.samples, &f.errs)
		}()
	}
	f.stop = func() { cancel(); wg.Wait(); tr.CloseIdleConnections() }
	return f
}

// round waits until every poller is parked, publishes the next version and
// returns each poller's latency from the notice to its 200.
func (f *fleet) round(ctx context.Context, o options) ([]time.Duration, time.Duration, error) {
	if err := waitParked(ctx, f.ctl, f.t, o.pollers); err != nil {
		return nil, 0, err
	}
	time.Sleep(o.settle)
	if d := time.Until(f.lastPublish.Add(o.gap)); d > 0 {
		time.Sleep(d)
	}
	f.version++
	t0, put, err := f.t.publish(ctx, f.ctl, f.version)
	if err != nil {
		return nil, 0, fmt.Errorf("publish v%d: %w", f.version, err)
	}
	f.lastPublish = t0
	deadline := time.After(o.wait)
	lat := make([]time.Duration, 0, o.pollers)
	for len(lat) < o.pollers {
		select {
		case s := <-f.samples:
			if s.version == f.version {
				lat = append(lat, s.at.Sub(t0))
			}
		case <-deadline:
			return nil, 0, fmt.Errorf("only %d of %d pollers got v%d within %s (%d errors)",
				len(lat), o.pollers, f.version, o.wait, f.errs.Load())
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	return lat, put, nil
}

// measure runs a warm-up round and then o.rounds measured rounds on each
// fleet, alternating between them so that both see the same (noisy)
// machine. Pollers of the fleet not being measured sit parked and idle.
func measure(ctx context.Context, o options, fleets ...*fleet) error {
	for r := 0; r <= o.rounds; r++ {
		for _, f := range fleets {
			lat, put, err := f.round(ctx, o)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", f.t.name, r, err)
			}
			st := benchkit.Summarize(lat)
			what := "measured"
			if r == 0 {
				what = "warm-up, dropped"
			}
			benchkit.Logf("%s round %d (%s): p50 %sms p99 %sms max %sms (s3 put before the notice %sms)", f.t.name, r, what,
				benchkit.Ms(st.P50), benchkit.Ms(st.P99), benchkit.Ms(st.Max), benchkit.Ms(put))
			if r > 0 {
				f.lat = append(f.lat, lat...)
				f.puts = append(f.puts, put)
			}
		}
	}
	for _, f := range fleets {
		if n := f.errs.Load(); n > 0 {
			benchkit.Print(f.t.name+"_poll_errors", n)
		}
	}
	return nil
}

// poll is one data plane: GET, then long-poll with the ETag until ctx ends,
// reporting every 200 it gets.
func poll(ctx context.Context, c *http.Client, url, token string, wait time.Duration, out chan<- sample, errs *atomic.Int64) {
	etag := ""
	for ctx.Err() == nil {
		u := url
		if etag != "" {
			u += "?wait=" + wait.String()
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		res, err := c.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				errs.Add(1)
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		now := time.Now()
		switch res.StatusCode {
		case http.StatusOK:
			first := etag == ""
			etag = res.Header.Get("ETag")
			if !first {
				v, _ := strconv.ParseInt(res.Header.Get("X-Switchboard-Version"), 10, 64)
				select {
				case out <- sample{version: v, at: now}:
				case <-ctx.Done():
				}
			}
		case http.StatusNotModified:
		default:
			errs.Add(1)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// waitParked waits until t holds n requests.
func waitParked(ctx context.Context, c *http.Client, t *target, n int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := t.parked(ctx, c)
		if err == nil && got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d pollers parked after 60s (last error: %v)", got, n, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// intFromURL reads a number from url: the whole body, or the value of the
// first line starting with prefix (a Prometheus sample).
func intFromURL(ctx context.Context, c *http.Client, url, prefix string) (int, error) {
	code, _, body, err := benchkit.Get(ctx, c, url, nil)
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d", url, code)
	}
	if prefix == "" {
		return strconv.Atoi(strings.TrimSpace(string(body)))
	}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return 0, errors.New("no " + strings.TrimSpace(prefix) + " in " + url)
}

// floor is the reference long-poll server: a version, an ETag, and a
// channel closed (and replaced) on every release.
type floor struct {
	mu      sync.Mutex
	version int64
	etag    string
	changed chan struct{}
	body    []byte
	held    atomic.Int64
}

func newFloor() *floor {
	return &floor{version: 1, etag: `"v1"`, changed: make(chan struct{}), body: make([]byte, 400)}
}

func (f *floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/poll":
		f.mu.Lock()
		etag, changed := f.etag, f.changed
		f.mu.Unlock()
		if inm := r.Header.Get("If-None-Match"); inm == etag && r.URL.Query().Get("wait") != "" {
			f.held.Add(1)
			select {
			case <-changed:
			case <-time.After(25 * time.Second):
			case <-r.Context().Done():
			}
			f.held.Add(-1)
		}
		f.mu.Lock()
		version, cur := f.version, f.etag
		f.mu.Unlock()
		h := w.Header()
		h.Set("ETag", cur)
		h.Set("X-Switchboard-Version", strconv.FormatInt(version, 10))
		if r.Header.Get("If-None-Match") == cur {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(f.body)
	case "/release":
		f.mu.Lock()
		f.version++
		f.etag = `"v` + strconv.FormatInt(f.version, 10) + `"`
		close(f.changed)
		f.changed = make(chan struct{})
		f.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	case "/held":
		fmt.Fprintln(w, f.held.Load())
	default:
		http.NotFound(w, r)
	}
}
