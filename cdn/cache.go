package cdn

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
)

// artifact is one cached latest.pb, immutable once built. Header values are
// prepared once so serving it allocates nothing for them.
type artifact struct {
	missing bool // the instance has no artifact (404)
	body    []byte
	etag    string // `"sha256-…"`: a content hash, the same on every replica
	s3ETag  string // what the store calls it, for If-None-Match revalidation

	etagHdr    []string
	lengthHdr  []string
	versionHdr []string // nil when the version could not be read
}

var missingArtifact = &artifact{missing: true}

func newArtifact(body []byte, s3ETag string) *artifact {
	sum := sha256.Sum256(body)
	etag := `"sha256-` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`
	a := &artifact{
		body:      body,
		etag:      etag,
		s3ETag:    s3ETag,
		etagHdr:   []string{etag},
		lengthHdr: []string{strconv.Itoa(len(body))},
	}
	if v := artifactVersion(body); v > 0 {
		a.versionHdr = []string{strconv.FormatInt(v, 10)}
	}
	return a
}

// artifactVersion reads the payload version without verifying the signature
// (data planes verify; the header is informational). 0 if unreadable.
func artifactVersion(body []byte) int64 {
	var env artifactv1.Envelope
	if proto.Unmarshal(body, &env) != nil {
		return 0
	}
	var p artifactv1.Payload
	if proto.Unmarshal(env.GetPayload(), &p) != nil {
		return 0
	}
	return p.GetVersion()
}

func (a *artifact) size() int64 {
	if a == nil {
		return 0
	}
	return int64(len(a.body))
}

// instance is the cache slot of one instance id. Entries are created only
// for instances a valid token asked for, and stay (they are small); LRU
// eviction drops their artifact body.
type instance struct {
	id string

	art     atomic.Pointer[artifact] // nil: not cached
	checked atomic.Int64             // unix nanos of the last successful revalidation
	lastUse atomic.Int64             // unix nanos, coarse (updated at most every 100 ms)

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced when art's content changes
	inflight    *revalidation
	lastAttempt time.Time
	lastErr     error // of the last attempt, nil if it succeeded
	kickedAt    time.Time
	// lastKick is when an announcement last started a revalidation; only
	// announcements count against each other's once-per-MinRevalidate limit,
	// so a client's own revalidation never delays a publish notice.
	lastKick  time.Time
	scheduled bool
}

type revalidation struct {
	started time.Time
	done    chan struct{}
	art     *artifact
	err     error
}

// instanceFor returns id's slot, creating it.
func (s *Server) instanceFor(id string) *instance {
	s.mu.RLock()
	inst := s.instances[id]
	s.mu.RUnlock()
	if inst != nil {
		return inst
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if inst = s.instances[id]; inst == nil {
		inst = &instance{id: id, changed: make(chan struct{})}
		s.instances[id] = inst
	}
	return inst
}

// lookupInstance returns id's slot or nil.
func (s *Server) lookupInstance(id string) *instance {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.instances[id]
}

// current returns the artifact to serve: the cached one while fresh (no
// store call: the feed and notices revalidate on change), otherwise the
// result of a revalidation shared with concurrent requests. When the store
// fails, a cached artifact is served stale; hit reports a cache hit.
func (s *Server) current(ctx context.Context, inst *instance) (a *artifact, hit bool, err error) {
	now := s.now().UnixNano()
	if inst.lastUse.Load() < now-int64(100*time.Millisecond) {
		inst.lastUse.Store(now)
	}
	a = inst.art.Load()
	if a != nil && now-inst.checked.Load() < int64(s.p.MaxRevalidate) {
		return a, true, nil
	}

	inst.mu.Lock()
	if c := inst.inflight; c != nil {
		inst.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			if a != nil {
				return a, false, nil
			}
			return nil, false, ctx.Err()
		}
		if c.art != nil {
			return c.art, false, nil
		}
		return nil, false, c.err
	}
	// Stale and the store failed within MinRevalidate: answer from what we
	// have rather than retrying on every request.
	if inst.lastErr != nil && s.now().Sub(inst.lastAttempt) < s.p.MinRevalidate {
		err := inst.lastErr
		inst.mu.Unlock()
		if a != nil {
			return a, true, nil
		}
		return nil, false, err
	}
	c := s.startRevalidation(inst)
	inst.mu.Unlock()
	s.runRevalidation(inst, c)
	if c.art != nil {
		return c.art, false, nil
	}
	return nil, false, c.err
}

// startRevalidation registers a revalidation; inst.mu must be held.
func (s *Server) startRevalidation(inst *instance) *revalidation {
	c := &revalidation{started: s.now(), done: make(chan struct{})}
	inst.inflight = c
	inst.lastAttempt = c.started
	return c
}

// runRevalidation asks the store whether latest.pb changed (If-None-Match
// with the cached ETag), installs the answer and wakes long-pollers when the
// content changed. On a store error the cached artifact stays (c.art).
func (s *Server) runRevalidation(inst *instance, c *revalidation) {
	cached := inst.art.Load()
	ifNoneMatch := ""
	if cached != nil && !cached.missing {
		ifNoneMatch = cached.s3ETag
	}
	ctx, cancel := s.storeCtx()
	b, err := s.store.Get(ctx, switchboard.LatestArtifactKey(inst.id), ifNoneMatch)
	cancel()

	next := cached
	var failed error
	switch {
	case err == nil:
		s.storeOK()
		next = newArtifact(b.Body, b.ETag)
		if cached != nil && cached.etag == next.etag {
			s.m.revalidations.WithLabelValues("unchanged").Inc()
		} else {
			s.m.revalidations.WithLabelValues("changed").Inc()
		}
	case errors.Is(err, switchboard.ErrNotModified):
		s.storeOK()
		s.m.revalidations.WithLabelValues("not_modified").Inc()
	case switchboard.ErrorCode(err) == switchboard.ENOTFOUND:
		s.storeOK()
		s.m.revalidations.WithLabelValues("not_found").Inc()
		next = missingArtifact
	default:
		s.storeFailed(ctx, "artifact", err)
		s.m.revalidations.WithLabelValues("error").Inc()
		failed = switchboard.Errorf(switchboard.EUNAVAILABLE, "artifact store unavailable")
	}

	inst.mu.Lock()
	inst.lastErr = failed
	if failed == nil {
		inst.checked.Store(s.now().UnixNano())
		if next != cached {
			s.install(inst, cached, next)
		}
	}
	c.art = inst.art.Load()
	if c.art == nil {
		c.err = failed
	}
	inst.inflight = nil
	again := inst.kickedAt.After(c.started)
	inst.mu.Unlock()
	close(c.done)

	if again {
		// A change was announced while this call was under way.
		s.kick(inst, time.Time{})
	}
	if next != cached && next.size() > 0 {
		s.evictIfNeeded()
	}
}

// install replaces the cached artifact and, if its content changed, wakes
// long-pollers; inst.mu must be held.
func (s *Server) install(inst *instance, old, next *artifact) {
	// An eviction may have dropped old meanwhile; account for what is there.
	prev := inst.art.Swap(next)
	s.cacheBytes.Add(next.size() - prev.size())
	s.m.cacheBytes.Set(float64(s.cacheBytes.Load()))
	if old == nil || old.etag != next.etag || old.missing != next.missing {
		close(inst.changed)
		inst.changed = make(chan struct{})
	}
}

// kick schedules a revalidation of inst because a change was announced: at
// once, or MinRevalidate after the previous announcement's, so announcements
// cost the store at most one call per MinRevalidate per instance on top of
// the requests' own once-per-MinRevalidate revalidation ("once per second
// plus the publish notice"). Requests' revalidations never delay a notice.
func (s *Server) kick(inst *instance, at time.Time) {
	inst.mu.Lock()
	if at.After(inst.kickedAt) {
		inst.kickedAt = at
	}
	if inst.scheduled || inst.inflight != nil {
		// The scheduled call runs after the announcement; an in-flight one
		// re-kicks when it finishes if it started before.
		inst.mu.Unlock()
		return
	}
	inst.scheduled = true
	wait := inst.lastKick.Add(s.p.MinRevalidate).Sub(s.now())
	inst.mu.Unlock()
	run := func() {
		inst.mu.Lock()
		inst.scheduled = false
		if inst.inflight != nil {
			inst.mu.Unlock()
			return
		}
		inst.lastKick = s.now()
		c := s.startRevalidation(inst)
		inst.mu.Unlock()
		s.runRevalidation(inst, c)
	}
	if wait <= 0 {
		go run()
	} else {
		time.AfterFunc(wait, run)
	}
}

// announce is called for each instance id the feed or a notice names.
// Instances nobody asked this replica for are ignored.
func (s *Server) announce(id string) {
	if inst := s.lookupInstance(id); inst != nil {
		s.kick(inst, s.now())
	}
}

// evictIfNeeded drops the least recently used artifact bodies until the
// cache is at 90% of MaxCacheBytes.
func (s *Server) evictIfNeeded() {
	if s.cacheBytes.Load() <= s.p.MaxCacheBytes {
		return
	}
	s.evicting.Lock()
	defer s.evicting.Unlock()
	if s.cacheBytes.Load() <= s.p.MaxCacheBytes {
		return
	}
	s.mu.RLock()
	var cands []*instance
	for _, inst := range s.instances {
		if inst.art.Load().size() > 0 {
			cands = append(cands, inst)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(cands, func(a, b *instance) int {
		return cmp.Compare(a.lastUse.Load(), b.lastUse.Load())
	})
	target := s.p.MaxCacheBytes * 9 / 10
	for _, inst := range cands {
		if s.cacheBytes.Load() <= target {
			break
		}
		inst.mu.Lock()
		if a := inst.art.Load(); a.size() > 0 && inst.inflight == nil {
			inst.art.Store(nil)
			s.cacheBytes.Add(-a.size())
		}
		inst.mu.Unlock()
	}
	s.m.cacheBytes.Set(float64(s.cacheBytes.Load()))
}
