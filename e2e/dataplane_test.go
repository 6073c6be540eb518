package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/apitest"
	"github.com/switchboardhq/switchboard/blob"
	"github.com/switchboardhq/switchboard/blob/blobtest"
	"github.com/switchboardhq/switchboard/compile"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
	"github.com/switchboardhq/switchboard/postgres/pgtest"
)

// product is the whole product over real processes: localfly running the
// real data-plane binaries, an api+worker process, a separate CDN process
// (so it can be stopped alone), Postgres and versitygw.
type product struct {
	bin, flyURL, apiURL, cdnURL, cdnAddr string
	env                                  []string
	s3                                   blob.Config
	blobs                                *blob.Store
	cdn                                  *proc
	api                                  apitest.Clients
	owner                                *apitest.User
}

func newProduct(t *testing.T) *product {
	t.Helper()
	p := &product{bin: binaries(t), s3: blobtest.NewConfig(t)}
	kr, err := compile.NewKeyring(must(compile.GenerateKey()))
	require.NoError(t, err)
	p.blobs, err = blob.New(context.Background(), p.s3)
	require.NoError(t, err)
	require.NoError(t, p.blobs.EnsureBucket(context.Background()))
	p.cdnAddr = freeAddr(t)
	p.cdnURL = "http://" + p.cdnAddr
	p.env = []string{
		"DATABASE_URL=" + pgtest.NewDatabase(t), "SWITCHBOARD_SIGNING_KEYS=" + kr.Encode(),
		"S3_ENDPOINT=" + p.s3.Endpoint, "S3_BUCKET=" + p.s3.Bucket, "S3_REGION=" + p.s3.Region,
		"S3_ACCESS_KEY_ID=" + p.s3.AccessKeyID, "S3_SECRET_ACCESS_KEY=" + p.s3.SecretAccessKey,
		"SWITCHBOARD_NOTIFY_SECRET=e2e-notify", "SWITCHBOARD_CDN_ADDR=" + p.cdnAddr, "SWITCHBOARD_CDN_URL=" + p.cdnURL,
		"SWITCHBOARD_ALLOW_PRIVATE_TARGETS=true",
	}
	spec, err := filepath.Abs("../../shared/specs/fly-machines-api.swagger.json")
	require.NoError(t, err)
	flyAddr := freeAddr(t)
	start(t, "localfly", nil, filepath.Join(p.bin, "localfly"), "--addr", flyAddr, "--token", flyToken, "--spec", spec,
		"--data-dir", t.TempDir(),
		"--image", "switchboard/breaker="+filepath.Join(p.bin, "breaker"), "--image", "switchboard/realtime="+filepath.Join(p.bin, "realtime"))
	p.flyURL = "http://" + flyAddr
	waitHTTP(t, p.flyURL+"/v1/apps")

	p.startCDN(t)
	apiAddr := freeAddr(t)
	env := append(slices.Clone(p.env), "FLY_API_TOKEN="+flyToken, "FLY_FLAPS_BASE_URL="+p.flyURL, "LOCALFLY=1")
	start(t, "api+worker", env, filepath.Join(p.bin, "switchboard"), "serve", "--roles=api,worker", "--addr", apiAddr)
	p.apiURL = "http://" + apiAddr
	waitHTTP(t, p.apiURL+"/healthz")
	p.api = apitest.NewClients(http.DefaultClient, p.apiURL)

	email := fmt.Sprintf("dp-%d@example.com", time.Now().UnixNano())
	res, err := p.api.Auth.SignUp(context.Background(), &switchboardv1.SignUpRequest{Email: email, Password: "correct horse battery", Name: "E2E"})
	require.NoError(t, err)
	p.owner = &apitest.User{ID: res.User.Id, Email: email, Token: res.SessionToken, OrgID: res.Organization.Id}
	return p
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// startCDN runs `switchboard serve --roles=cdn` on the stack's CDN address.
func (p *product) startCDN(t *testing.T) {
	t.Helper()
	env := slices.DeleteFunc(slices.Clone(p.env), func(e string) bool {
		return strings.HasPrefix(e, "DATABASE_URL=") || strings.HasPrefix(e, "SWITCHBOARD_SIGNING_KEYS=") // the CDN needs neither
	})
	p.cdn = start(t, "cdn", env, filepath.Join(p.bin, "switchboard"), "serve", "--roles=cdn")
	waitHTTP(t, p.cdnURL+"/healthz")
}

// instance creates an instance and waits until it runs; it returns its id and URL.
func (p *product) instance(t *testing.T, name string, kind switchboardv1.InstanceKind) (string, string) {
	t.Helper()
	ctx := p.owner.Ctx()
	res, err := p.api.Instances.CreateInstance(ctx, &switchboardv1.CreateInstanceRequest{OrganizationId: p.owner.OrgID, Name: name, Kind: kind})
	require.NoError(t, err)
	var inst *switchboardv1.Instance
	require.Eventually(t, func() bool {
		got, err := p.api.Instances.GetInstance(ctx, &switchboardv1.GetInstanceRequest{Id: res.Instance.Id})
		require.NoError(t, err)
		inst = got.Instance
		require.NotEqual(t, switchboardv1.InstanceState_INSTANCE_STATE_FAILED, inst.State, inst.FailureReason)
		return inst.State == switchboardv1.InstanceState_INSTANCE_STATE_RUNNING
	}, 60*time.Second, 100*time.Millisecond)
	return inst.Id, inst.EndpointUrl
}

func (p *product) updateBreaker(t *testing.T, id string, cfg *switchboardv1.BreakerConfig) int64 {
	t.Helper()
	cur, err := p.api.Configs.GetConfig(p.owner.Ctx(), &switchboardv1.GetConfigRequest{InstanceId: id})
	require.NoError(t, err)
	res, err := p.api.Configs.UpdateConfig(p.owner.Ctx(), &switchboardv1.UpdateConfigRequest{InstanceId: id, BaseVersion: cur.Config.Version,
		Spec: &switchboardv1.UpdateConfigRequest_Breaker{Breaker: cfg}})
	require.NoError(t, err)
	return res.Config.Version
}

// breakerStatus is the data plane's /_switchboard/status.
type breakerStatus struct {
	Ready          bool   `json:"ready"`
	AppliedVersion int64  `json:"applied_version"`
	Source         string `json:"source"`
	Services       []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	} `json:"services"`
}

func status(t *testing.T, endpoint string) breakerStatus {
	t.Helper()
	var st breakerStatus
	res, err := http.Get(endpoint + "/_switchboard/status")
	require.NoError(t, err)
	defer res.Body.Close()
	require.NoError(t, json.NewDecoder(res.Body).Decode(&st))
	return st
}

func (st breakerStatus) state(service string) string {
	for _, s := range st.Services {
		if s.Name == service {
			return s.State
		}
	}
	return ""
}

func waitApplied(t *testing.T, endpoint string, version int64, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	require.Eventually(t, func() bool { return status(t, endpoint).AppliedVersion >= version }, within, 20*time.Millisecond,
		"version %d never applied", version)
	return time.Since(start)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// upstream is a test server that fails on demand and counts its calls.
type upstream struct {
	*httptest.Server
	failing atomic.Bool
	calls   atomic.Int64
}

func newUpstream(t *testing.T, name string) *upstream {
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.calls.Add(1)
		if u.failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s:%s", name, r.URL.Path)
	}))
	t.Cleanup(u.Close)
	return u
}

func breakerConfig(a, b *upstream) *switchboardv1.BreakerConfig {
	svc := func(name, url string) *switchboardv1.BreakerService {
		return &switchboardv1.BreakerService{Name: name, UpstreamUrl: url, MinimumCalls: 5, WindowSize: 10,
			FailureRateThreshold: 50, WaitInOpenMs: 1000, HalfOpenPermittedCalls: 2,
			Fallback: &switchboardv1.FallbackResponse{Status: 503, Body: "fallback for " + name}}
	}
	return &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{svc("pay", a.URL), svc("search", b.URL)}}
}

// TestBreakerEndToEnd: sign up → breaker instance → config with two
// upstreams → traffic → one upstream fails → its breaker opens and the
// fallback answers at once → heal → half-open probes close it; the other
// service is untouched; forced_open through the API lands within 2 s.
func TestBreakerEndToEnd(t *testing.T) {
	t.Parallel()
	p := newProduct(t)
	pay, search := newUpstream(t, "pay"), newUpstream(t, "search")
	id, endpoint := p.instance(t, "edge", switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER)
	v := p.updateBreaker(t, id, breakerConfig(pay, search))
	waitApplied(t, endpoint, v, 20*time.Second)

	code, body := get(t, endpoint+"/pay/charge")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "pay:/charge", body)
	code, body = get(t, endpoint+"/search/q")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "search:/q", body)

	// With one success already in the window, the breaker opens once
	// minimum_calls (5) are recorded and failures are ≥ 50%: at the 4th failure.
	pay.failing.Store(true)
	for i := range 4 {
		code, _ := get(t, endpoint+"/pay/charge")
		require.Equal(t, http.StatusInternalServerError, code, "call %d reaches the failing upstream", i)
	}
	require.Equal(t, "open", status(t, endpoint).state("pay"))
	calls := pay.calls.Load()
	code, body = get(t, endpoint+"/pay/charge")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "fallback for pay", body)
	require.Equal(t, calls, pay.calls.Load(), "an open breaker must not call the upstream")
	code, _ = get(t, endpoint+"/search/q")
	require.Equal(t, http.StatusOK, code, "the other service is untouched")
	require.Equal(t, "closed", status(t, endpoint).state("search"))

	pay.failing.Store(false)
	time.Sleep(1100 * time.Millisecond) // wait_in_open_ms
	for range 2 {                       // half_open_permitted_calls probes succeed
		code, _ := get(t, endpoint+"/pay/charge")
		require.Equal(t, http.StatusOK, code)
	}
	require.Equal(t, "closed", status(t, endpoint).state("pay"))

	cfg := breakerConfig(pay, search)
	cfg.Services[0].ForcedState = switchboardv1.ForcedState_FORCED_STATE_FORCED_OPEN
	v = p.updateBreaker(t, id, cfg)
	// The promise is 2 s (cmd/breaker's test holds it in-process); here, with
	// other e2e tests and the race detector on two cores, allow more and
	// report the figure.
	took := waitApplied(t, endpoint, v, 10*time.Second)
	t.Logf("forced_open_applied_ms=%d", took.Milliseconds())
	code, body = get(t, endpoint+"/pay/charge")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "fallback for pay", body)

	rollout, err := p.api.Configs.GetRollout(p.owner.Ctx(), &switchboardv1.GetRolloutRequest{InstanceId: id})
	require.NoError(t, err)
	require.NotEmpty(t, rollout.Nodes)
}

// TestDataPlaneSurvivesCDNOutage stops the CDN under steady traffic: no
// request fails because of it; a data plane restarted during the outage
// serves from its cache; a change made during the outage lands once the
// CDN is back.
func TestDataPlaneSurvivesCDNOutage(t *testing.T) {
	t.Parallel()
	outage := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("E2E_OUTAGE")); err == nil {
		outage = d
	}
	p := newProduct(t)
	pay, search := newUpstream(t, "pay"), newUpstream(t, "search")
	id, endpoint := p.instance(t, "steady", switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER)
	v1 := p.updateBreaker(t, id, breakerConfig(pay, search))
	waitApplied(t, endpoint, v1, 20*time.Second)

	var sent, failed atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // steady traffic
		defer close(done)
		client := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			res, err := client.Get(endpoint + "/search/q")
			sent.Add(1)
			if err != nil || res.StatusCode != http.StatusOK {
				failed.Add(1)
			}
			if err == nil {
				res.Body.Close()
			}
		}
	}()

	p.cdn.stop()
	cfg := breakerConfig(pay, search)
	cfg.Services = append(cfg.Services, &switchboardv1.BreakerService{Name: "added", UpstreamUrl: pay.URL})
	v2 := p.updateBreaker(t, id, cfg) // made while the CDN is down
	time.Sleep(outage)
	close(stop)
	<-done
	require.Greater(t, sent.Load(), int64(outage/(100*time.Millisecond)))
	require.Zero(t, failed.Load(), "requests failed during the CDN outage")
	t.Logf("outage_requests=%d outage_failed=%d", sent.Load(), failed.Load())
	require.EqualValues(t, v1, status(t, endpoint).AppliedVersion)

	// Restart the data plane while the CDN is still down: it serves from its cache.
	_, err := p.api.Instances.RestartInstance(p.owner.Ctx(), &switchboardv1.RestartInstanceRequest{Id: id})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		res, err := http.Get(endpoint + "/_switchboard/status")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var st breakerStatus
		return json.NewDecoder(res.Body).Decode(&st) == nil && st.Ready && st.Source == "cache"
	}, 30*time.Second, 50*time.Millisecond, "the restarted data plane did not come back from its cache")
	code, _ := get(t, endpoint+"/search/q")
	require.Equal(t, http.StatusOK, code)

	// The CDN comes back: the change made during the outage is applied.
	p.startCDN(t)
	waitApplied(t, endpoint, v2, 30*time.Second)
	code, _ = get(t, endpoint+"/added/x")
	require.Equal(t, http.StatusOK, code)
}

// TestRejectedArtifactsKeepTheLastGoodConfig puts bad artifacts in S3 where
// the CDN serves them: the data plane refuses each, keeps serving, and the
// rejection shows in its metrics and in GetRollout.
func TestRejectedArtifactsKeepTheLastGoodConfig(t *testing.T) {
	t.Parallel()
	p := newProduct(t)
	pay, search := newUpstream(t, "pay"), newUpstream(t, "search")
	a, endpoint := p.instance(t, "target", switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER)
	b, _ := p.instance(t, "other", switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER)
	va := p.updateBreaker(t, a, breakerConfig(pay, search))
	waitApplied(t, endpoint, va, 20*time.Second)
	va = p.updateBreaker(t, a, breakerConfig(search, pay)) // v2, so v1 is "older"
	waitApplied(t, endpoint, va, 20*time.Second)
	vb := p.updateBreaker(t, b, breakerConfig(pay, search))
	ctx := context.Background()
	var otherArtifact []byte
	require.Eventually(t, func() bool {
		got, err := p.blobs.Get(ctx, switchboard.ArtifactKey(b, vb), "")
		if err != nil {
			return false
		}
		otherArtifact = got.Body
		return true
	}, 20*time.Second, 50*time.Millisecond)
	good := must(p.blobs.Get(ctx, switchboard.ArtifactKey(a, va), "")).Body
	older := must(p.blobs.Get(ctx, switchboard.ArtifactKey(a, va-1), "")).Body
	tampered := slices.Clone(good)
	tampered[len(tampered)/2] ^= 0xff

	for _, c := range []struct {
		reason string
		body   []byte
	}{
		{"bad_signature", tampered},
		{"wrong_instance", otherArtifact},
		{"old_version", older},
		{"too_large", append(slices.Clone(good), make([]byte, compile.MaxArtifactBytes)...)},
	} {
		_, err := p.blobs.Put(ctx, switchboard.LatestArtifactKey(a), c.body, switchboard.ArtifactContentType)
		require.NoError(t, err)
		p.notifyCDN(t, a)
		require.Eventually(t, func() bool { return rejections(t, endpoint, c.reason) > 0 }, 20*time.Second, 50*time.Millisecond,
			"no %s rejection counted", c.reason)
		st := status(t, endpoint)
		require.True(t, st.Ready)
		require.EqualValues(t, va, st.AppliedVersion, "kept the last good config")
		code, _ := get(t, endpoint+"/pay/x")
		require.Equal(t, http.StatusOK, code)
	}
	require.Eventually(t, func() bool {
		r, err := p.api.Configs.GetRollout(p.owner.Ctx(), &switchboardv1.GetRolloutRequest{InstanceId: a})
		require.NoError(t, err)
		return len(r.Nodes) == 1 && r.Nodes[0].LastError != "" && r.Nodes[0].AppliedVersion == va
	}, 45*time.Second, 200*time.Millisecond, "GetRollout never showed the rejection")
}

func (p *product) notifyCDN(t *testing.T, id string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.cdnURL+"/internal/notify", strings.NewReader(`{"instance_id":"`+id+`"}`))
	require.NoError(t, err)
	req.Header.Set("X-Switchboard-Notify-Secret", "e2e-notify")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusAccepted, res.StatusCode)
}

// rejections reads switchboard_config_rejections_total{reason} from the data plane.
func rejections(t *testing.T, endpoint, reason string) float64 {
	t.Helper()
	_, body := get(t, endpoint+"/_switchboard/metrics")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "switchboard_config_rejections_total{") && strings.Contains(line, `reason="`+reason+`"`) {
			var v float64
			_, _ = fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v)
			return v
		}
	}
	return 0
}

// TestColdStartWithoutCacheOrCDN: a data plane with nothing to go on says
// it is not ready and proxies nothing.
func TestColdStartWithoutCacheOrCDN(t *testing.T) {
	t.Parallel()
	bin := binaries(t)
	addr := freeAddr(t)
	kr := must(compile.NewKeyring(must(compile.GenerateKey())))
	_, port, _ := strings.Cut(addr, ":")
	start(t, "breaker", []string{"PORT=" + port, "SWITCHBOARD_INSTANCE_ID=ins_06h2axpxg3ghk455mxrnfscxxg",
		"SWITCHBOARD_TOKEN=sb_dp_06h2axpxg3ghk455mxrnfscxxg_" + strings.Repeat("a", 52), "SWITCHBOARD_CDN_URL=http://127.0.0.1:1",
		"SWITCHBOARD_TRUSTED_KEYS=" + kr.TrustedKeys().String(), "SWITCHBOARD_CACHE_DIR=" + t.TempDir()},
		filepath.Join(bin, "breaker"))
	waitHTTP(t, "http://"+addr+"/_switchboard/healthz")
	code, _ := get(t, "http://"+addr+"/_switchboard/readyz")
	require.Equal(t, http.StatusServiceUnavailable, code)
	code, body := get(t, "http://"+addr+"/anything/at/all")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, strings.ToLower(body), "config")
}

// TestRealtimeEndToEnd: a realtime instance with JWT and stream secrets set
// through the API; a WebSocket client with a JWT subscribes to a signed
// stream and receives an HTTP broadcast; a bad JWT is refused.
func TestRealtimeEndToEnd(t *testing.T) {
	t.Parallel()
	p := newProduct(t)
	id, endpoint := p.instance(t, "chat", switchboardv1.InstanceKind_INSTANCE_KIND_REALTIME)
	jwtSecret, streamsSecret, broadcastKey := strings.Repeat("j", 40), strings.Repeat("s", 40), strings.Repeat("b", 40)
	_, err := p.api.Configs.UpdateConfig(p.owner.Ctx(), &switchboardv1.UpdateConfigRequest{InstanceId: id,
		Spec: &switchboardv1.UpdateConfigRequest_Realtime{Realtime: &switchboardv1.RealtimeConfig{
			JwtSecret: jwtSecret, StreamsSecret: streamsSecret, BroadcastKey: broadcastKey}}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { code, _ := get(t, endpoint+"/readyz"); return code == http.StatusOK },
		20*time.Second, 50*time.Millisecond)

	ws := "ws" + strings.TrimPrefix(endpoint, "http") + "/cable?jid="
	dialer := websocket.Dialer{Subprotocols: []string{"actioncable-v1-json"}, HandshakeTimeout: 5 * time.Second}
	conn, _, err := dialer.Dial(ws+url.QueryEscape(jwt(jwtSecret, "ada")), nil)
	require.NoError(t, err)
	defer conn.Close()
	require.Equal(t, "welcome", readMessage(t, conn)["type"])

	identifier := must(json.Marshal(map[string]string{"channel": "$pubsub", "signed_stream_name": signStream(streamsSecret, "room-1")}))
	require.NoError(t, conn.WriteJSON(map[string]string{"command": "subscribe", "identifier": string(identifier)}))
	require.Equal(t, "confirm_subscription", readMessage(t, conn)["type"])

	body := must(json.Marshal(map[string]string{"stream": "room-1", "data": `{"text":"hello"}`}))
	req := must(http.NewRequest(http.MethodPost, endpoint+"/_broadcast", strings.NewReader(string(body))))
	req.Header.Set("Authorization", "Bearer "+broadcastKey)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Less(t, res.StatusCode, 300)
	msg := readMessage(t, conn)
	require.Equal(t, map[string]any{"text": "hello"}, msg["message"])

	bad, _, err := dialer.Dial(ws+url.QueryEscape(jwt("not-the-secret-not-the-secret-not-the", "eve")), nil)
	require.NoError(t, err)
	defer bad.Close()
	first := readMessage(t, bad)
	require.Equal(t, "disconnect", first["type"])
	require.Equal(t, "unauthorized", first["reason"])
}

func readMessage(t *testing.T, conn *websocket.Conn) map[string]any {
	t.Helper()
	for {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		var m map[string]any
		require.NoError(t, conn.ReadJSON(&m))
		if m["type"] != "ping" {
			return m
		}
	}
}

// jwt is an HS256 token carrying AnyCable's identifiers claim.
func jwt(secret, user string) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	ids := must(json.Marshal(map[string]string{"user_id": user}))
	claims := must(json.Marshal(map[string]any{"ext": string(ids), "exp": time.Now().Add(time.Hour).Unix()}))
	signing := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// signStream signs a stream name as Rails' MessageVerifier (and AnyCable) do.
func signStream(secret, stream string) string {
	encoded := base64.StdEncoding.EncodeToString(must(json.Marshal(stream)))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(encoded))
	return encoded + "--" + hex.EncodeToString(mac.Sum(nil))
}
