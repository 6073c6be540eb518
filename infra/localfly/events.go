package localfly

import (
	"net/http"
	"slices"

	fly "github.com/superfly/fly-go"
)

// event is one entry of a machine's history, in Fly's shape.
type event struct {
	ID        string              `json:"id"`
	Type      string              `json:"type"`
	Status    string              `json:"status"`
	Source    string              `json:"source"`
	Timestamp int64               `json:"timestamp"` // Unix milliseconds, as Fly
	Request   *fly.MachineRequest `json:"request,omitempty"`
}

const (
	maxEvents       = 100 // kept per machine
	eventsInMachine = 5   // returned inside a machine, as Fly does
)

// recordLocked appends an event. source is "user" for what a request asked
// for and "flyd" for what the machine did on its own.
func (s *Server) recordLocked(m *machine, typ, status, source string, req *fly.MachineRequest) {
	now := s.now()
	m.events = append(m.events, event{ID: newULID(now), Type: typ, Status: status, Source: source, Timestamp: now.UnixMilli(), Request: req})
	if len(m.events) > maxEvents {
		m.events = slices.Clone(m.events[len(m.events)-maxEvents:])
	}
}

// recentEvents returns up to n events, newest first.
func recentEvents(m *machine, n int) []event {
	out := make([]event, 0, min(n, len(m.events)))
	for i := len(m.events) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, m.events[i])
	}
	return out
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	var out []event
	if err == nil {
		out = recentEvents(m, len(m.events))
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
