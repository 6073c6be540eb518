package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/fly"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/workers"
)

// workerConfig is the worker role's environment:
//
//	FLY_API_TOKEN                   Fly (or localfly) token; required for the worker role
//	FLY_FLAPS_BASE_URL              Machines API URL; unset means Fly itself
//	FLY_ORG                         organization slug for apps (default personal)
//	LOCALFLY                        1 when FLY_FLAPS_BASE_URL is a localfly (machine URLs from its admin API)
//	SWITCHBOARD_CDN_URL             given to every machine
//	SWITCHBOARD_PUBLIC_API_URL      given to every machine (default the API's own URL)
//	SWITCHBOARD_TRUSTED_KEYS        given to every machine
//	SWITCHBOARD_RECONCILE_INTERVAL  how often reconcile_instances runs (default 30s)
//	SWITCHBOARD_JOB_TIMEOUT         River job timeout (default 2m); stuck jobs are
//	                                rescued after SWITCHBOARD_RESCUE_AFTER (default timeout + 1m)
//	SWITCHBOARD_HANG_AFTER_STEP     test hook: hold provisioning after this step
//	                                (app, secret, machine, started) so a crash test can kill -9 it
type workerConfig struct {
	FlyToken, FlyBaseURL, FlyOrg string
	Local                        bool
	Machine                      switchboard.WorkerConfig
	ReconcileInterval            time.Duration
	JobTimeout, RescueAfter      time.Duration
	HangAfterStep                string
}

func loadWorkerConfig(apiURL string) (*workerConfig, error) {
	c := &workerConfig{
		FlyToken:   os.Getenv("FLY_API_TOKEN"),
		FlyBaseURL: os.Getenv("FLY_FLAPS_BASE_URL"),
		FlyOrg:     envOr("FLY_ORG", "personal"),
		Local:      os.Getenv("LOCALFLY") == "1",
		Machine: switchboard.WorkerConfig{
			CDNURL:      os.Getenv("SWITCHBOARD_CDN_URL"),
			APIURL:      envOr("SWITCHBOARD_PUBLIC_API_URL", apiURL),
			TrustedKeys: os.Getenv("SWITCHBOARD_TRUSTED_KEYS"),
		},
		HangAfterStep: os.Getenv("SWITCHBOARD_HANG_AFTER_STEP"),
	}
	var err error
	if c.ReconcileInterval, err = envDuration("SWITCHBOARD_RECONCILE_INTERVAL", 30*time.Second); err != nil {
		return nil, err
	}
	if c.JobTimeout, err = envDuration("SWITCHBOARD_JOB_TIMEOUT", 2*time.Minute); err != nil {
		return nil, err
	}
	if c.RescueAfter, err = envDuration("SWITCHBOARD_RESCUE_AFTER", c.JobTimeout+time.Minute); err != nil {
		return nil, err
	}
	if c.FlyToken == "" {
		return nil, fmt.Errorf("FLY_API_TOKEN is required for the worker role (make run starts localfly and sets it)")
	}
	return c, nil
}

func envDuration(key string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: want a positive duration like 30s, got %q", key, v)
	}
	return d, nil
}

// newJobs returns the River client: with workers when this process has the
// worker role (publishing always; provisioning when a Machines API token is
// set), insert-only otherwise.
func newJobs(ctx context.Context, cfg *config, pool *pgxpool.Pool, db *postgres.DB, apiURL string, publish workers.PublishParams, pc *publishConfig, logger *slog.Logger) (*river.Client[pgx.Tx], error) {
	if !cfg.has("worker") {
		return river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: logger})
	}
	w := river.NewWorkers()
	workers.RegisterPublishing(w, publish)
	riverCfg := &river.Config{
		Logger:            logger,
		Workers:           w,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 50}},
		FetchCooldown:     50 * time.Millisecond,
		FetchPollInterval: 100 * time.Millisecond,
		RetryPolicy:       workers.RetryPolicy{Base: time.Second, Max: 2 * time.Minute},
	}
	if cfg.Dev && os.Getenv("FLY_API_TOKEN") == "" {
		// make run starts localfly and sets it; a bare `switchboard dev` still
		// serves the API and publishes configs, with instances waiting in PENDING.
		logger.Warn("FLY_API_TOKEN is not set: not provisioning; instances stay pending (make run starts localfly)")
		// Instance jobs are still enqueued, for a worker that has a token.
		riverCfg.SkipUnknownJobCheck = true
		return river.NewClient(riverpgxv5.New(pool), riverCfg)
	}
	wc, err := loadWorkerConfig(apiURL)
	if err != nil {
		return nil, err
	}
	if wc.Machine.CDNURL == "" {
		wc.Machine.CDNURL = pc.CDNURL
	}
	wc.Machine.AllowPrivateTargets = pc.AllowPrivate
	if wc.Machine.TrustedKeys == "" {
		wc.Machine.TrustedKeys = publish.Keyring.TrustedKeys().String()
	}
	machines, err := fly.New(ctx, fly.Params{Token: wc.FlyToken, Org: wc.FlyOrg, LocalBaseURL: localURL(wc)})
	if err != nil {
		return nil, err
	}
	p := workers.Params{
		Store:    &postgres.InstanceStore{DB: db},
		Machines: machines,
		Config:   wc.Machine,
		Logger:   logger,
	}
	if wc.HangAfterStep != "" {
		logger.Warn("test hook: provisioning hangs after a step", "step", wc.HangAfterStep)
		p.AfterStep = func(ctx context.Context, id, step string) {
			if step == wc.HangAfterStep {
				logger.Warn("hanging after step", "instance", id, "step", step)
				<-ctx.Done()
			}
		}
	}
	workers.Register(w, p)
	riverCfg.PeriodicJobs = workers.PeriodicJobs(wc.ReconcileInterval)
	riverCfg.JobTimeout = wc.JobTimeout
	riverCfg.RescueStuckJobsAfter = wc.RescueAfter
	return river.NewClient(riverpgxv5.New(pool), riverCfg)
}

func localURL(wc *workerConfig) string {
	if wc.Local {
		return wc.FlyBaseURL
	}
	return ""
}
