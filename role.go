package switchboard

// Role is what a member or API key may do in an organization. Higher roles
// can do everything lower ones can.
type Role int

const (
	RoleUnknown Role = iota
	RoleViewer
	RoleMember
	RoleAdmin
	RoleOwner
)

var roleNames = [...]string{"", "viewer", "member", "admin", "owner"}

func (r Role) String() string {
	if r < 0 || int(r) >= len(roleNames) {
		return ""
	}
	return roleNames[r]
}

// ParseRole maps a stored role name back to a Role.
func ParseRole(s string) Role {
	for i, n := range roleNames {
		if i > 0 && n == s {
			return Role(i)
		}
	}
	return RoleUnknown
}

// Valid reports whether r is a real role.
func (r Role) Valid() bool { return r >= RoleViewer && r <= RoleOwner }

// AtLeast reports whether r can do what min can.
func (r Role) AtLeast(min Role) bool { return r >= min }
