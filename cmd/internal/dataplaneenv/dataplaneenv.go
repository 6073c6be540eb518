// Package dataplaneenv reads the environment every data-plane binary
// (cmd/breaker, cmd/realtime) shares:
//
//	PORT                              listen port (default 8080)
//	SWITCHBOARD_INSTANCE_ID           the instance (ins_…), required
//	SWITCHBOARD_TOKEN                 data-plane token (sb_dp_…), required with a CDN URL
//	SWITCHBOARD_CDN_URL               CDN base URLs, comma-separated, tried in order
//	SWITCHBOARD_API_URL               control plane for status reports (optional)
//	SWITCHBOARD_TRUSTED_KEYS          keyid:base64key[,…], required
//	SWITCHBOARD_CACHE_DIR             default $XDG_CACHE_HOME/switchboard, else ./.switchboard-cache
//	SWITCHBOARD_BOOTSTRAP_ARTIFACT    artifact file for a cold start without cache or CDN (optional)
//	SWITCHBOARD_ALLOW_PRIVATE_TARGETS true to let upstreams be loopback/private addresses
//	SWITCHBOARD_LOG_LEVEL             debug, info (default), warn or error
//	FLY_MACHINE_ID                    node id reported to the control plane
//
// It takes a getenv function so that only main reads the real environment.
package dataplaneenv

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/switchboardhq/switchboard/compile"
	"github.com/switchboardhq/switchboard/dataplane/configsync"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
)

// Config is a data plane's settings.
type Config struct {
	Addr         string
	Agent        configsync.Config
	AllowPrivate bool
	LogLevel     slog.Level
}

// Read parses the environment for a data plane of kind.
func Read(getenv func(string) string, kind artifactv1.Kind) (Config, error) {
	c := Config{Addr: ":8080"}
	if port := getenv("PORT"); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return c, fmt.Errorf("PORT: %q is not a port number", port)
		}
		c.Addr = ":" + port
	}
	a := configsync.Config{
		InstanceID:    getenv("SWITCHBOARD_INSTANCE_ID"),
		Kind:          kind,
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
		if c.AllowPrivate, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("SWITCHBOARD_ALLOW_PRIVATE_TARGETS: %q is not true or false", v)
		}
	}
	if v := getenv("SWITCHBOARD_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("SWITCHBOARD_LOG_LEVEL: %w", err)
		}
	}
	c.Agent = a
	return c, nil
}

// version is the module version the binary was built from, or "dev".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
