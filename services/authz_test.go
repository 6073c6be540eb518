package services_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboardhq/switchboard/apitest"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// fixture is one organization with a member of every role, a second
// tenant, and the API to call.
type fixture struct {
	env                    *apitest.Env
	owner, admin, member   *apitest.User
	viewer, outsider, peer *apitest.User
	candidate              *apitest.User // signed up, not a member yet
}

func newFixture(t *testing.T) *fixture {
	env := apitest.New(t)
	f := &fixture{env: env, owner: env.SignUp(t, "Owner")}
	f.admin = env.Member(t, f.owner, switchboardv1.Role_ROLE_ADMIN)
	f.member = env.Member(t, f.owner, switchboardv1.Role_ROLE_MEMBER)
	f.viewer = env.Member(t, f.owner, switchboardv1.Role_ROLE_VIEWER)
	f.peer = env.Member(t, f.owner, switchboardv1.Role_ROLE_MEMBER) // a target for member RPCs
	f.outsider = env.SignUp(t, "Outsider")
	f.candidate = env.SignUp(t, "Candidate")
	return f
}

// rpc is one organization-scoped method: the least role that may call it
// and a call that succeeds for that role.
type rpc struct {
	name    string
	minRole switchboardv1.Role
	call    func(ctx context.Context, f *fixture) error
}

func orgRPCs() []rpc {
	return []rpc{
		{"GetOrganization", switchboardv1.Role_ROLE_VIEWER, func(ctx context.Context, f *fixture) error {
			_, err := f.env.Orgs.GetOrganization(ctx, &switchboardv1.GetOrganizationRequest{Id: f.owner.OrgID})
			return err
		}},
		{"UpdateOrganization", switchboardv1.Role_ROLE_OWNER, func(ctx context.Context, f *fixture) error {
			_, err := f.env.Orgs.UpdateOrganization(ctx, &switchboardv1.UpdateOrganizationRequest{Id: f.owner.OrgID, Name: "Renamed"})
			return err
		}},
		{"ListMembers", switchboardv1.Role_ROLE_VIEWER, func(ctx context.Context, f *fixture) error {
			_, err := f.env.Orgs.ListMembers(ctx, &switchboardv1.ListMembersRequest{OrganizationId: f.owner.OrgID})
			return err
		}},
		{"AddMember", switchboardv1.Role_ROLE_ADMIN, func(ctx context.Context, f *fixture) error {
			_, err := f.env.Orgs.AddMember(ctx, &switchboardv1.AddMemberRequest{OrganizationId: f.owner.OrgID, Email: f.candidate.Email, Role: switchboardv1.Role_ROLE_VIEWER})
			return err
		}},
		{"UpdateMemberRole", switchboardv1.Role_ROLE_ADMIN, func(ctx context.Context, f *fixture) error {
			_, err := f.env.Orgs.UpdateMemberRole(ctx, &switchboardv1.UpdateMemberRoleRequest{OrganizationId: f.owner.OrgID, UserId: f.peer.ID, Role: switchboardv1.Role_ROLE_MEMBER})
			return err
		}},
		{"RemoveMember", switchboardv1.Role_ROLE_ADMIN, func(ctx context.Context, f *fixture) error {
			_, err := f.env.Orgs.RemoveMember(ctx, &switchboardv1.RemoveMemberRequest{OrganizationId: f.owner.OrgID, UserId: f.peer.ID})
			return err
		}},
		{"CreateAPIKey", switchboardv1.Role_ROLE_ADMIN, func(ctx context.Context, f *fixture) error {
			_, err := f.env.Keys.CreateAPIKey(ctx, &switchboardv1.CreateAPIKeyRequest{OrganizationId: f.owner.OrgID, Name: "k", Role: switchboardv1.Role_ROLE_VIEWER})
			return err
		}},
		{"ListAPIKeys", switchboardv1.Role_ROLE_ADMIN, func(ctx context.Context, f *fixture) error {
			_, err := f.env.Keys.ListAPIKeys(ctx, &switchboardv1.ListAPIKeysRequest{OrganizationId: f.owner.OrgID})
			return err
		}},
		{"RevokeAPIKey", switchboardv1.Role_ROLE_ADMIN, func(ctx context.Context, f *fixture) error {
			res, err := f.env.Keys.CreateAPIKey(f.owner.Ctx(), &switchboardv1.CreateAPIKeyRequest{OrganizationId: f.owner.OrgID, Name: "victim", Role: switchboardv1.Role_ROLE_VIEWER})
			if err != nil {
				return err
			}
			_, err = f.env.Keys.RevokeAPIKey(ctx, &switchboardv1.RevokeAPIKeyRequest{Id: res.ApiKey.Id})
			return err
		}},
		{"ListAuditEvents", switchboardv1.Role_ROLE_ADMIN, func(ctx context.Context, f *fixture) error {
			_, err := f.env.Audit.ListAuditEvents(ctx, &switchboardv1.ListAuditEventsRequest{OrganizationId: f.owner.OrgID})
			return err
		}},
		{"DeleteOrganization", switchboardv1.Role_ROLE_OWNER, func(ctx context.Context, f *fixture) error {
			_, err := f.env.Orgs.DeleteOrganization(ctx, &switchboardv1.DeleteOrganizationRequest{Id: f.owner.OrgID})
			return err
		}},
	}
}

func TestOrganizationRPCAuthorization(t *testing.T) {
	t.Parallel()
	for _, r := range orgRPCs() {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			bg := context.Background()

			// No credentials, and garbage credentials.
			apitest.RequireCode(t, r.call(bg, f), connect.CodeUnauthenticated)
			apitest.RequireCode(t, r.call(apitest.WithToken(bg, "sb_key_nope"), f), connect.CodeUnauthenticated)

			// Another tenant's session and another tenant's admin key: not found.
			apitest.RequireCode(t, r.call(f.outsider.Ctx(), f), connect.CodeNotFound)
			otherKey := f.env.APIKey(t, f.outsider, switchboardv1.Role_ROLE_OWNER).Secret
			apitest.RequireCode(t, r.call(apitest.WithToken(bg, otherKey), f), connect.CodeNotFound)

			// Roles below the minimum: permission denied, for sessions and keys.
			for role, u := range map[switchboardv1.Role]*apitest.User{
				switchboardv1.Role_ROLE_VIEWER: f.viewer, switchboardv1.Role_ROLE_MEMBER: f.member, switchboardv1.Role_ROLE_ADMIN: f.admin,
			} {
				if role >= r.minRole {
					continue
				}
				apitest.RequireCode(t, r.call(u.Ctx(), f), connect.CodePermissionDenied)
				key := f.env.APIKey(t, f.owner, role).Secret
				apitest.RequireCode(t, r.call(apitest.WithToken(bg, key), f), connect.CodePermissionDenied)
			}

			// Revoked and expired keys of the right role: unauthenticated.
			keyRole := max(r.minRole, switchboardv1.Role_ROLE_VIEWER)
			if keyRole < switchboardv1.Role_ROLE_OWNER { // only owners hold owner keys; covered below
				revoked := f.env.APIKey(t, f.owner, keyRole)
				_, err := f.env.Keys.RevokeAPIKey(f.owner.Ctx(), &switchboardv1.RevokeAPIKeyRequest{Id: revoked.ApiKey.Id})
				require.NoError(t, err)
				apitest.RequireCode(t, r.call(apitest.WithToken(bg, revoked.Secret), f), connect.CodeUnauthenticated)
			}

			// The least role that may call it succeeds.
			var allowed *apitest.User
			switch r.minRole {
			case switchboardv1.Role_ROLE_VIEWER:
				allowed = f.viewer
			case switchboardv1.Role_ROLE_ADMIN:
				allowed = f.admin
			default:
				allowed = f.owner
			}
			require.NoError(t, r.call(allowed.Ctx(), f))
		})
	}
}

func TestExpiredAPIKeyIsUnauthenticated(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res, err := f.env.Keys.CreateAPIKey(f.owner.Ctx(), &switchboardv1.CreateAPIKeyRequest{
		OrganizationId: f.owner.OrgID, Name: "short-lived", Role: switchboardv1.Role_ROLE_ADMIN,
		ExpireTime: timestamppb.New(f.env.Clock.Now().Add(time.Hour)),
	})
	require.NoError(t, err)
	ctx := apitest.WithToken(context.Background(), res.Secret)
	for _, r := range orgRPCs() {
		if r.name == "DeleteOrganization" || r.name == "UpdateOrganization" {
			continue // owner-only: an admin key is refused before expiry matters
		}
		require.NoError(t, r.call(ctx, f), r.name)
	}
	f.env.Clock.Advance(2 * time.Hour)
	for _, r := range orgRPCs() {
		apitest.RequireCode(t, r.call(ctx, f), connect.CodeUnauthenticated)
	}
}

func TestSessionRPCsNeedCredentials(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	bg := context.Background()
	_, err := env.Auth.GetCurrentUser(bg, &switchboardv1.GetCurrentUserRequest{})
	apitest.RequireCode(t, err, connect.CodeUnauthenticated)
	_, err = env.Auth.LogOut(bg, &switchboardv1.LogOutRequest{})
	apitest.RequireCode(t, err, connect.CodeUnauthenticated)
	_, err = env.Orgs.ListOrganizations(bg, &switchboardv1.ListOrganizationsRequest{})
	apitest.RequireCode(t, err, connect.CodeUnauthenticated)
	_, err = env.Orgs.CreateOrganization(bg, &switchboardv1.CreateOrganizationRequest{Name: "x"})
	apitest.RequireCode(t, err, connect.CodeUnauthenticated)
}

func TestOwnerKeyCannotOutliveRevocationOrDeletion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	key := f.env.APIKey(t, f.owner, switchboardv1.Role_ROLE_OWNER)
	ctx := apitest.WithToken(context.Background(), key.Secret)
	_, err := f.env.Orgs.GetOrganization(ctx, &switchboardv1.GetOrganizationRequest{Id: f.owner.OrgID})
	require.NoError(t, err)
	_, err = f.env.Orgs.DeleteOrganization(f.owner.Ctx(), &switchboardv1.DeleteOrganizationRequest{Id: f.owner.OrgID})
	require.NoError(t, err)
	// Deleting the organization revokes its keys and hides it from members.
	_, err = f.env.Orgs.GetOrganization(ctx, &switchboardv1.GetOrganizationRequest{Id: f.owner.OrgID})
	apitest.RequireCode(t, err, connect.CodeUnauthenticated)
	_, err = f.env.Orgs.GetOrganization(f.admin.Ctx(), &switchboardv1.GetOrganizationRequest{Id: f.owner.OrgID})
	apitest.RequireCode(t, err, connect.CodeNotFound)
}
