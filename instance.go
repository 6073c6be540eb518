package switchboard

import (
	"context"
	"time"
)

// InstanceKind is which data plane an instance runs.
type InstanceKind string

const (
	KindRealtime InstanceKind = "realtime"
	KindBreaker  InstanceKind = "breaker"
)

// InstanceState is where an instance is in its life:
// PENDING → PROVISIONING → RUNNING; → FAILED; RUNNING → UPDATING → RUNNING;
// → DELETING → DELETED.
type InstanceState string

const (
	StatePending      InstanceState = "pending"
	StateProvisioning InstanceState = "provisioning"
	StateRunning      InstanceState = "running"
	StateUpdating     InstanceState = "updating"
	StateFailed       InstanceState = "failed"
	StateDeleting     InstanceState = "deleting"
	StateDeleted      InstanceState = "deleted"
)

// Terminal reports whether WatchInstance ends at s.
func (s InstanceState) Terminal() bool {
	return s == StateRunning || s == StateFailed || s == StateDeleted
}

// Instance is one managed data plane running on a Fly Machine.
type Instance struct {
	ID             string
	OrganizationID string
	Name           string
	Kind           InstanceKind
	Region         string
	Size           string
	State          InstanceState
	// StateDetail is the human-readable current step ("creating machine").
	StateDetail string
	// FailureReason says why the instance FAILED, in words a user can act on.
	FailureReason       string
	EndpointURL         string
	AllowRegionFallback bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// CreateInstanceInput is what CreateInstance needs.
type CreateInstanceInput struct {
	OrganizationID      string
	Name                string
	Kind                InstanceKind
	Region              string
	Size                string
	AllowRegionFallback bool
}

// InstanceService manages instances for API callers.
type InstanceService interface {
	CreateInstance(ctx context.Context, in CreateInstanceInput) (*Instance, error)
	GetInstance(ctx context.Context, id string) (*Instance, error)
	ListInstances(ctx context.Context, orgID string, page PageRequest) ([]*Instance, string, error)
	DeleteInstance(ctx context.Context, id string) (*Instance, error)
	RestartInstance(ctx context.Context, id string) (*Instance, error)
	// WatchInstance calls fn with the instance now and after every change,
	// until fn returns false, the instance reaches a terminal state, or ctx ends.
	WatchInstance(ctx context.Context, id string, fn func(*Instance) bool) error
}
