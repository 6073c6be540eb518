package localfly

import (
	"cmp"
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	fly "github.com/superfly/fly-go"
)

// machine is a Fly machine backed by a local process. Guarded by Server.mu.
type machine struct {
	id         string
	name       string
	app        *app
	region     string
	instanceID string // new for every config version, as on Fly
	privateIP  string
	createdAt  time.Time
	updatedAt  time.Time

	// config is replaced, never changed in place, so a view taken under the
	// lock stays valid after it.
	config      *fly.MachineConfig
	image       resolvedImage
	skipSecrets bool

	state   string
	gen     uint64        // bumped on every state change
	changed chan struct{} // closed and replaced on every state change
	intent  intent        // why the running process is being stopped
	proc    *process
	retries int // consecutive restarts after unexpected exits

	port         int // loopback port given as PORT
	internalPort int // the first service's internal_port

	events []event
	lease  *lease
}

// machineView is a machine in the Machines API's JSON shape (fly.Machine,
// plus event ids).
type machineView struct {
	ID         string              `json:"id"`
	Name       string              `json:"name"`
	State      string              `json:"state"`
	Region     string              `json:"region"`
	ImageRef   fly.MachineImageRef `json:"image_ref"`
	InstanceID string              `json:"instance_id"`
	PrivateIP  string              `json:"private_ip"`
	CreatedAt  string              `json:"created_at"`
	UpdatedAt  string              `json:"updated_at"`
	Config     *fly.MachineConfig  `json:"config"`
	Events     []event             `json:"events"`
	Nonce      string              `json:"nonce,omitempty"`
	HostStatus string              `json:"host_status"`
	Cordoned   bool                `json:"cordoned"`
}

func viewMachine(m *machine) machineView {
	return machineView{
		ID:         m.id,
		Name:       m.name,
		State:      m.state,
		Region:     m.region,
		ImageRef:   m.image.ref,
		InstanceID: m.instanceID,
		PrivateIP:  m.privateIP,
		CreatedAt:  m.createdAt.UTC().Format(time.RFC3339),
		UpdatedAt:  m.updatedAt.UTC().Format(time.RFC3339),
		Config:     m.config,
		Events:     recentEvents(m, eventsInMachine),
		HostStatus: string(fly.HostStatusOk),
	}
}

// machineLocked returns the app and machine named in r's path.
func (s *Server) machineLocked(r *http.Request) (*app, *machine, error) {
	a, err := s.appLocked(r)
	if err != nil {
		return nil, nil, err
	}
	m, ok := a.machines[r.PathValue("id")]
	if !ok {
		return nil, nil, errMachineNotFound()
	}
	return a, m, nil
}

// prepareConfig validates a create or update request's config and fills in
// what Fly fills in. It needs no lock.
func (s *Server) prepareConfig(in *fly.LaunchMachineInput) (*fly.MachineConfig, resolvedImage, error) {
	if in.Config == nil {
		return nil, resolvedImage{}, errorf(http.StatusBadRequest, "invalid config: a machine config is required")
	}
	cfg := in.Config
	img, err := s.resolveImage(cfg.Image)
	if err != nil {
		return nil, resolvedImage{}, err
	}
	if err := normalizeGuest(cfg); err != nil {
		return nil, resolvedImage{}, err
	}
	return cfg, img, nil
}

func (s *Server) createMachine(w http.ResponseWriter, r *http.Request) error {
	var in fly.LaunchMachineInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	region, err := s.regionFor(in.Region)
	if err != nil {
		return err
	}
	if s.noCapacity(region) {
		return &apiError{
			status:  http.StatusPreconditionFailed,
			message: "insufficient resources available to fulfill request: could not reserve resource for machine in region " + region,
			code:    "insufficient_capacity",
		}
	}
	cfg, img, err := s.prepareConfig(&in)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errorf(http.StatusServiceUnavailable, "server shutting down")
	}
	a, err := s.appLocked(r)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	now := s.now()
	m := &machine{
		id:           newMachineID(),
		name:         cmp.Or(in.Name, newMachineName()),
		app:          a,
		region:       region,
		instanceID:   newULID(now),
		privateIP:    newPrivateIP(),
		createdAt:    now,
		updatedAt:    now,
		config:       cfg,
		image:        img,
		skipSecrets:  in.SkipSecrets,
		state:        stateCreated,
		changed:      make(chan struct{}),
		port:         port,
		internalPort: firstInternalPort(cfg),
	}
	a.machines[m.id] = m
	s.machines[m.id] = m
	s.recordLocked(m, "launch", stateCreated, "user", nil)
	view := viewMachine(m)
	if in.LeaseTTL > 0 {
		view.Nonce = s.newLeaseLocked(m, in.LeaseTTL, "").nonce
	}
	if !in.SkipLaunch {
		// Fly answers with the machine "created" and boots it afterwards;
		// callers wait for "started".
		go s.boot(context.WithoutCancel(r.Context()), m, m.gen)
	}
	s.mu.Unlock()

	s.log.InfoContext(r.Context(), "localfly: machine created", "app", a.name, "machine", m.id, "image", cfg.Image, "region", region, "port", port)
	writeJSON(w, http.StatusOK, view)
	return nil
}

func firstInternalPort(cfg *fly.MachineConfig) int {
	if len(cfg.Services) == 0 {
		return 0
	}
	return cfg.Services[0].InternalPort
}

func (s *Server) getMachine(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	var view machineView
	if err == nil {
		view = viewMachine(m)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

// listMachines supports Fly's filters: include_deleted, region, state (comma
// separated) and metadata.<key>=<value> (all must match).
func (s *Server) listMachines(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	includeDeleted, _ := strconv.ParseBool(q.Get("include_deleted"))
	region := q.Get("region")
	var states []string
	if v := q.Get("state"); v != "" {
		states = strings.Split(v, ",")
	}
	meta := map[string]string{}
	for k, v := range q {
		if key, ok := strings.CutPrefix(k, "metadata."); ok && len(v) > 0 {
			meta[key] = v[0]
		}
	}

	s.mu.Lock()
	a, err := s.appLocked(r)
	out := []machineView{}
	if err == nil {
		for _, m := range a.machines {
			switch {
			case m.state == stateDestroyed && !includeDeleted && !slices.Contains(states, stateDestroyed):
			case region != "" && m.region != region:
			case len(states) > 0 && !slices.Contains(states, m.state):
			case !metadataMatches(m.config.Metadata, meta):
			default:
				out = append(out, viewMachine(m))
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	slices.SortFunc(out, func(x, y machineView) int {
		return cmp.Or(strings.Compare(x.CreatedAt, y.CreatedAt), strings.Compare(x.ID, y.ID))
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

func metadataMatches(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// updateMachine replaces the config and gives the machine a new instance_id.
// A running machine is replaced (stopped, then started with the new config);
// a stopped one is started unless skip_launch.
func (s *Server) updateMachine(w http.ResponseWriter, r *http.Request) error {
	var in fly.LaunchMachineInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	cfg, img, err := s.prepareConfig(&in)
	if err != nil {
		return err
	}

	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	if err == nil {
		err = s.checkLeaseLocked(m, r)
	}
	if err == nil {
		err = s.updateLocked(r.Context(), m, &in, cfg, img)
	}
	var view machineView
	if err == nil {
		view = viewMachine(m)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) updateLocked(ctx context.Context, m *machine, in *fly.LaunchMachineInput, cfg *fly.MachineConfig, img resolvedImage) error {
	switch m.state {
	case stateDestroying, stateDestroyed:
		return errorf(http.StatusPreconditionFailed, "unable to update machine, it is %s", m.state)
	case stateStopping, stateReplacing:
		return errorf(http.StatusPreconditionFailed, "unable to update machine while it is %s", m.state)
	}
	if in.Name != "" {
		m.name = in.Name
	}
	m.config, m.image = cfg, img
	m.internalPort = firstInternalPort(cfg)
	m.skipSecrets = in.SkipSecrets
	m.instanceID = newULID(s.now())
	s.recordLocked(m, "update", stateReplacing, "user", nil)
	s.log.InfoContext(ctx, "localfly: machine updated", "machine", m.id, "instance_id", m.instanceID, "image", cfg.Image)

	switch {
	case m.proc != nil:
		m.intent = intentReplace
		s.setStateLocked(m, stateReplacing)
		m.proc.stop(stopSignal(m, ""), s.stopTimeoutFor(m, 0))
	case in.SkipLaunch:
		s.setStateLocked(m, m.state) // new version: wake waiters
	default:
		s.startLocked(ctx, m)
	}
	return nil
}

// destroyMachine destroys a stopped machine, or a running one with
// ?force=true (spec) or ?kill=true (fly-go).
func (s *Server) destroyMachine(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	force, _ := strconv.ParseBool(q.Get("force"))
	kill, _ := strconv.ParseBool(q.Get("kill"))

	s.mu.Lock()
	_, m, err := s.machineLocked(r)
	if err == nil {
		err = s.checkLeaseLocked(m, r)
	}
	if err == nil {
		switch {
		case m.state == stateDestroyed || m.state == stateDestroying:
			err = errorf(http.StatusPreconditionFailed, "unable to destroy machine, it is already %s", m.state)
		case m.proc != nil && !force && !kill:
			err = errorf(http.StatusPreconditionFailed, "unable to destroy machine, not currently stopped or suspended (state %s); use force to destroy it anyway", m.state)
		default:
			s.destroyLocked(r.Context(), m, kill || force)
		}
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	return nil
}

// cloneMetadata returns cfg with its own copy of the metadata map, for
// copy-on-write changes.
func cloneMetadata(cfg *fly.MachineConfig) *fly.MachineConfig {
	c := *cfg
	c.Metadata = maps.Clone(cfg.Metadata)
	if c.Metadata == nil {
		c.Metadata = map[string]string{}
	}
	return &c
}
