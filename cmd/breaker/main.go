// Command breaker is the circuit-breaking reverse proxy data plane. It runs
// managed (a Fly Machine started by provisioning) or self-hosted, configured
// by environment variables only:
//
//	PORT                              listen port (default 8080)
//	SWITCHBOARD_INSTANCE_ID           the breaker instance (ins_…), required
//	SWITCHBOARD_TOKEN                 data-plane token (sb_dp_…), required with a CDN URL
//	SWITCHBOARD_CDN_URL               CDN base URLs, comma-separated, tried in order
//	SWITCHBOARD_API_URL               control plane for status reports (optional)
//	SWITCHBOARD_TRUSTED_KEYS          keyid:base64key[,…], required
//	SWITCHBOARD_CACHE_DIR             default $XDG_CACHE_HOME/switchboard, else ./.switchboard-cache
//	SWITCHBOARD_BOOTSTRAP_ARTIFACT    artifact file for a cold start without cache or CDN (optional)
//	SWITCHBOARD_ALLOW_PRIVATE_TARGETS true to let upstreams be loopback/private addresses
//	SWITCHBOARD_LOG_LEVEL             debug, info (default), warn or error
//	FLY_MACHINE_ID                    node id in status reports (default the host name)
//
// Services are reached at /{service}/…; admin endpoints at /_switchboard/
// (healthz, readyz, metrics, status). SIGTERM or SIGINT drains in-flight
// requests before exiting.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboardhq/switchboard/compile"
	"github.com/switchboardhq/switchboard/dataplane/breaker"
	"github.com/switchboardhq/switchboard/dataplane/configsync"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
)

// shutdownTimeout bounds draining in-flight requests; Fly gives a machine
// about 30 s between SIGTERM and SIGKILL by default.
const shutdownTimeout = 25 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "breaker:", err)
		os.Exit(1)
	}
}

// config is what run reads from the environment.
type config struct {
	addr         string
	agent        configsync.Config
	allowPrivate bool
	logLevel     slog.Level
}

func readConfig(getenv func(string) string) (config, error) {
	c := config{addr: ":8080"}
	if port := getenv("PORT"); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return c, fmt.Errorf("PORT: %q is not a port number", port)
		}
		c.addr = ":" + port
	}
	a := configsync.Config{
		InstanceID:    getenv("SWITCHBOARD_INSTANCE_ID"),
		Kind:          artifactv1.Kind_KIND_BREAKER,
		Token:         getenv("SWITCHBOARD_TOKEN"),
		APIURL:        strings.TrimSpace(getenv("SWITCHBOARD_API_URL")),
		BootstrapFile: getenv("SWITCHBOARD_BOOTSTRAP_ARTIFACT"),
		NodeID:        getenv("FLY_MACHINE_ID"),
		AgentVersion:  version(),
		CacheDir:      getenv("SWITCHBOARD_CACHE_DIR"),
	}
	if a.InstanceID == "" {
		return c, errors.New("SWITCHBOARD_INSTANCE_ID is required")
	}
	for u := range strings.SplitSeq(getenv("SWITCHBOARD_CDN_URL"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			a.URLs = append(a.URLs, u)
		}
	}
	if len(a.URLs) > 0 && a.Token == "" {
		return c, errors.New("SWITCHBOARD_TOKEN (a data-plane token, sb_dp_…) is required with SWITCHBOARD_CDN_URL")
	}
	keys := getenv("SWITCHBOARD_TRUSTED_KEYS")
	if keys == "" {
		return c, errors.New("SWITCHBOARD_TRUSTED_KEYS is required (keyid:base64key, as CreateDataPlaneToken returns)")
	}
	trusted, err := compile.ParseTrustedKeys(keys)
	if err != nil {
		return c, fmt.Errorf("SWITCHBOARD_TRUSTED_KEYS: %w", err)
	}
	a.Trusted = trusted
	if a.CacheDir == "" {
		if xdg := getenv("XDG_CACHE_HOME"); xdg != "" {
			a.CacheDir = filepath.Join(xdg, "switchboard")
		} else {
			a.CacheDir = ".switchboard-cache"
		}
	}
	if v := getenv("SWITCHBOARD_ALLOW_PRIVATE_TARGETS"); v != "" {
		if c.allowPrivate, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("SWITCHBOARD_ALLOW_PRIVATE_TARGETS: %q is not true or false", v)
		}
	}
	if v := getenv("SWITCHBOARD_LOG_LEVEL"); v != "" {
		if err := c.logLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("SWITCHBOARD_LOG_LEVEL: %w", err)
		}
	}
	c.agent = a
	return c, nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// run serves until ctx ends, then drains. listening, if not nil, receives
// the bound address once the server accepts connections.
func run(ctx context.Context, getenv func(string) string, logOut io.Writer, listening chan<- string) error {
	cfg, err := readConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.logLevel})).
		With("instance_id", cfg.agent.InstanceID)
	if cfg.allowPrivate {
		log.Warn("private upstream targets are allowed (SWITCHBOARD_ALLOW_PRIVATE_TARGETS)")
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	proxy, err := breaker.New(breaker.Params{
		Logger:              log,
		Registerer:          reg,
		Gatherer:            reg,
		AllowPrivateTargets: cfg.allowPrivate,
	})
	if err != nil {
		return err
	}
	cfg.agent.Logger = log
	cfg.agent.Registerer = reg
	agent, err := configsync.New(cfg.agent, proxy)
	if err != nil {
		return err
	}

	// The cached config is in place before the first request.
	if err := agent.Load(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           proxy.Handler(agent),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	agentCtx, stopAgent := context.WithCancel(context.WithoutCancel(ctx))
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Run(agentCtx) }()
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()
	log.Info("breaker listening", "addr", ln.Addr().String(), "cdn", cfg.agent.URLs, "version", cfg.agent.AgentVersion)
	if listening != nil {
		listening <- ln.Addr().String()
	}

	select {
	case <-ctx.Done():
	case err := <-serveDone:
		stopAgent()
		<-agentDone
		return err
	case err := <-agentDone:
		// Only a cache directory that cannot be used ends the agent early.
		_ = srv.Close()
		stopAgent()
		return err
	}
	log.Info("shutting down: draining in-flight requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	stopAgent()
	<-agentDone
	if err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	log.Info("stopped")
	return nil
}
