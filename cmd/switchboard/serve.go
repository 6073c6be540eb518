package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/switchboardhq/switchboard/blob"
	"github.com/switchboardhq/switchboard/compile"
	"github.com/switchboardhq/switchboard/password"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/services"
)

func migrate(ctx context.Context, cfg *config, logger *slog.Logger) error {
	if cfg.DatabaseURL == "" {
		return errNoDatabase
	}
	pool, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	logger.Info("database is up to date")
	return nil
}

func serve(ctx context.Context, cfg *config, logger *slog.Logger) error {
	pc, err := loadPublishConfig(cfg, logger)
	if err != nil {
		return err
	}
	blobs, err := openBlobs(ctx, pc)
	if err != nil {
		return err
	}
	if cfg.has("cdn") {
		stopCDN, err := serveCDN(ctx, pc, blobs, logger)
		if err != nil {
			return err
		}
		defer stopCDN()
	}
	if !cfg.has("api") && !cfg.has("worker") {
		// The CDN never touches Postgres: it runs on S3 alone.
		<-ctx.Done()
		logger.Info("stopped cleanly")
		return nil
	}
	return serveControlPlane(ctx, cfg, pc, blobs, logger)
}

// serveControlPlane runs the api and worker roles over Postgres.
func serveControlPlane(ctx context.Context, cfg *config, pc *publishConfig, blobs *blob.Store, logger *slog.Logger) error {
	if cfg.DatabaseURL == "" {
		return errNoDatabase
	}
	pool, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	db := &postgres.DB{Pool: pool, Now: time.Now, Logger: logger}
	svc := postgres.NewServices(db, password.Default)
	var ln net.Listener
	apiURL := "http://" + cfg.Addr
	if cfg.has("api") {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
		apiURL = "http://" + ln.Addr().String()
	}
	jobs, err := newJobs(ctx, cfg, pool, db, apiURL, publishParams(pc, svc.Configs, blobs, logger), pc, logger)
	if err != nil {
		return err
	}
	db.Jobs = jobs
	if cfg.has("worker") {
		if err := jobs.Start(ctx); err != nil {
			return fmt.Errorf("start workers: %w", err)
		}
		defer func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = jobs.Stop(stopCtx)
		}()
	}
	if ln == nil {
		<-ctx.Done()
		logger.Info("stopped cleanly")
		return nil
	}
	handler := services.NewHandler(services.Params{
		Logger:        logger,
		Auth:          svc.Auth,
		Organizations: svc.Organizations,
		APIKeys:       svc.APIKeys,
		Audit:         svc.Audit,
		Instances:     svc.Instances,
		Configs:       svc.Configs,
		Tokens:        svc.Tokens,
		DataPlanes:    svc.Tokens,
		Compile:       compile.Options{AllowPrivateTargets: pc.AllowPrivate},
		CDNURL:        pc.CDNURL,
		TrustedKeys:   pc.Keyring.TrustedKeys(),
	})
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	// h2c lets gRPC clients in without TLS; Connect and gRPC-Web use HTTP/1.1 too.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)

	logger.Info("API listening", "url", apiURL)
	if cfg.Dev {
		printWelcome(apiURL, pc.CDNURL)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped cleanly")
	return nil
}

func printWelcome(url, cdnURL string) {
	fmt.Printf(`
Switchboard is running.

  API:  %[1]s
  CDN:  %[2]s

Sign up (Connect JSON):

  curl -s %[1]s/switchboard.v1.AuthService/SignUp \
    -H 'Content-Type: application/json' \
    -d '{"email":"you@example.com","password":"correct horse battery","name":"You"}'

Then create an API key and automate with it (README.md shows how), or use the
CLI: go build -o .bin/ ./cmd/sbctl && .bin/sbctl --api-url %[1]s login --email you@example.com

Press Ctrl-C to stop everything.
`, url, cdnURL)
}
