// Command realtime is the realtime data plane: AnyCable embedded, configured
// by the instance's signed config. It runs managed (a Fly Machine started by
// provisioning) or self-hosted, configured by environment variables only:
//
//	PORT                              listen port (default 8080)
//	SWITCHBOARD_INSTANCE_ID           the realtime instance (ins_…), required
//	SWITCHBOARD_TOKEN                 data-plane token (sb_dp_…), required with a CDN URL
//	SWITCHBOARD_CDN_URL               CDN base URLs, comma-separated, tried in order
//	SWITCHBOARD_API_URL               control plane for status reports (optional)
//	SWITCHBOARD_TRUSTED_KEYS          keyid:base64key[,…], required
//	SWITCHBOARD_CACHE_DIR             default $XDG_CACHE_HOME/switchboard, else ./.switchboard-cache
//	SWITCHBOARD_BOOTSTRAP_ARTIFACT    artifact file for a cold start without cache or CDN (optional)
//	SWITCHBOARD_LOG_LEVEL             debug, info (default), warn or error
//	FLY_MACHINE_ID                    node id in status reports and AnyCable's logs (default the host name)
//
// Endpoints, on the one port: /cable (WebSocket), /events (SSE),
// /_broadcast (HTTP broadcast), /healthz, /readyz, /metrics; see package
// dataplane/realtime. ANYCABLE_* variables are ignored: the config comes
// from the artifact only. SIGTERM or SIGINT disconnects clients with a
// reconnect hint, drains in-flight requests and exits.
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
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/switchboardhq/switchboard/cmd/internal/dataplaneenv"
	"github.com/switchboardhq/switchboard/dataplane/configsync"
	"github.com/switchboardhq/switchboard/dataplane/realtime"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
)

// Fly gives a machine about 30 s between SIGTERM and SIGKILL by default:
// clients get up to disconnectTimeout to be told to reconnect, then
// in-flight HTTP requests get the rest.
const (
	disconnectTimeout = 10 * time.Second
	shutdownTimeout   = 25 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "realtime:", err)
		os.Exit(1)
	}
}

// readConfig reads the data-plane environment (see dataplaneenv).
func readConfig(getenv func(string) string) (dataplaneenv.Config, error) {
	return dataplaneenv.Read(getenv, artifactv1.Kind_KIND_REALTIME)
}

// run serves until ctx ends, then shuts down. listening, if not nil,
// receives the bound address once the server accepts connections.
func run(ctx context.Context, getenv func(string) string, logOut io.Writer, listening chan<- string) error {
	cfg, err := readConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel})).
		With("instance_id", cfg.Agent.InstanceID)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rt, err := realtime.New(realtime.Options{
		NodeID:          cfg.Agent.NodeID,
		Logger:          log,
		Registerer:      reg,
		Gatherer:        reg,
		ShutdownTimeout: disconnectTimeout,
	})
	if err != nil {
		return err
	}
	cfg.Agent.Logger = log
	cfg.Agent.Registerer = reg
	agent, err := configsync.New(cfg.Agent, rt)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           rt,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	agentCtx, stopAgent := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAgent()
	agentDone := make(chan error, 1)
	go func() { agentDone <- agent.Run(agentCtx) }()
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()
	log.Info("realtime listening", "addr", ln.Addr().String(), "cdn", cfg.Agent.URLs, "version", cfg.Agent.AgentVersion)
	if listening != nil {
		listening <- ln.Addr().String()
	}

	select {
	case <-ctx.Done():
	case err := <-serveDone:
		stopAgent()
		<-agentDone
		_ = rt.Shutdown(context.Background())
		return err
	case err := <-agentDone:
		// Only a cache directory that cannot be used ends the agent early.
		_ = srv.Close()
		_ = rt.Shutdown(context.Background())
		return err
	}
	log.Info("shutting down: disconnecting clients, draining in-flight requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// The agent first, so no config is applied while the node stops.
	stopAgent()
	<-agentDone
	// WebSocket connections are hijacked, so srv.Shutdown does not see
	// them: the realtime server tells them to reconnect and closes them,
	// and ends SSE responses, before the HTTP server drains the rest.
	rtCtx, rtCancel := context.WithTimeout(shutCtx, disconnectTimeout)
	rtErr := rt.Shutdown(rtCtx)
	rtCancel()
	err = srv.Shutdown(shutCtx)
	if err := errors.Join(rtErr, err); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
