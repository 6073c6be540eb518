package cdn_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/blob/blobtest"
	"github.com/switchboardhq/switchboard/cdn"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	"github.com/switchboardhq/switchboard/internal/promtest"
)

func TestMain(m *testing.M) { blobtest.Main(m) }

const notifySecret = "notify-secret"

// bundle is one CDN over its own bucket, served over real HTTP.
type bundle struct {
	store  switchboard.BlobStore // what tests publish with, bypassing faults
	faulty *faultyStore          // what the CDN reads through
	cdn    *cdn.Server
	url    string
	reg    *prometheus.Registry
	seq    atomic.Int64
}

type option func(*cdn.Params)

// setup starts a CDN on a fresh bucket of the shared versitygw. The feed
// runs only when runFeed is set, so tests of the notice path see that alone.
func setup(t *testing.T, runFeed bool, opts ...option) *bundle {
	t.Helper()
	return setupWith(t, blobtest.NewStore(t), runFeed, opts...)
}

func setupWith(t *testing.T, store switchboard.BlobStore, runFeed bool, opts ...option) *bundle {
	t.Helper()
	b := &bundle{store: store, faulty: &faultyStore{BlobStore: store}, reg: prometheus.NewRegistry()}
	p := cdn.Params{
		Store:        b.faulty,
		NotifySecret: notifySecret,
		Registry:     b.reg,
		S3Timeout:    2 * time.Second,
	}
	for _, o := range opts {
		o(&p)
	}
	b.cdn = cdn.New(p)
	srv := httptest.NewServer(b.cdn.Handler())
	t.Cleanup(srv.Close)
	b.url = srv.URL
	if runFeed {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = b.cdn.Run(ctx)
		}()
		t.Cleanup(func() { cancel(); <-done })
	}
	return b
}

// newInstance returns a fresh instance id and a data-plane token for it,
// registered in the token registry.
func (b *bundle) newInstance(t *testing.T) (instanceID, token string) {
	t.Helper()
	instanceID = switchboard.NewID(switchboard.PrefixInstance, time.Now())
	return instanceID, b.newToken(t, instanceID)
}

func (b *bundle) newToken(t *testing.T, instanceID string) string {
	t.Helper()
	tokenID := switchboard.NewID(switchboard.PrefixDataPlaneToken, time.Now())
	token := switchboard.NewToken(switchboard.TokenDataPlane, tokenID)
	sum := switchboard.HashToken(token)
	body, err := json.Marshal(switchboard.TokenRegistryEntry{
		TokenID: tokenID, InstanceID: instanceID, SHA256: hex.EncodeToString(sum[:]),
	})
	require.NoError(t, err)
	_, err = b.store.Put(context.Background(), switchboard.TokenRegistryKey(tokenID), body, "application/json")
	require.NoError(t, err)
	return token
}

func (b *bundle) revoke(t *testing.T, token string) {
	t.Helper()
	p, ok := switchboard.ParseToken(token)
	require.True(t, ok)
	require.NoError(t, b.store.Delete(context.Background(), switchboard.TokenRegistryKey(p.ID)))
}

// publish writes an artifact the way publish_config does (without a real
// signature: the CDN does not verify) and returns its bytes.
func (b *bundle) publish(t *testing.T, instanceID string, version int64, feed bool) []byte {
	t.Helper()
	ctx := context.Background()
	payload, err := proto.Marshal(&artifactv1.Payload{InstanceId: instanceID, Version: version})
	require.NoError(t, err)
	body, err := proto.Marshal(&artifactv1.Envelope{Payload: payload, KeyId: "test", Signature: []byte("sig")})
	require.NoError(t, err)
	_, err = b.store.Put(ctx, switchboard.ArtifactKey(instanceID, version), body, switchboard.ArtifactContentType)
	require.NoError(t, err)
	_, err = b.store.Put(ctx, switchboard.LatestArtifactKey(instanceID), body, switchboard.ArtifactContentType)
	require.NoError(t, err)
	if feed {
		b.addChange(t, instanceID)
	}
	return body
}

func (b *bundle) addChange(t *testing.T, instanceID string) {
	t.Helper()
	_, err := b.store.Put(context.Background(), switchboard.ChangeKey(b.seq.Add(1)), []byte(instanceID), "text/plain")
	require.NoError(t, err)
}

func (b *bundle) notify(t *testing.T, instanceID, secret string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.url+"/internal/notify",
		strings.NewReader(`{"instance_id":"`+instanceID+`"}`))
	require.NoError(t, err)
	req.Header.Set(cdn.NotifySecretHeader, secret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

// get fetches an instance's artifact; token and etag may be empty; query is
// appended as is (e.g. "wait=25s").
func (b *bundle) get(t *testing.T, instanceID, token, etag, query string) response {
	t.Helper()
	u := b.url + "/v1/instances/" + instanceID + "/artifact"
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{code: resp.StatusCode, header: resp.Header, body: body}
}

func (b *bundle) getPath(t *testing.T, path string) response {
	t.Helper()
	resp, err := http.Get(b.url + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{code: resp.StatusCode, header: resp.Header, body: body}
}

// metric returns the value of one sample from the CDN's registry.
func (b *bundle) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	return promtest.Value(t, b.reg, name, labels...)
}

var errInjected = errors.New("injected blob store failure")

// faultyStore fails every call while fail is set and counts Gets by key.
type faultyStore struct {
	switchboard.BlobStore
	fail atomic.Bool
	mu   sync.Mutex
	gets map[string]int
}

func (f *faultyStore) Get(ctx context.Context, key, ifNoneMatch string) (*switchboard.Blob, error) {
	f.mu.Lock()
	if f.gets == nil {
		f.gets = make(map[string]int)
	}
	f.gets[key]++
	f.mu.Unlock()
	if f.fail.Load() {
		return nil, errInjected
	}
	return f.BlobStore.Get(ctx, key, ifNoneMatch)
}

func (f *faultyStore) List(ctx context.Context, prefix, startAfter string, limit int) ([]string, error) {
	if f.fail.Load() {
		return nil, errInjected
	}
	return f.BlobStore.List(ctx, prefix, startAfter, limit)
}

func (f *faultyStore) getCount(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets[key]
}
