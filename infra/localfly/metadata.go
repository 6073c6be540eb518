package localfly

import (
	"maps"
	"net/http"
	"regexp"
)

// metadataKeyPattern is what Fly accepts as a metadata key.
var metadataKeyPattern = regexp.MustCompile(`^[a-zA-Z0-9_\-.]{1,64}$`)

// Metadata lives in config.metadata. Changing it does not make a new machine
// version, and leases do not guard it (fly-go sends no nonce for it).

func (s *Server) getMetadata(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	out := map[string]string{}
	if err == nil {
		maps.Copy(out, m.config.Metadata)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) setMetadata(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Value string `json:"value"`
	}
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	key := r.PathValue("key")
	if !metadataKeyPattern.MatchString(key) {
		return errorf(http.StatusBadRequest, "invalid metadata key %q", key)
	}
	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	if err == nil {
		cfg := cloneMetadata(m.config)
		cfg.Metadata[key] = in.Value
		m.config = cfg
		m.updatedAt = s.now()
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteMetadata(w http.ResponseWriter, r *http.Request) error {
	key := r.PathValue("key")
	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	if err == nil {
		cfg := cloneMetadata(m.config)
		delete(cfg.Metadata, key)
		m.config = cfg
		m.updatedAt = s.now()
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
