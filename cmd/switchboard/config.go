package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
)

// config is everything the server reads from flags and the environment.
type config struct {
	Dev         bool
	Roles       []string
	DatabaseURL string
	Addr        string
}

var errNoDatabase = errors.New("DATABASE_URL is required for the api and worker roles (make run starts a local Postgres and sets it)")

var knownRoles = []string{"api", "worker", "cdn"}

func loadConfig(command string, args []string) (*config, error) {
	cfg := &config{
		Dev:         command == "dev",
		DatabaseURL: os.Getenv("DATABASE_URL"),
		Addr:        envOr("SWITCHBOARD_ADDR", "127.0.0.1:8080"),
	}
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	roles := fs.String("roles", strings.Join(knownRoles, ","), "comma-separated roles to run: api, worker, cdn")
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "address the HTTP server listens on")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, r := range strings.Split(*roles, ",") {
		r = strings.TrimSpace(r)
		if !slices.Contains(knownRoles, r) {
			return nil, fmt.Errorf("--roles: unknown role %q (want api, worker or cdn)", r)
		}
		cfg.Roles = append(cfg.Roles, r)
	}
	return cfg, nil
}

func (c *config) has(role string) bool { return slices.Contains(c.Roles, role) }

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
