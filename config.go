package switchboard

import (
	"context"
	"time"
)

// ConfigVersion is one immutable version of an instance's config. Spec is
// the config message (BreakerConfig or RealtimeConfig, by Kind) in protobuf
// binary with every default filled in; this package never decodes it, so the
// domain stays free of generated code.
type ConfigVersion struct {
	InstanceID string
	Version    int64
	Kind       InstanceKind
	Spec       []byte
	CreatedBy  string
	CreatedAt  time.Time
	// PublishedVersion is the instance's highest version written to S3.
	PublishedVersion int64
}

// PrepareSpec turns an incoming config into the bytes to store, given the
// current version's spec (nil before the first): it merges write-only
// secrets, validates and fills defaults. It runs inside the update's
// transaction and must not do I/O.
type PrepareSpec func(current []byte) ([]byte, error)

// UpdateConfigInput is what UpdateConfig needs.
type UpdateConfigInput struct {
	InstanceID  string
	BaseVersion int64
	Kind        InstanceKind
	Prepare     PrepareSpec
}

// RolloutNode is a data-plane node's last report.
type RolloutNode struct {
	NodeID         string
	AppliedVersion int64
	LastSeenAt     time.Time
	LastSyncAt     *time.Time
	LastError      string
	AgentVersion   string
}

// ConfigService stores config versions. Accepted updates and rollbacks
// enqueue publish_config in the same transaction.
type ConfigService interface {
	// GetConfig returns the latest version (Version 0 and no Spec before the first).
	GetConfig(ctx context.Context, instanceID string) (*ConfigVersion, error)
	UpdateConfig(ctx context.Context, in UpdateConfigInput) (*ConfigVersion, error)
	// CheckConfigAccess returns the instance when the caller may edit its config.
	CheckConfigAccess(ctx context.Context, instanceID string) (*Instance, error)
	ListConfigVersions(ctx context.Context, instanceID string, page PageRequest) ([]*ConfigVersion, string, error)
	RollbackConfig(ctx context.Context, instanceID string, toVersion, baseVersion int64) (*ConfigVersion, error)
	GetRollout(ctx context.Context, instanceID string) (*ConfigVersion, []*RolloutNode, error)
}

// DataPlaneToken is a data-plane token's record.
type DataPlaneToken struct {
	ID         string
	InstanceID string
	Name       string
	Prefix     string
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// DataPlaneTokenService manages data-plane tokens. Creating and revoking
// enqueue sync_token_registry in the same transaction, which writes or
// deletes the token's registry object in S3 for the CDN.
type DataPlaneTokenService interface {
	CreateDataPlaneToken(ctx context.Context, instanceID, name string) (*DataPlaneToken, string, error)
	ListDataPlaneTokens(ctx context.Context, instanceID string, page PageRequest) ([]*DataPlaneToken, string, error)
	RevokeDataPlaneToken(ctx context.Context, id string) (*DataPlaneToken, error)
}

// NodeStatus is what a data plane reports.
type NodeStatus struct {
	InstanceID     string
	NodeID         string
	AppliedVersion int64
	LastSyncAt     *time.Time
	LastError      string
	AgentVersion   string
	// BreakerStates maps service name to state.
	BreakerStates map[string]string
}

// DataPlaneService takes reports from data planes, authenticated by their token.
type DataPlaneService interface {
	ReportStatus(ctx context.Context, token string, s NodeStatus) error
}

// Config jobs.
const (
	JobPublishConfig     = "publish_config"
	JobSyncTokenRegistry = "sync_token_registry"
)

// PublishConfigArgs compiles, signs and uploads an instance's latest config.
type PublishConfigArgs struct {
	InstanceID string `json:"instance_id"`
}

func (PublishConfigArgs) Kind() string { return JobPublishConfig }

// SyncTokenRegistryArgs writes (or, once revoked, deletes) a data-plane
// token's registry object.
type SyncTokenRegistryArgs struct {
	TokenID string `json:"token_id"`
}

func (SyncTokenRegistryArgs) Kind() string { return JobSyncTokenRegistry }

// PublishStore is what publish_config needs from the database.
type PublishStore interface {
	// LatestConfig returns the instance's latest version, or ENOTFOUND when
	// the instance is gone or has no config.
	LatestConfig(ctx context.Context, instanceID string) (*ConfigVersion, error)
	// LockPublish serialises publishes of one instance across workers.
	LockPublish(ctx context.Context, instanceID string) (unlock func(), err error)
	// NextPublishSequence numbers the change feed.
	NextPublishSequence(ctx context.Context) (int64, error)
	// MarkPublished raises the instance's published version to version.
	MarkPublished(ctx context.Context, instanceID string, version int64) error
	// LoadTokenRegistryEntry returns the registry entry of a live token, or
	// ENOTFOUND when the token is revoked or its instance deleted.
	LoadTokenRegistryEntry(ctx context.Context, tokenID string) (*TokenRegistryEntry, error)
}

// PublishNotifier tells CDN replicas that an instance has a new artifact.
// Best effort: they also follow the change feed.
type PublishNotifier interface {
	Notify(ctx context.Context, instanceID string) error
}
