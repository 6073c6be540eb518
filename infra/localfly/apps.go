package localfly

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/superfly/fly-go/flaps"
)

// app is a Fly app: a namespace for machines and secrets.
type app struct {
	id         string
	name       string
	org        string
	network    string
	numericID  int32
	createdAt  time.Time
	machines   map[string]*machine
	secrets    map[string]*secret
	secretsVer uint64
}

// appNamePattern is Fly's rule: lowercase letters, digits and dashes,
// starting with a letter or digit.
var appNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func (s *Server) view(a *app) flaps.App {
	var n int64
	for _, m := range a.machines {
		if m.state != stateDestroyed {
			n++
		}
	}
	status := "pending"
	if n > 0 {
		status = "deployed"
	}
	return flaps.App{
		ID:                a.id,
		Name:              a.name,
		InternalNumericID: a.numericID,
		Network:           a.network,
		Status:            status,
		MachineCount:      n,
		Organization:      flaps.AppOrganizationInfo{Name: a.org, Slug: a.org},
	}
}

// createAppRequest accepts both the spec's app_name and fly-go's name.
type createAppRequest struct {
	AppName string `json:"app_name"`
	flaps.CreateAppRequest
}

func (s *Server) createApp(w http.ResponseWriter, r *http.Request) error {
	var in createAppRequest
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	name := in.Name
	if name == "" {
		name = in.AppName
	}
	if !appNamePattern.MatchString(name) {
		return errorf(http.StatusBadRequest, "invalid app name %q: use lowercase letters, digits and dashes", name)
	}
	org := in.Org
	if org == "" {
		org = "personal"
	}
	network := in.Network
	if network == "" {
		network = "default"
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errorf(http.StatusServiceUnavailable, "server shutting down")
	}
	if _, ok := s.apps[name]; ok {
		return errorf(http.StatusUnprocessableEntity, "Validation failed: Name has already been taken")
	}
	s.nextNum++
	a := &app{
		id:        randomHex(8),
		name:      name,
		org:       org,
		network:   network,
		numericID: s.nextNum,
		createdAt: s.now(),
		machines:  map[string]*machine{},
		secrets:   map[string]*secret{},
	}
	s.apps[name] = a
	s.log.InfoContext(r.Context(), "localfly: app created", "app", name, "org", org)
	writeJSON(w, http.StatusCreated, s.view(a))
	return nil
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.appLocked(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.view(a))
	return nil
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) error {
	org := r.URL.Query().Get("org_slug")
	s.mu.Lock()
	defer s.mu.Unlock()
	apps := []flaps.App{}
	for _, a := range s.apps {
		if org == "" || a.org == org {
			apps = append(apps, s.view(a))
		}
	}
	slices.SortFunc(apps, func(x, y flaps.App) int { return strings.Compare(x.Name, y.Name) })
	writeJSON(w, http.StatusOK, map[string]any{"total_apps": len(apps), "apps": apps})
	return nil
}

// deleteApp destroys the app's machines (killing their processes) and forgets
// it, as Fly does.
func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.appLocked(r)
	if err != nil {
		return err
	}
	for _, m := range a.machines {
		if m.state != stateDestroyed {
			s.destroyLocked(r.Context(), m, true)
		}
	}
	delete(s.apps, a.name)
	s.log.InfoContext(r.Context(), "localfly: app deleted", "app", a.name)
	writeJSON(w, http.StatusAccepted, nil)
	return nil
}

// appLocked returns the app named in r's path.
func (s *Server) appLocked(r *http.Request) (*app, error) {
	a, ok := s.apps[r.PathValue("app")]
	if !ok {
		return nil, errAppNotFound()
	}
	return a, nil
}
