package workers

import (
	"context"
	"errors"

	"github.com/riverqueue/river"

	"github.com/switchboardhq/switchboard"
)

// ReconcileInstancesWorker compares instance rows with what the provider
// runs and repairs the difference: a RUNNING instance whose machine is gone
// gets a new one (next generation, through provision_instance); a stopped
// machine of a RUNNING instance is started; machines that carry our
// metadata but belong to no live instance, or duplicate a RUNNING
// instance's machine, are destroyed; an instance's app whose instance is
// gone is deleted. Instances being provisioned or deleted are left to their
// own jobs.
type ReconcileInstancesWorker struct {
	river.WorkerDefaults[switchboard.ReconcileInstancesArgs]
	p Params
}

// ReconcileReport counts what one pass repaired.
type ReconcileReport struct {
	Recreated, Started, DestroyedMachines, DeletedApps int
}

func (w *ReconcileInstancesWorker) Work(ctx context.Context, job *river.Job[switchboard.ReconcileInstancesArgs]) error {
	r, err := Reconcile(ctx, w.p)
	if r != (ReconcileReport{}) {
		w.p.Logger.InfoContext(ctx, "reconciled instances", "recreated", r.Recreated, "started", r.Started,
			"destroyed_machines", r.DestroyedMachines, "deleted_apps", r.DeletedApps)
	}
	return err
}

// Reconcile runs one pass. It keeps going past individual failures and
// returns the first.
func Reconcile(ctx context.Context, p Params) (ReconcileReport, error) {
	var rep ReconcileReport
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	st, m := p.Store, p.Machines
	// Apps first: an instance row always exists before its app, so anything
	// listed here that has no row really is an orphan.
	apps, err := m.ListApps(ctx)
	if err != nil {
		return rep, err
	}

	running, err := st.ListInstancesInState(ctx, switchboard.StateRunning)
	if err != nil {
		return rep, err
	}
	for _, rec := range running {
		app := rec.FlyAppName
		if app == "" {
			app = switchboard.AppName(rec.ID)
		}
		machines, err := m.ListMachines(ctx, app, map[string]string{switchboard.MetadataInstanceID: rec.ID})
		if err != nil && !errors.Is(err, switchboard.ErrMachinesNotFound) {
			note(err)
			continue
		}
		var current *switchboard.Machine
		for _, mc := range machines {
			if mc.ID == rec.FlyMachineID {
				current = mc
			}
		}
		for _, mc := range machines {
			if mc != current {
				if err := m.DestroyMachine(ctx, app, mc.ID); err != nil {
					note(err)
				} else {
					rep.DestroyedMachines++
				}
			}
		}
		switch {
		case current == nil:
			if errors.Is(err, switchboard.ErrMachinesNotFound) {
				// The app went too; provisioning recreates it.
				note(st.SaveProgress(ctx, rec.ID, switchboard.InstanceProgress{FlyAppName: ptr(""), DataPlaneTokenID: ptr("")}))
			}
			if err := st.ReplaceMachine(ctx, rec.ID, rec.Generation, "machine was lost; creating a new one"); err != nil {
				note(err)
			} else {
				rep.Recreated++
			}
		case current.State == switchboard.MachineStopped:
			if err := m.StartMachine(ctx, app, current.ID); err != nil {
				note(err)
			} else {
				rep.Started++
			}
		}
	}

	for _, a := range apps {
		r, err := reconcileApp(ctx, p, a.Name)
		rep.DestroyedMachines += r.DestroyedMachines
		rep.DeletedApps += r.DeletedApps
		note(err)
	}
	return rep, firstErr
}

// live reports whether an instance id names an instance that is not deleted.
func live(ctx context.Context, st switchboard.InstanceStore, id string, cache map[string]bool) (bool, error) {
	if v, ok := cache[id]; ok {
		return v, nil
	}
	rec, err := st.LoadInstance(ctx, id)
	switch {
	case switchboard.ErrorCode(err) == switchboard.ENOTFOUND:
		cache[id] = false
	case err != nil:
		return false, err
	default:
		cache[id] = rec.State != switchboard.StateDeleted
	}
	return cache[id], nil
}

// reconcileApp destroys machines in app that carry the metadata of an
// instance that is not live, and deletes an instance's app whose instance
// is not live.
func reconcileApp(ctx context.Context, p Params, app string) (ReconcileReport, error) {
	var rep ReconcileReport
	st, m := p.Store, p.Machines
	cache := map[string]bool{}
	if id, ok := switchboard.InstanceIDFromApp(app); ok {
		alive, err := live(ctx, st, id, cache)
		if err != nil {
			return rep, err
		}
		if !alive {
			if err := m.DeleteApp(ctx, app); err != nil {
				return rep, err
			}
			rep.DeletedApps++
			return rep, nil
		}
	}
	machines, err := m.ListMachines(ctx, app, nil)
	if errors.Is(err, switchboard.ErrMachinesNotFound) {
		return rep, nil
	}
	if err != nil {
		return rep, err
	}
	for _, mc := range machines {
		id, ours := mc.Metadata[switchboard.MetadataInstanceID]
		if !ours {
			continue
		}
		alive, err := live(ctx, st, id, cache)
		if err != nil {
			return rep, err
		}
		if alive {
			continue
		}
		if err := m.DestroyMachine(ctx, app, mc.ID); err != nil {
			return rep, err
		}
		rep.DestroyedMachines++
	}
	return rep, nil
}
