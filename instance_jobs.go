package switchboard

import (
	"context"
	"time"
)

// Job kinds. The args are River job args (they have Kind()), defined here so
// the API side can enqueue them without importing the workers.
const (
	JobProvisionInstance   = "provision_instance"
	JobDeprovisionInstance = "deprovision_instance"
	JobRestartInstance     = "restart_instance"
	JobReconcileInstances  = "reconcile_instances"
)

// ProvisionInstanceArgs creates (or resumes creating) an instance's app,
// token secret and machine.
type ProvisionInstanceArgs struct {
	InstanceID string `json:"instance_id"`
}

func (ProvisionInstanceArgs) Kind() string { return JobProvisionInstance }

// DeprovisionInstanceArgs removes everything an instance had.
type DeprovisionInstanceArgs struct {
	InstanceID string `json:"instance_id"`
}

func (DeprovisionInstanceArgs) Kind() string { return JobDeprovisionInstance }

// RestartInstanceArgs restarts an instance's machine.
type RestartInstanceArgs struct {
	InstanceID string `json:"instance_id"`
}

func (RestartInstanceArgs) Kind() string { return JobRestartInstance }

// ReconcileInstancesArgs compares instances with machines and repairs drift.
type ReconcileInstancesArgs struct{}

func (ReconcileInstancesArgs) Kind() string { return JobReconcileInstances }

// InstanceRecord is an instance with what the workers checkpoint on it.
type InstanceRecord struct {
	*Instance
	FlyAppName   string
	FlyMachineID string
	// Generation is bumped whenever the machine is replaced; the machine
	// carries it as metadata.
	Generation int64
	// DataPlaneTokenID is the token set as the app's secret, once it is.
	DataPlaneTokenID string
}

// InstanceProgress is a checkpoint: each non-nil field is written.
type InstanceProgress struct {
	State            *InstanceState
	StateDetail      *string
	FailureReason    *string
	EndpointURL      *string
	Region           *string
	FlyAppName       *string
	FlyMachineID     *string
	DataPlaneTokenID *string
}

// InstanceStore is what workers need from the instance records. Unlike
// InstanceService it acts as the system, not as a caller.
type InstanceStore interface {
	// LoadInstance returns any instance, deleted or not.
	LoadInstance(ctx context.Context, id string) (*InstanceRecord, error)
	// SaveProgress writes a checkpoint. It fails with EPRECONDITION once the
	// instance is deleting or deleted, unless the checkpoint moves it to
	// DELETED, so a late provisioning step cannot resurrect it.
	SaveProgress(ctx context.Context, id string, p InstanceProgress) error
	// MintDataPlaneToken revokes the instance's unconfirmed managed tokens
	// (minted by an attempt that crashed before checkpointing) and records a
	// new one, returning its id and secret.
	MintDataPlaneToken(ctx context.Context, instanceID string) (id, secret string, err error)
	// RevokeDataPlaneTokens revokes every token of the instance.
	RevokeDataPlaneTokens(ctx context.Context, instanceID string) error
	// ListInstancesInState returns instances in any of the states.
	ListInstancesInState(ctx context.Context, states ...InstanceState) ([]*InstanceRecord, error)
	// ReplaceMachine records that the instance's machine is gone: it bumps
	// the generation, clears the machine id, moves the instance to UPDATING
	// and enqueues provision_instance, in one transaction.
	ReplaceMachine(ctx context.Context, id string, generation int64, reason string) error
}

// WorkerConfig is what every managed machine is told about the control plane.
type WorkerConfig struct {
	CDNURL string
	APIURL string
	// TrustedKeys are the public keys data planes verify artifacts with.
	TrustedKeys string
	// AllowPrivateTargets lets the breaker dial private upstreams (local
	// development, where upstreams run on the same machine).
	AllowPrivateTargets bool
	// HealthTimeout bounds waiting for a started machine to answer /healthz.
	HealthTimeout time.Duration
}
