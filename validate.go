package switchboard

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CheckName adds a violation unless s is a display name: 1 to max
// characters of valid UTF-8, no control characters, no surrounding spaces.
func (v *Violations) CheckName(field, s string, max int) {
	switch {
	case s == "":
		v.Add(field, "is required")
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		v.Addf(field, "must be at most %d characters", max)
	case strings.TrimSpace(s) != s:
		v.Add(field, "must not start or end with spaces")
	case strings.ContainsFunc(s, unicode.IsControl):
		v.Add(field, "must not contain control characters")
	}
}

// MaxEmailLen is RFC 5321's limit on a forward path.
const MaxEmailLen = 254

// CheckEmail adds a violation unless s is a plain ASCII address like
// name@example.com.
func (v *Violations) CheckEmail(field, s string) {
	switch {
	case s == "":
		v.Add(field, "is required")
	case len(s) > MaxEmailLen:
		v.Addf(field, "must be at most %d characters", MaxEmailLen)
	case !isEmail(s):
		v.Add(field, "must be an email address like name@example.com")
	}
}

func isEmail(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII || unicode.IsControl(r) || r == ' ' {
			return false
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	_, domain, _ := strings.Cut(s, "@")
	return strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// CheckPassword adds a violation unless s has an acceptable length.
func (v *Violations) CheckPassword(field, s string) {
	n := utf8.RuneCountInString(s)
	switch {
	case s == "":
		v.Add(field, "is required")
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case n < MinPasswordLen:
		v.Addf(field, "must be at least %d characters", MinPasswordLen)
	case len(s) > MaxPasswordLen:
		v.Addf(field, "must be at most %d bytes", MaxPasswordLen)
	}
}

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$`)

// CheckSlug adds a violation unless s is 3 to 40 lower-case letters, digits
// and dashes, not starting or ending with a dash.
func (v *Violations) CheckSlug(field, s string) {
	if !slugRE.MatchString(s) {
		v.Add(field, "must be 3 to 40 lower-case letters, digits and dashes, starting and ending with a letter or digit")
	}
}

// CheckRole adds a violation unless r is a real role.
func (v *Violations) CheckRole(field string, r Role) {
	if !r.Valid() {
		v.Add(field, "must be one of ROLE_VIEWER, ROLE_MEMBER, ROLE_ADMIN, ROLE_OWNER")
	}
}

// Slugify derives the start of a slug from a display name; callers add a
// random suffix so derived slugs never collide.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 30 {
			break
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		return "org"
	}
	return s
}
