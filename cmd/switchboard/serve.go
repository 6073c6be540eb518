package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/switchboardhq/switchboard/compile"
	"github.com/switchboardhq/switchboard/password"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/services"
)

func migrate(ctx context.Context, cfg *config, logger *slog.Logger) error {
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
	pool, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := postgres.Migrate(ctx, pool, logger); err != nil {
		return err
	}
	db := &postgres.DB{Pool: pool, Now: time.Now, Logger: logger}
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
	svc := postgres.NewServices(db, password.Default)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	jobs, err := newJobs(ctx, cfg, pool, db, "http://"+ln.Addr().String(), publishParams(pc, svc.Configs, blobs, logger), pc, logger)
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

	url := "http://" + ln.Addr().String()
	logger.Info("API listening", "url", url)
	if cfg.Dev {
		printWelcome(url)
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

func printWelcome(url string) {
	fmt.Printf(`
Switchboard is running.

  API:  %[1]s

Sign up (Connect JSON):

  curl -s %[1]s/switchboard.v1.AuthService/SignUp \
    -H 'Content-Type: application/json' \
    -d '{"email":"you@example.com","password":"correct horse battery","name":"You"}'

Press Ctrl-C to stop everything.
`, url)
}
