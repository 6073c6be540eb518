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
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboardhq/switchboard/cmd/internal/dataplaneenv"
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

// readConfig reads the data-plane environment (see dataplaneenv).
func readConfig(getenv func(string) string) (dataplaneenv.Config, error) {
	return dataplaneenv.Read(getenv, artifactv1.Kind_KIND_BREAKER)
}

// run serves until ctx ends, then drains. listening, if not nil, receives
// the bound address once the server accepts connections.
func run(ctx context.Context, getenv func(string) string, logOut io.Writer, listening chan<- string) error {
	cfg, err := readConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel})).
		With("instance_id", cfg.Agent.InstanceID)
	if cfg.AllowPrivate {
		log.Warn("private upstream targets are allowed (SWITCHBOARD_ALLOW_PRIVATE_TARGETS)")
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	proxy, err := breaker.New(breaker.Params{
		Logger:              log,
		Registerer:          reg,
		Gatherer:            reg,
		AllowPrivateTargets: cfg.AllowPrivate,
	})
	if err != nil {
		return err
	}
	cfg.Agent.Logger = log
	cfg.Agent.Registerer = reg
	agent, err := configsync.New(cfg.Agent, proxy)
	if err != nil {
		return err
	}

	// The cached config is in place before the first request.
	if err := agent.Load(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
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
	log.Info("breaker listening", "addr", ln.Addr().String(), "cdn", cfg.Agent.URLs, "version", cfg.Agent.AgentVersion)
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
