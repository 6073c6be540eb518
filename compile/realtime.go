package compile

import (
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// Realtime defaults, from config.proto.
const (
	DefaultJWTParam           = "jid"
	DefaultHistoryLimit       = 100
	DefaultHistoryTTLSeconds  = 300
	DefaultSessionsTTLSeconds = 300
)

var (
	jwtParam   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)
	originHost = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$`)
	scheme     = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
)

// ValidateRealtime checks cfg and returns a new config with every default
// filled in and origins lower-cased, or an EINVALID *switchboard.Error whose
// violations name each bad field (`realtime.allowed_origins[3]`). cfg is not
// modified.
//
// As proto3 cannot tell an unset number from 0, a 0 always means "default";
// in particular history_limit cannot be set to 0.
func ValidateRealtime(cfg *switchboardv1.RealtimeConfig, opts Options) (*switchboardv1.RealtimeConfig, error) {
	return validateRealtime(cfg, opts.policy())
}

func validateRealtime(cfg *switchboardv1.RealtimeConfig, p policy) (*switchboardv1.RealtimeConfig, error) {
	const root = "realtime"
	if cfg == nil {
		return nil, switchboard.Invalid(root, "is required")
	}
	if err := documentSize(root, cfg); err != nil {
		return nil, err
	}
	out := proto.CloneOf(cfg)
	var c checker
	c.unknownFields(root, out, p)

	checkSecret(&c, root+".jwt_secret", out.JwtSecret)
	checkSecret(&c, root+".streams_secret", out.StreamsSecret)
	checkSecret(&c, root+".broadcast_key", out.BroadcastKey)

	if out.JwtParam == "" {
		out.JwtParam = DefaultJWTParam
	}
	if !jwtParam.MatchString(out.JwtParam) {
		c.add(root+".jwt_param", "must be 1 to 64 letters, digits, '_' and '-', starting with a letter or '_'")
	}

	if len(out.AllowedOrigins) > MaxOrigins {
		c.addf(root+".allowed_origins", "must have at most %d entries, has %d", MaxOrigins, len(out.AllowedOrigins))
	}
	seen := make(map[string]int, len(out.AllowedOrigins))
	for i, o := range out.AllowedOrigins {
		field := fmt.Sprintf("%s.allowed_origins[%d]", root, i)
		norm, rule := normalizeOrigin(o)
		if rule != "" {
			c.add(field, rule)
			continue
		}
		if j, dup := seen[norm]; dup {
			c.addf(field, "must be unique; %q is also allowed_origins[%d]", norm, j)
			continue
		}
		seen[norm] = i
		out.AllowedOrigins[i] = norm
	}

	c.intRange(root+".max_connections", out.MaxConnections, 0, 100000)
	setDefault(&out.HistoryLimit, DefaultHistoryLimit)
	c.intRange(root+".history_limit", out.HistoryLimit, 0, 10000)
	setDefault(&out.HistoryTtlSeconds, DefaultHistoryTTLSeconds)
	c.intRange(root+".history_ttl_seconds", out.HistoryTtlSeconds, 1, 86400)
	setDefault(&out.SessionsTtlSeconds, DefaultSessionsTTLSeconds)
	c.intRange(root+".sessions_ttl_seconds", out.SessionsTtlSeconds, 1, 86400)

	if err := c.err(root, "invalid realtime config"); err != nil {
		return nil, err
	}
	// Defaults add a little; check again so the result (and so every
	// artifact) stays within the limit and validating it again passes.
	if err := documentSize(root, out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkSecret checks an optional secret.
func checkSecret(c *checker, field, s string) {
	if s == "" {
		return
	}
	if !c.text(field, s) {
		return
	}
	if strings.HasPrefix(s, SecretMask) {
		// MergeSecrets replaces a mask that matches the stored secret, so
		// one that is still here matches nothing.
		c.add(field, "is a masked value that does not match the stored secret; send the secret itself")
		return
	}
	if n := utf8.RuneCountInString(s); n < MinSecretChars || n > MaxSecretChars {
		c.addf(field, "must be between %d and %d characters when set", MinSecretChars, MaxSecretChars)
	}
}

// normalizeOrigin checks an allowed origin: `*`, `*.domain`, or
// `scheme://host[:port]`. It returns the origin in lower case, or the rule
// it breaks.
func normalizeOrigin(o string) (string, string) {
	const rule = "must be `*`, `*.domain` or `scheme://host[:port]`"
	switch {
	case o == "":
		return "", "must not be empty"
	case len(o) > MaxOriginBytes:
		return "", fmt.Sprintf("must be at most %d bytes", MaxOriginBytes)
	case o == "*":
		return o, ""
	}
	for i := 0; i < len(o); i++ {
		if o[i] <= ' ' || o[i] >= 0x7f {
			return "", "must be ASCII without spaces or control characters (use punycode for international names)"
		}
	}
	o = strings.TrimSuffix(strings.ToLower(o), "/") // origins have no path; forgive the habit
	if domain, ok := strings.CutPrefix(o, "*."); ok {
		if !originHost.MatchString(domain) {
			return "", rule
		}
		return o, ""
	}
	s, rest, ok := strings.Cut(o, "://")
	if !ok || !scheme.MatchString(s) {
		return "", rule
	}
	u, err := url.Parse(o)
	if err != nil || u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery ||
		u.Fragment != "" || strings.ContainsAny(rest, "/?#@") {
		return "", rule
	}
	host := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		if addr, err := netip.ParseAddr(host); err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", rule
		}
	} else if !originHost.MatchString(host) {
		return "", rule
	}
	if strings.HasSuffix(u.Host, ":") {
		return "", rule
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", rule
		}
	}
	return o, ""
}
