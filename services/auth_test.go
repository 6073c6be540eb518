package services_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/apitest"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func TestSignUpLogInLogOut(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	bg := context.Background()
	u := env.SignUp(t, "Ada")

	me, err := env.Auth.GetCurrentUser(u.Ctx(), &switchboardv1.GetCurrentUserRequest{})
	require.NoError(t, err)
	require.Equal(t, u.ID, me.User.Id)

	// The personal organization is owned by the user.
	org, err := env.Orgs.GetOrganization(u.Ctx(), &switchboardv1.GetOrganizationRequest{Id: u.OrgID})
	require.NoError(t, err)
	require.Equal(t, switchboardv1.Role_ROLE_OWNER, org.Organization.CallerRole)

	// Same email, any case: already exists.
	_, err = env.Auth.SignUp(bg, &switchboardv1.SignUpRequest{Email: strings.ToUpper(u.Email), Password: "another long password", Name: "Ada"})
	apitest.RequireCode(t, err, connect.CodeAlreadyExists)

	in, err := env.Auth.LogIn(bg, &switchboardv1.LogInRequest{Email: u.Email, Password: "correct horse battery"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(in.SessionToken, "sb_sess_"))
	ctx := apitest.WithToken(bg, in.SessionToken)

	_, err = env.Auth.LogOut(ctx, &switchboardv1.LogOutRequest{})
	require.NoError(t, err)
	_, err = env.Auth.GetCurrentUser(ctx, &switchboardv1.GetCurrentUserRequest{})
	apitest.RequireCode(t, err, connect.CodeUnauthenticated)
	// The other session still works.
	_, err = env.Auth.GetCurrentUser(u.Ctx(), &switchboardv1.GetCurrentUserRequest{})
	require.NoError(t, err)

	// A tampered secret with a real id is refused.
	tampered := u.Token[:len(u.Token)-1] + map[bool]string{true: "a", false: "b"}[!strings.HasSuffix(u.Token, "a")]
	_, err = env.Auth.GetCurrentUser(apitest.WithToken(bg, tampered), &switchboardv1.GetCurrentUserRequest{})
	apitest.RequireCode(t, err, connect.CodeUnauthenticated)
}

func TestPasswordsAreNotTruncated(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	long := strings.Repeat("p", 255) + "A"
	_, err := env.Auth.SignUp(context.Background(), &switchboardv1.SignUpRequest{Email: "long@example.com", Password: long, Name: "L"})
	require.NoError(t, err)
	_, err = env.Auth.LogIn(context.Background(), &switchboardv1.LogInRequest{Email: "long@example.com", Password: strings.Repeat("p", 255) + "B"})
	apitest.RequireCode(t, err, connect.CodeUnauthenticated)
	_, err = env.Auth.LogIn(context.Background(), &switchboardv1.LogInRequest{Email: "long@example.com", Password: long})
	require.NoError(t, err)
}

func TestLogInRateLimitedPerEmail(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	u := env.SignUp(t, "Target")
	bg := context.Background()
	for range 5 {
		_, err := env.Auth.LogIn(bg, &switchboardv1.LogInRequest{Email: u.Email, Password: "wrong password!"})
		apitest.RequireCode(t, err, connect.CodeUnauthenticated)
	}
	// Even the right password is refused now, with a clear message.
	_, err := env.Auth.LogIn(bg, &switchboardv1.LogInRequest{Email: u.Email, Password: "correct horse battery"})
	apitest.RequireCode(t, err, connect.CodeResourceExhausted)
	require.Contains(t, err.Error(), "too many failed log-ins for this email")
}

func TestLogInRateLimitedPerClient(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	u := env.SignUp(t, "Other")
	bg := context.Background()
	// Spread over many emails so the per-email limit never trips.
	for i := range 30 {
		_, err := env.Auth.LogIn(bg, &switchboardv1.LogInRequest{Email: strings.Repeat("z", i+1) + "@example.com", Password: "wrong password!"})
		apitest.RequireCode(t, err, connect.CodeUnauthenticated)
	}
	_, err := env.Auth.LogIn(bg, &switchboardv1.LogInRequest{Email: u.Email, Password: "correct horse battery"})
	apitest.RequireCode(t, err, connect.CodeResourceExhausted)
	require.Contains(t, err.Error(), "from this address")
}

func TestLastOwnerCannotBeRemovedOrDemoted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := f.owner.Ctx()
	_, err := f.env.Orgs.UpdateMemberRole(ctx, &switchboardv1.UpdateMemberRoleRequest{OrganizationId: f.owner.OrgID, UserId: f.owner.ID, Role: switchboardv1.Role_ROLE_ADMIN})
	apitest.RequireCode(t, err, connect.CodeFailedPrecondition)
	_, err = f.env.Orgs.RemoveMember(ctx, &switchboardv1.RemoveMemberRequest{OrganizationId: f.owner.OrgID, UserId: f.owner.ID})
	apitest.RequireCode(t, err, connect.CodeFailedPrecondition)

	// Admins cannot make owners or touch them.
	_, err = f.env.Orgs.UpdateMemberRole(f.admin.Ctx(), &switchboardv1.UpdateMemberRoleRequest{OrganizationId: f.owner.OrgID, UserId: f.member.ID, Role: switchboardv1.Role_ROLE_OWNER})
	apitest.RequireCode(t, err, connect.CodePermissionDenied)
	_, err = f.env.Orgs.RemoveMember(f.admin.Ctx(), &switchboardv1.RemoveMemberRequest{OrganizationId: f.owner.OrgID, UserId: f.owner.ID})
	apitest.RequireCode(t, err, connect.CodePermissionDenied)

	// With a second owner, the first may step down.
	_, err = f.env.Orgs.UpdateMemberRole(ctx, &switchboardv1.UpdateMemberRoleRequest{OrganizationId: f.owner.OrgID, UserId: f.admin.ID, Role: switchboardv1.Role_ROLE_OWNER})
	require.NoError(t, err)
	res, err := f.env.Orgs.UpdateMemberRole(ctx, &switchboardv1.UpdateMemberRoleRequest{OrganizationId: f.owner.OrgID, UserId: f.owner.ID, Role: switchboardv1.Role_ROLE_MEMBER})
	require.NoError(t, err)
	require.Equal(t, switchboardv1.Role_ROLE_MEMBER, res.Member.Role)

	// A viewer may leave on their own.
	_, err = f.env.Orgs.RemoveMember(f.viewer.Ctx(), &switchboardv1.RemoveMemberRequest{OrganizationId: f.owner.OrgID, UserId: f.viewer.ID})
	require.NoError(t, err)
}

func TestAPIKeysAreScopedAndCapped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// An admin cannot mint an owner key.
	_, err := f.env.Keys.CreateAPIKey(f.admin.Ctx(), &switchboardv1.CreateAPIKeyRequest{OrganizationId: f.owner.OrgID, Name: "k", Role: switchboardv1.Role_ROLE_OWNER})
	apitest.RequireCode(t, err, connect.CodePermissionDenied)

	key := f.env.APIKey(t, f.owner, switchboardv1.Role_ROLE_VIEWER)
	require.True(t, strings.HasPrefix(key.Secret, "sb_key_"))
	require.True(t, strings.HasPrefix(key.Secret, key.ApiKey.Prefix))
	ctx := apitest.WithToken(context.Background(), key.Secret)
	// A key sees only its own organization, even though its creator has two.
	_, err = f.env.Orgs.CreateOrganization(f.owner.Ctx(), &switchboardv1.CreateOrganizationRequest{Name: "Second"})
	require.NoError(t, err)
	list, err := f.env.Orgs.ListOrganizations(ctx, &switchboardv1.ListOrganizationsRequest{})
	require.NoError(t, err)
	require.Len(t, list.Organizations, 1)
	require.Equal(t, switchboardv1.Role_ROLE_VIEWER, list.Organizations[0].CallerRole)

	// Listing shows the key, never its secret, and records its use.
	keys, err := f.env.Keys.ListAPIKeys(f.owner.Ctx(), &switchboardv1.ListAPIKeysRequest{OrganizationId: f.owner.OrgID})
	require.NoError(t, err)
	require.Len(t, keys.ApiKeys, 1)
	require.NotNil(t, keys.ApiKeys[0].LastUsedTime)
	require.NotContains(t, keys.ApiKeys[0].String(), key.Secret)
}

func TestListsPaginate(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	u := env.SignUp(t, "Pager")
	for range 4 {
		_, err := env.Orgs.CreateOrganization(u.Ctx(), &switchboardv1.CreateOrganizationRequest{Name: "Org"})
		require.NoError(t, err)
	}
	var seen []string
	token := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		res, err := env.Orgs.ListOrganizations(u.Ctx(), &switchboardv1.ListOrganizationsRequest{PageSize: 2, PageToken: token})
		require.NoError(t, err)
		for _, o := range res.Organizations {
			seen = append(seen, o.Id)
		}
		if token = res.NextPageToken; token == "" {
			break
		}
	}
	require.Len(t, seen, 5)
	require.IsIncreasing(t, seen)

	events, err := env.Audit.ListAuditEvents(u.Ctx(), &switchboardv1.ListAuditEventsRequest{OrganizationId: u.OrgID})
	require.NoError(t, err)
	require.Len(t, events.AuditEvents, 1)
	require.Equal(t, "user.sign_up", events.AuditEvents[0].Action)
}

func TestEveryMutationIsAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := f.env.APIKey(t, f.owner, switchboardv1.Role_ROLE_ADMIN)
	_, err := f.env.Keys.RevokeAPIKey(f.owner.Ctx(), &switchboardv1.RevokeAPIKeyRequest{Id: key.ApiKey.Id})
	require.NoError(t, err)
	_, err = f.env.Orgs.UpdateOrganization(f.owner.Ctx(), &switchboardv1.UpdateOrganizationRequest{Id: f.owner.OrgID, Name: "Renamed"})
	require.NoError(t, err)
	_, err = f.env.Orgs.RemoveMember(f.owner.Ctx(), &switchboardv1.RemoveMemberRequest{OrganizationId: f.owner.OrgID, UserId: f.peer.ID})
	require.NoError(t, err)

	res, err := f.env.Audit.ListAuditEvents(f.owner.Ctx(), &switchboardv1.ListAuditEventsRequest{OrganizationId: f.owner.OrgID})
	require.NoError(t, err)
	actions := map[string]int{}
	for _, e := range res.AuditEvents {
		actions[e.Action]++
		require.NotEmpty(t, e.Actor)
		require.NotContains(t, e.Details.String(), "sb_key_")
	}
	require.Equal(t, map[string]int{
		"user.sign_up": 1, "member.add": 4, "api_key.create": 1, "api_key.revoke": 1,
		"organization.update": 1, "member.remove": 1,
	}, actions)
}

// h2cClient speaks HTTP/2 without TLS, as gRPC clients do in front of a
// plain-text listener.
var h2cClient = func() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}
}()

func TestEveryProtocol(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	u := env.SignUp(t, "Proto")
	for name, opt := range map[string]connect.ClientOption{
		"grpc-web": connect.WithGRPCWeb(), "connect-binary": connect.WithClientOptions(), "connect-json": connect.WithProtoJSON(),
		"grpc": connect.WithGRPC(),
	} {
		c := apitest.NewClients(h2cClient, env.URL, opt)
		res, err := c.Auth.GetCurrentUser(u.Ctx(), &switchboardv1.GetCurrentUserRequest{})
		require.NoError(t, err, name)
		require.Equal(t, u.ID, res.User.Id)
		_, err = c.Orgs.GetOrganization(u.Ctx(), &switchboardv1.GetOrganizationRequest{Id: "bad"})
		apitest.RequireInvalidField(t, err, "id")
	}
}
