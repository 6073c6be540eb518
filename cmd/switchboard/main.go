// Command switchboard is the control-plane server.
//
//	switchboard migrate                 bring the database schema up to date
//	switchboard serve --roles=api,...   run the given roles (api, worker, cdn)
//	switchboard dev                     everything in one process, with local defaults
//
// Configuration comes from the environment (see config.go); only this
// package reads it.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], logger); err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		logger.Error("switchboard failed", "err", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

const usage = `usage: switchboard <command> [flags]

commands:
  migrate              bring the database schema up to date and exit
  serve --roles=LIST   run roles: api, worker, cdn (comma-separated)
  dev                  run every role with local defaults (make run uses this)

environment: DATABASE_URL (required), SWITCHBOARD_ADDR (default 127.0.0.1:8080)
`

func run(ctx context.Context, args []string, logger *slog.Logger) error {
	if len(args) == 0 {
		return errUsage
	}
	cfg, err := loadConfig(args[0], args[1:])
	if err != nil {
		return err
	}
	switch args[0] {
	case "migrate":
		return migrate(ctx, cfg, logger)
	case "serve", "dev":
		return serve(ctx, cfg, logger)
	default:
		return errUsage
	}
}
