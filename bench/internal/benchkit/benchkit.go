// Package benchkit is what the benchmarks under bench/ share: a throwaway S3
// (infra/versitygw.sh), publishing artifacts and data-plane tokens the way the
// control plane does, child processes that die with their parent, and
// percentiles. It is not used by the product.
package benchkit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/blob"
	"github.com/switchboardhq/switchboard/compile"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// S3 credentials of servers started by infra/versitygw.sh.
const (
	S3AccessKey = "switchboard"
	S3SecretKey = "switchboard-secret"
	S3Region    = "us-east-1"
)

// Root is the repository root: $BENCH_ROOT, else the nearest directory
// above the working directory holding go.mod.
func Root() (string, error) {
	if r := os.Getenv("BENCH_ROOT"); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (set BENCH_ROOT)")
		}
		dir = parent
	}
}

// SignalContext is cancelled on SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// S3 is a versitygw server started for one benchmark run.
type S3 struct {
	Endpoint string
	dir      string
	root     string
}

// StartS3 starts versitygw over dir/s3 with infra/versitygw.sh. The server
// exits with this process (VERSITYGW_WATCH_PID) even if Stop is never called.
func StartS3(ctx context.Context, dir string) (*S3, error) {
	root, err := Root()
	if err != nil {
		return nil, err
	}
	s := &S3{dir: filepath.Join(dir, "s3"), root: root}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "infra", "versitygw.sh"), "start", s.dir)
	cmd.Env = append(os.Environ(), fmt.Sprintf("VERSITYGW_WATCH_PID=%d", os.Getpid()))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("versitygw.sh start: %w", err)
	}
	s.Endpoint = strings.TrimSpace(string(out))
	return s, nil
}

// Stop stops the server.
func (s *S3) Stop() {
	_ = exec.Command(filepath.Join(s.root, "infra", "versitygw.sh"), "stop", s.dir).Run()
}

// Store returns a store over bucket on the S3 at endpoint, creating the
// bucket. The CDN gets MaxAttempts 2, as in production.
func Store(ctx context.Context, endpoint, bucket string) (*blob.Store, error) {
	st, err := blob.New(ctx, blob.Config{
		Endpoint: endpoint, Region: S3Region, Bucket: bucket,
		AccessKeyID: S3AccessKey, SecretAccessKey: S3SecretKey,
		PathStyle: true, MaxAttempts: 2,
	})
	if err != nil {
		return nil, err
	}
	return st, st.EnsureBucket(ctx)
}

// Publisher makes signed realtime artifacts and data-plane tokens for one
// instance and writes them where the CDN reads them.
type Publisher struct {
	Store      switchboard.BlobStore
	InstanceID string
	keys       *compile.Keyring
}

// NewPublisher returns a publisher for a fresh instance id.
func NewPublisher(store switchboard.BlobStore) (*Publisher, error) {
	priv, err := compile.GenerateKey()
	if err != nil {
		return nil, err
	}
	keys, err := compile.NewKeyring(priv)
	if err != nil {
		return nil, err
	}
	return &Publisher{
		Store:      store,
		InstanceID: switchboard.NewID(switchboard.PrefixInstance, time.Now()),
		keys:       keys,
	}, nil
}

// RealtimeConfig is a realistic realtime config (a few origins, secrets,
// limits): its artifact is about half a kilobyte.
func RealtimeConfig() *switchboardv1.RealtimeConfig {
	return &switchboardv1.RealtimeConfig{
		JwtSecret:      "bench-jwt-secret-0123456789-0123456789-abcdef",
		StreamsSecret:  "bench-streams-secret-0123456789-0123456789-abcdef",
		BroadcastKey:   "bench-broadcast-key-0123456789-0123456789-abcdef",
		AllowedOrigins: []string{"https://app.example.com", "*.example.com", "https://admin.example.org"},
		MaxConnections: 100000,
	}
}

// Artifact returns the signed artifact (an artifactv1.Envelope) of version.
func (p *Publisher) Artifact(version int64) ([]byte, error) {
	payload, err := compile.Compile(p.InstanceID, artifactv1.Kind_KIND_REALTIME, version, time.Now(), RealtimeConfig())
	if err != nil {
		return nil, err
	}
	return proto.Marshal(p.keys.Sign(payload))
}

// Publish writes version's artifact as the instance's latest.pb (what the
// CDN serves) and returns its bytes.
func (p *Publisher) Publish(ctx context.Context, version int64) ([]byte, error) {
	body, err := p.Artifact(version)
	if err != nil {
		return nil, err
	}
	if _, err := p.Store.Put(ctx, switchboard.LatestArtifactKey(p.InstanceID), body, switchboard.ArtifactContentType); err != nil {
		return nil, err
	}
	return body, nil
}

// NewToken registers a fresh data-plane token for the instance in the token
// registry and returns it.
func (p *Publisher) NewToken(ctx context.Context) (string, error) {
	tokenID := switchboard.NewID(switchboard.PrefixDataPlaneToken, time.Now())
	token := switchboard.NewToken(switchboard.TokenDataPlane, tokenID)
	sum := switchboard.HashToken(token)
	body, err := json.Marshal(switchboard.TokenRegistryEntry{
		TokenID: tokenID, InstanceID: p.InstanceID, SHA256: hex.EncodeToString(sum[:]),
	})
	if err != nil {
		return "", err
	}
	if _, err := p.Store.Put(ctx, switchboard.TokenRegistryKey(tokenID), body, "application/json"); err != nil {
		return "", err
	}
	return token, nil
}

// Notify posts the publish notice to a CDN.
func Notify(ctx context.Context, client *http.Client, cdnURL, secret, instanceID string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cdnURL+"/internal/notify",
		strings.NewReader(`{"instance_id":"`+instanceID+`"}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Switchboard-Notify-Secret", secret)
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		return fmt.Errorf("notify: %s", res.Status)
	}
	return nil
}

// Child is a process started by StartChild.
type Child struct {
	Cmd *exec.Cmd
	// Ready is the first line the child printed on stdout, trimmed.
	Ready string
	stdin io.WriteCloser
	done  chan struct{}
}

// StartChild starts name with args, its stderr on ours, and waits (up to
// timeout) for the first line on its stdout. The child's stdin is a pipe
// that closes when this process dies: children started with ServeUntilEOF
// exit then, so nothing outlives the benchmark.
func StartChild(ctx context.Context, timeout time.Duration, env []string, name string, args ...string) (*Child, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &Child{Cmd: cmd, stdin: stdin, done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
				continue
			}
			fmt.Fprintln(os.Stderr, sc.Text())
		}
		if first {
			close(lines)
		}
	}()
	go func() { _ = cmd.Wait(); close(c.done) }()
	select {
	case line, ok := <-lines:
		if !ok {
			c.Stop()
			return nil, fmt.Errorf("%s exited before it was ready", filepath.Base(name))
		}
		c.Ready = strings.TrimSpace(line)
		return c, nil
	case <-time.After(timeout):
		c.Stop()
		return nil, fmt.Errorf("%s not ready after %s", filepath.Base(name), timeout)
	case <-ctx.Done():
		c.Stop()
		return nil, ctx.Err()
	}
}

// Stop asks the child to stop (SIGTERM, stdin closed) and kills it after 5 s.
func (c *Child) Stop() {
	_ = c.stdin.Close()
	_ = c.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.Cmd.Process.Kill()
		<-c.done
	}
}

// ServeUntilEOF serves h on addr (port 0: any free one), prints the base URL
// on stdout as the ready line, and returns when stdin reaches EOF (the parent
// died or stopped us) or on SIGTERM.
func ServeUntilEOF(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("http://%s\n", ln.Addr())
	ctx, stop := SignalContext()
	defer stop()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); stop() }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// WaitHTTP waits until url answers anything over HTTP.
func WaitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not answering after %s: %w", url, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Percentile returns the p-th percentile (0–100, nearest rank) of sorted.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// Ms formats d in milliseconds with two decimals.
func Ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// Stats are the usual percentiles of a set of latencies.
type Stats struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// Summarize sorts ds and returns its percentiles.
func Summarize(ds []time.Duration) Stats {
	slices.Sort(ds)
	s := Stats{N: len(ds)}
	if len(ds) > 0 {
		s.P50, s.P90, s.P99, s.Max = Percentile(ds, 50), Percentile(ds, 90), Percentile(ds, 99), ds[len(ds)-1]
	}
	return s
}

// Ratio formats a/b with three decimals, "nan" when b is zero.
func Ratio(a, b float64) string {
	if b == 0 {
		return "nan"
	}
	return fmt.Sprintf("%.3f", a/b)
}

// Print writes one name=value line on stdout.
func Print(name string, value any) { fmt.Printf("%s=%v\n", name, value) }

// Logf writes a progress line on stderr, so stdout stays name=value lines.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "  "+format+"\n", args...)
}

// Get fetches url with headers, returning the status, headers and body.
func Get(ctx context.Context, client *http.Client, url string, headers map[string]string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, err = io.Copy(&buf, res.Body)
	return res.StatusCode, res.Header, buf.Bytes(), err
}
