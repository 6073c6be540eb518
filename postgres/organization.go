package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/switchboardhq/switchboard"
)

// OrganizationService implements switchboard.OrganizationService.
type OrganizationService struct{ *DB }

var _ switchboard.OrganizationService = (*OrganizationService)(nil)

// derivedSlug is a slug from a name plus a random suffix, so two "Acme"s
// never collide.
func derivedSlug(name string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%x", switchboard.Slugify(name), b)
}

func insertOrganization(ctx context.Context, tx pgx.Tx, org *switchboard.Organization, ownerID string, personal bool) error {
	_, err := tx.Exec(ctx, `INSERT INTO organizations (id, name, slug, personal, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
		org.ID, org.Name, org.Slug, personal, org.CreatedAt)
	if err != nil {
		return mapErr(err, fmt.Sprintf("an organization with slug %q", org.Slug))
	}
	_, err = tx.Exec(ctx, `INSERT INTO memberships (organization_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)`,
		org.ID, ownerID, org.CreatedAt)
	return err
}

// CreateOrganization creates an organization owned by the calling user.
func (s *OrganizationService) CreateOrganization(ctx context.Context, name, slug string) (*switchboard.Organization, error) {
	p, err := switchboard.RequirePrincipal(ctx)
	if err != nil {
		return nil, err
	}
	var v switchboard.Violations
	v.CheckName("name", name, 100)
	if slug != "" {
		v.CheckSlug("slug", slug)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if p.APIKeyID != "" {
		return nil, switchboard.Errorf(switchboard.EFORBIDDEN, "API keys belong to one organization and cannot create others; use a session")
	}
	if slug == "" {
		slug = derivedSlug(name)
	}
	now := s.now()
	org := &switchboard.Organization{ID: switchboard.NewID(switchboard.PrefixOrganization, now), Name: name, Slug: slug,
		CreatedAt: now, UpdatedAt: now, CallerRole: switchboard.RoleOwner}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := insertOrganization(ctx, tx, org, p.UserID, false); err != nil {
			return err
		}
		return s.audit(ctx, tx, org.ID, p.Actor(), "organization.create", org.ID, map[string]any{"name": name, "slug": slug})
	})
	if err != nil {
		return nil, err
	}
	return org, nil
}

const orgColumns = `o.id, o.name, o.slug, o.created_at, o.updated_at, m.role`

func scanOrg(row pgx.Row, keyRole switchboard.Role) (*switchboard.Organization, error) {
	o := &switchboard.Organization{}
	var role string
	if err := row.Scan(&o.ID, &o.Name, &o.Slug, &o.CreatedAt, &o.UpdatedAt, &role); err != nil {
		return nil, err
	}
	o.CallerRole = switchboard.ParseRole(role)
	if keyRole != 0 && keyRole < o.CallerRole {
		o.CallerRole = keyRole
	}
	return o, nil
}

// GetOrganization returns an organization the principal belongs to.
func (s *OrganizationService) GetOrganization(ctx context.Context, id string) (*switchboard.Organization, error) {
	var v switchboard.Violations
	v.CheckID("id", switchboard.PrefixOrganization, id)
	if err := v.Err(); err != nil {
		return nil, err
	}
	p, _, err := authorize(ctx, s.Pool, id, switchboard.RoleViewer)
	if err != nil {
		return nil, err
	}
	o, err := scanOrg(s.Pool.QueryRow(ctx, `SELECT `+orgColumns+` FROM organizations o
		JOIN memberships m ON m.organization_id = o.id AND m.user_id = $2 WHERE o.id = $1`, id, p.UserID), p.KeyRole)
	return o, mapErr(err, "organization")
}

// ListOrganizations lists the principal's organizations by id.
func (s *OrganizationService) ListOrganizations(ctx context.Context, req switchboard.PageRequest) ([]*switchboard.Organization, string, error) {
	page, err := switchboard.ParsePage(req)
	if err != nil {
		return nil, "", err
	}
	p, err := switchboard.RequirePrincipal(ctx)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+orgColumns+` FROM organizations o
		JOIN memberships m ON m.organization_id = o.id AND m.user_id = $1
		WHERE o.deleted_at IS NULL AND o.id > $2 AND ($3 = '' OR o.id = $3)
		ORDER BY o.id LIMIT $4`, p.UserID, page.After, p.KeyOrganizationID, page.Limit+1)
	if err != nil {
		return nil, "", err
	}
	orgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*switchboard.Organization, error) { return scanOrg(r, p.KeyRole) })
	if err != nil {
		return nil, "", err
	}
	orgs, next := pageOf(orgs, page.Limit, func(o *switchboard.Organization) string { return o.ID })
	return orgs, next, nil
}

// UpdateOrganization renames an organization. Owner only.
func (s *OrganizationService) UpdateOrganization(ctx context.Context, id, name string) (*switchboard.Organization, error) {
	var v switchboard.Violations
	v.CheckID("id", switchboard.PrefixOrganization, id)
	v.CheckName("name", name, 100)
	if err := v.Err(); err != nil {
		return nil, err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		p, _, err := authorize(ctx, tx, id, switchboard.RoleOwner)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE organizations SET name = $2, updated_at = $3 WHERE id = $1`, id, name, s.now()); err != nil {
			return err
		}
		return s.audit(ctx, tx, id, p.Actor(), "organization.update", id, map[string]any{"name": name})
	})
	if err != nil {
		return nil, err
	}
	return s.GetOrganization(ctx, id)
}

// DeleteOrganization soft-deletes an organization. Owner only; its API keys
// stop working with it.
func (s *OrganizationService) DeleteOrganization(ctx context.Context, id string) error {
	var v switchboard.Violations
	v.CheckID("id", switchboard.PrefixOrganization, id)
	if err := v.Err(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		p, _, err := authorize(ctx, tx, id, switchboard.RoleOwner)
		if err != nil {
			return err
		}
		now := s.now()
		if _, err := tx.Exec(ctx, `UPDATE organizations SET deleted_at = $2, updated_at = $2 WHERE id = $1`, id, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE organization_id = $1 AND revoked_at IS NULL`, id, now); err != nil {
			return err
		}
		return s.audit(ctx, tx, id, p.Actor(), "organization.delete", id, nil)
	})
}

// ListMembers lists members by user id.
func (s *OrganizationService) ListMembers(ctx context.Context, orgID string, req switchboard.PageRequest) ([]*switchboard.Member, string, error) {
	var v switchboard.Violations
	v.CheckID("organization_id", switchboard.PrefixOrganization, orgID)
	page := v.CheckPage(req)
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	if _, _, err := authorize(ctx, s.Pool, orgID, switchboard.RoleViewer); err != nil {
		return nil, "", err
	}
	rows, err := s.Pool.Query(ctx, `SELECT u.id, u.email, u.name, m.role, m.created_at FROM memberships m
		JOIN users u ON u.id = m.user_id WHERE m.organization_id = $1 AND u.id > $2 ORDER BY u.id LIMIT $3`,
		orgID, page.After, page.Limit+1)
	if err != nil {
		return nil, "", err
	}
	members, err := pgx.CollectRows(rows, scanMember)
	if err != nil {
		return nil, "", err
	}
	members, next := pageOf(members, page.Limit, func(m *switchboard.Member) string { return m.UserID })
	return members, next, nil
}

func scanMember(row pgx.CollectableRow) (*switchboard.Member, error) {
	m := &switchboard.Member{}
	var role string
	err := row.Scan(&m.UserID, &m.Email, &m.Name, &role, &m.CreatedAt)
	m.Role = switchboard.ParseRole(role)
	return m, err
}

func (s *OrganizationService) getMember(ctx context.Context, orgID, userID string) (*switchboard.Member, error) {
	rows, err := s.Pool.Query(ctx, `SELECT u.id, u.email, u.name, m.role, m.created_at FROM memberships m
		JOIN users u ON u.id = m.user_id WHERE m.organization_id = $1 AND m.user_id = $2`, orgID, userID)
	if err != nil {
		return nil, err
	}
	m, err := pgx.CollectExactlyOneRow(rows, scanMember)
	return m, mapErr(err, "member")
}

// checkGrant refuses to give a role above admin unless the caller is an owner.
func checkGrant(callerRole, role switchboard.Role) error {
	if role == switchboard.RoleOwner && callerRole != switchboard.RoleOwner {
		return switchboard.Errorf(switchboard.EFORBIDDEN, "only an owner can make someone an owner")
	}
	return nil
}

// AddMember adds an existing user by email. Admin or owner.
func (s *OrganizationService) AddMember(ctx context.Context, orgID, email string, role switchboard.Role) (*switchboard.Member, error) {
	var v switchboard.Violations
	v.CheckID("organization_id", switchboard.PrefixOrganization, orgID)
	v.CheckEmail("email", email)
	v.CheckRole("role", role)
	if err := v.Err(); err != nil {
		return nil, err
	}
	var userID string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		p, callerRole, err := authorize(ctx, tx, orgID, switchboard.RoleAdmin)
		if err != nil {
			return err
		}
		if err := checkGrant(callerRole, role); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT id FROM users WHERE lower(email) = $1`, strings.ToLower(email)).Scan(&userID)
		if err != nil {
			return mapErr(err, "a user with this email (they must sign up first)")
		}
		_, err = tx.Exec(ctx, `INSERT INTO memberships (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)`,
			orgID, userID, role.String(), s.now())
		if err != nil {
			return mapErr(err, "this member")
		}
		return s.audit(ctx, tx, orgID, p.Actor(), "member.add", userID, map[string]any{"role": role.String()})
	})
	if err != nil {
		return nil, err
	}
	return s.getMember(ctx, orgID, userID)
}

// lockMember locks the organization's memberships (so two concurrent demotions
// cannot both pass the last-owner check) and returns the target's role.
func lockMember(ctx context.Context, tx pgx.Tx, orgID, userID string) (role switchboard.Role, owners int, err error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, orgID); err != nil {
		return 0, 0, err
	}
	var r string
	err = tx.QueryRow(ctx, `SELECT role, (SELECT count(*) FROM memberships WHERE organization_id = $1 AND role = 'owner')
		FROM memberships WHERE organization_id = $1 AND user_id = $2`, orgID, userID).Scan(&r, &owners)
	if err != nil {
		return 0, 0, mapErr(err, "member")
	}
	return switchboard.ParseRole(r), owners, nil
}

var errLastOwner = switchboard.Errorf(switchboard.EPRECONDITION, "an organization needs at least one owner; make someone else an owner first")

// UpdateMemberRole changes a member's role. Admins manage non-owners; only
// owners touch owners; the last owner stays an owner.
func (s *OrganizationService) UpdateMemberRole(ctx context.Context, orgID, userID string, role switchboard.Role) (*switchboard.Member, error) {
	var v switchboard.Violations
	v.CheckID("organization_id", switchboard.PrefixOrganization, orgID)
	v.CheckID("user_id", switchboard.PrefixUser, userID)
	v.CheckRole("role", role)
	if err := v.Err(); err != nil {
		return nil, err
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		p, callerRole, err := authorize(ctx, tx, orgID, switchboard.RoleAdmin)
		if err != nil {
			return err
		}
		current, owners, err := lockMember(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if err := checkGrant(callerRole, max(current, role)); err != nil {
			return err
		}
		if current == switchboard.RoleOwner && role != switchboard.RoleOwner && owners <= 1 {
			return errLastOwner
		}
		if _, err := tx.Exec(ctx, `UPDATE memberships SET role = $3 WHERE organization_id = $1 AND user_id = $2`, orgID, userID, role.String()); err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, p.Actor(), "member.update_role", userID, map[string]any{"from": current.String(), "to": role.String()})
	})
	if err != nil {
		return nil, err
	}
	return s.getMember(ctx, orgID, userID)
}

// RemoveMember removes a member; members may remove themselves.
func (s *OrganizationService) RemoveMember(ctx context.Context, orgID, userID string) error {
	var v switchboard.Violations
	v.CheckID("organization_id", switchboard.PrefixOrganization, orgID)
	v.CheckID("user_id", switchboard.PrefixUser, userID)
	if err := v.Err(); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		p, err := switchboard.RequirePrincipal(ctx)
		if err != nil {
			return err
		}
		min := switchboard.RoleAdmin
		if p.UserID == userID && p.APIKeyID == "" {
			min = switchboard.RoleViewer // leaving on one's own
		}
		_, callerRole, err := authorize(ctx, tx, orgID, min)
		if err != nil {
			return err
		}
		current, owners, err := lockMember(ctx, tx, orgID, userID)
		if err != nil {
			return err
		}
		if p.UserID != userID {
			if err := checkGrant(callerRole, current); err != nil {
				return err
			}
		}
		if current == switchboard.RoleOwner && owners <= 1 {
			return errLastOwner
		}
		if _, err := tx.Exec(ctx, `DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2`, orgID, userID); err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, p.Actor(), "member.remove", userID, nil)
	})
}
