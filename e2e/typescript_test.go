package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/blob/blobtest"
	"github.com/switchboardhq/switchboard/postgres/pgtest"
)

// TestTypeScriptSDK runs the TypeScript SDK's own tests (`npm test`, which
// builds the package and runs node --test) against the whole product over
// real processes, so its journey waits for a real RUNNING instance.
func TestTypeScriptSDK(t *testing.T) {
	t.Parallel()
	_, err := exec.LookPath("npm")
	require.NoError(t, err, "npm is required for the TypeScript SDK tests (Node 20+)")

	p := newProduct(t)
	dir, err := filepath.Abs("../sdk/typescript")
	require.NoError(t, err)
	env := append(os.Environ(), "SWITCHBOARD_URL="+p.apiURL, "SWITCHBOARD_WORKERS=1", "NO_UPDATE_NOTIFIER=1")
	runIn(t, dir, env, 5*time.Minute, "npm", "ci", "--no-audit", "--no-fund")
	out := runIn(t, dir, env, 5*time.Minute, "npm", "test")
	t.Logf("npm test:\n%s", out)
}

// TestSwitchboardDevStarts runs `switchboard dev` as make run does (without
// localfly) and makes the README's first request.
func TestSwitchboardDevStarts(t *testing.T) {
	t.Parallel()
	url := startSwitchboardDev(t)
	res, err := http.Post(url+"/switchboard.v1.AuthService/SignUp", "application/json",
		strings.NewReader(`{"email":"you@example.com","password":"correct horse battery","name":"You"}`))
	require.NoError(t, err)
	defer res.Body.Close()
	var body struct {
		SessionToken string `json:"sessionToken"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.True(t, strings.HasPrefix(body.SessionToken, "sb_sess_"))
}

// startSwitchboardDev builds cmd/switchboard, runs `switchboard dev` on a free
// port against a fresh database, waits until it answers, and stops it with
// SIGINT when the test ends. It returns the API's base URL.
func startSwitchboardDev(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "switchboard")
	build := exec.Command("go", "build", "-o", bin, "../cmd/switchboard")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	logs := &lockedBuffer{}
	cmd := exec.Command(bin, "dev", "--addr", addr)
	cmd.Dir = tmp // dev keeps local state (keys, caches) under its working directory
	s3 := blobtest.NewConfig(t)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+pgtest.NewDatabase(t), "SWITCHBOARD_CDN_ADDR="+freeAddr(t),
		"S3_ENDPOINT="+s3.Endpoint, "S3_BUCKET="+s3.Bucket, "S3_REGION="+s3.Region,
		"S3_ACCESS_KEY_ID="+s3.AccessKeyID, "S3_SECRET_ACCESS_KEY="+s3.SecretAccessKey)
	cmd.Stdout, cmd.Stderr = logs, logs
	// Its own process group, so whatever it starts stops with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	require.NoError(t, cmd.Start())
	exited := make(chan struct{}) // closed once Wait returns; waitErr is set then
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("switchboard dev output:\n%s", logs.String())
		}
	})

	url := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(url + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return url
			}
		}
		select {
		case <-exited:
			t.Fatalf("switchboard dev exited early (%v):\n%s", waitErr, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("switchboard dev did not answer on %s within 60s:\n%s", url, logs.String())
		}
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runIn runs a command in dir and fails the test, showing its output, when
// it exits non-zero or outlives timeout.
func runIn(t *testing.T, dir string, env []string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %v:\n%s", name, args, out)
	return fmt.Sprintf("%s", out)
}
