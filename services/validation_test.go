package services_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/switchboardhq/switchboard/apitest"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// badInput is a request that must be refused with InvalidArgument naming
// field, writing nothing.
type badInput struct {
	name  string
	field string
	call  func(ctx context.Context, f *fixture) error
}

var nasty = []string{
	"",                            // empty
	strings.Repeat("x", 101),      // oversize
	"'; DROP TABLE users; --\x00", // SQL metacharacters and NUL
	"\u202e\u0000control",         // unicode control characters
	" padded ",                    // surrounding spaces
}

func badInputs() []badInput {
	var cases []badInput
	for _, s := range nasty {
		cases = append(cases,
			badInput{"SignUp name " + s, "name", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Auth.SignUp(ctx, &switchboardv1.SignUpRequest{Email: "new@example.com", Password: "correct horse battery", Name: s})
				return err
			}},
			badInput{"CreateOrganization name " + s, "name", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Orgs.CreateOrganization(f.owner.Ctx(), &switchboardv1.CreateOrganizationRequest{Name: s})
				return err
			}},
			badInput{"UpdateOrganization name " + s, "name", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Orgs.UpdateOrganization(f.owner.Ctx(), &switchboardv1.UpdateOrganizationRequest{Id: f.owner.OrgID, Name: s})
				return err
			}},
			badInput{"CreateAPIKey name " + s, "name", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Keys.CreateAPIKey(f.owner.Ctx(), &switchboardv1.CreateAPIKeyRequest{OrganizationId: f.owner.OrgID, Name: s})
				return err
			}},
		)
	}
	for _, email := range []string{"", "plain", "a@b", "a b@example.com", "ü@example.com", "x'--@example.com\x00", "<a@example.com>", strings.Repeat("a", 250) + "@example.com"} {
		cases = append(cases,
			badInput{"SignUp email " + email, "email", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Auth.SignUp(ctx, &switchboardv1.SignUpRequest{Email: email, Password: "correct horse battery", Name: "N"})
				return err
			}},
			badInput{"AddMember email " + email, "email", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Orgs.AddMember(f.owner.Ctx(), &switchboardv1.AddMemberRequest{OrganizationId: f.owner.OrgID, Email: email, Role: switchboardv1.Role_ROLE_VIEWER})
				return err
			}},
		)
	}
	for _, pw := range []string{"", "short", strings.Repeat("p", 257)} {
		cases = append(cases, badInput{"SignUp password len " + string(rune('0'+len(pw)%10)), "password", func(ctx context.Context, f *fixture) error {
			_, err := f.env.Auth.SignUp(ctx, &switchboardv1.SignUpRequest{Email: "new@example.com", Password: pw, Name: "N"})
			return err
		}})
	}
	for _, id := range []string{"", "org_", "org_' OR 1=1 --", "ins_06h2axpxg3hhn2fabwqbtdk8tc", "org_06h2axpxg3ghk455mxrnfscxx\u00e9", "org_06H2AXPXG3GHK455MXRNFSCXXG"} {
		cases = append(cases,
			badInput{"GetOrganization id " + id, "id", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Orgs.GetOrganization(f.owner.Ctx(), &switchboardv1.GetOrganizationRequest{Id: id})
				return err
			}},
			badInput{"DeleteOrganization id " + id, "id", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Orgs.DeleteOrganization(f.owner.Ctx(), &switchboardv1.DeleteOrganizationRequest{Id: id})
				return err
			}},
			badInput{"ListMembers organization_id " + id, "organization_id", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Orgs.ListMembers(f.owner.Ctx(), &switchboardv1.ListMembersRequest{OrganizationId: id})
				return err
			}},
			badInput{"ListAPIKeys organization_id " + id, "organization_id", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Keys.ListAPIKeys(f.owner.Ctx(), &switchboardv1.ListAPIKeysRequest{OrganizationId: id})
				return err
			}},
			badInput{"ListAuditEvents organization_id " + id, "organization_id", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Audit.ListAuditEvents(f.owner.Ctx(), &switchboardv1.ListAuditEventsRequest{OrganizationId: id})
				return err
			}},
			badInput{"RevokeAPIKey id " + id, "id", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Keys.RevokeAPIKey(f.owner.Ctx(), &switchboardv1.RevokeAPIKeyRequest{Id: id})
				return err
			}},
			badInput{"RemoveMember user_id " + id, "user_id", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Orgs.RemoveMember(f.owner.Ctx(), &switchboardv1.RemoveMemberRequest{OrganizationId: f.owner.OrgID, UserId: id})
				return err
			}},
			badInput{"UpdateMemberRole user_id " + id, "user_id", func(ctx context.Context, f *fixture) error {
				_, err := f.env.Orgs.UpdateMemberRole(f.owner.Ctx(), &switchboardv1.UpdateMemberRoleRequest{OrganizationId: f.owner.OrgID, UserId: id, Role: switchboardv1.Role_ROLE_VIEWER})
				return err
			}},
		)
	}
	cases = append(cases,
		badInput{"CreateOrganization slug", "slug", func(ctx context.Context, f *fixture) error {
			_, err := f.env.Orgs.CreateOrganization(f.owner.Ctx(), &switchboardv1.CreateOrganizationRequest{Name: "N", Slug: "Not A Slug!"})
			return err
		}},
		badInput{"AddMember role", "role", func(ctx context.Context, f *fixture) error {
			_, err := f.env.Orgs.AddMember(f.owner.Ctx(), &switchboardv1.AddMemberRequest{OrganizationId: f.owner.OrgID, Email: f.candidate.Email, Role: 99})
			return err
		}},
		badInput{"UpdateMemberRole role", "role", func(ctx context.Context, f *fixture) error {
			_, err := f.env.Orgs.UpdateMemberRole(f.owner.Ctx(), &switchboardv1.UpdateMemberRoleRequest{OrganizationId: f.owner.OrgID, UserId: f.peer.ID})
			return err
		}},
		badInput{"CreateAPIKey role", "role", func(ctx context.Context, f *fixture) error {
			_, err := f.env.Keys.CreateAPIKey(f.owner.Ctx(), &switchboardv1.CreateAPIKeyRequest{OrganizationId: f.owner.OrgID, Name: "k", Role: -3})
			return err
		}},
		badInput{"CreateAPIKey expire_time past", "expire_time", func(ctx context.Context, f *fixture) error {
			_, err := f.env.Keys.CreateAPIKey(f.owner.Ctx(), &switchboardv1.CreateAPIKeyRequest{OrganizationId: f.owner.OrgID, Name: "k", ExpireTime: timestamppb.New(f.env.Clock.Now().Add(-time.Minute))})
			return err
		}},
		badInput{"CreateAPIKey expire_time invalid", "expire_time", func(ctx context.Context, f *fixture) error {
			_, err := f.env.Keys.CreateAPIKey(f.owner.Ctx(), &switchboardv1.CreateAPIKeyRequest{OrganizationId: f.owner.OrgID, Name: "k", ExpireTime: &timestamppb.Timestamp{Nanos: -5}})
			return err
		}},
		badInput{"LogIn email", "email", func(ctx context.Context, f *fixture) error {
			_, err := f.env.Auth.LogIn(ctx, &switchboardv1.LogInRequest{Email: "nope", Password: "whatever at all"})
			return err
		}},
		badInput{"LogIn password", "password", func(ctx context.Context, f *fixture) error {
			_, err := f.env.Auth.LogIn(ctx, &switchboardv1.LogInRequest{Email: f.owner.Email})
			return err
		}},
		badInput{"ListOrganizations page_size", "page_size", func(ctx context.Context, f *fixture) error {
			_, err := f.env.Orgs.ListOrganizations(f.owner.Ctx(), &switchboardv1.ListOrganizationsRequest{PageSize: 1000})
			return err
		}},
		badInput{"ListOrganizations page_token", "page_token", func(ctx context.Context, f *fixture) error {
			_, err := f.env.Orgs.ListOrganizations(f.owner.Ctx(), &switchboardv1.ListOrganizationsRequest{PageToken: "garbage!"})
			return err
		}},
		badInput{"ListAuditEvents page_token", "page_token", func(ctx context.Context, f *fixture) error {
			_, err := f.env.Audit.ListAuditEvents(f.owner.Ctx(), &switchboardv1.ListAuditEventsRequest{OrganizationId: f.owner.OrgID, PageToken: "djE6"})
			return err
		}},
	)
	return cases
}

var writtenTables = []string{"users", "organizations", "memberships", "sessions", "api_keys", "audit_events"}

func TestBadInputIsInvalidArgumentAndWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	counts := func() map[string]int {
		m := map[string]int{}
		for _, tbl := range writtenTables {
			m[tbl] = f.env.Count(t, tbl)
		}
		return m
	}
	before := counts()
	cases := badInputs()
	require.Greater(t, len(cases), 60)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			apitest.RequireInvalidField(t, c.call(context.Background(), f), c.field)
		})
	}
	require.Equal(t, before, counts(), "a refused request wrote something")
}
