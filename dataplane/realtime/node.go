package realtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/anycable/anycable-go/cli"
	"github.com/anycable/anycable-go/config"
	"github.com/anycable/anycable-go/identity"
	metricspkg "github.com/anycable/anycable-go/metrics"
	anode "github.com/anycable/anycable-go/node"

	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// nodeSettings are the settings an AnyCable node fixes when it starts; a
// change to any of them needs a new node. It holds secrets: never log it.
type nodeSettings struct {
	jwtSecret     string
	jwtParam      string
	streamsSecret string
	publicStreams bool
	historyLimit  int
	historyTTL    int64 // seconds
	sessionsTTL   int64 // seconds
}

func nodeSettingsOf(cfg *switchboardv1.RealtimeConfig) nodeSettings {
	return nodeSettings{
		jwtSecret:     cfg.GetJwtSecret(),
		jwtParam:      cfg.GetJwtParam(),
		streamsSecret: cfg.GetStreamsSecret(),
		publicStreams: cfg.GetPublicStreams(),
		historyLimit:  int(cfg.GetHistoryLimit()),
		historyTTL:    int64(cfg.GetHistoryTtlSeconds()),
		sessionsTTL:   int64(cfg.GetSessionsTtlSeconds()),
	}
}

// anycableMu serializes starting and stopping AnyCable nodes in this
// process: cli.NewRunner writes package-level variables of AnyCable's
// server package, and utils.NewGoPool (called when a node starts and when
// it disconnects its clients) appends to a package-level slice unlocked.
var anycableMu sync.Mutex

// node is one running embedded AnyCable node and its HTTP handlers.
type node struct {
	settings  nodeSettings
	embedded  *cli.Embedded
	metrics   *metricspkg.Metrics // nil if AnyCable's instrumenter is not the usual one
	ws        http.Handler
	sse       http.Handler
	broadcast http.Handler
	stopSSE   context.CancelFunc
	conns     *connSet
}

// anycableConfig builds the whole AnyCable configuration from s, starting
// from AnyCable's defaults (config.NewConfig, not cli.NewConfig, so that
// neither ANYCABLE_* variables, nor command-line flags, nor an
// anycable.toml in the working directory can change it).
func anycableConfig(id string, s nodeSettings) *config.Config {
	c := config.NewConfig()
	if id != "" {
		c.ID = id
		c.UserProvidedID = true
	}
	// A non-nil empty list: no presets, in particular not the "fly"
	// preset AnyCable would detect from FLY_* variables (embedded NATS).
	c.UserPresets = []string{}
	// We mount the HTTP broadcast handler ourselves, behind our own
	// authentication; no broadcaster of AnyCable's opens a port.
	c.BroadcastAdapters = []string{}
	c.PubSubAdapter = ""
	c.RPC.Implementation = "none"
	// The JWT identifier reads its header only from the headers the
	// extractor keeps.
	c.RPC.ProxyHeaders = []string{"x-" + strings.ToLower(s.jwtParam)}
	c.RPC.ProxyCookies = nil
	// With RPC off, disconnect callbacks would go nowhere.
	c.App.DisconnectMode = anode.DISCONNECT_MODE_NEVER
	c.DisconnectorDisabled = false

	if s.jwtSecret != "" {
		c.JWT = identity.NewJWTConfig(s.jwtSecret)
		c.JWT.Param = s.jwtParam
		c.JWT.Force = true
	} else {
		// No identifier: the null controller refuses every connection.
		c.JWT = identity.NewJWTConfig("")
	}

	c.Streams.PubSubChannel = "$pubsub"
	c.Streams.Public = s.publicStreams
	c.Streams.Secret = s.streamsSecret
	if c.Streams.Secret == "" {
		// AnyCable's streams controller has no verifier without a secret
		// and would crash on a signed stream; a random one verifies
		// nothing.
		c.Streams.Secret = randomSecret()
	}
	c.Streams.Turbo = false
	c.Streams.CableReady = false
	c.Streams.Whisper = false

	c.Broker.Adapter = "memory"
	c.Broker.HistoryLimit = s.historyLimit
	c.Broker.HistoryTTL = s.historyTTL
	c.Broker.SessionsTTL = s.sessionsTTL

	c.SSE.Enabled = true
	c.SSE.Path = "/events"
	// Origins are checked in front of AnyCable (guard.go), which may
	// change them without a restart.
	c.Server.AllowedOrigins = ""
	c.WS.AllowedOrigins = ""
	c.SSE.AllowedOrigins = ""
	c.HTTPBroadcast.CORSHosts = ""
	c.HTTPBroadcast.Secret = ""
	c.HTTPBroadcast.SecretBase = ""
	c.Secret = ""
	c.BroadcastKey = ""
	c.Server.MaxConn = 0
	c.EmbeddedNats.Enabled = false
	c.Metrics.HTTP = ""
	c.Metrics.Log = false
	return &c
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b)
}

// startNode starts an embedded AnyCable node with s.
func startNode(id string, s nodeSettings, log *slog.Logger) (*node, error) {
	c := anycableConfig(id, s)
	anycableMu.Lock()
	defer anycableMu.Unlock()
	r, err := cli.NewRunner(c, []cli.Option{
		cli.WithName("switchboard-realtime"),
		cli.WithLogger(log),
		cli.WithDefaultRPCController(), // Implementation "none": the null controller
		cli.WithDefaultBroker(),        // "memory"
		cli.WithDefaultSubscriber(),    // in-process
	})
	if err != nil {
		return nil, fmt.Errorf("anycable runner: %w", err)
	}
	e, err := r.Embed()
	if err != nil {
		return nil, fmt.Errorf("anycable embed: %w", err)
	}
	n := &node{settings: s, embedded: e, conns: newConnSet()}
	n.metrics, _ = r.Instrumenter().(*metricspkg.Metrics)
	sseCtx, stopSSE := context.WithCancel(context.Background())
	n.stopSSE = stopSSE
	fail := func(what string, err error) (*node, error) {
		stopSSE()
		_ = e.Shutdown(context.Background())
		return nil, fmt.Errorf("anycable %s handler: %w", what, err)
	}
	if n.ws, err = e.WebSocketHandler(); err != nil {
		return fail("websocket", err)
	}
	if n.sse, err = e.SSEHandler(sseCtx); err != nil {
		return fail("sse", err)
	}
	if n.broadcast, err = e.HTTPBroadcastHandler(); err != nil {
		return fail("broadcast", err)
	}
	return n, nil
}

// shutdown stops the node gracefully: SSE and WebSocket clients get a
// disconnect message with reconnect: true. A WebSocket upgrade that reaches
// the node after this starts is closed at once (the client reconnects, to
// the new node); connections still open when ctx ends are closed.
func (n *node) shutdown(ctx context.Context) error {
	n.conns.seal()
	n.stopSSE()
	anycableMu.Lock()
	err := n.embedded.Shutdown(ctx)
	anycableMu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, drainGrace)
	n.conns.drain(dctx)
	cancel()
	n.conns.closeAll()
	if err != nil {
		return fmt.Errorf("anycable shutdown: %w", err)
	}
	return nil
}

// drainGrace bounds the wait, after AnyCable's shutdown, for sessions to
// write their disconnect message and close frame and close. It is short
// because AnyCable can leave a connection open for good: when a client
// goes away while the node disconnects it, the session may skip closing its
// socket, and only closeAll releases it.
const drainGrace = 2 * time.Second

var errNodeClosed = errors.New("realtime: node is shutting down")
