package configsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// pollLoop polls the CDN until ctx ends: back to back while long-polls
// answer, with exponential backoff and full jitter while every URL fails.
func (a *Agent) pollLoop(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		started := time.Now()
		fresh, err := a.pollOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			d := a.backoff(failures)
			// No artifact published yet (a new instance): the first config
			// should arrive within seconds, and the CDN answers a missing
			// artifact from memory, so poll at least every notPublishedMax.
			if errors.As(err, new(*errNotPublished)) {
				d = min(d, notPublishedMax)
			}
			sleep(ctx, d)
			continue
		}
		failures = 0
		if !fresh {
			sleep(ctx, minPollInterval-time.Since(started))
		}
	}
}

// backoff returns a random delay in [0, min(max, base·2^(n-1))].
func (a *Agent) backoff(n int) time.Duration {
	d := a.cfg.BackoffMax
	if n < 32 {
		if e := a.cfg.BackoffBase << (n - 1); e > 0 && e < d {
			d = e
		}
	}
	return rand.N(d + 1)
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// notPublishedMax caps the delay between polls while the CDN says no
// artifact exists yet.
const notPublishedMax = 2 * time.Second

// errNotPublished marks a poll where some CDN URL answered 404.
type errNotPublished struct{ error }

func (e *errNotPublished) Unwrap() error { return e.error }

// errStatus is a CDN answer other than 200 or 304.
type errStatus struct {
	url  string
	code int
	body string
}

func (e *errStatus) Error() string {
	return fmt.Sprintf("GET %s: status %d: %s", e.url, e.code, e.body)
}

// pollOnce asks each URL in turn until one answers 200 or 304. fresh
// reports whether the answer had new content (applied or not), in which case
// the next poll starts at once. A rejected artifact is not an
// error (the CDN answered; retrying sooner will not help), an apply failure
// is.
func (a *Agent) pollOnce(ctx context.Context) (fresh bool, err error) {
	var errs []error
	for _, base := range a.cfg.URLs {
		fresh, err := a.fetch(ctx, base)
		if err == nil {
			return fresh, nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		var applyErr *applyError
		if errors.As(err, &applyErr) {
			return false, err // counted already; the CDN itself is fine
		}
		kind := syncErrNetwork
		var se *errStatus
		if errors.As(err, &se) {
			kind = syncErrHTTPStatus
		}
		a.log.DebugContext(ctx, "configsync: CDN poll failed", "url", base, "kind", kind, "err", err)
		errs = append(errs, err)
	}
	err = errors.Join(errs...)
	kind := syncErrNetwork
	notPublished := false
	for _, e := range errs {
		var se *errStatus
		if errors.As(e, &se) {
			kind = syncErrHTTPStatus
			notPublished = notPublished || se.code == http.StatusNotFound
		}
	}
	a.syncError(ctx, kind, err)
	if notPublished {
		return false, &errNotPublished{err}
	}
	return false, err
}

type applyError struct{ err error }

func (e *applyError) Error() string { return e.err.Error() }
func (e *applyError) Unwrap() error { return e.err }

// fetch makes one request to one CDN URL and handles its answer; see
// pollOnce for fresh.
func (a *Agent) fetch(ctx context.Context, base string) (bool, error) {
	a.mu.Lock()
	etag := a.etag
	a.mu.Unlock()

	u := strings.TrimRight(base, "/") + "/v1/instances/" + url.PathEscape(a.cfg.InstanceID) + "/artifact"
	timeout := 30 * time.Second
	if etag != "" && a.cfg.LongPoll > 0 {
		u += "?wait=" + url.QueryEscape(a.cfg.LongPoll.String())
		timeout += a.cfg.LongPoll
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, fmt.Errorf("CDN URL %q: %w", base, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.cfg.Token)
	req.Header.Set("Accept", "application/vnd.switchboard.artifact.v1+protobuf")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if a.cfg.AgentVersion != "" {
		req.Header.Set("User-Agent", "switchboard-dataplane/"+a.cfg.AgentVersion)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusNotModified:
		a.synced(etag == resp.Header.Get("ETag") || resp.Header.Get("ETag") == "")
		return false, nil
	case http.StatusOK:
	default:
		msg, _ := readLimited(resp.Body, 512)
		return false, &errStatus{url: u, code: resp.StatusCode, body: strings.TrimSpace(string(msg))}
	}
	newETag := resp.Header.Get("ETag")
	var body []byte
	if resp.ContentLength > int64(a.cfg.MaxArtifactBytes) {
		body = make([]byte, a.cfg.MaxArtifactBytes+1) // Verify rejects it by size alone
	} else if body, err = readLimited(resp.Body, a.cfg.MaxArtifactBytes); err != nil {
		return false, fmt.Errorf("GET %s: read body: %w", u, err)
	}
	changed, err := a.accept(ctx, "cdn", body)
	var rej *RejectionError
	switch {
	case errors.As(err, &rej):
		// Remember the ETag: its content was judged, so the next request
		// long-polls for something else instead of downloading it again.
		a.mu.Lock()
		a.etag, a.rejectedETag = newETag, newETag
		a.mu.Unlock()
		a.rejected(ctx, "cdn", rej)
		a.synced(false)
		// New content (even rejected) is progress: poll again at once.
		// The same content again means the CDN ignores If-None-Match.
		return newETag != etag, nil
	case err != nil:
		return false, &applyError{err}
	}
	a.mu.Lock()
	a.etag, a.rejectedETag = newETag, ""
	a.mu.Unlock()
	a.synced(!changed)
	return changed || newETag != etag, nil
}

// synced records a successful CDN answer. clearErr clears the last error,
// unless the CDN is still serving an artifact that was rejected.
func (a *Agent) synced(clearErr bool) {
	now := a.now()
	a.mu.Lock()
	a.st.LastSync = now
	if clearErr && a.rejectedETag == "" && a.st.AppliedVersion > 0 {
		a.st.LastError = ""
	}
	a.mu.Unlock()
	a.m.lastSync.Set(float64(now.UnixNano()) / 1e9)
}

// readLimited reads at most limit+1 bytes, so an oversize body is visible
// as such without being read whole.
func readLimited(r io.Reader, limit int) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, int64(limit)+1))
}
