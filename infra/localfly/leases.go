package localfly

import (
	"net/http"
	"strconv"
	"time"

	fly "github.com/superfly/fly-go"
	"github.com/superfly/fly-go/flaps"
)

// lease is Fly's advisory lock on a machine: while it is held, mutating
// calls must carry its nonce in the fly-machine-lease-nonce header.
type lease struct {
	nonce       string
	owner       string
	description string
	expiresAt   time.Time
	version     string
}

const (
	defaultLeaseTTL = 30 // seconds, Fly's default
	leaseOwner      = "localfly@localhost"
)

// activeLeaseLocked returns m's lease if it has not expired.
func (s *Server) activeLeaseLocked(m *machine) *lease {
	if m.lease != nil && s.now().Before(m.lease.expiresAt) {
		return m.lease
	}
	m.lease = nil
	return nil
}

func (s *Server) newLeaseLocked(m *machine, ttlSeconds int, description string) *lease {
	l := &lease{
		nonce:       newNonce(),
		owner:       leaseOwner,
		description: description,
		expiresAt:   s.now().Add(time.Duration(ttlSeconds) * time.Second),
		version:     m.instanceID,
	}
	m.lease = l
	return l
}

// checkLeaseLocked lets a mutating call through only if no lease is held or
// it carries the holder's nonce. A nonce for a lease that is gone is
// refused too: the caller believes it holds a lock it does not.
func (s *Server) checkLeaseLocked(m *machine, r *http.Request) error {
	nonce := r.Header.Get(flaps.NonceHeader)
	l := s.activeLeaseLocked(m)
	switch {
	case l == nil && nonce == "":
		return nil
	case l == nil:
		return errorf(http.StatusConflict, "machine %s has no active lease matching the given nonce; it may have expired", m.id)
	case nonce != l.nonce:
		return errLeaseHeld(m, l)
	}
	return nil
}

func errLeaseHeld(m *machine, l *lease) *apiError {
	return errorf(http.StatusConflict, "machine ID %s lease currently held by %s, expires at %s",
		m.id, l.owner, l.expiresAt.UTC().Format(time.RFC3339))
}

func viewLease(l *lease) fly.MachineLease {
	return fly.MachineLease{Status: "success", Data: &fly.MachineLeaseData{
		Nonce: l.nonce, ExpiresAt: l.expiresAt.Unix(), Owner: l.owner, Version: l.version,
	}}
}

func (s *Server) getLease(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	var l *lease
	if err == nil {
		if l = s.activeLeaseLocked(m); l == nil {
			err = errorf(http.StatusNotFound, "lease not found")
		}
	}
	var out fly.MachineLease
	if err == nil {
		out = viewLease(l)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createLeaseRequest is the spec's CreateLeaseRequest; fly-go sends the ttl
// in the query string instead, which wins when both are present.
type createLeaseRequest struct {
	Description string `json:"description"`
	TTL         int    `json:"ttl"`
}

// acquireLease takes a free lease, or refreshes the caller's own one when
// the request carries its nonce (fly-go's RefreshLease).
func (s *Server) acquireLease(w http.ResponseWriter, r *http.Request) error {
	var in createLeaseRequest
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	ttl := in.TTL
	if v := r.URL.Query().Get("ttl"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errorf(http.StatusBadRequest, "invalid ttl %q", v)
		}
		ttl = n
	}
	if ttl <= 0 {
		ttl = defaultLeaseTTL
	}
	nonce := r.Header.Get(flaps.NonceHeader)

	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	var out fly.MachineLease
	if err == nil && (m.state == stateDestroyed || m.state == stateDestroying) {
		err = errorf(http.StatusPreconditionFailed, "unable to lease machine, it is %s", m.state)
	}
	if err == nil {
		switch l := s.activeLeaseLocked(m); {
		case l == nil:
			out = viewLease(s.newLeaseLocked(m, ttl, in.Description))
		case nonce == l.nonce:
			l.expiresAt = s.now().Add(time.Duration(ttl) * time.Second)
			out = viewLease(l)
		default:
			err = errLeaseHeld(m, l)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) releaseLease(w http.ResponseWriter, r *http.Request) error {
	nonce := r.Header.Get(flaps.NonceHeader)
	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	if err == nil {
		switch l := s.activeLeaseLocked(m); {
		case l == nil:
			err = errorf(http.StatusNotFound, "lease not found")
		case nonce != l.nonce:
			err = errLeaseHeld(m, l)
		default:
			m.lease = nil
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}
