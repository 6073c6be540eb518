package localfly

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	fly "github.com/superfly/fly-go"
)

// secret is an app secret. Machines get the app's secrets as environment
// variables when their process starts.
type secret struct {
	value     string
	createdAt time.Time
	updatedAt time.Time
}

// secretNamePattern keeps names usable as environment variable names.
var secretNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (sec *secret) view(name string, show bool) fly.AppSecret {
	sum := sha256.Sum256([]byte(sec.value))
	created := sec.createdAt.UTC().Format(time.RFC3339)
	updated := sec.updatedAt.UTC().Format(time.RFC3339)
	out := fly.AppSecret{Name: name, Digest: hex.EncodeToString(sum[:8]), CreatedAt: &created, UpdatedAt: &updated}
	if show {
		v := sec.value
		out.Value = &v
	}
	return out
}

// decodeStrict decodes r's body into v, rejecting unknown fields: the secrets
// endpoints are not in the spec, so fly-go's types are the only schema.
func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "invalid request body: %v", err)
	}
	return nil
}

func showSecrets(r *http.Request) bool {
	ok, _ := strconv.ParseBool(r.URL.Query().Get("show_secrets"))
	return ok
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.appLocked(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, fly.ListAppSecretsResp{Secrets: secretViews(a, showSecrets(r))})
	return nil
}

func secretViews(a *app, show bool) []fly.AppSecret {
	out := []fly.AppSecret{}
	for _, name := range slices.Sorted(maps.Keys(a.secrets)) {
		out = append(out, a.secrets[name].view(name, show))
	}
	return out
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.appLocked(r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	sec, ok := a.secrets[name]
	if !ok {
		return errorf(http.StatusNotFound, "secret %s not found", name)
	}
	writeJSON(w, http.StatusOK, sec.view(name, showSecrets(r)))
	return nil
}

func (s *Server) setSecret(w http.ResponseWriter, r *http.Request) error {
	var in fly.SetAppSecretRequest
	if err := decodeStrict(r, &in); err != nil {
		return err
	}
	name := r.PathValue("name")
	if !secretNamePattern.MatchString(name) {
		return errorf(http.StatusBadRequest, "invalid secret name %q", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.appLocked(r)
	if err != nil {
		return err
	}
	s.putSecretLocked(a, name, in.Value)
	a.secretsVer++
	writeJSON(w, http.StatusCreated, fly.SetAppSecretResp{AppSecret: a.secrets[name].view(name, false), Version: a.secretsVer})
	return nil
}

func (s *Server) putSecretLocked(a *app, name, value string) {
	now := s.now()
	if sec, ok := a.secrets[name]; ok {
		sec.value, sec.updatedAt = value, now
		return
	}
	a.secrets[name] = &secret{value: value, createdAt: now, updatedAt: now}
}

func (s *Server) deleteSecret(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.appLocked(r)
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	if _, ok := a.secrets[name]; !ok {
		return errorf(http.StatusNotFound, "secret %s not found", name)
	}
	delete(a.secrets, name)
	a.secretsVer++
	writeJSON(w, http.StatusOK, fly.DeleteAppSecretResp{Version: a.secretsVer})
	return nil
}

// updateSecrets sets and deletes in one version: a null value deletes.
func (s *Server) updateSecrets(w http.ResponseWriter, r *http.Request) error {
	var in fly.UpdateAppSecretsRequest
	if err := decodeStrict(r, &in); err != nil {
		return err
	}
	for name := range in.Values {
		if !secretNamePattern.MatchString(name) {
			return errorf(http.StatusBadRequest, "invalid secret name %q", name)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.appLocked(r)
	if err != nil {
		return err
	}
	for name, v := range in.Values {
		if v == nil {
			delete(a.secrets, name)
			continue
		}
		s.putSecretLocked(a, name, *v)
	}
	a.secretsVer++
	writeJSON(w, http.StatusOK, fly.UpdateAppSecretsResp{Secrets: secretViews(a, false), Version: a.secretsVer})
	return nil
}
