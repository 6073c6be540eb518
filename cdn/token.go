package cdn

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboardhq/switchboard"
)

// errRegistryUnavailable means the token registry could not be read and
// nothing usable was cached.
var errRegistryUnavailable = errors.New("token registry unavailable")

// tokenEntry is what the registry said about one token id. Fields other
// than the atomics never change; a refresh replaces the entry.
type tokenEntry struct {
	instanceID string
	hash       []byte // SHA-256 of the whole token; nil when missing
	missing    bool
	fetched    int64 // unix nanos of the lookup

	failed  atomic.Int64 // unix nanos of the last failed refresh
	lastUse atomic.Int64
}

type tokenCall struct {
	done chan struct{}
	e    *tokenEntry
	err  error
}

type tokenCache struct {
	mu       sync.RWMutex
	entries  map[string]*tokenEntry
	inflight map[string]*tokenCall
}

// lookupToken returns the registry entry for a token id: cached while fresh
// (TokenTTL found, NegativeTokenTTL not found), else read from the store by
// one caller while the others wait. A found entry outlives its TTL only while
// the store fails (stale-if-error).
func (s *Server) lookupToken(ctx context.Context, tokenID string) (*tokenEntry, error) {
	now := s.now().UnixNano()
	s.tokens.mu.RLock()
	e := s.tokens.entries[tokenID]
	s.tokens.mu.RUnlock()
	if e != nil {
		if e.lastUse.Load() < now-int64(time.Second) {
			e.lastUse.Store(now)
		}
		ttl := s.p.TokenTTL
		if e.missing {
			ttl = s.p.NegativeTokenTTL
		}
		if now-e.fetched < int64(ttl) {
			return e, nil
		}
		// The store failed a moment ago: do not hammer it on every request.
		if !e.missing && now-e.failed.Load() < int64(s.p.MinRevalidate) {
			return e, nil
		}
	}

	s.tokens.mu.Lock()
	if c := s.tokens.inflight[tokenID]; c != nil {
		s.tokens.mu.Unlock()
		select {
		case <-c.done:
			return c.e, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &tokenCall{done: make(chan struct{})}
	if s.tokens.inflight == nil {
		s.tokens.inflight = make(map[string]*tokenCall)
	}
	s.tokens.inflight[tokenID] = c
	s.tokens.mu.Unlock()

	c.e, c.err = s.fetchToken(tokenID, e)

	s.tokens.mu.Lock()
	delete(s.tokens.inflight, tokenID)
	if c.err == nil && c.e != e {
		s.tokens.entries[tokenID] = c.e
	}
	s.tokens.mu.Unlock()
	close(c.done)
	return c.e, c.err
}

func (s *Server) fetchToken(tokenID string, cached *tokenEntry) (*tokenEntry, error) {
	ctx, cancel := s.storeCtx()
	defer cancel()
	b, err := s.store.Get(ctx, switchboard.TokenRegistryKey(tokenID), "")
	now := s.now().UnixNano()
	switch {
	case err == nil:
		s.storeOK()
		e, perr := parseTokenEntry(tokenID, b.Body)
		if perr != nil {
			// A corrupt entry authenticates nobody.
			s.log.ErrorContext(ctx, "bad token registry entry", "token_id", tokenID, "err", perr)
			s.m.tokenLookups.WithLabelValues("invalid").Inc()
			e = &tokenEntry{missing: true}
		} else {
			s.m.tokenLookups.WithLabelValues("found").Inc()
		}
		e.fetched = now
		e.lastUse.Store(now)
		return e, nil
	case switchboard.ErrorCode(err) == switchboard.ENOTFOUND:
		s.storeOK()
		s.m.tokenLookups.WithLabelValues("not_found").Inc()
		e := &tokenEntry{missing: true, fetched: now}
		e.lastUse.Store(now)
		return e, nil
	default:
		s.storeFailed(ctx, "token", err)
		s.m.tokenLookups.WithLabelValues("error").Inc()
		if cached != nil && !cached.missing {
			cached.failed.Store(now)
			return cached, nil
		}
		return nil, errRegistryUnavailable
	}
}

func parseTokenEntry(tokenID string, body []byte) (*tokenEntry, error) {
	var te switchboard.TokenRegistryEntry
	if err := json.Unmarshal(body, &te); err != nil {
		return nil, err
	}
	if te.TokenID != tokenID {
		return nil, errors.New("token_id does not match the object key")
	}
	if !switchboard.ValidID(switchboard.PrefixInstance, te.InstanceID) {
		return nil, errors.New("instance_id is not an instance id")
	}
	hash, err := hex.DecodeString(te.SHA256)
	if err != nil || len(hash) != 32 {
		return nil, errors.New("sha256 is not 64 hex digits")
	}
	return &tokenEntry{instanceID: te.InstanceID, hash: hash}, nil
}

// sweepTokens forgets entries nobody used for a while, so random token ids
// cannot grow the cache without bound.
func (s *Server) sweepTokens(idle time.Duration) {
	cutoff := s.now().Add(-idle).UnixNano()
	s.tokens.mu.Lock()
	defer s.tokens.mu.Unlock()
	for id, e := range s.tokens.entries {
		if e.lastUse.Load() < cutoff {
			delete(s.tokens.entries, id)
		}
	}
}
