package switchboard

import (
	"context"
	"time"
)

// Principal is who a request acts as: a user with a session, or an API key
// (which belongs to one organization and carries its own role).
type Principal struct {
	UserID string
	// SessionID is set for session tokens.
	SessionID string
	// APIKeyID, KeyOrganizationID and KeyRole are set for API keys.
	APIKeyID          string
	KeyOrganizationID string
	KeyRole           Role
	// ClientAddr is the caller's network address, for rate limiting.
	ClientAddr string
}

// Actor names the principal in audit events: `user:usr_…` or `api_key:key_…`.
func (p *Principal) Actor() string {
	if p.APIKeyID != "" {
		return "api_key:" + p.APIKeyID
	}
	return "user:" + p.UserID
}

type principalKey struct{}

// NewContextWithPrincipal returns a context carrying p.
func NewContextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFromContext returns the request's principal, or nil.
func PrincipalFromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// RequirePrincipal returns the principal or an EUNAUTHENTICATED error.
func RequirePrincipal(ctx context.Context) (*Principal, error) {
	if p := PrincipalFromContext(ctx); p != nil {
		return p, nil
	}
	return nil, Errorf(EUNAUTHENTICATED, "credentials are required")
}

// Password length rules. Passwords are never truncated.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// PasswordHasher hashes and checks passwords (argon2id in password/).
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(password, encoded string) (bool, error)
}

// User is a person who can log in.
type User struct {
	ID        string
	Email     string
	Name      string
	CreatedAt time.Time
}

// SignUpInput is what SignUp needs.
type SignUpInput struct {
	Email    string
	Password string
	Name     string
}

// Session is a logged-in session; Token is only set when it is created.
type Session struct {
	ID        string
	User      *User
	Token     string
	ExpiresAt time.Time
}

// AuthService signs users up and in and turns tokens into principals.
type AuthService interface {
	SignUp(ctx context.Context, in SignUpInput) (*Session, *Organization, error)
	LogIn(ctx context.Context, email, password, clientAddr string) (*Session, error)
	LogOut(ctx context.Context) error
	CurrentUser(ctx context.Context) (*User, error)
	// Authenticate resolves a session token or API key, or returns EUNAUTHENTICATED.
	Authenticate(ctx context.Context, token string) (*Principal, error)
}
