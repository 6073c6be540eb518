package realtime_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboardhq/switchboard/dataplane/realtime"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
	"github.com/switchboardhq/switchboard/internal/promtest"
)

const (
	jwtSecret     = "jwt-secret-0123456789-0123456789-abcdef"
	jwtSecret2    = "jwt-secret-2-0123456789-0123456789-abcdef"
	streamsSecret = "streams-secret-0123456789-0123456789-abcdef"
	broadcastKey  = "broadcast-key-0123456789-0123456789-abcdef"
	instanceID    = "ins_realtime_test"
)

type bundle struct {
	srv *realtime.Server
	ts  *httptest.Server
	reg *prometheus.Registry
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("REALTIME_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// setup starts a Server behind a real HTTP server, with nothing applied.
func setup(t *testing.T) *bundle {
	t.Helper()
	reg := prometheus.NewRegistry()
	srv, err := realtime.New(realtime.Options{
		Logger:          testLogger(t),
		Registerer:      reg,
		Gatherer:        reg,
		ShutdownTimeout: 5 * time.Second,
	})
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		ts.Close()
	})
	return &bundle{srv: srv, ts: ts, reg: reg}
}

// baseConfig is a complete config; tests change what they need.
func baseConfig() *switchboardv1.RealtimeConfig {
	return &switchboardv1.RealtimeConfig{
		JwtSecret:     jwtSecret,
		StreamsSecret: streamsSecret,
		BroadcastKey:  broadcastKey,
	}
}

func payload(version int64, cfg *switchboardv1.RealtimeConfig) *artifactv1.Payload {
	return &artifactv1.Payload{
		InstanceId: instanceID,
		Kind:       artifactv1.Kind_KIND_REALTIME,
		Version:    version,
		IssueTime:  timestamppb.Now(),
		Spec:       &artifactv1.Payload_Realtime{Realtime: cfg},
	}
}

func (b *bundle) apply(t *testing.T, version int64, cfg *switchboardv1.RealtimeConfig) {
	t.Helper()
	require.NoError(t, b.srv.Apply(t.Context(), payload(version, cfg)))
}

// token returns an HS256 JWT with AnyCable's `ext` identifiers claim.
func token(t *testing.T, secret, userID string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	ids, err := json.Marshal(map[string]string{"user_id": userID})
	require.NoError(t, err)
	claims, err := json.Marshal(map[string]any{"ext": string(ids), "exp": time.Now().Add(time.Hour).Unix()})
	require.NoError(t, err)
	signing := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// signStream signs a stream name the way Rails' MessageVerifier (and
// AnyCable's signed streams) do: base64(JSON(name)) + "--" +
// hex(HMAC-SHA256(secret, base64 part)).
func signStream(secret, stream string) string {
	j, _ := json.Marshal(stream)
	encoded := base64.StdEncoding.EncodeToString(j)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(encoded))
	return encoded + "--" + hex.EncodeToString(mac.Sum(nil))
}

func (b *bundle) wsURL(query url.Values) string {
	u := "ws" + strings.TrimPrefix(b.ts.URL, "http") + "/cable"
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	return u
}

type client struct {
	t    *testing.T
	conn *websocket.Conn
}

// dial connects with the Action Cable subprotocol; jid may be empty.
func (b *bundle) dial(t *testing.T, jid string, header http.Header) (*client, *http.Response, error) {
	t.Helper()
	q := url.Values{}
	if jid != "" {
		q.Set("jid", jid)
	}
	d := websocket.Dialer{Subprotocols: []string{"actioncable-v1-json"}, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(b.wsURL(q), header)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn}, resp, nil
}

// connect dials and expects a welcome.
func (b *bundle) connect(t *testing.T, jid string) *client {
	t.Helper()
	c, resp, err := b.dial(t, jid, nil)
	require.NoError(t, err, "dial: %v", resp)
	require.Equal(t, "actioncable-v1-json", c.conn.Subprotocol())
	msg := c.read()
	require.Equal(t, "welcome", msg["type"], "first message: %v", msg)
	return c
}

// read returns the next message other than a ping.
func (c *client) read() map[string]any {
	c.t.Helper()
	for {
		require.NoError(c.t, c.conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, data, err := c.conn.ReadMessage()
		require.NoError(c.t, err)
		var m map[string]any
		require.NoError(c.t, json.Unmarshal(data, &m), "message %s", data)
		if m["type"] == "ping" {
			continue
		}
		return m
	}
}

// closed reads until the connection ends and returns the close error.
func (c *client) closed() error {
	c.t.Helper()
	for {
		require.NoError(c.t, c.conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		if _, _, err := c.conn.ReadMessage(); err != nil {
			return err
		}
	}
}

func pubsubIdentifier(key, value string) string {
	id, _ := json.Marshal(map[string]string{"channel": "$pubsub", key: value})
	return string(id)
}

// subscribe sends a subscribe command and returns the answer's type.
func (c *client) subscribe(identifier string) string {
	c.t.Helper()
	cmd, _ := json.Marshal(map[string]string{"command": "subscribe", "identifier": identifier})
	require.NoError(c.t, c.conn.WriteMessage(websocket.TextMessage, cmd))
	msg := c.read()
	require.Equal(c.t, identifier, msg["identifier"], "answer: %v", msg)
	return msg["type"].(string)
}

// broadcast posts to /_broadcast with key (none if empty).
func (b *bundle) broadcast(t *testing.T, key, stream, data string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"stream": stream, "data": data})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.ts.URL+"/_broadcast", strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := b.ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (b *bundle) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := b.ts.Client().Get(b.ts.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	return promtest.Value(t, reg, name, labels...)
}
