package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard/compile"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

const (
	instanceID = "ins_cmd_realtime"
	jwtSecret  = "jwt-secret-0123456789-0123456789-abcdef"
)

// start runs the program on port 0 with env and returns its address and a
// function that stops it and returns run's error.
func start(t *testing.T, env map[string]string) (string, func() error) {
	t.Helper()
	env["PORT"] = "0"
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, io.Discard, listening) }()
	var addr string
	select {
	case addr = <-listening:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not listening")
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return addr, stop
}

func keyring(t *testing.T) *compile.Keyring {
	t.Helper()
	priv, err := compile.GenerateKey()
	require.NoError(t, err)
	k, err := compile.NewKeyring(priv)
	require.NoError(t, err)
	return k
}

func trustedKeys(t *testing.T, k *compile.Keyring) string {
	t.Helper()
	var parts []string
	for id, pub := range k.TrustedKeys() {
		parts = append(parts, id+":"+base64.StdEncoding.EncodeToString(pub))
	}
	return strings.Join(parts, ",")
}

func jwt(secret string) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString([]byte(`{"ext":"{\"user_id\":\"1\"}"}`))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestColdStartWithoutConfigIsNotReady(t *testing.T) {
	t.Parallel()
	addr, stop := start(t, map[string]string{
		"SWITCHBOARD_INSTANCE_ID":  instanceID,
		"SWITCHBOARD_TRUSTED_KEYS": trustedKeys(t, keyring(t)),
		"SWITCHBOARD_CACHE_DIR":    t.TempDir(),
	})
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 503, "/cable": 503, "/_broadcast": 503} {
		resp, err := http.Get("http://" + addr + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, want, resp.StatusCode, path)
	}
	require.NoError(t, stop())
}

func TestServesTheBootstrapArtifactAndShutsDownGracefully(t *testing.T) {
	t.Parallel()
	k := keyring(t)
	payload, err := compile.Compile(instanceID, artifactv1.Kind_KIND_REALTIME, 1, time.Now(),
		&switchboardv1.RealtimeConfig{JwtSecret: jwtSecret})
	require.NoError(t, err)
	env, err := proto.Marshal(k.Sign(payload))
	require.NoError(t, err)
	bootstrap := filepath.Join(t.TempDir(), "artifact.bin")
	require.NoError(t, os.WriteFile(bootstrap, env, 0o600))

	addr, stop := start(t, map[string]string{
		"SWITCHBOARD_INSTANCE_ID":        instanceID,
		"SWITCHBOARD_TRUSTED_KEYS":       trustedKeys(t, k),
		"SWITCHBOARD_CACHE_DIR":          t.TempDir(),
		"SWITCHBOARD_BOOTSTRAP_ARTIFACT": bootstrap,
		"FLY_MACHINE_ID":                 "m123",
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond)

	d := websocket.Dialer{Subprotocols: []string{"actioncable-v1-json"}}
	conn, _, err := d.Dial("ws://"+addr+"/cable?jid="+jwt(jwtSecret), nil)
	require.NoError(t, err)
	defer conn.Close()
	read := func() map[string]any {
		for {
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
			_, data, err := conn.ReadMessage()
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(data, &m))
			if m["type"] != "ping" {
				return m
			}
		}
	}
	require.Equal(t, "welcome", read()["type"])

	stopErr := make(chan error, 1)
	go func() { stopErr <- stop() }()
	msg := read()
	require.Equal(t, "disconnect", msg["type"])
	require.Equal(t, "server_restart", msg["reason"])
	require.Equal(t, true, msg["reconnect"])
	select {
	case err := <-stopErr:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("shutdown did not finish")
	}
}

func TestReadConfig(t *testing.T) {
	t.Parallel()
	_, err := readConfig(func(string) string { return "" })
	require.ErrorContains(t, err, "SWITCHBOARD_INSTANCE_ID")
	env := map[string]string{"SWITCHBOARD_INSTANCE_ID": instanceID, "SWITCHBOARD_CDN_URL": "http://cdn"}
	_, err = readConfig(func(k string) string { return env[k] })
	require.ErrorContains(t, err, "SWITCHBOARD_TOKEN")
	env["SWITCHBOARD_TOKEN"] = "sb_dp_x"
	_, err = readConfig(func(k string) string { return env[k] })
	require.ErrorContains(t, err, "SWITCHBOARD_TRUSTED_KEYS")
	env["SWITCHBOARD_TRUSTED_KEYS"] = trustedKeys(t, keyring(t))
	env["PORT"] = "http"
	_, err = readConfig(func(k string) string { return env[k] })
	require.ErrorContains(t, err, "PORT")
	env["PORT"] = "9000"
	env["SWITCHBOARD_CDN_URL"] = " http://a , http://b "
	c, err := readConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, ":9000", c.Addr)
	require.Equal(t, []string{"http://a", "http://b"}, c.Agent.URLs)
	require.Equal(t, artifactv1.Kind_KIND_REALTIME, c.Agent.Kind)
}
