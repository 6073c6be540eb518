package localfly

import "net/http"

// addressView answers GET /localfly/machines/{id}: where the machine's
// process can be reached, which Fly's private_ip cannot say locally.
type addressView struct {
	ID           string `json:"id"`
	App          string `json:"app"`
	State        string `json:"state"`
	URL          string `json:"url"`
	Port         int    `json:"port"`
	InternalPort int    `json:"internal_port"`
	PID          int    `json:"pid,omitempty"`
}

func (s *Server) machineAddress(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	m, ok := s.machines[r.PathValue("id")]
	var out addressView
	if ok {
		out = addressView{ID: m.id, App: m.app.name, State: m.state, URL: machineURL(m), Port: m.port, InternalPort: m.internalPort}
		if m.proc != nil {
			out.PID = m.proc.pid
		}
	}
	s.mu.Unlock()
	if !ok {
		return errMachineNotFound()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// MachineURL returns the loopback URL of a machine's process, for Go callers
// in the same process (tests, `switchboard dev`).
func (s *Server) MachineURL(machineID string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.machines[machineID]
	if !ok {
		return "", false
	}
	return machineURL(m), true
}
