package realtime_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
)

func TestNotReadyBeforeFirstApply(t *testing.T) {
	t.Parallel()
	b := setup(t)

	code, _ := b.get(t, "/healthz")
	require.Equal(t, http.StatusOK, code)
	for _, path := range []string{"/readyz", "/cable", "/events?stream=x", "/_broadcast"} {
		code, body := b.get(t, path)
		require.Equal(t, http.StatusServiceUnavailable, code, path)
		require.Contains(t, body, "not ready", path)
	}
	_, resp, err := b.dial(t, token(t, jwtSecret, "1"), nil)
	require.ErrorIs(t, err, websocket.ErrBadHandshake)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, http.StatusServiceUnavailable, b.broadcast(t, broadcastKey, "s", `"x"`))
	require.False(t, b.srv.Ready())

	b.apply(t, 1, baseConfig())
	require.True(t, b.srv.Ready())
	code, _ = b.get(t, "/readyz")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 1.0, metricValue(t, b.reg, "switchboard_realtime_node_starts_total"))
	require.GreaterOrEqual(t, metricValue(t, b.reg, "switchboard_realtime_refused_total", "reason", "not_ready"), 5.0)

	code, body := b.get(t, "/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "switchboard_realtime_connections")
	require.Contains(t, body, "anycable_go_", "AnyCable's own metrics")
}

func TestApplyRejectsAWrongPayload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := b.srv.Apply(t.Context(), &artifactv1.Payload{InstanceId: instanceID, Kind: artifactv1.Kind_KIND_BREAKER, Version: 1})
	require.Error(t, err)
	cfg := baseConfig()
	cfg.JwtSecret = "short"
	require.Error(t, b.srv.Apply(t.Context(), payload(1, cfg)))
	require.False(t, b.srv.Ready())
}

func TestJWTIdentification(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.apply(t, 1, baseConfig())

	t.Run("valid token gets a welcome", func(t *testing.T) {
		b.connect(t, token(t, jwtSecret, "42"))
	})
	t.Run("valid token in the X-Jid header", func(t *testing.T) {
		c, _, err := b.dial(t, "", http.Header{"X-Jid": {token(t, jwtSecret, "42")}})
		require.NoError(t, err)
		require.Equal(t, "welcome", c.read()["type"])
	})
	for name, jid := range map[string]string{
		"token signed with another secret": token(t, "another-secret-0123456789-0123456789", "42"),
		"garbage token":                    "not.a.jwt",
		"no token":                         "",
	} {
		t.Run(name+" is refused", func(t *testing.T) {
			c, _, err := b.dial(t, jid, nil)
			require.NoError(t, err, "the upgrade succeeds; AnyCable refuses in the protocol")
			msg := c.read()
			require.Equal(t, "disconnect", msg["type"])
			require.Equal(t, "unauthorized", msg["reason"])
			require.Equal(t, false, msg["reconnect"])
			require.Error(t, c.closed())
		})
	}
}

func TestNoJWTSecretRefusesEveryone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := baseConfig()
	cfg.JwtSecret = ""
	b.apply(t, 1, cfg)
	c, _, err := b.dial(t, token(t, jwtSecret, "1"), nil)
	require.NoError(t, err)
	msg := c.read()
	require.Equal(t, "disconnect", msg["type"])
	require.Equal(t, "unauthorized", msg["reason"])
}

func TestSignedStreamAndHTTPBroadcast(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.apply(t, 1, baseConfig())
	c := b.connect(t, token(t, jwtSecret, "42"))

	id := pubsubIdentifier("signed_stream_name", signStream(streamsSecret, "chat:1"))
	require.Equal(t, "confirm_subscription", c.subscribe(id))

	require.Equal(t, http.StatusCreated, b.broadcast(t, broadcastKey, "chat:1", `{"text":"hello"}`))
	msg := c.read()
	require.Equal(t, id, msg["identifier"])
	require.Equal(t, map[string]any{"text": "hello"}, msg["message"])

	t.Run("wrong signature is rejected", func(t *testing.T) {
		c := b.connect(t, token(t, jwtSecret, "43"))
		bad := pubsubIdentifier("signed_stream_name", signStream("another-secret-0123456789-0123456789", "chat:1"))
		require.Equal(t, "reject_subscription", c.subscribe(bad))
	})
	t.Run("unsigned stream is rejected without public_streams", func(t *testing.T) {
		c := b.connect(t, token(t, jwtSecret, "44"))
		require.Equal(t, "reject_subscription", c.subscribe(pubsubIdentifier("stream_name", "chat:1")))
	})
}

func TestPublicStreams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := baseConfig()
	cfg.PublicStreams = true
	b.apply(t, 1, cfg)
	c := b.connect(t, token(t, jwtSecret, "42"))
	id := pubsubIdentifier("stream_name", "news")
	require.Equal(t, "confirm_subscription", c.subscribe(id))
	require.Equal(t, http.StatusCreated, b.broadcast(t, broadcastKey, "news", `"extra"`))
	require.Equal(t, "extra", c.read()["message"])
}

func TestNoStreamsSecretVerifiesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := baseConfig()
	cfg.StreamsSecret = ""
	b.apply(t, 1, cfg)
	c := b.connect(t, token(t, jwtSecret, "42"))
	require.Equal(t, "reject_subscription", c.subscribe(pubsubIdentifier("signed_stream_name", signStream("", "chat:1"))))
}

func TestBroadcastAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.apply(t, 1, baseConfig())

	require.Equal(t, http.StatusUnauthorized, b.broadcast(t, "", "s", `"x"`))
	require.Equal(t, http.StatusUnauthorized, b.broadcast(t, broadcastKey+"x", "s", `"x"`))
	require.Equal(t, http.StatusCreated, b.broadcast(t, broadcastKey, "s", `"x"`))
	require.Equal(t, 2.0, metricValue(t, b.reg, "switchboard_realtime_refused_total", "reason", "broadcast_unauthorized"))

	code, _ := b.get(t, "/_broadcast")
	require.Equal(t, http.StatusMethodNotAllowed, code)

	req, _ := http.NewRequest(http.MethodPost, b.ts.URL+"/_broadcast", strings.NewReader("{not json"))
	req.Header.Set("Authorization", "Bearer "+broadcastKey)
	resp, err := b.ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// Without a broadcast_key nothing may broadcast, applied live.
	cfg := baseConfig()
	cfg.BroadcastKey = ""
	b.apply(t, 2, cfg)
	require.Equal(t, http.StatusForbidden, b.broadcast(t, "", "s", `"x"`))
	require.Equal(t, http.StatusForbidden, b.broadcast(t, broadcastKey, "s", `"x"`))
	require.Equal(t, 1.0, metricValue(t, b.reg, "switchboard_realtime_node_starts_total"), "no restart")
}

func TestAllowedOrigins(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := baseConfig()
	cfg.AllowedOrigins = []string{"https://app.example.com", "*.example.org"}
	b.apply(t, 1, cfg)
	jid := token(t, jwtSecret, "1")

	for _, origin := range []string{"https://app.example.com", "https://app.example.com:443", "https://a.example.org", "http://b.c.example.org:8080", ""} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := b.dial(t, jid, h)
		require.NoError(t, err, "origin %q: %v", origin, resp)
		require.Equal(t, "welcome", c.read()["type"], origin)
	}
	for _, origin := range []string{"http://app.example.com", "https://evil.com", "https://example.org", "null", "https://app.example.com.evil.com"} {
		_, resp, err := b.dial(t, jid, http.Header{"Origin": {origin}})
		require.ErrorIs(t, err, websocket.ErrBadHandshake, origin)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, origin)
	}

	// Changed live: no restart, the open connection stays.
	c := b.connect(t, jid)
	cfg.AllowedOrigins = []string{"https://evil.com"}
	b.apply(t, 2, cfg)
	_, resp, err := b.dial(t, jid, http.Header{"Origin": {"https://evil.com"}})
	require.NoError(t, err, "%v", resp)
	_, resp, err = b.dial(t, jid, http.Header{"Origin": {"https://app.example.com"}})
	require.ErrorIs(t, err, websocket.ErrBadHandshake)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, 1.0, metricValue(t, b.reg, "switchboard_realtime_node_starts_total"))
	require.Equal(t, "confirm_subscription", c.subscribe(pubsubIdentifier("signed_stream_name", signStream(streamsSecret, "still"))))
}

func TestMaxConnections(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := baseConfig()
	cfg.MaxConnections = 2
	b.apply(t, 1, cfg)
	jid := token(t, jwtSecret, "1")

	first := b.connect(t, jid)
	b.connect(t, jid)
	_, resp, err := b.dial(t, jid, nil)
	require.ErrorIs(t, err, websocket.ErrBadHandshake)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	code, _ := b.get(t, "/events?stream=x&jid="+url.QueryEscape(jid))
	require.Equal(t, http.StatusServiceUnavailable, code, "SSE counts too")
	require.Equal(t, 2.0, metricValue(t, b.reg, "switchboard_realtime_connections"))

	// Closing one frees its slot.
	require.NoError(t, first.conn.Close())
	require.Eventually(t, func() bool {
		return metricValue(t, b.reg, "switchboard_realtime_connections") == 1
	}, 5*time.Second, 10*time.Millisecond)
	b.connect(t, jid)

	// Raised live.
	cfg.MaxConnections = 0
	b.apply(t, 2, cfg)
	b.connect(t, jid)
	require.Equal(t, 1.0, metricValue(t, b.reg, "switchboard_realtime_node_starts_total"))
}

func TestSSE(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.apply(t, 1, baseConfig())

	q := url.Values{"jid": {token(t, jwtSecret, "7")}, "signed_stream": {signStream(streamsSecret, "feed")}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.ts.URL+"/events?"+q.Encode(), nil)
	req.Header.Set("Origin", "https://app.example.com")
	resp, err := b.ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "https://app.example.com", resp.Header.Get("Access-Control-Allow-Origin"))
	events := sseEvents(resp)

	waitFor(t, events, "confirm_subscription")
	require.Equal(t, http.StatusCreated, b.broadcast(t, broadcastKey, "feed", `{"n":1}`))
	waitFor(t, events, `{"n":1}`)

	// A node restart tells SSE clients to reconnect.
	cfg := baseConfig()
	cfg.JwtSecret = jwtSecret2
	b.apply(t, 2, cfg)
	waitFor(t, events, `"reconnect":true`)
}

// sseEvents streams the data lines of an SSE response.
func sseEvents(resp *http.Response) <-chan string {
	ch := make(chan string, 16)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				ch <- data
			}
		}
	}()
	return ch
}

func waitFor(t *testing.T, events <-chan string, substr string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e, ok := <-events:
			require.True(t, ok, "stream ended before %q", substr)
			if strings.Contains(e, substr) {
				return
			}
		case <-timeout:
			t.Fatalf("no event containing %q", substr)
		}
	}
}

func TestConfigChangeRestartsTheNode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.apply(t, 1, baseConfig())
	oldToken := token(t, jwtSecret, "42")
	c := b.connect(t, oldToken)
	require.Equal(t, "confirm_subscription", c.subscribe(pubsubIdentifier("signed_stream_name", signStream(streamsSecret, "room"))))

	// The same settings again: nothing happens.
	b.apply(t, 2, baseConfig())
	require.Equal(t, 1.0, metricValue(t, b.reg, "switchboard_realtime_node_starts_total"))

	cfg := baseConfig()
	cfg.JwtSecret = jwtSecret2
	b.apply(t, 3, cfg)
	require.Equal(t, 2.0, metricValue(t, b.reg, "switchboard_realtime_node_starts_total"))

	// The old node's client is told to reconnect, then closed with 1001.
	msg := c.read()
	require.Equal(t, "disconnect", msg["type"])
	require.Equal(t, "server_restart", msg["reason"])
	require.Equal(t, true, msg["reconnect"])
	var ce *websocket.CloseError
	require.True(t, errors.As(c.closed(), &ce))
	require.Equal(t, websocket.CloseGoingAway, ce.Code)

	// Reconnecting with the old token is refused by the new node.
	old, _, err := b.dial(t, oldToken, nil)
	require.NoError(t, err)
	msg = old.read()
	require.Equal(t, "disconnect", msg["type"])
	require.Equal(t, "unauthorized", msg["reason"])

	// A token signed with the new secret works, and so do streams.
	n := b.connect(t, token(t, jwtSecret2, "42"))
	id := pubsubIdentifier("signed_stream_name", signStream(streamsSecret, "room"))
	require.Equal(t, "confirm_subscription", n.subscribe(id))
	require.Equal(t, http.StatusCreated, b.broadcast(t, broadcastKey, "room", `"after"`))
	require.Equal(t, "after", n.read()["message"])
	require.Eventually(t, func() bool {
		return metricValue(t, b.reg, "switchboard_realtime_connections") == 1
	}, 5*time.Second, 10*time.Millisecond, "the old node's connections are gone")
}

func TestShutdownDisconnectsWithReconnect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.apply(t, 1, baseConfig())
	c := b.connect(t, token(t, jwtSecret, "1"))
	require.NoError(t, b.srv.Shutdown(t.Context()))
	msg := c.read()
	require.Equal(t, "disconnect", msg["type"])
	require.Equal(t, true, msg["reconnect"])
	require.False(t, b.srv.Ready())
	code, _ := b.get(t, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Error(t, b.srv.Apply(t.Context(), payload(2, baseConfig())))
}

// TestReliableStreamHistory shows the memory broker at work: a client on
// the extended protocol fetches what was broadcast before it subscribed.
func TestReliableStreamHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.apply(t, 1, baseConfig())
	since := time.Now().Unix() - 1
	require.Equal(t, http.StatusCreated, b.broadcast(t, broadcastKey, "log", `"first"`))
	require.Equal(t, http.StatusCreated, b.broadcast(t, broadcastKey, "log", `"second"`))

	d := websocket.Dialer{Subprotocols: []string{"actioncable-v1-ext-json"}}
	conn, _, err := d.Dial(b.wsURL(url.Values{"jid": {token(t, jwtSecret, "1")}}), nil)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn}
	require.Equal(t, "actioncable-v1-ext-json", conn.Subprotocol())
	welcome := c.read()
	require.Equal(t, "welcome", welcome["type"])
	require.NotEmpty(t, welcome["sid"], "a session id, for resumption")

	id := pubsubIdentifier("signed_stream_name", signStream(streamsSecret, "log"))
	require.Equal(t, "confirm_subscription", c.subscribe(id))
	require.NoError(t, conn.WriteJSON(map[string]any{
		"command": "history", "identifier": id, "history": map[string]any{"since": since},
	}))
	var got []any
	for {
		msg := c.read()
		if msg["type"] == "confirm_history" {
			break
		}
		require.NotEmpty(t, msg["epoch"], "%v", msg)
		got = append(got, msg["message"])
	}
	require.Equal(t, []any{"first", "second"}, got)
}
