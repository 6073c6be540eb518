package workers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/switchboardhq/switchboard"
)

// SecretDataPlaneToken is the app secret holding the instance's data-plane
// token; Fly gives it to the machine as an environment variable.
const SecretDataPlaneToken = "SWITCHBOARD_TOKEN"

// ProvisionInstanceWorker creates an instance's app, token secret and
// machine, waits for it to start and answer its health check, and marks the
// instance RUNNING with its endpoint. It also replaces a lost machine when
// reconcile asks (state UPDATING with a bumped generation).
type ProvisionInstanceWorker struct {
	river.WorkerDefaults[switchboard.ProvisionInstanceArgs]
	p Params
}

func (w *ProvisionInstanceWorker) Work(ctx context.Context, job *river.Job[switchboard.ProvisionInstanceArgs]) error {
	id := job.Args.InstanceID
	doing, err := w.provision(ctx, id)
	return finish(ctx, &w.p, job.JobRow, id, doing, err)
}

// provision runs the steps, returning what it was doing when it failed.
func (w *ProvisionInstanceWorker) provision(ctx context.Context, id string) (string, error) {
	st, m := w.p.Store, w.p.Machines
	rec, err := st.LoadInstance(ctx, id)
	if err != nil {
		return "loading the instance", err
	}
	switch rec.State {
	case switchboard.StatePending, switchboard.StateProvisioning, switchboard.StateUpdating:
	default:
		return "", nil // running, failed, deleting or deleted: nothing to provision
	}
	state := rec.State
	if state == switchboard.StatePending {
		state = switchboard.StateProvisioning
	}
	progress := func(detail string) error {
		return st.SaveProgress(ctx, id, switchboard.InstanceProgress{State: &state, StateDetail: &detail})
	}

	// 1. The app, by its derived name.
	app := switchboard.AppName(id)
	if rec.FlyAppName == "" {
		if err := progress("creating app"); err != nil {
			return "", err
		}
		if err := ensureApp(ctx, m, app); err != nil {
			return "creating the Fly app", err
		}
		if err := st.SaveProgress(ctx, id, switchboard.InstanceProgress{FlyAppName: &app, StateDetail: ptr("app created")}); err != nil {
			return "", err
		}
		w.p.afterStep(ctx, id, "app")
	}

	// 2. The data-plane token as an app secret. A token is minted only while
	// no secret is confirmed, so retries never leave two live tokens.
	if rec.DataPlaneTokenID == "" {
		if err := progress("setting data-plane token"); err != nil {
			return "", err
		}
		tokenID, secret, err := st.MintDataPlaneToken(ctx, id)
		if err != nil {
			return "minting the data-plane token", err
		}
		if err := m.SetSecret(ctx, app, SecretDataPlaneToken, secret); err != nil {
			return "setting the data-plane token secret", err
		}
		if err := st.SaveProgress(ctx, id, switchboard.InstanceProgress{DataPlaneTokenID: &tokenID, StateDetail: ptr("data-plane token set")}); err != nil {
			return "", err
		}
		w.p.afterStep(ctx, id, "secret")
	}

	// 3. The machine, by its metadata: adopt one of this generation, destroy
	// older generations and duplicates, create only when none is left.
	if err := progress("creating machine"); err != nil {
		return "", err
	}
	machine, region, err := w.ensureMachine(ctx, rec, app)
	if err != nil {
		return "creating the machine", err
	}
	if machine.ID != rec.FlyMachineID || region != rec.Region {
		if err := st.SaveProgress(ctx, id, switchboard.InstanceProgress{FlyMachineID: &machine.ID, Region: &region, StateDetail: ptr("machine created")}); err != nil {
			return "", err
		}
		w.p.afterStep(ctx, id, "machine")
	}

	// 4. Started.
	if err := progress("starting machine"); err != nil {
		return "", err
	}
	if machine.State == switchboard.MachineStopped {
		if err := m.StartMachine(ctx, app, machine.ID); err != nil {
			return "starting the machine", err
		}
	}
	if err := m.WaitMachine(ctx, app, machine.ID, switchboard.MachineStarted, 30*time.Second); err != nil {
		return "waiting for the machine to start", err
	}
	w.p.afterStep(ctx, id, "started")

	// 5. Healthy, then RUNNING with its endpoint.
	if err := progress("checking health"); err != nil {
		return "", err
	}
	endpoint, err := m.MachineURL(ctx, app, machine.ID)
	if err != nil {
		return "finding the machine's address", err
	}
	if err := w.healthy(ctx, endpoint); err != nil {
		return "checking the machine's health", err
	}
	running := switchboard.StateRunning
	return "", st.SaveProgress(ctx, id, switchboard.InstanceProgress{
		State: &running, StateDetail: ptr("running"), EndpointURL: &endpoint, FailureReason: ptr(""),
	})
}

// ensureApp gets or creates the app. A create that failed after Fly made the
// app shows up as a name conflict; the app is adopted then.
func ensureApp(ctx context.Context, m switchboard.MachineProvider, app string) error {
	_, err := m.GetApp(ctx, app)
	if err == nil {
		return nil
	}
	if !errors.Is(err, switchboard.ErrMachinesNotFound) {
		return err
	}
	_, err = m.CreateApp(ctx, app)
	if errors.Is(err, switchboard.ErrMachinesConflict) {
		_, err = m.GetApp(ctx, app)
	}
	return err
}

func (w *ProvisionInstanceWorker) ensureMachine(ctx context.Context, rec *switchboard.InstanceRecord, app string) (*switchboard.Machine, string, error) {
	m := w.p.Machines
	gen := strconv.FormatInt(rec.Generation, 10)
	existing, err := m.ListMachines(ctx, app, map[string]string{switchboard.MetadataInstanceID: rec.ID})
	if err != nil {
		return nil, "", err
	}
	var keep *switchboard.Machine
	for _, mc := range existing {
		if mc.Metadata[switchboard.MetadataGeneration] == gen && (keep == nil || mc.ID == rec.FlyMachineID) {
			keep = mc
		}
	}
	for _, mc := range existing {
		if mc != keep {
			if err := m.DestroyMachine(ctx, app, mc.ID); err != nil {
				return nil, "", err
			}
		}
	}
	if keep != nil {
		return keep, keep.Region, nil
	}

	size, ok := switchboard.LookupSize(rec.Size)
	if !ok {
		return nil, "", fmt.Errorf("instance %s has unknown size %q", rec.ID, rec.Size)
	}
	env := map[string]string{
		"SWITCHBOARD_INSTANCE_ID":  rec.ID,
		"SWITCHBOARD_CDN_URL":      w.p.Config.CDNURL,
		"SWITCHBOARD_API_URL":      w.p.Config.APIURL,
		"SWITCHBOARD_TRUSTED_KEYS": w.p.Config.TrustedKeys,
	}
	if w.p.Config.AllowPrivateTargets {
		env["SWITCHBOARD_ALLOW_PRIVATE_TARGETS"] = "true"
	}
	spec := switchboard.MachineSpec{
		Name:         rec.Name,
		Image:        switchboard.Images[rec.Kind],
		Env:          env,
		Metadata:     map[string]string{switchboard.MetadataInstanceID: rec.ID, switchboard.MetadataGeneration: gen},
		CPUKind:      size.CPUKind,
		CPUs:         size.CPUs,
		MemoryMB:     size.MemoryMB,
		InternalPort: switchboard.ServicePort,
	}
	regions := []string{rec.Region}
	if rec.AllowRegionFallback {
		for _, r := range switchboard.Regions {
			if r != rec.Region {
				regions = append(regions, r)
			}
		}
	}
	var lastErr error
	for _, region := range regions {
		spec.Region = region
		created, err := m.CreateMachine(ctx, app, spec)
		if err == nil {
			if created.Region == "" {
				created.Region = region
			}
			return created, created.Region, nil
		}
		lastErr = err
		if !errors.Is(err, switchboard.ErrMachinesCapacity) {
			return nil, "", err
		}
		w.p.Logger.InfoContext(ctx, "no capacity in region", "instance", rec.ID, "region", region, "fallback", rec.AllowRegionFallback)
	}
	return nil, "", lastErr // capacity is transient: River retries
}

// healthy polls <endpoint>/healthz until it answers 200 or the health
// timeout passes; a machine still booting is a transient failure.
func (w *ProvisionInstanceWorker) healthy(ctx context.Context, endpoint string) error {
	timeout := w.p.Config.HealthTimeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	deadline := time.Now().Add(timeout)
	client := w.p.httpClient()
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return &switchboard.MachinesError{Op: "health check " + endpoint + "/healthz",
				Message: "no healthy answer: " + last, Class: switchboard.ErrMachinesTransient}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
