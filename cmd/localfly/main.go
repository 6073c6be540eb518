// Command localfly runs a local Fly Machines API (see package
// infra/localfly): point FLY_FLAPS_BASE_URL at the URL it prints and
// FLY_API_TOKEN at its token.
//
//	localfly --token dev --image switchboard/breaker=./bin/breaker \
//	    --image switchboard/realtime=./bin/realtime
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/switchboardhq/switchboard/infra/localfly"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "localfly:", err)
		os.Exit(1)
	}
}

// imageFlag collects repeated --image name=path.
type imageFlag map[string]string

func (f imageFlag) String() string { return fmt.Sprint(map[string]string(f)) }

func (f imageFlag) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return errors.New("want name=path")
	}
	f[name] = path
	return nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("localfly", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:4280", "listen address")
	token := fs.String("token", envOr("FLY_API_TOKEN", "localfly"), "bearer token clients must send (default $FLY_API_TOKEN or \"localfly\")")
	spec := fs.String("spec", "../shared/specs/fly-machines-api.swagger.json", "Machines API Swagger 2.0 spec, relative to the working directory")
	images := imageFlag{}
	fs.Var(images, "image", "image name=path of the local binary to run for it (repeatable)")
	dataDir := fs.String("data-dir", "", "directory for the machines' own directories (default: a new temporary directory)")
	regions := fs.String("regions", strings.Join(localfly.DefaultRegions(), ","), "comma-separated regions to accept")
	stopTimeout := fs.Duration("stop-timeout", 5*time.Second, "grace period between the stop signal and SIGKILL")
	errorRate := fs.Float64("fault-error-rate", 0, "fraction of /v1 requests answered with a 5xx")
	errorStatus := fs.Int("fault-error-status", 500, "status for --fault-error-rate")
	burst429 := fs.Int("fault-burst-429", 0, "answer this many of the next /v1 requests with 429")
	retryAfter := fs.Int("fault-retry-after", 1, "Retry-After seconds sent with a 429")
	latency := fs.Duration("fault-latency", 0, "delay added to every /v1 request")
	noCapacity := fs.String("fault-no-capacity-regions", "", "comma-separated regions where machine creates fail for lack of capacity")
	verbose := fs.Bool("v", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return err
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	srv, err := localfly.New(localfly.Params{
		Logger:      log,
		Token:       *token,
		SpecPath:    *spec,
		Images:      images,
		Regions:     splitList(*regions),
		StopTimeout: *stopTimeout,
		DataDir:     *dataDir,
		BaseEnv:     []string{"PATH=" + os.Getenv("PATH")},
		Faults: localfly.Faults{
			ErrorRate:         *errorRate,
			ErrorStatus:       *errorStatus,
			Burst429:          *burst429,
			RetryAfterSeconds: *retryAfter,
			LatencyMS:         int(latency.Milliseconds()),
			NoCapacityRegions: splitList(*noCapacity),
		},
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("localfly listening on http://%s (FLY_FLAPS_BASE_URL=http://%s FLY_API_TOKEN=%s)\n", ln.Addr(), ln.Addr(), *token)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()

	select {
	case err := <-errc:
		_ = srv.Close()
		return err
	case <-ctx.Done():
	}
	log.Info("localfly: shutting down")
	// /wait requests can hold for a minute; do not let them hold shutdown.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(sctx)
	return srv.Shutdown(context.Background())
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
