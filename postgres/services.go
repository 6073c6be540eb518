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
	// Configs also serves publish_config as its PublishStore.
	Configs *ConfigService
	// Tokens also serves DataPlaneService.ReportStatus.
	Tokens *DataPlaneTokenService
}

// NewServices builds every service over db.
func NewServices(db *DB, hasher switchboard.PasswordHasher) *Services {
	instances := &InstanceService{DB: db}
	return &Services{
		Auth:          &AuthService{DB: db, Hasher: hasher},
		Organizations: &OrganizationService{DB: db},
		APIKeys:       &APIKeyService{DB: db},
		Audit:         &AuditService{DB: db},
		Instances:     instances,
		InstanceStore: &InstanceStore{DB: db},
		Configs:       &ConfigService{DB: db, Instances: instances},
		Tokens:        &DataPlaneTokenService{DB: db, Instances: instances},
	}
}
