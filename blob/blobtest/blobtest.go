// Package blobtest gives tests a real S3: versitygw started by
// infra/versitygw.sh, once per test binary, with a fresh bucket per test.
//
//	func TestMain(m *testing.M) { blobtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		t.Parallel()
//		store := blobtest.NewStore(t)
//		...
//	}
//
// TEST_S3_ENDPOINT (with TEST_S3_ACCESS_KEY_ID, TEST_S3_SECRET_ACCESS_KEY and
// TEST_S3_REGION) points the tests at an existing S3 instead; their buckets
// are then removed after each test.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/blob"
)

// Development credentials of servers started by infra/versitygw.sh.
const (
	AccessKeyID     = "switchboard"
	SecretAccessKey = "switchboard-secret"
	Region          = "us-east-1"
)

var (
	mainCalled bool
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
	external   bool
)

// Main runs the package's tests and stops the shared server afterwards. Call
// it from TestMain; NewStore and NewConfig fail without it.
func Main(m *testing.M) {
	mainCalled = true
	code := m.Run()
	if shared != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "blobtest:", err)
		}
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// NewConfig creates a fresh bucket on the shared S3 and returns the settings
// that reach it, for tests that hand them to another process.
func NewConfig(t testing.TB) blob.Config {
	t.Helper()
	if !mainCalled {
		t.Fatal("blobtest: call blobtest.Main(m) from TestMain")
	}
	sharedOnce.Do(func() {
		if ep := os.Getenv("TEST_S3_ENDPOINT"); ep != "" {
			external = true
			shared = nil
			return
		}
		dir, err := os.MkdirTemp("", "blobtest-")
		if err != nil {
			sharedErr = err
			return
		}
		s := &Server{dir: dir}
		if err := s.start(""); err != nil {
			_ = os.RemoveAll(dir)
			sharedErr = err
			return
		}
		shared = s
	})
	if sharedErr != nil {
		t.Fatalf("blobtest: start versitygw: %v", sharedErr)
	}
	if external {
		region := os.Getenv("TEST_S3_REGION")
		if region == "" {
			region = Region
		}
		return blob.Config{
			Endpoint:        os.Getenv("TEST_S3_ENDPOINT"),
			Region:          region,
			Bucket:          bucketName(),
			AccessKeyID:     os.Getenv("TEST_S3_ACCESS_KEY_ID"),
			SecretAccessKey: os.Getenv("TEST_S3_SECRET_ACCESS_KEY"),
			PathStyle:       true,
		}
	}
	return shared.Config(bucketName())
}

// NewStore returns a store on a fresh, empty bucket of the shared S3.
func NewStore(t testing.TB) *blob.Store {
	t.Helper()
	cfg := NewConfig(t)
	store := newStore(t, cfg)
	if external {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := store.RemoveBucket(ctx); err != nil {
				t.Logf("blobtest: remove bucket %s: %v", cfg.Bucket, err)
			}
		})
	}
	return store
}

// Server is a versitygw process of its own, for tests that stop and restart
// S3. The shared one must never be stopped by a test.
type Server struct {
	// Endpoint is `http://127.0.0.1:PORT`.
	Endpoint string
	dir      string
	mu       sync.Mutex
	running  bool
}

// StartServer starts a dedicated versitygw, stopped when the test ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{dir: t.TempDir()}
	if err := s.start(""); err != nil {
		t.Fatalf("blobtest: start versitygw: %v", err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Logf("blobtest: %v", err)
		}
	})
	return s
}

// Config returns the settings for a bucket on this server; see NewStore.
func (s *Server) Config(bucket string) blob.Config {
	return blob.Config{
		Endpoint:        s.Endpoint,
		Region:          Region,
		Bucket:          bucket,
		AccessKeyID:     AccessKeyID,
		SecretAccessKey: SecretAccessKey,
		PathStyle:       true,
	}
}

// NewStore returns a store on a fresh bucket of this server. maxAttempts
// caps SDK retries (0: the SDK default), so failures show quickly once the
// server is stopped.
func (s *Server) NewStore(t testing.TB, maxAttempts int) *blob.Store {
	t.Helper()
	cfg := s.Config(bucketName())
	cfg.MaxAttempts = maxAttempts
	return newStore(t, cfg)
}

// Stop kills the server; its data stays for Restart.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("blobtest: %v", err)
	}
}

// Restart starts a stopped server again on the same port and data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.start(u.Port()); err != nil {
		t.Fatalf("blobtest: restart versitygw: %v", err)
	}
	if got := "http://127.0.0.1:" + u.Port(); s.Endpoint != got {
		t.Fatalf("blobtest: versitygw restarted on %s, want %s", s.Endpoint, got)
	}
}

func (s *Server) start(port string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	script, err := scriptPath()
	if err != nil {
		return err
	}
	cmd := exec.Command(script, "start", s.dir)
	cmd.Env = append(os.Environ(), "VERSITYGW_WATCH_PID="+strconv.Itoa(os.Getpid()))
	if port != "" {
		cmd.Env = append(cmd.Env, "VERSITYGW_PORT="+port)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s start: %w: %s", script, err, stderr.Bytes())
	}
	s.Endpoint = strings.TrimSpace(string(out))
	s.running = true
	return nil
}

func (s *Server) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		return nil
	}
	script, err := scriptPath()
	if err != nil {
		return err
	}
	if out, err := exec.Command(script, "stop", s.dir).CombinedOutput(); err != nil {
		return fmt.Errorf("%s stop: %w: %s", script, err, out)
	}
	s.running = false
	return nil
}

func newStore(t testing.TB, cfg blob.Config) *blob.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := blob.New(ctx, cfg)
	if err != nil {
		t.Fatalf("blobtest: %v", err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatalf("blobtest: %v", err)
	}
	return store
}

func bucketName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "sbtest-" + hex.EncodeToString(b[:])
}

// scriptPath finds infra/versitygw.sh above the working directory (a test
// runs in its package directory), or else above this source file.
func scriptPath() (string, error) {
	const rel = "infra/versitygw.sh"
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			p := filepath.Join(dir, rel)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("blobtest: cannot find " + rel)
}
