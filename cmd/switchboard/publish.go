package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/blob"
	"github.com/switchboardhq/switchboard/cdn"
	"github.com/switchboardhq/switchboard/compile"
	"github.com/switchboardhq/switchboard/workers"
)

// publishConfig is the environment for configs, artifacts and the CDN:
//
//	S3_ENDPOINT, S3_REGION (us-east-1), S3_BUCKET (switchboard),
//	S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY   the object store (unset endpoint: AWS)
//	SWITCHBOARD_SIGNING_KEYS      Ed25519 keyring (compile.ParseKeyring), current key first;
//	                              dev generates one in $SWITCHBOARD_DATA_DIR/signing.keys
//	SWITCHBOARD_CDN_ADDR          the cdn role's listen address (default 127.0.0.1:8081)
//	SWITCHBOARD_CDN_URL           public CDN URL(s), comma-separated, for data planes
//	                              (default http://SWITCHBOARD_CDN_ADDR)
//	SWITCHBOARD_CDN_NOTIFY_URLS   CDN replicas to notify on publish (default SWITCHBOARD_CDN_URL)
//	SWITCHBOARD_NOTIFY_SECRET     shared by workers and CDN replicas; dev generates one
//	SWITCHBOARD_ALLOW_PRIVATE_TARGETS  true lets breaker upstreams be private addresses
//	                              (self-hosted control planes); dev turns it on
type publishConfig struct {
	S3           blob.Config
	Keyring      *compile.Keyring
	CDNAddr      string
	CDNURL       string
	NotifyURLs   []string
	NotifySecret string
	AllowPrivate bool
	CreateBucket bool
}

func loadPublishConfig(cfg *config, logger *slog.Logger) (*publishConfig, error) {
	pc := &publishConfig{
		S3: blob.Config{
			Endpoint: os.Getenv("S3_ENDPOINT"), Region: envOr("S3_REGION", "us-east-1"), Bucket: envOr("S3_BUCKET", "switchboard"),
			AccessKeyID: os.Getenv("S3_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("S3_SECRET_ACCESS_KEY"),
		},
		CDNAddr:      envOr("SWITCHBOARD_CDN_ADDR", "127.0.0.1:8081"),
		NotifySecret: os.Getenv("SWITCHBOARD_NOTIFY_SECRET"),
		AllowPrivate: os.Getenv("SWITCHBOARD_ALLOW_PRIVATE_TARGETS") == "true",
		CreateBucket: cfg.Dev,
	}
	pc.S3.PathStyle = pc.S3.Endpoint != ""
	pc.CDNURL = envOr("SWITCHBOARD_CDN_URL", "http://"+pc.CDNAddr)
	pc.NotifyURLs = strings.Split(envOr("SWITCHBOARD_CDN_NOTIFY_URLS", pc.CDNURL), ",")
	if cfg.Dev {
		if !pc.AllowPrivate {
			logger.Warn("dev: breaker upstreams may be private addresses (SWITCHBOARD_ALLOW_PRIVATE_TARGETS=true), since your upstreams are on this machine")
		}
		pc.AllowPrivate = true
		if pc.NotifySecret == "" {
			pc.NotifySecret = randomHex(16)
		}
	}
	keys := os.Getenv("SWITCHBOARD_SIGNING_KEYS")
	if keys == "" && cfg.Dev {
		var err error
		if keys, err = devKeyring(envOr("SWITCHBOARD_DATA_DIR", ".data")); err != nil {
			return nil, err
		}
	}
	if keys == "" {
		if !cfg.has("api") && !cfg.has("worker") {
			return pc, nil // the CDN serves artifacts; it never signs or hands out keys
		}
		return nil, errors.New("SWITCHBOARD_SIGNING_KEYS is required (an Ed25519 keyring; switchboard dev makes one)")
	}
	kr, err := compile.ParseKeyring(keys)
	if err != nil {
		return nil, fmt.Errorf("SWITCHBOARD_SIGNING_KEYS: %w", err)
	}
	pc.Keyring = kr
	return pc, nil
}

// devKeyring reads the dev keyring from dir, making it on first use.
func devKeyring(dir string) (string, error) {
	path := filepath.Join(dir, "signing.keys")
	if b, err := os.ReadFile(path); err == nil {
		return string(b), nil
	}
	key, err := compile.GenerateKey()
	if err != nil {
		return "", err
	}
	kr, err := compile.NewKeyring(key)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(kr.Encode()), 0o600); err != nil {
		return "", fmt.Errorf("save dev signing key: %w", err)
	}
	return kr.Encode(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// openBlobs connects the object store (creating the bucket in dev).
func openBlobs(ctx context.Context, pc *publishConfig) (*blob.Store, error) {
	store, err := blob.New(ctx, pc.S3)
	if err != nil {
		return nil, err
	}
	if pc.CreateBucket {
		if err := store.EnsureBucket(ctx); err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", pc.S3.Bucket, err)
		}
	}
	return store, nil
}

// publishParams are the publishing workers' dependencies.
func publishParams(pc *publishConfig, store switchboard.PublishStore, blobs switchboard.BlobStore, logger *slog.Logger) workers.PublishParams {
	return workers.PublishParams{
		Store: store, Blobs: blobs, Keyring: pc.Keyring, Logger: logger, Now: time.Now,
		Notifier: &cdn.Notifier{URLs: pc.NotifyURLs, Secret: pc.NotifySecret, Client: &http.Client{Timeout: 2 * time.Second}},
	}
}

// serveCDN runs the cdn role on its own listener until ctx ends.
func serveCDN(ctx context.Context, pc *publishConfig, blobs switchboard.BlobStore, logger *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", pc.CDNAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", pc.CDNAddr, err)
	}
	c := cdn.New(cdn.Params{Store: blobs, Logger: logger.With("role", "cdn"), NotifySecret: pc.NotifySecret})
	srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
	runCtx, cancel := context.WithCancel(ctx)
	go func() { _ = c.Run(runCtx) }()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("cdn server", "err", err)
		}
	}()
	logger.Info("CDN listening", "url", "http://"+ln.Addr().String())
	return func() {
		cancel()
		shutdownCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer stop()
		_ = srv.Shutdown(shutdownCtx)
	}, nil
}
