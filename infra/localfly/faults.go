package localfly

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Faults are failures injected into /v1 requests on demand, so callers can be
// tested against a misbehaving Fly.
type Faults struct {
	// ErrorRate is the fraction of requests, in [0, 1], answered with
	// ErrorStatus instead of being served.
	ErrorRate float64 `json:"error_rate"`
	// ErrorStatus is the 5xx status for ErrorRate. Defaults to 500; note that
	// fly-go retries 502 and 503 itself before giving up.
	ErrorStatus int `json:"error_status,omitempty"`
	// Burst429 is how many of the next requests get 429 Too Many Requests;
	// it counts down as they are answered.
	Burst429 int `json:"burst_429"`
	// RetryAfterSeconds is the Retry-After sent with a 429. Defaults to 1.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
	// LatencyMS delays every request by this many milliseconds.
	LatencyMS int `json:"latency_ms"`
	// NoCapacityRegions are regions where machine creates fail with Fly's
	// insufficient-capacity error.
	NoCapacityRegions []string `json:"no_capacity_regions"`
}

func (f Faults) validate() error {
	switch {
	case f.ErrorRate < 0 || f.ErrorRate > 1:
		return errors.New("error_rate must be between 0 and 1")
	case f.ErrorStatus != 0 && (f.ErrorStatus < 500 || f.ErrorStatus > 599):
		return errors.New("error_status must be a 5xx status")
	case f.Burst429 < 0:
		return errors.New("burst_429 must not be negative")
	case f.RetryAfterSeconds < 0:
		return errors.New("retry_after_seconds must not be negative")
	case f.LatencyMS < 0:
		return errors.New("latency_ms must not be negative")
	}
	return nil
}

// injectFault applies the current faults to r and reports whether it has
// already answered.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.faultsMu.Lock()
	f := s.faults
	if f.Burst429 > 0 {
		s.faults.Burst429--
	}
	fail := f.ErrorRate > 0 && s.rand() < f.ErrorRate
	s.faultsMu.Unlock()

	if f.LatencyMS > 0 {
		t := time.NewTimer(time.Duration(f.LatencyMS) * time.Millisecond)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if f.Burst429 > 0 {
		retry := f.RetryAfterSeconds
		if retry == 0 {
			retry = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		writeJSON(w, http.StatusTooManyRequests, errorBody{Error: "rate limit exceeded, please retry later"})
		return true
	}
	if fail {
		status := f.ErrorStatus
		if status == 0 {
			status = http.StatusInternalServerError
		}
		writeJSON(w, status, errorBody{Error: "localfly: injected fault"})
		return true
	}
	return false
}

// noCapacity reports whether creates in region fail with insufficient
// capacity.
func (s *Server) noCapacity(region string) bool {
	s.faultsMu.Lock()
	defer s.faultsMu.Unlock()
	return slices.Contains(s.faults.NoCapacityRegions, region)
}

func (s *Server) getFaults(w http.ResponseWriter, _ *http.Request) error {
	s.faultsMu.Lock()
	f := s.faults
	s.faultsMu.Unlock()
	writeJSON(w, http.StatusOK, f)
	return nil
}

// putFaults replaces the faults as a whole, so a test states exactly what it
// wants and nothing lingers from before.
func (s *Server) putFaults(w http.ResponseWriter, r *http.Request) error {
	var f Faults
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return errorf(http.StatusBadRequest, "invalid faults: %v", err)
	}
	if err := f.validate(); err != nil {
		return errorf(http.StatusBadRequest, "invalid faults: %v", err)
	}
	s.faultsMu.Lock()
	s.faults = f
	s.faultsMu.Unlock()
	s.log.InfoContext(r.Context(), "localfly: faults set", "faults", fmt.Sprintf("%+v", f))
	writeJSON(w, http.StatusOK, f)
	return nil
}

func (s *Server) deleteFaults(w http.ResponseWriter, r *http.Request) error {
	s.faultsMu.Lock()
	s.faults = Faults{}
	s.faultsMu.Unlock()
	s.log.InfoContext(r.Context(), "localfly: faults cleared")
	writeJSON(w, http.StatusOK, Faults{})
	return nil
}
