package e2e

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/apitest"
	"github.com/switchboardhq/switchboard/blob/blobtest"
	"github.com/switchboardhq/switchboard/cdn"
	"github.com/switchboardhq/switchboard/compile"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
	"github.com/switchboardhq/switchboard/workers"
)

// publishing is the API, the publishing workers and a CDN over one real
// versitygw bucket.
type publishing struct {
	env    *apitest.Env
	cdnURL string
	blobs  switchboard.BlobStore
}

func startPublishing(t *testing.T) *publishing {
	t.Helper()
	env := apitest.New(t)
	store := blobtest.NewStore(t)
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := cdn.New(cdn.Params{Store: store, Logger: logger, NotifySecret: "notify-secret"})
	cdnSrv := httptest.NewServer(c.Handler())
	t.Cleanup(cdnSrv.Close)
	go func() { _ = c.Run(ctx) }()

	w := river.NewWorkers()
	workers.RegisterPublishing(w, workers.PublishParams{
		Store: env.Services.Configs, Blobs: store, Keyring: apitest.Keyring, Logger: logger,
		Notifier: &cdn.Notifier{URLs: []string{cdnSrv.URL}, Secret: "notify-secret"},
	})
	client, err := river.NewClient(riverpgxv5.New(env.DB.Pool), &river.Config{
		Logger: logger, Workers: w, Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}},
		FetchCooldown: 20 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.WithoutCancel(ctx)) })
	return &publishing{env: env, cdnURL: cdnSrv.URL, blobs: store}
}

func (p *publishing) fetch(t *testing.T, instanceID, token, etag, wait string) (*http.Response, []byte) {
	t.Helper()
	url := p.cdnURL + "/v1/instances/" + instanceID + "/artifact"
	if wait != "" {
		url += "?wait=" + wait
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, body
}

// eventually polls fetch until want status, returning the response.
func (p *publishing) eventually(t *testing.T, within time.Duration, instanceID, token string, want int) (*http.Response, []byte, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		res, body := p.fetch(t, instanceID, token, "", "")
		if res.StatusCode == want {
			return res, body, time.Since(start)
		}
		require.Less(t, time.Since(start), within, "still %d, want %d: %s", res.StatusCode, want, body)
		time.Sleep(100 * time.Millisecond)
	}
}

func TestPublishThroughCDN(t *testing.T) {
	t.Parallel()
	p := startPublishing(t)
	u := p.env.SignUp(t, "Publisher")
	ctx := u.Ctx()
	newInstance := func(name string) string {
		res, err := p.env.Instances.CreateInstance(ctx, &switchboardv1.CreateInstanceRequest{OrganizationId: u.OrgID, Name: name,
			Kind: switchboardv1.InstanceKind_INSTANCE_KIND_BREAKER})
		require.NoError(t, err)
		return res.Instance.Id
	}
	a, b := newInstance("alpha"), newInstance("beta")
	tok, err := p.env.Tokens.CreateDataPlaneToken(ctx, &switchboardv1.CreateDataPlaneTokenRequest{InstanceId: a, Name: "edge"})
	require.NoError(t, err)
	update := func(base int64, upstream string) {
		_, err := p.env.Configs.UpdateConfig(ctx, &switchboardv1.UpdateConfigRequest{InstanceId: a, BaseVersion: base,
			Spec: &switchboardv1.UpdateConfigRequest_Breaker{Breaker: &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{
				{Name: "api", UpstreamUrl: upstream}}}}})
		require.NoError(t, err)
	}

	// Update → the artifact is fetchable with the new version, and verifies.
	update(0, "https://one.example.com")
	res, body, _ := p.eventually(t, 15*time.Second, a, tok.Secret, http.StatusOK)
	payload, err := compile.Verify(body, apitest.TrustedKeys, 0)
	require.NoError(t, err)
	require.EqualValues(t, 1, payload.Version)
	require.Equal(t, a, payload.InstanceId)
	require.Equal(t, "https://one.example.com", payload.GetBreaker().Services[0].UpstreamUrl)
	etag := res.Header.Get("ETag")
	require.NotEmpty(t, etag)
	cfg, err := p.env.Configs.GetConfig(ctx, &switchboardv1.GetConfigRequest{InstanceId: a})
	require.NoError(t, err)
	require.EqualValues(t, 1, cfg.Config.PublishedVersion)

	// Unchanged ETag → 304.
	res, _ = p.fetch(t, a, tok.Secret, etag, "")
	require.Equal(t, http.StatusNotModified, res.StatusCode)

	// A waiting long-poll answers as soon as the next version is published.
	type polled struct {
		res  *http.Response
		body []byte
		at   time.Time
	}
	done := make(chan polled, 1)
	go func() {
		res, body := p.fetch(t, a, tok.Secret, etag, "25s")
		done <- polled{res, body, time.Now()}
	}()
	time.Sleep(300 * time.Millisecond) // let the poll reach the CDN and wait
	update(1, "https://two.example.com")
	var published time.Time
	for published.IsZero() {
		cfg, err := p.env.Configs.GetConfig(ctx, &switchboardv1.GetConfigRequest{InstanceId: a})
		require.NoError(t, err)
		if cfg.Config.PublishedVersion == 2 {
			published = time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := <-done
	require.Equal(t, http.StatusOK, got.res.StatusCode)
	payload, err = compile.Verify(got.body, apitest.TrustedKeys, 0)
	require.NoError(t, err)
	require.EqualValues(t, 2, payload.Version)
	t.Logf("longpoll_answer_after_publish_ms=%d", got.at.Sub(published).Milliseconds())

	// A token for instance A cannot fetch instance B.
	res, _ = p.fetch(t, b, tok.Secret, "", "")
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	// A tampered artifact fails verification with the trusted keys.
	blob, err := p.blobs.Get(context.Background(), switchboard.ArtifactKey(a, 2), "")
	require.NoError(t, err)
	tampered := append([]byte(nil), blob.Body...)
	i := len(tampered) / 2
	tampered[i] ^= 0x01
	_, err = p.blobs.Put(context.Background(), switchboard.LatestArtifactKey(a), tampered, switchboard.ArtifactContentType)
	require.NoError(t, err)
	_, err = compile.Verify(tampered, apitest.TrustedKeys, 0)
	require.Error(t, err)
	require.True(t, errors.Is(err, compile.ErrBadSignature) || errors.Is(err, compile.ErrMalformed), "%v", err)

	// Revoked → the CDN refuses the token within 10 s (registry cache).
	_, err = p.env.Tokens.RevokeDataPlaneToken(ctx, &switchboardv1.RevokeDataPlaneTokenRequest{Id: tok.Token.Id})
	require.NoError(t, err)
	// The CDN trusts a registry entry for 8 s (cdn.DefaultTokenTTL); the sync
	// job deletes it within moments. Allow slack for a loaded CI machine and
	// report the figure.
	_, _, took := p.eventually(t, 15*time.Second, a, tok.Secret, http.StatusUnauthorized)
	t.Logf("revocation_reached_cdn_ms=%d", took.Milliseconds())
}
