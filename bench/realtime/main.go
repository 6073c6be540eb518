// Command realtime compares broadcast fan-out latency of our realtime data
// plane (dataplane/realtime, AnyCable embedded, a config applied) with stock
// anycable-go v1.5.6 built from the module cache, on this machine, in the
// same run.
//
// Both servers run as their own processes with the same settings: RPC off,
// JWT identification (`?jid=`), signed streams, the memory broker, HTTP
// broadcast with a broadcast key. N WebSocket clients (gorilla/websocket,
// Action Cable JSON protocol) connect to each, identify with a JWT and
// subscribe to one signed stream. Then, alternating between the servers, the
// benchmark POSTs a broadcast to /_broadcast and records, per client, the
// time from just before the POST to the message's arrival. One warm-up round
// per server is dropped.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboardhq/switchboard/bench/internal/benchkit"
	"github.com/switchboardhq/switchboard/dataplane/realtime"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
)

const (
	serveOursArg = "serve-realtime"
	stream       = "bench:broadcast"
	instanceID   = "ins_bench_realtime"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == serveOursArg {
		if err := serveOurs(); err != nil {
			fmt.Fprintln(os.Stderr, "realtime:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/realtime:", err)
		os.Exit(1)
	}
}

// serveOurs is our realtime data plane with the benchmark config applied,
// as cmd/realtime runs it once configsync has applied an artifact.
func serveOurs() error {
	srv, err := realtime.New(realtime.Options{NodeID: "bench"})
	if err != nil {
		return err
	}
	cfg := benchkit.RealtimeConfig()
	cfg.AllowedOrigins = []string{"*"}
	err = srv.Apply(context.Background(), &artifactv1.Payload{
		InstanceId: instanceID,
		Kind:       artifactv1.Kind_KIND_REALTIME,
		Version:    1,
		IssueTime:  timestamppb.Now(),
		Spec:       &artifactv1.Payload_Realtime{Realtime: cfg},
	})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	return benchkit.ServeUntilEOF("127.0.0.1:0", srv)
}

type options struct {
	clients, rounds, dialers int
	timeout, settle          time.Duration
	anycable                 string
}

func run() error {
	var o options
	flag.IntVar(&o.clients, "clients", 5000, "WebSocket clients per server")
	flag.IntVar(&o.rounds, "rounds", 5, "measured broadcasts per server")
	flag.IntVar(&o.dialers, "dialers", 100, "concurrent connection attempts while connecting clients")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long a round waits for every client")
	flag.DurationVar(&o.settle, "settle", time.Second, "pause before each broadcast")
	flag.StringVar(&o.anycable, "anycable", "", "stock anycable-go binary (default .bin/anycable-go)")
	flag.Parse()

	ctx, cancel := benchkit.SignalContext()
	defer cancel()
	if o.anycable == "" {
		root, err := benchkit.Root()
		if err != nil {
			return err
		}
		o.anycable = filepath.Join(root, ".bin", "anycable-go")
	}
	if _, err := os.Stat(o.anycable); err != nil {
		return fmt.Errorf("stock anycable-go: %w (go build -o .bin/anycable-go github.com/anycable/anycable-go/cmd/anycable-go)", err)
	}
	cfg := benchkit.RealtimeConfig()
	procs := fmt.Sprintf("GOMAXPROCS=%d", runtime.NumCPU())

	self, err := os.Executable()
	if err != nil {
		return err
	}
	oursProc, err := benchkit.StartChild(ctx, 30*time.Second, []string{procs}, self, serveOursArg)
	if err != nil {
		return err
	}
	defer oursProc.Stop()

	port, err := benchkit.FreePort()
	if err != nil {
		return err
	}
	stockURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	// The same settings as ours: see dataplane/realtime/node.go.
	stockProc, err := startStock(ctx, o.anycable, procs, port,
		"--norpc", "--disconnect_mode", "never",
		"--jwt_secret", cfg.GetJwtSecret(), "--enforce_jwt",
		"--streams_secret", cfg.GetStreamsSecret(),
		"--broker", "memory", "--broadcast_adapter", "http", "--broadcast_key", cfg.GetBroadcastKey(),
		"--presets", "none", "--log_level", "error")
	if err != nil {
		return err
	}
	defer stockProc.Stop()

	jwt := token(cfg.GetJwtSecret(), "bench-user")
	subscribe, err := json.Marshal(map[string]string{
		"command": "subscribe",
		"identifier": mustJSON(map[string]string{
			"channel":            "$pubsub",
			"signed_stream_name": signStream(cfg.GetStreamsSecret(), stream),
		}),
	})
	if err != nil {
		return err
	}

	servers := []*server{
		{name: "ours", base: oursProc.Ready, key: cfg.GetBroadcastKey()},
		{name: "anycable", base: stockURL, key: cfg.GetBroadcastKey()},
	}
	for _, s := range servers {
		start := time.Now()
		if err := s.connect(ctx, o, jwt, subscribe); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		benchkit.Logf("%s: %d clients connected and subscribed in %s", s.name, o.clients, time.Since(start).Round(time.Millisecond))
	}
	defer func() {
		for _, s := range servers {
			s.close()
		}
	}()

	benchkit.Print("realtime_clients", o.clients)
	for r := 0; r <= o.rounds; r++ {
		for _, s := range servers {
			time.Sleep(o.settle)
			lat, err := s.round(ctx, o, int64(r))
			if err != nil {
				return fmt.Errorf("%s round %d: %w", s.name, r, err)
			}
			st := benchkit.Summarize(lat)
			what := "measured"
			if r == 0 {
				what = "warm-up, dropped"
			} else {
				s.lat = append(s.lat, lat...)
			}
			benchkit.Logf("%s round %d (%s): p50 %sms p99 %sms max %sms", s.name, r, what,
				benchkit.Ms(st.P50), benchkit.Ms(st.P99), benchkit.Ms(st.Max))
		}
	}
	ours, stock := benchkit.Summarize(servers[0].lat), benchkit.Summarize(servers[1].lat)
	benchkit.Print("ours_broadcast_p50_ms", benchkit.Ms(ours.P50))
	benchkit.Print("ours_broadcast_p99_ms", benchkit.Ms(ours.P99))
	benchkit.Print("ours_broadcast_max_ms", benchkit.Ms(ours.Max))
	benchkit.Print("anycable_broadcast_p50_ms", benchkit.Ms(stock.P50))
	benchkit.Print("anycable_broadcast_p99_ms", benchkit.Ms(stock.P99))
	benchkit.Print("anycable_broadcast_max_ms", benchkit.Ms(stock.Max))
	benchkit.Print("ratio_p50", benchkit.Ratio(float64(ours.P50), float64(stock.P50)))
	benchkit.Print("ratio_p99", benchkit.Ratio(float64(ours.P99), float64(stock.P99)))
	for _, s := range servers {
		if n := s.dropped.Load(); n > 0 {
			benchkit.Print(s.name+"_dropped_connections", n)
		}
	}
	return nil
}

// startStock runs stock anycable-go on port and waits for /health.
func startStock(ctx context.Context, bin, procs string, port int, args ...string) (*benchkit.Child, error) {
	args = append(args, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	// anycable-go prints nothing on stdout at log level error; StartChild
	// wants a ready line, so a shell prints one once /health answers.
	script := `"$@" </dev/null & pid=$!
trap 'kill $pid 2>/dev/null' EXIT TERM
for i in $(seq 200); do
	if (exec 3<>/dev/tcp/127.0.0.1/` + strconv.Itoa(port) + `) 2>/dev/null; then echo ready; break; fi
	kill -0 $pid 2>/dev/null || exit 1
	sleep 0.05
done
# Exit (and stop anycable-go) when our stdin closes: the benchmark is gone.
cat >/dev/null
`
	c, err := benchkit.StartChild(ctx, 30*time.Second, []string{procs}, "bash", append([]string{"-c", script, "anycable-go", bin}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("anycable-go: %w", err)
	}
	if err := benchkit.WaitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/health", port), 10*time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// server is one realtime server and its clients.
type server struct {
	name, base, key string
	conns           []*websocket.Conn
	received        chan received
	dropped         atomic.Int64
	lat             []time.Duration
}

type received struct {
	round int64
	at    time.Time
}

// connect opens o.clients connections, each identified and subscribed, and
// starts a reader per connection.
func (s *server) connect(ctx context.Context, o options, jwt string, subscribe []byte) error {
	s.received = make(chan received, o.clients*2)
	s.conns = make([]*websocket.Conn, o.clients)
	dialer := &websocket.Dialer{
		HandshakeTimeout: 30 * time.Second,
		Subprotocols:     []string{"actioncable-v1-json"},
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
	}
	url := "ws" + s.base[len("http"):] + "/cable?jid=" + jwt
	sem := make(chan struct{}, o.dialers)
	errs := make(chan error, o.clients)
	var wg sync.WaitGroup
	for i := range s.conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := dialSubscribed(ctx, dialer, url, subscribe)
			if err != nil {
				errs <- err
				return
			}
			s.conns[i] = c
		}()
		if ctx.Err() != nil {
			break
		}
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		s.close()
		return fmt.Errorf("connecting %d clients: %w", o.clients, err)
	}
	for _, c := range s.conns {
		go s.read(c)
	}
	return nil
}

// dialSubscribed connects, waits for the welcome, subscribes and waits for
// the confirmation.
func dialSubscribed(ctx context.Context, d *websocket.Dialer, url string, subscribe []byte) (*websocket.Conn, error) {
	c, res, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if res != nil {
			b, _ := io.ReadAll(res.Body)
			return nil, fmt.Errorf("dial: %w: %s %s", err, res.Status, b)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var msg struct{ Type, Reason string }
	welcomed := false
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("handshake: %w", err)
		}
		msg.Type, msg.Reason = "", ""
		_ = json.Unmarshal(b, &msg)
		switch msg.Type {
		case "welcome":
			if !welcomed {
				welcomed = true
				if err := c.WriteMessage(websocket.TextMessage, subscribe); err != nil {
					c.Close()
					return nil, err
				}
			}
		case "confirm_subscription":
			_ = c.SetReadDeadline(time.Time{})
			return c, nil
		case "disconnect", "reject_subscription":
			c.Close()
			return nil, fmt.Errorf("refused: %s", b)
		}
	}
}

// read reports every broadcast a connection receives. Broadcast messages
// are {"identifier":…,"message":{"round":R,…}}; pings and the rest are
// skipped without decoding.
func (s *server) read(c *websocket.Conn) {
	marker := []byte(`round`)
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			s.dropped.Add(1)
			return
		}
		now := time.Now()
		i := bytes.Index(b, marker)
		if i < 0 {
			continue
		}
		rest := bytes.TrimLeft(b[i+len(marker):], `\":`) // "round": or, escaped, \"round\":
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		r, err := strconv.ParseInt(string(rest[:j]), 10, 64)
		if err != nil {
			continue
		}
		s.received <- received{round: r, at: now}
	}
}

// round broadcasts one message and waits until every client has it.
func (s *server) round(ctx context.Context, o options, r int64) ([]time.Duration, error) {
	data := fmt.Sprintf(`{"round":%d,"sent_unix_nano":%d,"text":"hello from the benchmark"}`, r, time.Now().UnixNano())
	body := mustJSON(map[string]string{"stream": stream, "data": data})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/_broadcast", bytes.NewReader([]byte(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.key)
	t0 := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return nil, fmt.Errorf("broadcast: %s", res.Status)
	}
	want := len(s.conns) - int(s.dropped.Load())
	lat := make([]time.Duration, 0, want)
	deadline := time.After(o.timeout)
	for len(lat) < want {
		select {
		case m := <-s.received:
			if m.round == r {
				lat = append(lat, m.at.Sub(t0))
			}
		case <-deadline:
			return nil, fmt.Errorf("only %d of %d clients got the broadcast within %s (%d connections dropped)",
				len(lat), want, o.timeout, s.dropped.Load())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return lat, nil
}

func (s *server) close() {
	for _, c := range s.conns {
		if c != nil {
			c.Close()
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// token returns an HS256 JWT with AnyCable's `ext` identifiers claim.
func token(secret, userID string) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	ids := mustJSON(map[string]string{"user_id": userID})
	claims := mustJSON(map[string]any{"ext": ids, "exp": time.Now().Add(24 * time.Hour).Unix()})
	signing := header + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// signStream signs a stream name as Rails' MessageVerifier (and AnyCable's
// signed streams) do: base64(JSON(name)) + "--" + hex(HMAC-SHA256).
func signStream(secret, name string) string {
	encoded := base64.StdEncoding.EncodeToString([]byte(mustJSON(name)))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(encoded))
	return encoded + "--" + hex.EncodeToString(mac.Sum(nil))
}
