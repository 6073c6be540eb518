package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/switchboardhq/switchboard"
)

// Log-in rate limits: failures counted over LoginWindow.
const (
	SessionTTL        = 30 * 24 * time.Hour
	LoginWindow       = 15 * time.Minute
	MaxFailsPerEmail  = 5
	MaxFailsPerClient = 30
)

// AuthService implements switchboard.AuthService.
type AuthService struct {
	*DB
	Hasher switchboard.PasswordHasher
}

var _ switchboard.AuthService = (*AuthService)(nil)

// SignUp creates the user, a personal organization owned by them and a
// session, in one transaction.
func (s *AuthService) SignUp(ctx context.Context, in switchboard.SignUpInput) (*switchboard.Session, *switchboard.Organization, error) {
	var v switchboard.Violations
	v.CheckEmail("email", in.Email)
	v.CheckPassword("password", in.Password)
	v.CheckName("name", in.Name, 100)
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	hash, err := s.Hasher.Hash(in.Password)
	if err != nil {
		return nil, nil, fmt.Errorf("hash password: %w", err)
	}
	now := s.now()
	user := &switchboard.User{ID: switchboard.NewID(switchboard.PrefixUser, now), Email: strings.ToLower(in.Email), Name: in.Name, CreatedAt: now}
	org := &switchboard.Organization{
		ID: switchboard.NewID(switchboard.PrefixOrganization, now), Name: in.Name, Slug: derivedSlug(in.Name),
		CreatedAt: now, UpdatedAt: now, CallerRole: switchboard.RoleOwner,
	}
	var sess *switchboard.Session
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
			user.ID, user.Email, user.Name, hash, now)
		if err != nil {
			return mapErr(err, "a user with this email")
		}
		if err := insertOrganization(ctx, tx, org, user.ID, true); err != nil {
			return err
		}
		if sess, err = s.newSession(ctx, tx, user); err != nil {
			return err
		}
		return s.audit(ctx, tx, org.ID, "user:"+user.ID, "user.sign_up", user.ID, map[string]any{"email": user.Email})
	})
	if err != nil {
		return nil, nil, err
	}
	return sess, org, nil
}

func (s *AuthService) newSession(ctx context.Context, tx pgx.Tx, user *switchboard.User) (*switchboard.Session, error) {
	now := s.now()
	sess := &switchboard.Session{ID: switchboard.NewID(switchboard.PrefixSession, now), User: user, ExpiresAt: now.Add(SessionTTL)}
	sess.Token = switchboard.NewToken(switchboard.TokenSession, sess.ID)
	hash := switchboard.HashToken(sess.Token)
	_, err := tx.Exec(ctx, `INSERT INTO sessions (id, user_id, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		sess.ID, user.ID, hash[:], now, sess.ExpiresAt)
	if err != nil {
		return nil, fmt.Errorf("insert session: %w", err)
	}
	return sess, nil
}

var errBadLogin = switchboard.Errorf(switchboard.EUNAUTHENTICATED, "email or password is incorrect")

// LogIn checks the password and opens a session. Failures are counted per
// email and per client address; past the limits it answers ERATELIMITED
// without checking the password at all.
func (s *AuthService) LogIn(ctx context.Context, email, password, clientAddr string) (*switchboard.Session, error) {
	var v switchboard.Violations
	v.CheckEmail("email", email)
	if password == "" {
		v.Add("password", "is required")
	} else if len(password) > switchboard.MaxPasswordLen {
		v.Addf("password", "must be at most %d bytes", switchboard.MaxPasswordLen)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	email = strings.ToLower(email)
	emailKey, clientKey := "email:"+email, "addr:"+clientAddr
	if err := s.checkLoginRate(ctx, emailKey, MaxFailsPerEmail, "for this email"); err != nil {
		return nil, err
	}
	if err := s.checkLoginRate(ctx, clientKey, MaxFailsPerClient, "from this address"); err != nil {
		return nil, err
	}

	user := &switchboard.User{}
	var hash string
	err := s.Pool.QueryRow(ctx, `SELECT id, email, name, password_hash, created_at FROM users WHERE lower(email) = $1`, email).
		Scan(&user.ID, &user.Email, &user.Name, &hash, &user.CreatedAt)
	ok := false
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		// Spend the same time as a real check so timing does not reveal accounts.
		_, _ = s.Hasher.Verify(password, dummyHash)
	case err != nil:
		return nil, err
	default:
		if ok, err = s.Hasher.Verify(password, hash); err != nil {
			return nil, fmt.Errorf("verify password: %w", err)
		}
	}
	if !ok {
		now := s.now()
		if _, err := s.Pool.Exec(ctx, `INSERT INTO login_failures (key, created_at) VALUES ($1, $3), ($2, $3)`, emailKey, clientKey, now); err != nil {
			return nil, fmt.Errorf("record failed log-in: %w", err)
		}
		return nil, errBadLogin
	}
	var sess *switchboard.Session
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if sess, err = s.newSession(ctx, tx, user); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE key = $1`, emailKey)
		return err
	})
	return sess, err
}

// dummyHash is a valid argon2id hash of nothing anyone knows.
var dummyHash = "$argon2id$v=19$m=65536,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$2b9lVvbYtxq4DBkgWy0PWHi1T3aSw9YyKl8wxNhU2Xo"

func (s *AuthService) checkLoginRate(ctx context.Context, key string, limit int, where string) error {
	var n int
	var oldest time.Time
	err := s.Pool.QueryRow(ctx, `SELECT count(*), coalesce(min(created_at), now()) FROM login_failures WHERE key = $1 AND created_at > $2`,
		key, s.now().Add(-LoginWindow)).Scan(&n, &oldest)
	if err != nil {
		return fmt.Errorf("count failed log-ins: %w", err)
	}
	if n >= limit {
		retry := max(time.Until(oldest.Add(LoginWindow)).Round(time.Minute), time.Minute)
		return switchboard.Errorf(switchboard.ERATELIMITED, "too many failed log-ins %s; try again in %s", where, retry)
	}
	return nil
}

// LogOut revokes the calling session.
func (s *AuthService) LogOut(ctx context.Context) error {
	p, err := switchboard.RequirePrincipal(ctx)
	if err != nil {
		return err
	}
	if p.SessionID == "" {
		return switchboard.Errorf(switchboard.EPRECONDITION, "log out needs a session token; revoke API keys with RevokeAPIKey")
	}
	_, err = s.Pool.Exec(ctx, `UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, p.SessionID, s.now())
	return err
}

// CurrentUser returns the principal's user.
func (s *AuthService) CurrentUser(ctx context.Context) (*switchboard.User, error) {
	p, err := switchboard.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	u := &switchboard.User{}
	err = s.Pool.QueryRow(ctx, `SELECT id, email, name, created_at FROM users WHERE id = $1`, p.UserID).
		Scan(&u.ID, &u.Email, &u.Name, &u.CreatedAt)
	return u, mapErr(err, "user")
}

var errBadToken = switchboard.Errorf(switchboard.EUNAUTHENTICATED, "the token is invalid, expired or revoked")

// Authenticate resolves a session token or API key. Revocation and expiry
// take effect on the next request: nothing is cached.
func (s *AuthService) Authenticate(ctx context.Context, token string) (*switchboard.Principal, error) {
	pt, ok := switchboard.ParseToken(token)
	if !ok {
		return nil, errBadToken
	}
	var stored []byte
	var lastUsed *time.Time
	var p switchboard.Principal
	var err error
	now := s.now()
	switch pt.Kind {
	case switchboard.TokenSession:
		p.SessionID = pt.ID
		err = s.Pool.QueryRow(ctx, `SELECT user_id, secret_hash, last_used_at FROM sessions
			WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2`, pt.ID, now).
			Scan(&p.UserID, &stored, &lastUsed)
	case switchboard.TokenAPIKey:
		var role string
		p.APIKeyID = pt.ID
		err = s.Pool.QueryRow(ctx, `SELECT created_by, organization_id, role, secret_hash, last_used_at FROM api_keys
			WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`, pt.ID, now).
			Scan(&p.UserID, &p.KeyOrganizationID, &role, &stored, &lastUsed)
		p.KeyRole = switchboard.ParseRole(role)
	default:
		return nil, errBadToken
	}
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !switchboard.TokenMatches(pt.Hash, stored)) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, fmt.Errorf("look up token: %w", err)
	}
	// last_used_at is for people reading listings: minute precision spares a
	// write on every request.
	if lastUsed == nil || now.Sub(*lastUsed) > time.Minute {
		table := map[string]string{switchboard.TokenSession: "sessions", switchboard.TokenAPIKey: "api_keys"}[pt.Kind]
		if _, err := s.Pool.Exec(ctx, `UPDATE `+table+` SET last_used_at = $2 WHERE id = $1`, pt.ID, now); err != nil {
			return nil, fmt.Errorf("record token use: %w", err)
		}
	}
	return &p, nil
}
