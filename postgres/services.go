package postgres

import "github.com/switchboardhq/switchboard"

// Services are every domain service this package implements, over one DB.
type Services struct {
	Auth          *AuthService
	Organizations *OrganizationService
	APIKeys       *APIKeyService
	Audit         *AuditService
	Instances     *InstanceService
	// InstanceStore is the workers' view of instances.
	InstanceStore *InstanceStore
}

// NewServices builds every service over db.
func NewServices(db *DB, hasher switchboard.PasswordHasher) *Services {
	return &Services{
		Auth:          &AuthService{DB: db, Hasher: hasher},
		Organizations: &OrganizationService{DB: db},
		APIKeys:       &APIKeyService{DB: db},
		Audit:         &AuditService{DB: db},
		Instances:     &InstanceService{DB: db},
		InstanceStore: &InstanceStore{DB: db},
	}
}
