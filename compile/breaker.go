package compile

import (
	"encoding/json"
	"fmt"
	"net/textproto"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// Breaker defaults, from config.proto.
const (
	DefaultTimeoutMS              = 5000
	DefaultCountWindowSize        = 100
	DefaultTimeWindowSeconds      = 60
	DefaultMinimumCalls           = 10
	DefaultFailureRateThreshold   = 50
	DefaultSlowCallRateThreshold  = 100
	DefaultWaitInOpenMS           = 30000
	DefaultHalfOpenPermittedCalls = 5
	DefaultFallbackStatus         = 503
)

// DefaultFailureOutcomes is what counts as a failure when a service lists none.
var DefaultFailureOutcomes = []switchboardv1.FailureOutcome{
	switchboardv1.FailureOutcome_FAILURE_OUTCOME_HTTP_5XX,
	switchboardv1.FailureOutcome_FAILURE_OUTCOME_TIMEOUT,
	switchboardv1.FailureOutcome_FAILURE_OUTCOME_CONNECTION_ERROR,
}

var serviceName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// ValidateBreaker checks cfg and returns a new config with every default
// filled in, or an EINVALID *switchboard.Error whose violations name each bad
// field (`breaker.services[2].timeout_ms`). cfg is not modified.
//
// As proto3 cannot tell an unset number from 0, a 0 always means "default".
func ValidateBreaker(cfg *switchboardv1.BreakerConfig, opts Options) (*switchboardv1.BreakerConfig, error) {
	return validateBreaker(cfg, opts.policy())
}

func validateBreaker(cfg *switchboardv1.BreakerConfig, p policy) (*switchboardv1.BreakerConfig, error) {
	const root = "breaker"
	if cfg == nil {
		return nil, switchboard.Invalid(root, "is required")
	}
	if slices.Contains(cfg.Services, nil) {
		return nil, switchboard.Invalid(root+".services", "must not contain null entries")
	}
	if err := documentSize(root, cfg); err != nil {
		return nil, err
	}
	out := proto.CloneOf(cfg)
	var c checker
	c.unknownFields(root, out, p)
	if len(out.Services) > MaxServices {
		c.addf(root+".services", "must have at most %d entries, has %d", MaxServices, len(out.Services))
	}
	seen := make(map[string]int, len(out.Services))
	for i, s := range out.Services {
		field := fmt.Sprintf("%s.services[%d]", root, i)
		validateService(&c, field, s, p)
		if s.Name == "" {
			continue
		}
		if j, dup := seen[s.Name]; dup {
			c.addf(field+".name", "must be unique; %q is also services[%d]", s.Name, j)
		} else {
			seen[s.Name] = i
		}
	}
	if err := c.err(root, "invalid breaker config"); err != nil {
		return nil, err
	}
	// Defaults add a little; check again so the result (and so every
	// artifact) stays within the limit and validating it again passes.
	if err := documentSize(root, out); err != nil {
		return nil, err
	}
	return out, nil
}

// validateService checks s and fills its defaults in place.
func validateService(c *checker, field string, s *switchboardv1.BreakerService, p policy) {
	c.unknownFields(field, s, p)
	switch {
	case s.Name == "":
		c.add(field+".name", "is required")
	case !serviceName.MatchString(s.Name):
		c.add(field+".name", "must be 1 to 63 lower-case letters, digits and dashes, starting with a letter")
	}
	checkUpstreamURL(c, field+".upstream_url", s.UpstreamUrl, p)

	setDefault(&s.TimeoutMs, DefaultTimeoutMS)
	c.intRange(field+".timeout_ms", s.TimeoutMs, 1, 60000)

	if s.WindowType == switchboardv1.WindowType_WINDOW_TYPE_UNSPECIFIED {
		s.WindowType = switchboardv1.WindowType_WINDOW_TYPE_COUNT
	}
	switch s.WindowType {
	case switchboardv1.WindowType_WINDOW_TYPE_COUNT:
		setDefault(&s.WindowSize, DefaultCountWindowSize)
		c.intRange(field+".window_size", s.WindowSize, 1, 1000)
	case switchboardv1.WindowType_WINDOW_TYPE_TIME:
		setDefault(&s.WindowSize, DefaultTimeWindowSeconds)
		c.intRange(field+".window_size", s.WindowSize, 1, 3600)
	default:
		c.add(field+".window_type", "must be WINDOW_TYPE_COUNT or WINDOW_TYPE_TIME")
	}

	setDefault(&s.MinimumCalls, DefaultMinimumCalls)
	c.intRange(field+".minimum_calls", s.MinimumCalls, 1, 1000)
	setDefault(&s.FailureRateThreshold, DefaultFailureRateThreshold)
	c.intRange(field+".failure_rate_threshold", s.FailureRateThreshold, 1, 100)
	setDefault(&s.SlowCallRateThreshold, DefaultSlowCallRateThreshold)
	c.intRange(field+".slow_call_rate_threshold", s.SlowCallRateThreshold, 1, 100)
	// The default slow-call duration is the timeout; when the timeout is
	// itself out of range, that is the one violation to report.
	if timeoutOK := s.TimeoutMs >= 1 && s.TimeoutMs <= 60000; timeoutOK || s.SlowCallDurationMs != 0 {
		setDefault(&s.SlowCallDurationMs, s.TimeoutMs)
		c.intRange(field+".slow_call_duration_ms", s.SlowCallDurationMs, 1, 60000)
	}
	setDefault(&s.WaitInOpenMs, DefaultWaitInOpenMS)
	c.intRange(field+".wait_in_open_ms", s.WaitInOpenMs, 100, 3600000)
	setDefault(&s.HalfOpenPermittedCalls, DefaultHalfOpenPermittedCalls)
	c.intRange(field+".half_open_permitted_calls", s.HalfOpenPermittedCalls, 1, 100)

	if len(s.FailureOutcomes) == 0 {
		s.FailureOutcomes = slices.Clone(DefaultFailureOutcomes)
	}
	outcomes := make(map[switchboardv1.FailureOutcome]int, len(s.FailureOutcomes))
	for i, o := range s.FailureOutcomes {
		f := fmt.Sprintf("%s.failure_outcomes[%d]", field, i)
		if _, known := switchboardv1.FailureOutcome_name[int32(o)]; !known || o == switchboardv1.FailureOutcome_FAILURE_OUTCOME_UNSPECIFIED {
			c.add(f, "must be a known failure outcome other than FAILURE_OUTCOME_UNSPECIFIED")
			continue
		}
		if j, dup := outcomes[o]; dup {
			c.addf(f, "must be unique; %s is also failure_outcomes[%d]", o, j)
			continue
		}
		outcomes[o] = i
	}

	if s.ForcedState == switchboardv1.ForcedState_FORCED_STATE_UNSPECIFIED {
		s.ForcedState = switchboardv1.ForcedState_FORCED_STATE_NONE
	}
	if _, known := switchboardv1.ForcedState_name[int32(s.ForcedState)]; !known {
		c.add(field+".forced_state", "must be a known forced state")
	}

	if s.Fallback == nil {
		s.Fallback = &switchboardv1.FallbackResponse{}
	}
	validateFallback(c, field+".fallback", s.Fallback, s.Name, p)
}

// setDefault sets *v to def when it is 0 (unset).
func setDefault(v *int32, def int32) {
	if *v == 0 {
		*v = def
	}
}

// hopByHop are headers a fallback response may not set: they describe the
// connection, not the response, and the proxy manages them.
var hopByHop = map[string]bool{
	"Connection":        true,
	"Keep-Alive":        true,
	"Transfer-Encoding": true,
	"Te":                true,
	"Trailer":           true,
	"Upgrade":           true,
	"Content-Length":    true,
}

func validateFallback(c *checker, field string, f *switchboardv1.FallbackResponse, service string, p policy) {
	c.unknownFields(field, f, p)
	setDefault(&f.Status, DefaultFallbackStatus)
	c.intRange(field+".status", f.Status, 200, 599)

	defaultBody := f.Body == ""
	if defaultBody {
		f.Body = defaultFallbackBody(service)
	}
	switch {
	case len(f.Body) > MaxFallbackBodyBytes:
		c.addf(field+".body", "must be at most %d bytes", MaxFallbackBodyBytes)
	case !utf8.ValidString(f.Body):
		c.add(field+".body", "must be valid UTF-8")
	}

	if len(f.Headers) > MaxFallbackHeaders {
		c.addf(field+".headers", "must have at most %d entries, has %d", MaxFallbackHeaders, len(f.Headers))
	}
	names := make([]string, 0, len(f.Headers))
	for name := range f.Headers {
		names = append(names, name)
	}
	slices.Sort(names) // stable violation order
	canonical := make(map[string]string, len(names))
	for _, name := range names {
		hf := field + ".headers[" + strconv.Quote(name) + "]"
		value := f.Headers[name]
		switch {
		case name == "":
			c.add(hf, "name is required")
			continue
		case len(name) > MaxHeaderNameBytes:
			c.addf(hf, "name must be at most %d bytes", MaxHeaderNameBytes)
			continue
		case !isToken(name):
			c.add(hf, "name must be a valid HTTP header name (RFC 7230 token)")
			continue
		}
		cn := textproto.CanonicalMIMEHeaderKey(name)
		if hopByHop[cn] || strings.HasPrefix(cn, "Proxy-") {
			c.addf(hf, "%s is a hop-by-hop header and cannot be set", cn)
			continue
		}
		if other, dup := canonical[cn]; dup {
			c.addf(hf, "duplicates header %q", other)
			continue
		}
		canonical[cn] = name
		switch {
		case len(value) > MaxHeaderValueBytes:
			c.addf(hf, "value must be at most %d bytes", MaxHeaderValueBytes)
		case !validHeaderValue(value):
			c.add(hf, "value must be valid UTF-8 without CR, LF or other control characters")
		}
	}
	// The default body is JSON; say so unless the config names a type (or
	// has no room left for one, which keeps validation idempotent).
	if defaultBody && canonical["Content-Type"] == "" && len(f.Headers) < MaxFallbackHeaders {
		if f.Headers == nil {
			f.Headers = make(map[string]string, 1)
		}
		f.Headers["Content-Type"] = "application/json"
	}
}

// defaultFallbackBody is the JSON error sent while a service's breaker is
// open, when the config sets no body.
func defaultFallbackBody(service string) string {
	b, _ := json.Marshal(struct {
		Error   string `json:"error"`
		Service string `json:"service"`
	}{"circuit breaker open", service})
	return string(b)
}

// isToken reports whether s is an RFC 7230 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0) {
			return false
		}
	}
	return s != ""
}

// validHeaderValue allows HTAB and visible characters, as RFC 7230 field
// values; UTF-8 above ASCII passes as obs-text.
func validHeaderValue(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}
