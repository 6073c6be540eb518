// Package workers runs the River jobs that turn instance records into
// machines and back: provision_instance, deprovision_instance,
// restart_instance and the periodic reconcile_instances. One file per job
// kind. They depend only on the root package's interfaces
// (switchboard.InstanceStore, switchboard.MachineProvider); cmd/ wires
// Postgres and the Fly adapter in.
//
// Every step looks before it creates (the app by its derived name, the
// machine by its metadata) and checkpoints what it made on the instance row,
// so a retry — or a new worker after a crash — resumes without duplicates.
// Transient provider errors are returned so River retries with backoff (or
// snoozes for a 429's Retry-After); permanent ones cancel the job and leave
// the instance FAILED with a reason the user can read.
package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/switchboardhq/switchboard"
)

// Params are what the workers need.
type Params struct {
	Store    switchboard.InstanceStore
	Machines switchboard.MachineProvider
	Config   switchboard.WorkerConfig
	Logger   *slog.Logger
	// HTTPClient makes health checks. Defaults to a client with a 5s timeout.
	HTTPClient *http.Client
	// AfterStep, when set, is called after each provisioning step is
	// checkpointed ("app", "secret", "machine", "started"). Crash tests use it
	// to hold the worker at a step while they kill it.
	AfterStep func(ctx context.Context, instanceID, step string)
}

func (p *Params) httpClient() *http.Client {
	if p.HTTPClient != nil {
		return p.HTTPClient
	}
	return &http.Client{Timeout: 5 * time.Second}
}

func (p *Params) afterStep(ctx context.Context, id, step string) {
	if p.AfterStep != nil {
		p.AfterStep(ctx, id, step)
	}
}

// Register adds every worker to w.
func Register(w *river.Workers, p Params) {
	river.AddWorker(w, &ProvisionInstanceWorker{p: p})
	river.AddWorker(w, &DeprovisionInstanceWorker{p: p})
	river.AddWorker(w, &RestartInstanceWorker{p: p})
	river.AddWorker(w, &ReconcileInstancesWorker{p: p})
}

// PeriodicJobs returns the periodic jobs: reconcile_instances every interval.
func PeriodicJobs(interval time.Duration) []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return switchboard.ReconcileInstancesArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
		}, &river.PeriodicJobOpts{ID: switchboard.JobReconcileInstances, RunOnStart: true})}
}

// RetryPolicy is exponential backoff with full jitter between Base and Max,
// so a Fly hiccup costs seconds rather than River's default minutes.
type RetryPolicy struct {
	Base, Max time.Duration
}

// NextRetry implements river.ClientRetryPolicy.
func (p RetryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	base, maxD := p.Base, p.Max
	if base <= 0 {
		base = time.Second
	}
	if maxD <= 0 {
		maxD = 5 * time.Minute
	}
	d := time.Duration(float64(base) * math.Pow(2, float64(max(job.Attempt-1, 0))))
	if d > maxD || d <= 0 {
		d = maxD
	}
	d = d/2 + rand.N(d/2+1)
	return time.Now().Add(d)
}

// maxSnoozes bounds how often one job honours Retry-After before it counts
// the 429 as an ordinary failed attempt.
const maxSnoozes = 20

// retryOrSnooze returns what River should do with a transient err: snooze
// for the provider's Retry-After if it gave one, else retry with backoff.
func retryOrSnooze(job *rivertype.JobRow, err error) error {
	d := switchboard.MachinesRetryAfter(err)
	if d <= 0 || d > time.Minute {
		return err
	}
	var meta struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(job.Metadata, &meta)
	if meta.Snoozes >= maxSnoozes {
		return err
	}
	return river.JobSnooze(d)
}

// finish turns a step's error into River's outcome. A permanent provider
// error (or the last attempt) marks the instance FAILED with a readable
// reason before the job is cancelled (or discarded).
func finish(ctx context.Context, p *Params, job *rivertype.JobRow, id, doing string, err error) error {
	if err == nil {
		return nil
	}
	if switchboard.ErrorCode(err) == switchboard.EPRECONDITION {
		p.Logger.InfoContext(ctx, "instance is being deleted; dropping job", "instance", id, "job", job.Kind)
		return nil
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return err // shutting down; River retries
	}
	permanent := switchboard.MachinesPermanent(err)
	last := job.Attempt >= job.MaxAttempts
	if !permanent && !last {
		p.Logger.WarnContext(ctx, "transient failure; will retry", "instance", id, "job", job.Kind, "attempt", job.Attempt, "err", err)
		return retryOrSnooze(job, err)
	}
	reason := fmt.Sprintf("%s failed: %s", doing, readable(err))
	if !permanent {
		reason = fmt.Sprintf("%s failed after %d attempts: %s", doing, job.Attempt, readable(err))
	}
	failed := switchboard.StateFailed
	detail := "failed"
	if serr := p.Store.SaveProgress(ctx, id, switchboard.InstanceProgress{State: &failed, StateDetail: &detail, FailureReason: &reason}); serr != nil {
		if switchboard.ErrorCode(serr) == switchboard.EPRECONDITION {
			return nil
		}
		return fmt.Errorf("%w (and recording the failure: %v)", err, serr)
	}
	p.Logger.ErrorContext(ctx, "instance failed", "instance", id, "job", job.Kind, "reason", reason)
	if permanent {
		return river.JobCancel(err)
	}
	return err
}

// readable is the provider's words without our plumbing.
func readable(err error) string {
	var me *switchboard.MachinesError
	if errors.As(err, &me) {
		if me.Status != 0 {
			return fmt.Sprintf("%s (Fly answered %d)", me.Message, me.Status)
		}
		return me.Message
	}
	return err.Error()
}

func ptr[T any](v T) *T { return &v }
