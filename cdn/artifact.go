package cdn

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard"
)

// Header values shared by every response; net/http only reads them.
var (
	noCacheHdr      = []string{"no-cache"}
	contentTypeHdr  = []string{switchboard.ArtifactContentType}
	jsonHdr         = []string{"application/json"}
	wwwAuthHdr      = []string{`Bearer realm="switchboard"`}
	wwwAuthBadHdr   = []string{`Bearer realm="switchboard", error="invalid_token"`}
	retryAfterHdr   = []string{"1"}
	allowHdr        = []string{"GET, HEAD"}
	bodyNoToken     = []byte(`{"code":"unauthenticated","message":"a data-plane token is required: Authorization: Bearer sb_dp_…"}` + "\n")
	bodyBadToken    = []byte(`{"code":"unauthenticated","message":"invalid or revoked data-plane token"}` + "\n")
	bodyNotFound    = []byte(`{"code":"not_found","message":"instance not found"}` + "\n")
	bodyNoArtifact  = []byte(`{"code":"not_found","message":"no artifact has been published for this instance"}` + "\n")
	bodyUnavailable = []byte(`{"code":"unavailable","message":"artifact store unavailable, retry"}` + "\n")
	bodyBadWait     = []byte(`{"code":"invalid","message":"wait: must be a duration between 0s and the maximum (30s), e.g. wait=25s"}` + "\n")
	bodyBadMethod   = []byte(`{"code":"invalid","message":"method not allowed"}` + "\n")
)

// serveArtifact answers GET /v1/instances/{id}/artifact.
func (s *Server) serveArtifact(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header()["Allow"] = allowHdr
		s.fail(w, http.StatusMethodNotAllowed, bodyBadMethod)
		return
	}
	ctx := r.Context()

	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		w.Header()["Www-Authenticate"] = wwwAuthHdr
		s.fail(w, http.StatusUnauthorized, bodyNoToken)
		return
	}
	parsed, ok := switchboard.ParseToken(token)
	if !ok || parsed.Kind != switchboard.TokenDataPlane {
		w.Header()["Www-Authenticate"] = wwwAuthBadHdr
		s.fail(w, http.StatusUnauthorized, bodyBadToken)
		return
	}
	entry, err := s.lookupToken(ctx, parsed.ID)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		w.Header()["Retry-After"] = retryAfterHdr
		s.fail(w, http.StatusServiceUnavailable, bodyUnavailable)
		return
	}
	if entry.missing || !switchboard.TokenMatches(parsed.Hash, entry.hash) {
		w.Header()["Www-Authenticate"] = wwwAuthBadHdr
		s.fail(w, http.StatusUnauthorized, bodyBadToken)
		return
	}
	// Another instance's artifact is not found, never forbidden.
	if entry.instanceID != id {
		s.fail(w, http.StatusNotFound, bodyNotFound)
		return
	}

	var wait time.Duration
	if r.URL.RawQuery != "" {
		if v := r.URL.Query().Get("wait"); v != "" {
			wait, err = time.ParseDuration(v)
			if err != nil || wait < 0 || wait > s.p.MaxWait {
				s.fail(w, http.StatusBadRequest, bodyBadWait)
				return
			}
		}
	}

	inst := s.instanceFor(id)
	a, hit, err := s.current(ctx, inst)
	if hit {
		s.m.cacheHits.Inc()
	} else {
		s.m.cacheMisses.Inc()
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		w.Header()["Retry-After"] = retryAfterHdr
		s.fail(w, http.StatusServiceUnavailable, bodyUnavailable)
		return
	}
	inm := r.Header.Get("If-None-Match")
	if inm != "" && !a.missing && etagMatch(inm, a.etag) && wait > 0 {
		a, err = s.waitForChange(ctx, inst, inm, wait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			w.Header()["Retry-After"] = retryAfterHdr
			s.fail(w, http.StatusServiceUnavailable, bodyUnavailable)
			return
		}
	}
	if a.missing {
		s.fail(w, http.StatusNotFound, bodyNoArtifact)
		return
	}

	h := w.Header()
	h["Etag"] = a.etagHdr
	h["Cache-Control"] = noCacheHdr
	if a.versionHdr != nil {
		h["X-Switchboard-Version"] = a.versionHdr
	}
	if inm != "" && etagMatch(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		s.m.request(http.StatusNotModified)
		return
	}
	h["Content-Type"] = contentTypeHdr
	h["Content-Length"] = a.lengthHdr
	w.WriteHeader(http.StatusOK)
	s.m.request(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}

// waitForChange holds a long-poll until inst's artifact no longer matches
// inm, wait passes, the client leaves or the server shuts down. It returns
// the artifact to answer with (still matching inm on timeout: a 304).
func (s *Server) waitForChange(ctx context.Context, inst *instance, inm string, wait time.Duration) (*artifact, error) {
	s.m.waiters.Inc()
	defer s.m.waiters.Dec()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		inst.mu.Lock()
		changed := inst.changed
		a := inst.art.Load()
		inst.mu.Unlock()
		if a == nil {
			// Evicted while waiting: fetch it again, then re-check.
			var err error
			if a, _, err = s.current(ctx, inst); err != nil {
				return nil, err
			}
		}
		if a.missing || !etagMatch(inm, a.etag) {
			return a, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			return a, nil
		case <-s.done:
			return a, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *Server) fail(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonHdr
	h["Cache-Control"] = noCacheHdr
	w.WriteHeader(code)
	_, _ = w.Write(body)
	s.m.request(code)
}

// bearer extracts the token from an Authorization header.
func bearer(h string) (string, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	t := strings.TrimSpace(h[len(scheme):])
	return t, t != ""
}

// etagMatch implements If-None-Match's weak comparison: `*`, one ETag or a
// list. The common case, one strong ETag, allocates nothing.
func etagMatch(inm, etag string) bool {
	if inm == etag || inm == "*" {
		return true
	}
	for inm != "" {
		var part string
		part, inm, _ = strings.Cut(inm, ",")
		part = strings.TrimSpace(part)
		part = strings.TrimPrefix(part, "W/")
		if part == etag || part == "*" {
			return true
		}
	}
	return false
}
