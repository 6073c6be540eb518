// Command cdn compares the CDN's conditional GETs with nginx serving the same
// bytes as a static file, on this machine, in the same run.
//
// It starts versitygw (infra/versitygw.sh), publishes a signed artifact and a
// data-plane token, starts the CDN as its own process (this binary, run as
// `cdn serve-cdn`), writes the same artifact to a directory nginx serves with
// a generated minimal config, and drives both with the same wrk command:
// If-None-Match matching (304s), then plain GETs (200s). Every wrk run is
// preceded by a warm-up run whose figures are dropped. It prints name=value
// lines; it never fails on timing.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/switchboardhq/switchboard/bench/internal/benchkit"
)

const serveGoFloorArg = "serve-go-floor"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case benchkit.ServeCDNArg:
			benchkit.ServeCDNMain(os.Args[2:])
			return
		case serveGoFloorArg:
			if err := serveGoFloor(os.Args[2]); err != nil {
				fmt.Fprintln(os.Stderr, "go floor:", err)
				os.Exit(1)
			}
			return
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/cdn:", err)
		os.Exit(1)
	}
}

type options struct {
	threads, conns, rounds int
	duration, warmup       time.Duration
	with200, goFloor       bool
	wrk, nginx             string
}

func run() error {
	var o options
	flag.IntVar(&o.threads, "threads", 2, "wrk threads")
	flag.IntVar(&o.conns, "connections", 64, "wrk connections")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured wrk run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "warm-up wrk run before each measured one")
	flag.IntVar(&o.rounds, "rounds", 3, "measured runs per target and kind (the median is printed), alternating targets")
	flag.BoolVar(&o.with200, "200", true, "also measure unconditional GETs (200 with the body)")
	flag.BoolVar(&o.goFloor, "gofloor", true, "also measure a trivial Go net/http server answering the same requests")
	flag.StringVar(&o.wrk, "wrk", "wrk", "wrk binary")
	flag.StringVar(&o.nginx, "nginx", "nginx", "nginx binary")
	flag.Parse()

	ctx, cancel := benchkit.SignalContext()
	defer cancel()
	for _, bin := range []string{o.wrk, o.nginx} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found (infra/bench.sh installs nginx and wrk from Debian)", bin)
		}
	}
	dir, err := os.MkdirTemp("", "bench-cdn-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	s3, err := benchkit.StartS3(ctx, dir)
	if err != nil {
		return err
	}
	defer s3.Stop()
	const bucket = "bench-cdn"
	store, err := benchkit.Store(ctx, s3.Endpoint, bucket)
	if err != nil {
		return err
	}
	pub, err := benchkit.NewPublisher(store)
	if err != nil {
		return err
	}
	body, err := pub.Publish(ctx, 1)
	if err != nil {
		return err
	}
	token, err := pub.NewToken(ctx)
	if err != nil {
		return err
	}

	cdnProc, err := benchkit.StartCDN(ctx, s3.Endpoint, bucket)
	if err != nil {
		return err
	}
	defer cdnProc.Stop()
	cdnURL := cdnProc.Ready + "/v1/instances/" + pub.InstanceID + "/artifact"
	auth := "Bearer " + token

	www := filepath.Join(dir, "www")
	if err := os.MkdirAll(www, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(www, "artifact.pb"), body, 0o644); err != nil {
		return err
	}
	nginxURL, stopNginx, err := startNginx(ctx, o.nginx, dir, www)
	if err != nil {
		return err
	}
	defer stopNginx()
	nginxURL += "/artifact.pb"
	self, err := os.Executable()
	if err != nil {
		return err
	}

	// Every target must answer the conditional GET with a 304 before we
	// measure.
	client := &http.Client{Timeout: 10 * time.Second}
	cdnETag, err := etagOf(ctx, client, cdnURL, auth, len(body))
	if err != nil {
		return fmt.Errorf("cdn: %w", err)
	}
	nginxETag, err := etagOf(ctx, client, nginxURL, auth, len(body))
	if err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	goFloorProc, err := benchkit.StartChild(ctx, 10*time.Second,
		[]string{fmt.Sprintf("GOMAXPROCS=%d", runtime.NumCPU())}, self, serveGoFloorArg, filepath.Join(www, "artifact.pb"))
	if err != nil {
		return err
	}
	defer goFloorProc.Stop()
	goFloorURL := goFloorProc.Ready + "/artifact.pb"
	goFloorETag, err := etagOf(ctx, client, goFloorURL, auth, len(body))
	if err != nil {
		return fmt.Errorf("go floor: %w", err)
	}
	benchkit.Logf("artifact %d bytes; cdn %s etag %s; nginx %s etag %s; go floor %s",
		len(body), cdnProc.Ready, cdnETag, nginxURL, nginxETag, goFloorURL)

	benchkit.Print("cdn_artifact_bytes", len(body))
	benchkit.Print("cdn_wrk", fmt.Sprintf("%dt/%dc/%s", o.threads, o.conns, o.duration))
	// Every target gets the same Authorization header (the references
	// ignore it), so all parse requests of the same size.
	type target struct{ name, url, etag string }
	targets := []target{{"cdn", cdnURL, cdnETag}, {"nginx", nginxURL, nginxETag}}
	if o.goFloor {
		targets = append(targets, target{"gofloor", goFloorURL, goFloorETag})
	}
	kinds := []string{"304"}
	if o.with200 {
		kinds = append(kinds, "200")
	}
	for _, k := range kinds {
		rps := map[string][]float64{}
		for r := 0; r < o.rounds; r++ {
			// Rotate which goes first, so none always runs on a warmer
			// (or noisier) machine.
			for i := range targets {
				t := targets[(i+r)%len(targets)]
				headers := []string{"Authorization: " + auth}
				if k == "304" {
					headers = append(headers, "If-None-Match: "+t.etag)
				}
				res, err := wrk(ctx, o, t.url, headers)
				if err != nil {
					return fmt.Errorf("wrk %s %s: %w", t.name, k, err)
				}
				benchkit.Logf("%s %s round %d: %.0f req/s, latency avg %s, bad %d, socket errors %d",
					t.name, k, r+1, res.rps, res.latency, res.bad, res.socketErrors)
				if res.bad > 0 || res.socketErrors > 0 {
					benchkit.Print(t.name+"_"+k+"_errors", res.bad+res.socketErrors)
				}
				rps[t.name] = append(rps[t.name], res.rps)
			}
		}
		c, n := median(rps["cdn"]), median(rps["nginx"])
		benchkit.Print("cdn_"+k+"_rps", fmt.Sprintf("%.0f", c))
		benchkit.Print("nginx_"+k+"_rps", fmt.Sprintf("%.0f", n))
		benchkit.Print("cdn_vs_nginx_"+k+"_ratio", benchkit.Ratio(c, n))
		if k == "304" {
			// The headline figure; target ≥ 0.8.
			benchkit.Print("cdn_vs_nginx_ratio", benchkit.Ratio(c, n))
		}
		if o.goFloor {
			g := median(rps["gofloor"])
			benchkit.Print("gofloor_"+k+"_rps", fmt.Sprintf("%.0f", g))
			benchkit.Print("cdn_vs_gofloor_"+k+"_ratio", benchkit.Ratio(c, g))
			benchkit.Print("gofloor_vs_nginx_"+k+"_ratio", benchkit.Ratio(g, n))
		}
	}
	return nil
}

// serveGoFloor is the second reference: the least a Go net/http server can
// do for the same requests (the file's bytes from memory, a fixed ETag, no
// token check, no metrics). The CDN cannot beat it; cdn_vs_gofloor shows
// the CDN's own cost, gofloor_vs_nginx net/http's.
func serveGoFloor(path string) error {
	body, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	etag := []string{`"gofloor-1"`}
	length := []string{strconv.Itoa(len(body))}
	return benchkit.ServeUntilEOF("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Etag"] = etag
		if r.Header.Get("If-None-Match") == etag[0] {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h["Content-Length"] = length
		_, _ = w.Write(body)
	}))
}

// etagOf GETs url and checks that a conditional GET with its ETag is a 304.
func etagOf(ctx context.Context, client *http.Client, url, auth string, size int) (string, error) {
	code, h, b, err := benchkit.Get(ctx, client, url, map[string]string{"Authorization": auth})
	if err != nil {
		return "", err
	}
	if code != http.StatusOK || len(b) != size {
		return "", fmt.Errorf("GET %s: %d with %d bytes, want 200 with %d", url, code, len(b), size)
	}
	etag := h.Get("ETag")
	if etag == "" {
		return "", fmt.Errorf("GET %s: no ETag", url)
	}
	code, _, _, err = benchkit.Get(ctx, client, url, map[string]string{"Authorization": auth, "If-None-Match": etag})
	if err != nil {
		return "", err
	}
	if code != http.StatusNotModified {
		return "", fmt.Errorf("conditional GET %s: %d, want 304", url, code)
	}
	return etag, nil
}

// startNginx runs nginx in the foreground over a generated config serving
// www on a free port, and returns its base URL.
func startNginx(ctx context.Context, bin, dir, www string) (string, func(), error) {
	port, err := benchkit.FreePort()
	if err != nil {
		return "", nil, err
	}
	prefix := filepath.Join(dir, "nginx")
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			return "", nil, err
		}
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n"
	}
	// A static file server tuned the usual way: keep-alive without a
	// per-connection request cap (nginx's default closes a connection
	// every 1000 requests; Go's server never does), an open-file cache so
	// a conditional GET does not stat the file, no access log.
	conf := fmt.Sprintf(`%sdaemon off;
worker_processes auto;
pid %[2]s/nginx.pid;
error_log %[2]s/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	default_type application/octet-stream;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	keepalive_timeout 65;
	keepalive_requests 1000000;
	etag on;
	open_file_cache max=1000 inactive=60s;
	open_file_cache_valid 60s;
	client_body_temp_path %[2]s/tmp/body;
	proxy_temp_path %[2]s/tmp/proxy;
	fastcgi_temp_path %[2]s/tmp/fastcgi;
	uwsgi_temp_path %[2]s/tmp/uwsgi;
	scgi_temp_path %[2]s/tmp/scgi;
	server {
		listen 127.0.0.1:%[3]d;
		root %[4]s;
		location / { add_header Cache-Control no-cache; }
	}
}
`, user, prefix, port, www)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "-p", prefix, "-c", confPath, "-e", filepath.Join(prefix, "logs", "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt) // SIGINT: fast shutdown, workers too
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := benchkit.WaitHTTP(ctx, base+"/", 10*time.Second); err != nil {
		stop()
		logs, _ := os.ReadFile(filepath.Join(prefix, "logs", "error.log"))
		return "", nil, fmt.Errorf("nginx: %w\n%s", err, logs)
	}
	return base, stop, nil
}

type wrkResult struct {
	rps               float64
	latency           string
	bad, socketErrors int
}

var (
	rpsRe     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	latencyRe = regexp.MustCompile(`Latency\s+(\S+)`)
	badRe     = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	sockRe    = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// wrk runs a warm-up and then a measured wrk against url.
func wrk(ctx context.Context, o options, url string, headers []string) (wrkResult, error) {
	args := func(d time.Duration) []string {
		a := []string{"-t", strconv.Itoa(o.threads), "-c", strconv.Itoa(o.conns), "-d", fmt.Sprintf("%ds", int(d.Seconds())), "--latency"}
		for _, h := range headers {
			a = append(a, "-H", h)
		}
		return append(a, url)
	}
	if o.warmup > 0 {
		if out, err := exec.CommandContext(ctx, o.wrk, args(o.warmup)...).CombinedOutput(); err != nil {
			return wrkResult{}, fmt.Errorf("%w: %s", err, out)
		}
	}
	out, err := exec.CommandContext(ctx, o.wrk, args(o.duration)...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("%w: %s", err, out)
	}
	s := string(out)
	m := rpsRe.FindStringSubmatch(s)
	if m == nil {
		return wrkResult{}, fmt.Errorf("no Requests/sec in wrk output:\n%s", s)
	}
	var res wrkResult
	res.rps, _ = strconv.ParseFloat(m[1], 64)
	if m := latencyRe.FindStringSubmatch(s); m != nil {
		res.latency = m[1]
	}
	if m := badRe.FindStringSubmatch(s); m != nil {
		res.bad, _ = strconv.Atoi(m[1])
	}
	if m := sockRe.FindStringSubmatch(s); m != nil {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(g)
			res.socketErrors += n
		}
	}
	return res, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
