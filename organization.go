package switchboard

import (
	"context"
	"time"
)

// Organization owns instances, keys and tokens.
type Organization struct {
	ID        string
	Name      string
	Slug      string
	CreatedAt time.Time
	UpdatedAt time.Time
	// CallerRole is the requesting principal's role in it.
	CallerRole Role
}

// Member is a user's membership in an organization.
type Member struct {
	UserID    string
	Email     string
	Name      string
	Role      Role
	CreatedAt time.Time
}

// OrganizationService manages organizations and members. Every method checks
// the principal's role; another tenant's organization is ENOTFOUND.
type OrganizationService interface {
	CreateOrganization(ctx context.Context, name, slug string) (*Organization, error)
	GetOrganization(ctx context.Context, id string) (*Organization, error)
	ListOrganizations(ctx context.Context, page PageRequest) ([]*Organization, string, error)
	UpdateOrganization(ctx context.Context, id, name string) (*Organization, error)
	DeleteOrganization(ctx context.Context, id string) error
	ListMembers(ctx context.Context, orgID string, page PageRequest) ([]*Member, string, error)
	AddMember(ctx context.Context, orgID, email string, role Role) (*Member, error)
	UpdateMemberRole(ctx context.Context, orgID, userID string, role Role) (*Member, error)
	RemoveMember(ctx context.Context, orgID, userID string) error
}
