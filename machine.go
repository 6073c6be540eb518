package switchboard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MachineProvider runs instances as machines: Fly's Machines API in
// production, localfly in development and tests (fly/ adapts both). It has
// no idempotency keys, so callers look things up (by app name, by machine
// metadata) before creating them.
//
// Errors are classified, never compared as strings: errors.Is(err,
// ErrMachinesNotFound), ErrMachinesTransient (429, 5xx, timeouts: retry),
// ErrMachinesCapacity (the region has no room: retry or try elsewhere).
// Anything else from the provider is permanent: retrying cannot fix it.
type MachineProvider interface {
	GetApp(ctx context.Context, name string) (*MachineApp, error)
	// CreateApp fails with ErrMachinesConflict when the name is taken.
	CreateApp(ctx context.Context, name string) (*MachineApp, error)
	// DeleteApp destroys the app and its machines; a missing app is not an error.
	DeleteApp(ctx context.Context, name string) error
	// ListApps lists the organization's apps.
	ListApps(ctx context.Context) ([]*MachineApp, error)
	SetSecret(ctx context.Context, app, name, value string) error

	// ListMachines lists the app's machines that are not destroyed and carry
	// every metadata key and value given.
	ListMachines(ctx context.Context, app string, metadata map[string]string) ([]*Machine, error)
	CreateMachine(ctx context.Context, app string, spec MachineSpec) (*Machine, error)
	GetMachine(ctx context.Context, app, id string) (*Machine, error)
	// WaitMachine waits up to timeout for the machine to reach state; a
	// timeout is ErrMachinesTransient.
	WaitMachine(ctx context.Context, app, id, state string, timeout time.Duration) error
	StartMachine(ctx context.Context, app, id string) error
	RestartMachine(ctx context.Context, app, id string) error
	// DestroyMachine kills and destroys a machine; a missing one is not an error.
	DestroyMachine(ctx context.Context, app, id string) error
	// MachineURL is where the machine's service can be reached.
	MachineURL(ctx context.Context, app, id string) (string, error)
}

// MachineApp is a Fly app: instances get one each.
type MachineApp struct {
	Name string
	Org  string
}

// Machine states the control plane looks at.
const (
	MachineStarted   = "started"
	MachineStopped   = "stopped"
	MachineDestroyed = "destroyed"
)

// Machine is one machine of an app.
type Machine struct {
	ID       string
	Name     string
	State    string
	Region   string
	Image    string
	Metadata map[string]string
}

// MachineSpec is what CreateMachine launches.
type MachineSpec struct {
	Name     string
	Region   string
	Image    string
	Env      map[string]string
	Metadata map[string]string
	CPUKind  string // shared or performance
	CPUs     int
	MemoryMB int
	// InternalPort is the port the one HTTP service listens on.
	InternalPort int
}

// Machine metadata every managed machine carries, so a machine can be
// traced to its instance (and adopted, or destroyed as an orphan) without
// any other record.
const (
	MetadataInstanceID = "switchboard_instance_id"
	MetadataGeneration = "switchboard_generation"
)

// Classes of MachineProvider errors; match with errors.Is.
var (
	ErrMachinesNotFound  = errors.New("not found")
	ErrMachinesConflict  = errors.New("already exists")
	ErrMachinesTransient = errors.New("temporary failure")
	ErrMachinesCapacity  = errors.New("no capacity in region")
)

// MachinesError is a MachineProvider failure: the operation, the provider's
// HTTP status and message, and its class.
type MachinesError struct {
	Op      string
	Status  int
	Message string
	// Class is one of the ErrMachines* values, or nil for a permanent error.
	Class error
	// RetryAfter is the provider's Retry-After, when it sent one.
	RetryAfter time.Duration
}

func (e *MachinesError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: %d %s", e.Op, e.Status, e.Message)
	}
	return e.Op + ": " + e.Message
}

func (e *MachinesError) Is(target error) bool { return e.Class != nil && target == e.Class }

// MachinesPermanent reports whether err came from the provider and no retry
// can fix it (a 4xx other than 404, 408, 409 and 429).
func MachinesPermanent(err error) bool {
	var me *MachinesError
	return errors.As(err, &me) && me.Class == nil
}

// MachinesRetryAfter returns the Retry-After the provider asked for, or 0.
func MachinesRetryAfter(err error) time.Duration {
	var me *MachinesError
	if errors.As(err, &me) {
		return me.RetryAfter
	}
	return 0
}

// AppName is the Fly app an instance runs in, derived from its id so a
// retry finds what an earlier attempt created: `sb-<id body>`.
func AppName(instanceID string) string {
	_, body, _ := strings.Cut(instanceID, "_")
	return "sb-" + body
}

// InstanceIDFromApp is AppName's inverse; ok is false for apps that are not
// an instance's.
func InstanceIDFromApp(app string) (string, bool) {
	body, ok := strings.CutPrefix(app, "sb-")
	id := PrefixInstance + "_" + body
	return id, ok && ValidID(PrefixInstance, id)
}
