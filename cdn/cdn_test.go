package cdn_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/blob/blobtest"
	"github.com/switchboardhq/switchboard/cdn"
)

func TestServeArtifact(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ins, token := b.newInstance(t)
	body := b.publish(t, ins, 1, false)

	r := b.get(t, ins, token, "", "")
	require.Equal(t, http.StatusOK, r.code, string(r.body))
	require.Equal(t, body, r.body)
	require.Equal(t, switchboard.ArtifactContentType, r.header.Get("Content-Type"))
	require.Equal(t, "no-cache", r.header.Get("Cache-Control"))
	require.Equal(t, "1", r.header.Get(cdn.VersionHeader))
	etag := r.header.Get("ETag")
	require.True(t, strings.HasPrefix(etag, `"sha256-`), etag)

	r = b.get(t, ins, token, etag, "")
	require.Equal(t, http.StatusNotModified, r.code)
	require.Equal(t, etag, r.header.Get("ETag"))
	require.Empty(t, r.body)

	// Weak and listed forms match too; a different ETag gets the body.
	r = b.get(t, ins, token, `"other", W/`+etag, "")
	require.Equal(t, http.StatusNotModified, r.code)
	r = b.get(t, ins, token, `"other"`, "")
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, body, r.body)

	// HEAD has the headers and no body.
	req, err := http.NewRequest(http.MethodHead, b.url+"/v1/instances/"+ins+"/artifact", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, etag, resp.Header.Get("ETag"))

	// The ETag is a content hash: another CDN replica computes the same one.
	other := setupWith(t, b.store, false)
	r = other.get(t, ins, token, "", "")
	require.Equal(t, etag, r.header.Get("ETag"))

	require.Equal(t, 3.0, b.metric(t, "switchboard_cdn_requests_total", "code", "200"))
	require.Equal(t, 2.0, b.metric(t, "switchboard_cdn_requests_total", "code", "304"))
}

func TestFreshCacheMakesNoStoreCalls(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ins, token := b.newInstance(t)
	b.publish(t, ins, 1, false)
	etag := b.get(t, ins, token, "", "").header.Get("ETag")
	latest := switchboard.LatestArtifactKey(ins)
	before := b.faulty.getCount(latest)

	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			r := b.get(t, ins, token, etag, "")
			require.Equal(t, http.StatusNotModified, r.code)
		})
	}
	wg.Wait()
	require.Equal(t, before, b.faulty.getCount(latest))
	require.GreaterOrEqual(t, b.metric(t, "switchboard_cdn_cache_hits_total"), 50.0)
}

func TestConcurrentMissesShareOneStoreCall(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ins, token := b.newInstance(t)
	body := b.publish(t, ins, 1, false)

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			r := b.get(t, ins, token, "", "")
			require.Equal(t, http.StatusOK, r.code)
			require.Equal(t, body, r.body)
		})
	}
	wg.Wait()
	// Requests that arrive while the first call is under way join it; a few
	// may arrive after it, and find the cache filled.
	require.Equal(t, 1, b.faulty.getCount(switchboard.LatestArtifactKey(ins)))
}

func TestLongPollWakesOnNotify(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ins, token := b.newInstance(t)
	b.publish(t, ins, 1, false)
	etag := b.get(t, ins, token, "", "").header.Get("ETag")

	// Past MinRevalidate since that fetch, so what is measured is the wake-up,
	// not the per-instance rate limit.
	time.Sleep(cdn.DefaultMinRevalidate)
	done := make(chan response, 1)
	go func() { done <- b.get(t, ins, token, etag, "wait=25s") }()
	require.Eventually(t, func() bool { return b.metric(t, "switchboard_cdn_longpoll_waiters") == 1 },
		5*time.Second, 10*time.Millisecond)

	body := b.publish(t, ins, 2, false)
	published := time.Now()
	require.Equal(t, http.StatusAccepted, b.notify(t, ins, notifySecret))
	r := <-done
	elapsed := time.Since(published)
	t.Logf("long-poll answered %v after the publish", elapsed)
	require.Less(t, elapsed, time.Second)
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, body, r.body)
	require.Equal(t, "2", r.header.Get(cdn.VersionHeader))
	require.NotEqual(t, etag, r.header.Get("ETag"))
}

func TestLongPollWakesOnFeed(t *testing.T) {
	t.Parallel()
	// History written before the CDN starts is not replayed.
	store := blobtest.NewStore(t)
	history := setupWith(t, store, false)
	other, _ := history.newInstance(t)
	for range 3 {
		history.addChange(t, other)
	}
	b := setupWith(t, store, true, func(p *cdn.Params) { p.FeedInterval = 100 * time.Millisecond })
	b.seq.Store(history.seq.Load())
	ins, token := b.newInstance(t)
	b.publish(t, ins, 1, false)
	etag := b.get(t, ins, token, "", "").header.Get("ETag")

	// Past MinRevalidate since that fetch, so what is measured is the wake-up,
	// not the per-instance rate limit.
	time.Sleep(cdn.DefaultMinRevalidate)
	done := make(chan response, 1)
	go func() { done <- b.get(t, ins, token, etag, "wait=25s") }()
	require.Eventually(t, func() bool { return b.metric(t, "switchboard_cdn_longpoll_waiters") == 1 },
		5*time.Second, 10*time.Millisecond)

	body := b.publish(t, ins, 2, true)
	published := time.Now()
	r := <-done
	elapsed := time.Since(published)
	t.Logf("long-poll answered %v after the publish", elapsed)
	require.Less(t, elapsed, time.Second)
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, body, r.body)
	require.Equal(t, "2", r.header.Get(cdn.VersionHeader))
	require.LessOrEqual(t, b.metric(t, "switchboard_cdn_feed_changes_total"), 2.0)
}

func TestNoticesAreRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ins, token := b.newInstance(t)
	b.publish(t, ins, 1, false)
	etag := b.get(t, ins, token, "", "").header.Get("ETag")
	latest := switchboard.LatestArtifactKey(ins)
	require.Equal(t, 1, b.faulty.getCount(latest))

	// A burst of notices costs at most one store call per MinRevalidate, and
	// the last one is never lost.
	body := b.publish(t, ins, 2, false)
	for range 10 {
		require.Equal(t, http.StatusAccepted, b.notify(t, ins, notifySecret))
		time.Sleep(20 * time.Millisecond)
	}
	r := b.get(t, ins, token, etag, "wait=5s")
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, body, r.body)
	require.LessOrEqual(t, b.faulty.getCount(latest), 3)
}

func TestLongPollTimesOut(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ins, token := b.newInstance(t)
	b.publish(t, ins, 1, false)
	etag := b.get(t, ins, token, "", "").header.Get("ETag")

	start := time.Now()
	r := b.get(t, ins, token, etag, "wait=300ms")
	require.Equal(t, http.StatusNotModified, r.code)
	require.Equal(t, etag, r.header.Get("ETag"))
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)

	// A stale ETag is answered at once, whatever the wait.
	start = time.Now()
	r = b.get(t, ins, token, `"old"`, "wait=25s")
	require.Equal(t, http.StatusOK, r.code)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestBadWait(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ins, token := b.newInstance(t)
	b.publish(t, ins, 1, false)
	for _, q := range []string{"wait=abc", "wait=31s", "wait=-1s", "wait=25"} {
		r := b.get(t, ins, token, "", q)
		require.Equal(t, http.StatusBadRequest, r.code, q)
		require.Contains(t, string(r.body), "wait", q)
	}
}

func TestRevokedToken(t *testing.T) {
	t.Parallel()
	ttl := 300 * time.Millisecond
	b := setup(t, false, func(p *cdn.Params) { p.TokenTTL = ttl; p.NegativeTokenTTL = ttl / 2 })
	ins, token := b.newInstance(t)
	b.publish(t, ins, 1, false)
	require.Equal(t, http.StatusOK, b.get(t, ins, token, "", "").code)

	b.revoke(t, token)
	revoked := time.Now()
	require.Eventually(t, func() bool { return b.get(t, ins, token, "", "").code == http.StatusUnauthorized },
		5*time.Second, 20*time.Millisecond)
	require.Less(t, time.Since(revoked), ttl+time.Second)

	r := b.get(t, ins, token, "", "")
	require.Equal(t, http.StatusUnauthorized, r.code)
	require.Contains(t, r.header.Get("WWW-Authenticate"), "Bearer")
}

func TestDefaultTokenTTLs(t *testing.T) {
	t.Parallel()
	require.LessOrEqual(t, cdn.DefaultTokenTTL, 8*time.Second, "revocation must reach the CDN within 10 s, sync job included")
	require.Equal(t, 5*time.Second, cdn.DefaultNegativeTokenTTL)
}

func TestTokenForAnotherInstance(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	insA, tokenA := b.newInstance(t)
	insB, _ := b.newInstance(t)
	b.publish(t, insA, 1, false)
	b.publish(t, insB, 1, false)

	r := b.get(t, insB, tokenA, "", "")
	require.Equal(t, http.StatusNotFound, r.code)
	require.NotContains(t, string(r.body), "forbidden")
	require.Equal(t, http.StatusOK, b.get(t, insA, tokenA, "", "").code)
}

func TestMalformedTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ins, token := b.newInstance(t)
	b.publish(t, ins, 1, false)

	unregistered := switchboard.NewToken(switchboard.TokenDataPlane,
		switchboard.NewID(switchboard.PrefixDataPlaneToken, time.Now()))
	p, ok := switchboard.ParseToken(token)
	require.True(t, ok)
	wrongSecret := switchboard.NewToken(switchboard.TokenDataPlane, p.ID)
	apiKey := switchboard.NewToken(switchboard.TokenAPIKey, switchboard.NewID(switchboard.PrefixAPIKey, time.Now()))

	for name, tok := range map[string]string{
		"none":         "",
		"garbage":      "garbage",
		"truncated":    token[:len(token)-3],
		"api key":      apiKey,
		"unregistered": unregistered,
		"wrong secret": wrongSecret,
	} {
		r := b.get(t, ins, tok, "", "")
		require.Equal(t, http.StatusUnauthorized, r.code, name)
		require.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer"), name)
	}
	// Not a bearer scheme at all.
	req, err := http.NewRequest(http.MethodGet, b.url+"/v1/instances/"+ins+"/artifact", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Basic "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestNoArtifactYet(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ins, token := b.newInstance(t)
	r := b.get(t, ins, token, "", "")
	require.Equal(t, http.StatusNotFound, r.code)

	// Published and announced: served.
	body := b.publish(t, ins, 1, false)
	require.Equal(t, http.StatusAccepted, b.notify(t, ins, notifySecret))
	require.Eventually(t, func() bool { return b.get(t, ins, token, "", "").code == http.StatusOK },
		5*time.Second, 50*time.Millisecond)
	require.Equal(t, body, b.get(t, ins, token, "", "").body)
}

func TestNotifyAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ins, _ := b.newInstance(t)
	require.Equal(t, http.StatusUnauthorized, b.notify(t, ins, "wrong"))
	require.Equal(t, http.StatusUnauthorized, b.notify(t, ins, ""))
	require.Equal(t, http.StatusBadRequest, b.notify(t, "not-an-id", notifySecret))
	require.Equal(t, http.StatusAccepted, b.notify(t, ins, notifySecret))

	disabled := setupWith(t, b.store, false, func(p *cdn.Params) { p.NotifySecret = "" })
	require.Equal(t, http.StatusNotFound, disabled.notify(t, ins, ""))
}

func TestServesStaleWhenStoreFails(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(p *cdn.Params) {
		p.TokenTTL = 100 * time.Millisecond
		p.MaxRevalidate = 100 * time.Millisecond
		p.MinRevalidate = 50 * time.Millisecond
	})
	ins, token := b.newInstance(t)
	body := b.publish(t, ins, 1, false)
	r := b.get(t, ins, token, "", "")
	require.Equal(t, http.StatusOK, r.code)
	etag := r.header.Get("ETag")
	require.Equal(t, http.StatusOK, b.getPath(t, "/readyz").code)

	b.faulty.fail.Store(true)
	time.Sleep(150 * time.Millisecond) // past both TTLs: the next request asks the store
	r = b.get(t, ins, token, "", "")
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, body, r.body)
	require.Equal(t, http.StatusNotModified, b.get(t, ins, token, etag, "").code)

	ready := b.getPath(t, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, ready.code)
	var status map[string]string
	require.NoError(t, json.Unmarshal(ready.body, &status))
	require.Equal(t, "degraded", status["status"])
	require.Contains(t, status["reason"], "injected")
	require.Equal(t, http.StatusOK, b.getPath(t, "/healthz").code)
	require.Positive(t, b.metric(t, "switchboard_cdn_s3_errors_total", "op", "token"))

	// A token never seen cannot be checked: 503, not 401.
	fresh := b.newToken(t, ins)
	require.Equal(t, http.StatusServiceUnavailable, b.get(t, ins, fresh, "", "").code)

	b.faulty.fail.Store(false)
	time.Sleep(150 * time.Millisecond)
	require.Equal(t, http.StatusOK, b.get(t, ins, token, "", "").code)
	require.Equal(t, http.StatusOK, b.getPath(t, "/readyz").code)
}

func TestServesStaleWhenS3Stops(t *testing.T) {
	t.Parallel()
	srv := blobtest.StartServer(t)
	store := srv.NewStore(t, 1)
	b := setupWith(t, store, true, func(p *cdn.Params) {
		p.FeedInterval = 100 * time.Millisecond
		p.TokenTTL = 200 * time.Millisecond
		p.MaxRevalidate = 200 * time.Millisecond
		p.S3Timeout = time.Second
	})
	ins, token := b.newInstance(t)
	body := b.publish(t, ins, 1, false)
	r := b.get(t, ins, token, "", "")
	require.Equal(t, http.StatusOK, r.code)
	etag := r.header.Get("ETag")
	require.Eventually(t, func() bool { return b.getPath(t, "/readyz").code == http.StatusOK },
		5*time.Second, 50*time.Millisecond)

	srv.Stop(t)
	require.Eventually(t, func() bool { return b.getPath(t, "/readyz").code == http.StatusServiceUnavailable },
		5*time.Second, 50*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // past the TTLs
	r = b.get(t, ins, token, "", "")
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, body, r.body)
	require.Equal(t, http.StatusNotModified, b.get(t, ins, token, etag, "").code)
	require.Contains(t, string(b.getPath(t, "/readyz").body), `"degraded"`)

	srv.Restart(t)
	require.Eventually(t, func() bool { return b.getPath(t, "/readyz").code == http.StatusOK },
		5*time.Second, 50*time.Millisecond)
	require.Equal(t, http.StatusOK, b.get(t, ins, token, "", "").code)
}

func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, false, func(p *cdn.Params) { p.MaxCacheBytes = 150 })
	type inst struct {
		id, token string
		body      []byte
	}
	var all []inst
	for v := range 4 {
		id, token := b.newInstance(t)
		all = append(all, inst{id, token, b.publish(t, id, int64(v+1), false)})
	}
	for range 2 {
		for _, in := range all {
			r := b.get(t, in.id, in.token, "", "")
			require.Equal(t, http.StatusOK, r.code)
			require.Equal(t, in.body, r.body)
			require.LessOrEqual(t, b.metric(t, "switchboard_cdn_cache_bytes"), 150.0)
		}
	}
	require.Positive(t, b.metric(t, "switchboard_cdn_cache_bytes"))
}

func TestMetricsAndHealth(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	ins, token := b.newInstance(t)
	b.publish(t, ins, 1, false)
	b.get(t, ins, token, "", "")

	r := b.getPath(t, "/metrics")
	require.Equal(t, http.StatusOK, r.code)
	for _, name := range []string{
		"switchboard_cdn_requests_total", "switchboard_cdn_cache_hits_total",
		"switchboard_cdn_cache_misses_total", "switchboard_cdn_cache_bytes",
		"switchboard_cdn_longpoll_waiters", "switchboard_cdn_revalidations_total",
	} {
		require.Contains(t, string(r.body), name)
	}
	require.Equal(t, http.StatusOK, b.getPath(t, "/healthz").code)
	require.Equal(t, http.StatusNotFound, b.getPath(t, "/v1/instances//artifact").code)
}
