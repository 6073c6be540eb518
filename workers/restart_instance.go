package workers

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/switchboardhq/switchboard"
)

// RestartInstanceWorker restarts an UPDATING instance's machine, waits for
// it to start and marks it RUNNING again.
type RestartInstanceWorker struct {
	river.WorkerDefaults[switchboard.RestartInstanceArgs]
	p Params
}

func (w *RestartInstanceWorker) Work(ctx context.Context, job *river.Job[switchboard.RestartInstanceArgs]) error {
	id := job.Args.InstanceID
	doing, err := w.restart(ctx, id)
	return finish(ctx, &w.p, job.JobRow, id, doing, err)
}

func (w *RestartInstanceWorker) restart(ctx context.Context, id string) (string, error) {
	st, m := w.p.Store, w.p.Machines
	rec, err := st.LoadInstance(ctx, id)
	if err != nil {
		return "loading the instance", err
	}
	if rec.State != switchboard.StateUpdating || rec.FlyMachineID == "" {
		return "", nil
	}
	app := rec.FlyAppName
	updating := switchboard.StateUpdating
	if err := st.SaveProgress(ctx, id, switchboard.InstanceProgress{State: &updating, StateDetail: ptr("restarting machine")}); err != nil {
		return "", err
	}
	if err := m.RestartMachine(ctx, app, rec.FlyMachineID); err != nil {
		return "restarting the machine", err
	}
	if err := m.WaitMachine(ctx, app, rec.FlyMachineID, switchboard.MachineStarted, 30*time.Second); err != nil {
		return "waiting for the machine to start", err
	}
	running := switchboard.StateRunning
	return "", st.SaveProgress(ctx, id, switchboard.InstanceProgress{State: &running, StateDetail: ptr("running")})
}
