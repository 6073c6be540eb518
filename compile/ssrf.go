package compile

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Upstream URLs are checked here without any DNS resolution, so a public name
// that later resolves to a private address (DNS rebinding, or simply a
// record the customer controls) passes validation. That is caught at dial
// time: the breaker data plane's dialer calls IsBlockedIP on every address it
// is about to connect to. Validation only refuses what is unsafe on its face:
// IP literals in blocked ranges, in any spelling a resolver might accept, and
// names that only ever mean something internal.

// ipClass says how an address may be used as an upstream.
type ipClass int

const (
	ipPublic    ipClass = iota
	ipPrivate           // loopback, RFC 1918, ULA, link-local, CGNAT: allowed with AllowPrivateTargets
	ipForbidden         // unspecified, multicast, broadcast, reserved: never
	ipMetadata          // cloud metadata services: never
)

var (
	// Cloud metadata endpoints. They hand out credentials, so they stay
	// blocked even where private targets are allowed.
	metadataPrefixes = []netip.Prefix{
		netip.MustParsePrefix("169.254.169.254/32"), // AWS, GCP, Azure, OCI, DigitalOcean…
		netip.MustParsePrefix("169.254.170.2/32"),   // AWS ECS task metadata
		netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud
		netip.MustParsePrefix("fd00:ec2::/32"),      // AWS IPv6 services (fd00:ec2::254 is IMDS)
	}
	privatePrefixes = []netip.Prefix{
		netip.MustParsePrefix("100.64.0.0/10"),  // CGNAT (RFC 6598), also Tailscale
		netip.MustParsePrefix("fec0::/10"),      // deprecated site-local
		netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215)
	}
	forbiddenPrefixes = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),    // "this network"; Linux dials 0.x as local
		netip.MustParsePrefix("192.0.0.0/24"), // IETF protocol assignments
		netip.MustParsePrefix("240.0.0.0/4"),  // reserved, includes 255.255.255.255
		netip.MustParsePrefix("::/96"),        // deprecated IPv4-compatible IPv6
		netip.MustParsePrefix("100::/64"),     // discard-only
		netip.MustParsePrefix("2001::/32"),    // Teredo: embeds an obfuscated IPv4
	}
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// metadataNames are host names of cloud metadata services.
var metadataNames = map[string]bool{
	"metadata.google.internal":   true,
	"metadata.goog":              true,
	"metadata":                   true, // GCE resolves the short name too
	"instance-data":              true, // AWS
	"instance-data.ec2.internal": true,
}

// IsBlockedIP reports whether a breaker must not connect to ip. Loopback,
// private (RFC 1918, ULA fc00::/7, CGNAT 100.64/10) and link-local addresses
// are blocked unless allowPrivate; unspecified, multicast, broadcast,
// reserved and cloud metadata addresses (169.254.169.254, fd00:ec2::254, …)
// are always blocked. IPv4-mapped, NAT64 and 6to4 IPv6 addresses are judged
// by the IPv4 address they carry. The data plane's dialer calls it for every
// resolved address, which is what defeats DNS rebinding.
func IsBlockedIP(ip netip.Addr, allowPrivate bool) bool {
	switch c, _ := classifyIP(ip); c {
	case ipPublic:
		return false
	case ipPrivate:
		return !allowPrivate
	default:
		return true
	}
}

// classifyIP returns ip's class and a word for it, for error messages.
func classifyIP(ip netip.Addr) (ipClass, string) {
	if !ip.IsValid() {
		return ipForbidden, "invalid"
	}
	ip = ip.WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	for _, p := range metadataPrefixes {
		if p.Contains(ip) {
			return ipMetadata, "cloud metadata"
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64Prefix.Contains(ip):
			return classifyIP(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return classifyIP(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	switch {
	case ip.IsUnspecified():
		return ipForbidden, "unspecified"
	case ip.IsLoopback():
		return ipPrivate, "loopback"
	case ip.IsMulticast():
		return ipForbidden, "multicast"
	case ip.IsLinkLocalUnicast():
		return ipPrivate, "link-local"
	case ip.IsPrivate():
		return ipPrivate, "private"
	}
	for _, p := range privatePrefixes {
		if p.Contains(ip) {
			return ipPrivate, "private"
		}
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			if ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				return ipForbidden, "broadcast"
			}
			return ipForbidden, "reserved"
		}
	}
	return ipPublic, ""
}

// addrRule returns why addr may not be an upstream, or "".
func addrRule(addr netip.Addr, p policy) string {
	c, what := classifyIP(addr)
	switch {
	case c == ipPublic, c == ipPrivate && p.allowPrivate:
		return ""
	case c == ipPrivate:
		return fmt.Sprintf("host %s is a %s address; private targets are not allowed", addr, what)
	case c == ipMetadata:
		return fmt.Sprintf("host %s is a cloud metadata address", addr)
	default:
		return fmt.Sprintf("host %s is a%s %s address", addr, article(what), what)
	}
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "n"
	}
	return ""
}

// checkUpstreamURL validates a breaker upstream URL.
func checkUpstreamURL(c *checker, field, raw string, p policy) {
	if raw == "" {
		c.add(field, "is required")
		return
	}
	if len(raw) > MaxURLBytes {
		c.addf(field, "must be at most %d bytes", MaxURLBytes)
		return
	}
	if !c.text(field, raw) {
		return
	}
	// Browsers read a backslash as a slash and Go does not; refusing it
	// (and spaces) keeps every parser agreeing on the host.
	if strings.ContainsAny(raw, "\\ ") {
		c.add(field, "must not contain spaces or backslashes")
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		c.add(field, "must be a valid URL")
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		c.add(field, "scheme must be http or https")
		return
	}
	if u.Opaque != "" || u.Host == "" {
		c.add(field, "must have a host")
		return
	}
	if u.User != nil {
		c.add(field, "must not contain credentials")
		return
	}
	if strings.Contains(raw, "#") {
		c.add(field, "must not have a fragment")
		return
	}
	if strings.HasSuffix(u.Host, ":") {
		c.add(field, "port must be between 1 and 65535")
		return
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			c.add(field, "port must be between 1 and 65535")
			return
		}
	}
	if rule := hostRule(u.Hostname(), strings.HasPrefix(u.Host, "["), p); rule != "" {
		c.add(field, rule)
	}
}

// hostRule returns why host may not be an upstream host, or "".
func hostRule(host string, bracketed bool, p policy) string {
	if bracketed {
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is6() {
			return "host must be a valid IPv6 address"
		}
		if addr.Zone() != "" {
			return "host must not have an IPv6 zone"
		}
		return addrRule(addr, p)
	}
	for i := 0; i < len(host); i++ {
		b := host[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '.' || b == '_') {
			return "host must contain only ASCII letters, digits, '-', '_' and '.' (use punycode for international names)"
		}
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "" {
		return "must have a host"
	}
	labels := strings.Split(h, ".")
	// A host whose last label is a number is an IPv4 address to browsers
	// and to inet_aton (which Go's cgo resolver ends up calling), in any of
	// the decimal, octal, hex and short forms. Decode it the way the WHATWG
	// URL standard does, judge the address, and insist on the canonical
	// dotted-quad spelling so nobody downstream decodes it differently.
	if endsInNumber(labels[len(labels)-1]) {
		addr, ok := parseIPv4Host(labels)
		if !ok {
			return fmt.Sprintf("host %q is not a valid IPv4 address", host)
		}
		if rule := addrRule(addr, p); rule != "" {
			return rule
		}
		if addr.String() != host {
			return fmt.Sprintf("host %q means %s; write IPv4 addresses as four decimal numbers", host, addr)
		}
		return ""
	}
	if len(h) > 253 {
		return "host must be at most 253 characters"
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Sprintf("host %q is not a valid host name", host)
		}
	}
	switch {
	case metadataNames[h]:
		return fmt.Sprintf("host %q is a cloud metadata service", host)
	case p.allowPrivate:
		return ""
	case h == "localhost" || strings.HasSuffix(h, ".localhost"):
		return fmt.Sprintf("host %q is a loopback name; private targets are not allowed", host)
	case strings.HasSuffix(h, ".internal") || strings.HasSuffix(h, ".local"):
		return fmt.Sprintf("host %q is a private network name; private targets are not allowed", host)
	case len(labels) == 1:
		// Single-label names resolve through search domains to internal
		// hosts (`http://metadata/`, `http://db/`).
		return fmt.Sprintf("host %q must be a fully qualified domain name; private targets are not allowed", host)
	}
	return ""
}

// endsInNumber follows the WHATWG URL "ends in a number" check.
func endsInNumber(last string) bool {
	if last == "" {
		return false
	}
	if strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := parseIPv4Number(last)
	return ok
}

// parseIPv4Number parses one part of a WHATWG IPv4 host: decimal, octal with
// a leading 0, or hex with 0x.
func parseIPv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
		if s == "" {
			return 0, true
		}
	case len(s) >= 2 && s[0] == '0':
		s, base = s[1:], 8
	}
	if strings.ContainsAny(s, "+-_") { // ParseUint accepts none of these, but be explicit
		return 0, false
	}
	n, err := strconv.ParseUint(s, base, 64)
	return n, err == nil
}

// parseIPv4Host implements the WHATWG IPv4 parser over dot-separated labels
// (with any single trailing dot already removed).
func parseIPv4Host(labels []string) (netip.Addr, bool) {
	if len(labels) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(labels))
	for i, l := range labels {
		n, ok := parseIPv4Number(l)
		if !ok {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	for _, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v := last
	for i, n := range nums[:len(nums)-1] {
		v += n << (8 * (3 - i))
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}
