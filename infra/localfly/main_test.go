package localfly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/superfly/fly-go/flaps"
	"github.com/superfly/fly-go/tokens"
)

const specPath = "../../../shared/specs/fly-machines-api.swagger.json"

// echoBinary is the test machine image, built once in TestMain.
var echoBinary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "localfly-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	echoBinary = filepath.Join(dir, "echoserver")
	build := exec.Command("go", "build", "-o", echoBinary, "./testdata/echoserver")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build echoserver:", err)
		return 1
	}
	return m.Run()
}

const testImage = "registry.fly.io/echo"

type bundle struct {
	srv   *Server
	url   string
	token string
	flaps *flaps.Client
}

func setup(t *testing.T, mods ...func(*Params)) *bundle {
	t.Helper()
	p := Params{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Token:       "test-token",
		SpecPath:    specPath,
		Images:      map[string]string{testImage: echoBinary},
		StopTimeout: 2 * time.Second,
	}
	if testing.Verbose() {
		p.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, mod := range mods {
		mod(&p)
	}
	srv, err := New(p)
	require.NoError(t, err)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		require.NoError(t, srv.Close())
	})
	return &bundle{srv: srv, url: hs.URL, token: p.Token, flaps: newFlapsClient(t, hs.URL, p.Token)}
}

// envMu serializes the FLY_FLAPS_BASE_URL dance: fly-go reads the base URL
// only from the environment, and only while constructing a client, so tests
// can still run in parallel (t.Setenv would forbid that).
var envMu sync.Mutex

func newFlapsClient(t *testing.T, baseURL, token string) *flaps.Client {
	t.Helper()
	envMu.Lock()
	defer envMu.Unlock()
	old, had := os.LookupEnv("FLY_FLAPS_BASE_URL")
	require.NoError(t, os.Setenv("FLY_FLAPS_BASE_URL", baseURL))
	defer func() {
		if had {
			_ = os.Setenv("FLY_FLAPS_BASE_URL", old)
		} else {
			_ = os.Unsetenv("FLY_FLAPS_BASE_URL")
		}
	}()
	c, err := flaps.NewWithOptions(context.Background(), flaps.NewClientOpts{Tokens: tokens.Parse(token)})
	require.NoError(t, err)
	return c
}

// do sends a raw request, with the token unless token is "".
func (b *bundle) do(t *testing.T, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.url+path, rd)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp, out
}

// flapsStatus returns the HTTP status of a fly-go error, or 0.
func flapsStatus(err error) int {
	var fe *flaps.FlapsError
	if errors.As(err, &fe) {
		return fe.ResponseStatusCode
	}
	return 0
}

func (b *bundle) createApp(t *testing.T, name string) {
	t.Helper()
	_, err := b.flaps.CreateApp(t.Context(), flaps.CreateAppRequest{Name: name, Org: "personal"})
	require.NoError(t, err)
}

// address asks the admin endpoint where a machine listens.
func (b *bundle) address(t *testing.T, id string) addressView {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.url+"/localfly/machines/"+id, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out addressView
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// get fetches url until it answers 200 (the process may still be binding its
// port just after "started") and returns the body.
func get(t *testing.T, url string) string {
	t.Helper()
	var body string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, err := http.Get(url)
		require.NoError(c, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(c, err)
		require.Equal(c, http.StatusOK, resp.StatusCode)
		body = string(raw)
	}, 5*time.Second, 20*time.Millisecond)
	return body
}
