// Package apitest runs the real API — Connect handlers over the Postgres
// services on a fresh test database — on a real HTTP server, with clients
// and helpers to make users, organizations and keys. Tests of services/,
// the SDKs and e2e share it. It is test support: nothing else imports it.
package apitest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/switchboardhq/switchboard"
	"github.com/switchboardhq/switchboard/compile"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
	"github.com/switchboardhq/switchboard/gen/switchboard/v1/switchboardv1connect"
	"github.com/switchboardhq/switchboard/password"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/postgres/pgtest"
	"github.com/switchboardhq/switchboard/services"
)

// Clock is a settable clock for tests.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Env is a running API with its database.
type Env struct {
	URL      string
	DB       *postgres.DB
	Services *postgres.Services
	Clock    *Clock
	Clients
}

// Clients are Connect clients for every service.
type Clients struct {
	Auth       switchboardv1connect.AuthServiceClient
	Orgs       switchboardv1connect.OrganizationServiceClient
	Keys       switchboardv1connect.APIKeyServiceClient
	Audit      switchboardv1connect.AuditServiceClient
	Instances  switchboardv1connect.InstanceServiceClient
	Configs    switchboardv1connect.ConfigServiceClient
	Tokens     switchboardv1connect.DataPlaneTokenServiceClient
	DataPlanes switchboardv1connect.DataPlaneServiceClient
}

// Keyring signs artifacts in tests; TrustedKeys are its public keys.
var (
	Keyring     = mustKeyring()
	TrustedKeys = Keyring.TrustedKeys()
)

func mustKeyring() *compile.Keyring {
	key, err := compile.GenerateKey()
	if err != nil {
		panic(err)
	}
	kr, err := compile.NewKeyring(key)
	if err != nil {
		panic(err)
	}
	return kr
}

// New starts the API on a fresh database.
func New(t testing.TB) *Env {
	t.Helper()
	pool := pgtest.NewPool(t)
	clock := &Clock{now: time.Now().UTC()}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Insert-only: tests that need jobs worked start their own workers.
	jobs, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: logger})
	require.NoError(t, err)
	db := &postgres.DB{Pool: pool, Now: clock.Now, Logger: logger, Jobs: jobs}
	svc := postgres.NewServices(db, password.Fast)
	srv := httptest.NewUnstartedServer(services.NewHandler(services.Params{
		Logger: logger, Auth: svc.Auth, Organizations: svc.Organizations, APIKeys: svc.APIKeys, Audit: svc.Audit,
		Instances: svc.Instances, Configs: svc.Configs, Tokens: svc.Tokens, DataPlanes: svc.Tokens,
		CDNURL: "http://cdn.invalid", TrustedKeys: TrustedKeys,
	}))
	// As in production: HTTP/1.1 plus HTTP/2 without TLS, for gRPC clients.
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return &Env{URL: srv.URL, DB: db, Services: svc, Clock: clock, Clients: NewClients(srv.Client(), srv.URL)}
}

// NewClients returns clients that send the token set with WithToken.
func NewClients(hc connect.HTTPClient, url string, extra ...connect.ClientOption) Clients {
	opt := connect.WithClientOptions(append(extra, connect.WithInterceptors(tokenInterceptor{}))...)
	return Clients{
		Auth:       switchboardv1connect.NewAuthServiceClient(hc, url, opt),
		Orgs:       switchboardv1connect.NewOrganizationServiceClient(hc, url, opt),
		Keys:       switchboardv1connect.NewAPIKeyServiceClient(hc, url, opt),
		Audit:      switchboardv1connect.NewAuditServiceClient(hc, url, opt),
		Instances:  switchboardv1connect.NewInstanceServiceClient(hc, url, opt),
		Configs:    switchboardv1connect.NewConfigServiceClient(hc, url, opt),
		Tokens:     switchboardv1connect.NewDataPlaneTokenServiceClient(hc, url, opt),
		DataPlanes: switchboardv1connect.NewDataPlaneServiceClient(hc, url, opt),
	}
}

type tokenKey struct{}

// WithToken makes calls with ctx send Authorization: Bearer token.
func WithToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

type tokenInterceptor struct{}

func (tokenInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if tok, _ := ctx.Value(tokenKey{}).(string); tok != "" {
			req.Header().Set("Authorization", "Bearer "+tok)
		}
		return next(ctx, req)
	}
}

func (tokenInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if tok, _ := ctx.Value(tokenKey{}).(string); tok != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+tok)
		}
		return conn
	}
}

func (tokenInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// User is a signed-up user with their personal organization.
type User struct {
	ID, Email, Token, OrgID string
}

// Ctx is a context carrying the user's session token.
func (u *User) Ctx() context.Context { return WithToken(context.Background(), u.Token) }

// SignUp creates a user with a unique email.
func (e *Env) SignUp(t testing.TB, name string) *User {
	t.Helper()
	email := switchboard.NewID("u", time.Now())[2:] + "@example.com"
	res, err := e.Auth.SignUp(context.Background(), &switchboardv1.SignUpRequest{Email: email, Password: "correct horse battery", Name: name})
	require.NoError(t, err)
	return &User{ID: res.User.Id, Email: email, Token: res.SessionToken, OrgID: res.Organization.Id}
}

// Member signs up a new user and adds them to owner's organization with role.
func (e *Env) Member(t testing.TB, owner *User, role switchboardv1.Role) *User {
	t.Helper()
	u := e.SignUp(t, "member "+role.String())
	_, err := e.Orgs.AddMember(owner.Ctx(), &switchboardv1.AddMemberRequest{OrganizationId: owner.OrgID, Email: u.Email, Role: role})
	require.NoError(t, err)
	u.OrgID = owner.OrgID
	return u
}

// APIKey creates a key with role in owner's organization.
func (e *Env) APIKey(t testing.TB, owner *User, role switchboardv1.Role) *switchboardv1.CreateAPIKeyResponse {
	t.Helper()
	res, err := e.Keys.CreateAPIKey(owner.Ctx(), &switchboardv1.CreateAPIKeyRequest{OrganizationId: owner.OrgID, Name: "test key", Role: role})
	require.NoError(t, err)
	return res
}

// Count returns the rows of a table, to prove a refused call wrote nothing.
func (e *Env) Count(t testing.TB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, e.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

// RequireCode asserts err is a Connect error with code.
func RequireCode(t testing.TB, err error, code connect.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, connect.CodeOf(err), "error: %v", err)
}

// RequireInvalidField asserts err is InvalidArgument with a violation for field.
func RequireInvalidField(t testing.TB, err error, field string) {
	t.Helper()
	RequireCode(t, err, connect.CodeInvalidArgument)
	var fields []string
	var cerr *connect.Error
	require.ErrorAs(t, err, &cerr)
	for _, d := range cerr.Details() {
		v, derr := d.Value()
		require.NoError(t, derr)
		if br, ok := v.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				fields = append(fields, fv.GetField())
			}
		}
	}
	require.Contains(t, fields, field, "error: %v", err)
}
