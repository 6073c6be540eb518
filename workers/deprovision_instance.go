package workers

import (
	"context"
	"errors"

	"github.com/riverqueue/river"

	"github.com/switchboardhq/switchboard"
)

// DeprovisionInstanceWorker removes everything an instance had: its machines
// (found by metadata, so ones a crashed attempt never checkpointed go too),
// its app, its data-plane tokens; then marks it DELETED.
//
// Artifacts in S3 are not deleted yet: the blob store is not wired into the
// workers (see the configs work).
type DeprovisionInstanceWorker struct {
	river.WorkerDefaults[switchboard.DeprovisionInstanceArgs]
	p Params
}

func (w *DeprovisionInstanceWorker) Work(ctx context.Context, job *river.Job[switchboard.DeprovisionInstanceArgs]) error {
	id := job.Args.InstanceID
	err := w.deprovision(ctx, id)
	if err == nil {
		return nil
	}
	// Deleting never ends FAILED: it keeps retrying transient errors, and a
	// permanent one is logged for an operator while the row stays DELETING.
	if switchboard.MachinesPermanent(err) {
		w.p.Logger.ErrorContext(ctx, "deprovisioning failed permanently", "instance", id, "err", err)
		detail := "deleting failed: " + readable(err)
		_ = w.p.Store.SaveProgress(ctx, id, switchboard.InstanceProgress{StateDetail: &detail})
		return river.JobCancel(err)
	}
	return retryOrSnooze(job.JobRow, err)
}

func (w *DeprovisionInstanceWorker) deprovision(ctx context.Context, id string) error {
	st, m := w.p.Store, w.p.Machines
	rec, err := st.LoadInstance(ctx, id)
	if err != nil {
		return err
	}
	if rec.State == switchboard.StateDeleted {
		return nil
	}
	app := switchboard.AppName(id)
	_ = st.SaveProgress(ctx, id, switchboard.InstanceProgress{StateDetail: ptr("destroying machines")})
	machines, err := m.ListMachines(ctx, app, map[string]string{switchboard.MetadataInstanceID: id})
	if err != nil && !errors.Is(err, switchboard.ErrMachinesNotFound) {
		return err
	}
	for _, mc := range machines {
		if err := m.DestroyMachine(ctx, app, mc.ID); err != nil {
			return err
		}
	}
	_ = st.SaveProgress(ctx, id, switchboard.InstanceProgress{StateDetail: ptr("deleting app")})
	if err := m.DeleteApp(ctx, app); err != nil {
		return err
	}
	if err := st.RevokeDataPlaneTokens(ctx, id); err != nil {
		return err
	}
	deleted := switchboard.StateDeleted
	return st.SaveProgress(ctx, id, switchboard.InstanceProgress{State: &deleted, StateDetail: ptr("deleted"), EndpointURL: ptr("")})
}
