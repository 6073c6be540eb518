package localfly

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	fly "github.com/superfly/fly-go"
)

func (s *Server) startMachine(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	if err == nil {
		err = s.checkLeaseLocked(m, r)
	}
	var prev string
	if err == nil {
		prev = m.state
		switch m.state {
		case stateCreated, stateStopped, stateFailed:
			m.retries = 0
			s.recordLocked(m, "start", stateStarting, "user", nil)
			s.startLocked(r.Context(), m)
		case stateStarted, stateStarting, stateReplacing:
			err = errorf(http.StatusPreconditionFailed, "machine still active, refusing to start")
		default:
			err = errorf(http.StatusPreconditionFailed, "unable to start machine from current state: '%s'", m.state)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fly.MachineStartResponse{PreviousState: prev})
	return nil
}

// stopRequest is the spec's StopRequest. fly-go sends the timeout as a
// duration string (see specExceptions); the spec's object form is read too.
type stopRequest struct {
	Signal  string       `json:"signal"`
	Timeout stopDuration `json:"timeout"`
}

type stopDuration struct{ time.Duration }

func (d *stopDuration) UnmarshalJSON(b []byte) error {
	var spec struct {
		Duration *int64 `json:"time.Duration"`
	}
	if json.Unmarshal(b, &spec) == nil {
		if spec.Duration != nil {
			d.Duration = time.Duration(*spec.Duration)
		}
		return nil
	}
	var fd fly.Duration
	if err := fd.UnmarshalJSON(b); err != nil {
		return err
	}
	d.Duration = fd.Duration
	return nil
}

// stopMachine stops a running machine. Stopping one that is not running is
// accepted and changes nothing, so callers can retry it.
func (s *Server) stopMachine(w http.ResponseWriter, r *http.Request) error {
	var in stopRequest
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	if err == nil {
		err = s.checkLeaseLocked(m, r)
	}
	if err == nil {
		if m.state == stateDestroying || m.state == stateDestroyed {
			err = errorf(http.StatusPreconditionFailed, "unable to stop machine, it is %s", m.state)
		} else {
			s.stopLocked(m, in.Signal, in.Timeout.Duration)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

// restartMachine stops and starts a running machine. Query parameters as
// fly-go sends them: timeout (Go duration), signal, force_stop.
func (s *Server) restartMachine(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var timeout time.Duration
	if v := q.Get("timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errorf(http.StatusBadRequest, "invalid timeout %q: %v", v, err)
		}
		timeout = d
	}
	signal := q.Get("signal")
	if force, _ := strconv.ParseBool(q.Get("force_stop")); force {
		signal = "SIGKILL"
	}

	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	if err == nil {
		err = s.checkLeaseLocked(m, r)
	}
	if err == nil {
		if m.proc == nil || m.intent != intentNone {
			err = errorf(http.StatusPreconditionFailed, "unable to restart machine, not currently started (state %s)", m.state)
		} else {
			m.intent = intentRestart
			m.retries = 0
			s.recordLocked(m, "restart", stateStopping, "user", nil)
			s.setStateLocked(m, stateStopping)
			m.proc.stop(stopSignal(m, signal), s.stopTimeoutFor(m, timeout))
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

// Fly caps /wait at 60 seconds; so does fly-go.
const (
	defaultWaitTimeout = 60 * time.Second
	maxWaitTimeout     = 60 * time.Second
)

// waitMachine holds the request until the machine is in one of the states
// asked for (default started), and answers 408 when timeout seconds pass
// first. With instance_id, the machine must also be at that version.
func (s *Server) waitMachine(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	states := q["state"]
	if len(states) == 0 {
		states = []string{stateStarted}
	}
	for _, st := range states {
		if !slices.Contains([]string{stateStarted, stateStopped, "suspended", stateDestroyed}, st) {
			return errorf(http.StatusBadRequest, "invalid state %q, must be one of started, stopped, suspended, destroyed", st)
		}
	}
	timeout := defaultWaitTimeout
	if v := q.Get("timeout"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs < 0 {
			return errorf(http.StatusBadRequest, "invalid timeout %q, must be a number of seconds", v)
		}
		timeout = min(time.Duration(secs)*time.Second, maxWaitTimeout)
	}
	instanceID := q.Get("instance_id")

	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		s.mu.Lock()
		_, m, err := s.machineLocked(r)
		var done bool
		var changed chan struct{}
		if err == nil {
			done = slices.Contains(states, m.state) && (instanceID == "" || instanceID == m.instanceID)
			changed = m.changed
		}
		var state string
		if m != nil {
			state = m.state
		}
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if done {
			writeJSON(w, http.StatusOK, map[string]any{"ok": true, "state": state})
			return nil
		}
		select {
		case <-changed:
		case <-t.C:
			return errorf(http.StatusRequestTimeout, "deadline_exceeded: machine did not reach state %v within %s (current state %s)", states, timeout, state)
		case <-r.Context().Done():
			return r.Context().Err()
		}
	}
}
