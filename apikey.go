package switchboard

import (
	"context"
	"time"
)

// APIKey is an API key's record; the secret is only in CreateAPIKey's result.
type APIKey struct {
	ID             string
	OrganizationID string
	Name           string
	Role           Role
	Prefix         string
	CreatedBy      string
	CreatedAt      time.Time
	LastUsedAt     *time.Time
	ExpiresAt      *time.Time
	RevokedAt      *time.Time
}

// APIKeyService manages organization-scoped API keys.
type APIKeyService interface {
	CreateAPIKey(ctx context.Context, orgID, name string, role Role, expiresAt *time.Time) (*APIKey, string, error)
	ListAPIKeys(ctx context.Context, orgID string, page PageRequest) ([]*APIKey, string, error)
	RevokeAPIKey(ctx context.Context, id string) (*APIKey, error)
}
