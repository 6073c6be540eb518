package cdn

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/switchboardhq/switchboard"
)

// feedPage is how many change keys one List call asks for.
const feedPage = 1000

// tokenIdle is how long an unused token registry entry is remembered.
const tokenIdle = 10 * time.Minute

// Run follows the change feed until ctx ends: it lists changes/ after the
// last key it saw every FeedInterval and revalidates each instance named
// there that this replica has cached. It starts after the newest existing
// key, so history is not replayed. When Run returns, long-polls are answered.
func (s *Server) Run(ctx context.Context) error {
	defer s.closeDone()
	ticker := time.NewTicker(s.p.FeedInterval)
	defer ticker.Stop()
	var (
		last    string
		started bool
		swept   = s.now()
	)
	for {
		if !started {
			var err error
			if last, err = s.newestChange(ctx); err == nil {
				started = true
			}
		} else {
			last = s.pollFeed(ctx, last)
		}
		if s.now().Sub(swept) > time.Minute {
			s.sweepTokens(tokenIdle)
			swept = s.now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func (s *Server) closeDone() {
	s.doneOnce.Do(func() { close(s.done) })
}

// newestChange lists the whole feed once to find where to start.
func (s *Server) newestChange(ctx context.Context) (string, error) {
	last := ""
	for {
		keys, err := s.listChanges(ctx, last)
		if err != nil {
			return "", err
		}
		if len(keys) == 0 {
			return last, nil
		}
		last = keys[len(keys)-1]
		if len(keys) < feedPage {
			return last, nil
		}
	}
}

// pollFeed reads the changes after last and announces each; it returns the
// last key processed. A change it cannot read is retried next time.
func (s *Server) pollFeed(ctx context.Context, last string) string {
	for ctx.Err() == nil {
		keys, err := s.listChanges(ctx, last)
		if err != nil {
			return last
		}
		for _, k := range keys {
			id, err := s.readChange(k)
			if err != nil {
				return last
			}
			s.m.feedChanges.Inc()
			if id != "" {
				s.announce(id)
			}
			last = k
		}
		if len(keys) < feedPage {
			return last
		}
	}
	return last
}

func (s *Server) listChanges(ctx context.Context, after string) ([]string, error) {
	sctx, cancel := s.storeCtx()
	defer cancel()
	keys, err := s.store.List(sctx, switchboard.ChangePrefix, after, feedPage)
	if err != nil {
		s.storeFailed(ctx, "feed", err)
		return nil, err
	}
	s.storeOK()
	return keys, nil
}

// readChange returns the instance id a change names ("" if the change is
// gone or names nothing valid).
func (s *Server) readChange(key string) (string, error) {
	ctx, cancel := s.storeCtx()
	defer cancel()
	b, err := s.store.Get(ctx, key, "")
	switch {
	case err == nil:
		s.storeOK()
	case switchboard.ErrorCode(err) == switchboard.ENOTFOUND:
		s.storeOK()
		return "", nil
	default:
		s.storeFailed(ctx, "feed", err)
		return "", err
	}
	id := strings.TrimSpace(string(b.Body))
	if !switchboard.ValidID(switchboard.PrefixInstance, id) {
		s.log.WarnContext(ctx, "change feed entry names no instance", "key", key)
		return "", nil
	}
	return id, nil
}

// notifyRequest is the body of POST /internal/notify.
type notifyRequest struct {
	InstanceID string `json:"instance_id"`
}

// notify is the control plane's publish notice: revalidate the instance now
// and wake its long-polls. Best effort; the change feed catches up anyway.
func (s *Server) notify(w http.ResponseWriter, r *http.Request) {
	if s.p.NotifySecret == "" {
		http.NotFound(w, r)
		return
	}
	got := r.Header.Get(NotifySecretHeader)
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.p.NotifySecret)) != 1 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"code":"unauthenticated","message":"bad notify secret"}` + "\n"))
		return
	}
	var req notifyRequest
	body, _, err := switchboard.ReadAllLimit(http.MaxBytesReader(w, r.Body, 4096), 4096)
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || !switchboard.ValidID(switchboard.PrefixInstance, req.InstanceID) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"code":"invalid","message":"instance_id: must be an ins_… id"}` + "\n"))
		return
	}
	s.announce(req.InstanceID)
	w.WriteHeader(http.StatusAccepted)
}
