package compile_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/switchboardhq/switchboard/compile"
	artifactv1 "github.com/switchboardhq/switchboard/gen/switchboard/artifact/v1"
	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

func TestValidateBreakerRejects(t *testing.T) {
	t.Parallel()
	svc := func(i int, f func(s *switchboardv1.BreakerService)) func(*switchboardv1.BreakerConfig) {
		return func(c *switchboardv1.BreakerConfig) { f(c.Services[i]) }
	}
	url := func(u string) func(*switchboardv1.BreakerConfig) {
		return svc(1, func(s *switchboardv1.BreakerService) { s.UpstreamUrl = u })
	}
	header := func(name, value string) func(*switchboardv1.BreakerConfig) {
		return svc(0, func(s *switchboardv1.BreakerService) {
			s.Fallback = &switchboardv1.FallbackResponse{Headers: map[string]string{name: value}}
		})
	}
	const s1 = "breaker.services[1]"
	const up = s1 + ".upstream_url"
	tests := []struct {
		name   string
		mutate func(*switchboardv1.BreakerConfig)
		json   string // decoded with DecodeJSON instead of mutating
		field  string // the one violation expected
		rule   string // substring of its rule
	}{
		{name: "timeout too big", mutate: svc(1, func(s *switchboardv1.BreakerService) { s.TimeoutMs = 60001 }), field: s1 + ".timeout_ms", rule: "must be between 1 and 60000"},
		{name: "timeout negative", mutate: svc(1, func(s *switchboardv1.BreakerService) { s.TimeoutMs = -1 }), field: s1 + ".timeout_ms", rule: "must be between 1 and 60000"},
		{name: "count window too big", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.WindowSize = 1001 }), field: "breaker.services[0].window_size", rule: "between 1 and 1000"},
		{name: "time window too big", mutate: svc(0, func(s *switchboardv1.BreakerService) {
			s.WindowType, s.WindowSize = switchboardv1.WindowType_WINDOW_TYPE_TIME, 3601
		}), field: "breaker.services[0].window_size", rule: "between 1 and 3600"},
		{name: "unknown window type", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.WindowType = 9 }), field: "breaker.services[0].window_type"},
		{name: "minimum calls", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.MinimumCalls = 1001 }), field: "breaker.services[0].minimum_calls"},
		{name: "failure rate", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.FailureRateThreshold = 101 }), field: "breaker.services[0].failure_rate_threshold", rule: "between 1 and 100"},
		{name: "slow call rate", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.SlowCallRateThreshold = -5 }), field: "breaker.services[0].slow_call_rate_threshold"},
		{name: "slow call duration", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.SlowCallDurationMs = 60001 }), field: "breaker.services[0].slow_call_duration_ms"},
		{name: "wait in open", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.WaitInOpenMs = 99 }), field: "breaker.services[0].wait_in_open_ms", rule: "between 100 and 3600000"},
		{name: "half open calls", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.HalfOpenPermittedCalls = 101 }), field: "breaker.services[0].half_open_permitted_calls"},
		{name: "unspecified outcome", mutate: svc(0, func(s *switchboardv1.BreakerService) {
			s.FailureOutcomes = []switchboardv1.FailureOutcome{switchboardv1.FailureOutcome_FAILURE_OUTCOME_UNSPECIFIED}
		}), field: "breaker.services[0].failure_outcomes[0]"},
		{name: "duplicate outcome", mutate: svc(0, func(s *switchboardv1.BreakerService) {
			s.FailureOutcomes = []switchboardv1.FailureOutcome{switchboardv1.FailureOutcome_FAILURE_OUTCOME_HTTP_5XX, switchboardv1.FailureOutcome_FAILURE_OUTCOME_HTTP_5XX}
		}), field: "breaker.services[0].failure_outcomes[1]", rule: "must be unique"},
		{name: "unknown outcome", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.FailureOutcomes = []switchboardv1.FailureOutcome{42} }), field: "breaker.services[0].failure_outcomes[0]"},
		{name: "unknown forced state", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.ForcedState = 7 }), field: "breaker.services[0].forced_state"},
		{name: "fallback status low", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.Fallback = &switchboardv1.FallbackResponse{Status: 199} }), field: "breaker.services[0].fallback.status", rule: "between 200 and 599"},
		{name: "fallback status high", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.Fallback = &switchboardv1.FallbackResponse{Status: 600} }), field: "breaker.services[0].fallback.status"},
		{name: "fallback body too big", mutate: svc(0, func(s *switchboardv1.BreakerService) {
			s.Fallback = &switchboardv1.FallbackResponse{Body: strings.Repeat("x", 64<<10+1)}
		}), field: "breaker.services[0].fallback.body", rule: "at most 65536 bytes"},
		{name: "too many headers", mutate: svc(0, func(s *switchboardv1.BreakerService) {
			h := map[string]string{}
			for i := range 21 {
				h[fmt.Sprintf("X-H%d", i)] = "v"
			}
			s.Fallback = &switchboardv1.FallbackResponse{Headers: h}
		}), field: "breaker.services[0].fallback.headers", rule: "at most 20"},
		{name: "header name with space", mutate: header("Bad Header", "v"), field: `breaker.services[0].fallback.headers["Bad Header"]`, rule: "valid HTTP header name"},
		{name: "header name with colon", mutate: header("X-A:b", "v"), field: `breaker.services[0].fallback.headers["X-A:b"]`},
		{name: "hop-by-hop header", mutate: header("connection", "close"), field: `breaker.services[0].fallback.headers["connection"]`, rule: "hop-by-hop"},
		{name: "proxy header", mutate: header("Proxy-Authorization", "x"), field: `breaker.services[0].fallback.headers["Proxy-Authorization"]`, rule: "hop-by-hop"},
		{name: "content-length header", mutate: header("Content-Length", "5"), field: `breaker.services[0].fallback.headers["Content-Length"]`},
		{name: "header value CRLF", mutate: header("X-Ok", "a\r\nSet-Cookie: x=1"), field: `breaker.services[0].fallback.headers["X-Ok"]`, rule: "CR, LF"},
		{name: "upper-case name", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.Name = "Users" }), field: "breaker.services[0].name", rule: "lower-case"},
		{name: "missing name", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.Name = "" }), field: "breaker.services[0].name", rule: "is required"},
		{name: "name too long", mutate: svc(0, func(s *switchboardv1.BreakerService) { s.Name = "a" + strings.Repeat("b", 63) }), field: "breaker.services[0].name"},
		{name: "duplicate name", mutate: svc(1, func(s *switchboardv1.BreakerService) { s.Name = "users" }), field: s1 + ".name", rule: `must be unique; "users" is also services[0]`},
		{name: "too many services", mutate: func(c *switchboardv1.BreakerConfig) {
			for i := range 49 {
				c.Services = append(c.Services, &switchboardv1.BreakerService{Name: fmt.Sprintf("s%d", i), UpstreamUrl: "https://example.com"})
			}
		}, field: "breaker.services", rule: "at most 50"},
		{name: "null service", mutate: func(c *switchboardv1.BreakerConfig) { c.Services[1] = nil }, field: "breaker.services"},
		{name: "missing url", mutate: url(""), field: up, rule: "is required"},
		{name: "loopback", mutate: url("http://127.0.0.1:8080/"), field: up, rule: "loopback"},
		{name: "loopback /8", mutate: url("http://127.1.2.3/"), field: up, rule: "loopback"},
		{name: "localhost", mutate: url("http://localhost:3000"), field: up, rule: "loopback name"},
		{name: "localhost trailing dot", mutate: url("http://LOCALHOST./"), field: up, rule: "loopback name"},
		{name: "sub.localhost", mutate: url("http://api.localhost/"), field: up},
		{name: "ipv6 loopback", mutate: url("http://[::1]:8080/"), field: up, rule: "loopback"},
		{name: "rfc1918 10", mutate: url("http://10.1.2.3/"), field: up, rule: "private"},
		{name: "rfc1918 172", mutate: url("http://172.16.0.1/"), field: up, rule: "private"},
		{name: "rfc1918 192.168", mutate: url("https://192.168.1.1/"), field: up, rule: "private"},
		{name: "cgnat", mutate: url("http://100.64.0.1/"), field: up, rule: "private"},
		{name: "link-local", mutate: url("http://169.254.1.1/"), field: up, rule: "link-local"},
		{name: "metadata v4", mutate: url("http://169.254.169.254/latest/meta-data/"), field: up, rule: "metadata"},
		{name: "metadata v6", mutate: url("http://[fd00:ec2::254]/"), field: up, rule: "metadata"},
		{name: "metadata name", mutate: url("http://metadata.google.internal/computeMetadata/v1/"), field: up, rule: "metadata"},
		{name: "internal name", mutate: url("http://db.internal:5432/"), field: up, rule: "private network name"},
		{name: "single label", mutate: url("http://db/"), field: up, rule: "fully qualified"},
		{name: "decimal ipv4", mutate: url("http://2130706433/"), field: up, rule: "loopback"},
		{name: "hex ipv4", mutate: url("http://0x7f000001/"), field: up, rule: "loopback"},
		{name: "short hex ipv4", mutate: url("http://0x7f.1/"), field: up, rule: "host 127.0.0.1 is a loopback"},
		{name: "octal ipv4", mutate: url("http://0177.0.0.01/"), field: up, rule: "loopback"},
		{name: "non-canonical public ipv4", mutate: url("http://8.8.010.8/"), field: up, rule: "four decimal numbers"},
		{name: "bad ipv4", mutate: url("http://1.2.3.4.5/"), field: up, rule: "not a valid IPv4"},
		{name: "ipv4-mapped ipv6", mutate: url("http://[::ffff:127.0.0.1]/"), field: up, rule: "loopback"},
		{name: "ipv4-mapped ipv6 hex", mutate: url("http://[::ffff:a9fe:a9fe]/"), field: up, rule: "metadata"},
		{name: "nat64 metadata", mutate: url("http://[64:ff9b::169.254.169.254]/"), field: up, rule: "metadata"},
		{name: "6to4 private", mutate: url("http://[2002:a00:1::]/"), field: up, rule: "private"},
		{name: "ipv6 link-local", mutate: url("http://[fe80::1]/"), field: up, rule: "link-local"},
		{name: "ipv6 zone", mutate: url("http://[fe80::1%25eth0]/"), field: up, rule: "zone"},
		{name: "ula", mutate: url("http://[fd12:3456::1]/"), field: up, rule: "private"},
		{name: "unspecified", mutate: url("http://0.0.0.0:80/"), field: up, rule: "unspecified"},
		{name: "this network", mutate: url("http://0.1.2.3/"), field: up},
		{name: "multicast", mutate: url("http://224.0.0.1/"), field: up, rule: "multicast"},
		{name: "broadcast", mutate: url("http://255.255.255.255/"), field: up, rule: "broadcast"},
		{name: "userinfo", mutate: url("https://user:pass@example.com/"), field: up, rule: "credentials"},
		{name: "empty userinfo", mutate: url("https://@example.com/"), field: up, rule: "credentials"},
		{name: "ftp scheme", mutate: url("ftp://example.com/"), field: up, rule: "http or https"},
		{name: "no scheme", mutate: url("example.com/api"), field: up},
		{name: "fragment", mutate: url("https://example.com/#x"), field: up, rule: "fragment"},
		{name: "no host", mutate: url("http:///path"), field: up, rule: "host"},
		{name: "port zero", mutate: url("http://example.com:0/"), field: up, rule: "port"},
		{name: "empty port", mutate: url("http://example.com:/"), field: up, rule: "port"},
		{name: "backslash", mutate: url(`http://example.com\@127.0.0.1/`), field: up},
		{name: "unicode host", mutate: url("http://１２７.０.０.１/"), field: up, rule: "ASCII"},
		{name: "control char", mutate: url("http://example.com/\x00"), field: up, rule: "control"},
		{name: "invalid utf-8", mutate: url("http://example.com/\xff"), field: up, rule: "UTF-8"},
		{name: "unknown protobuf field", mutate: svc(0, func(s *switchboardv1.BreakerService) {
			s.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 1))
		}), field: "breaker.services[0]", rule: "unknown fields"},
		{name: "oversize document", mutate: svc(0, func(s *switchboardv1.BreakerService) {
			s.Fallback = &switchboardv1.FallbackResponse{Body: strings.Repeat("x", compile.MaxDocumentBytes)}
		}), field: "breaker", rule: "at most 262144 bytes"},
		{name: "unknown JSON field", json: `{"services":[{"name":"a","upstream_url":"https://a.example.com","timeout":5}]}`, field: "breaker", rule: `unknown field "timeout"`},
		{name: "wrong JSON type", json: `{"services":[{"name":"a","timeout_ms":"fast"}]}`, field: "breaker", rule: "timeoutMs"},
		{name: "JSON enum name unknown", json: `{"services":[{"name":"a","window_type":"WINDOW_TYPE_SOMETIMES"}]}`, field: "breaker"},
		{name: "JSON not an object", json: `[1,2]`, field: "breaker"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tc.json != "" {
				_, err = compile.DecodeJSON(artifactv1.Kind_KIND_BREAKER, []byte(tc.json))
			} else {
				cfg := validBreaker()
				tc.mutate(cfg)
				before := proto.Clone(cfg)
				_, err = compile.ValidateBreaker(cfg, compile.Options{})
				require.True(t, proto.Equal(before, cfg), "input modified")
			}
			vs := violations(t, err)
			require.Equal(t, []string{tc.field}, fields(vs), "violations: %v", vs)
			require.Contains(t, vs[0].Rule, tc.rule)
		})
	}
}

func TestValidateRealtimeRejects(t *testing.T) {
	t.Parallel()
	origins := func(o ...string) func(*switchboardv1.RealtimeConfig) {
		return func(c *switchboardv1.RealtimeConfig) { c.AllowedOrigins = o }
	}
	tests := []struct {
		name   string
		mutate func(*switchboardv1.RealtimeConfig)
		json   string
		field  string
		rule   string
	}{
		{name: "short jwt secret", mutate: func(c *switchboardv1.RealtimeConfig) { c.JwtSecret = "short" }, field: "realtime.jwt_secret", rule: "between 32 and 256"},
		{name: "long streams secret", mutate: func(c *switchboardv1.RealtimeConfig) { c.StreamsSecret = strings.Repeat("s", 257) }, field: "realtime.streams_secret"},
		{name: "short broadcast key", mutate: func(c *switchboardv1.RealtimeConfig) { c.BroadcastKey = strings.Repeat("k", 31) }, field: "realtime.broadcast_key"},
		{name: "secret with newline", mutate: func(c *switchboardv1.RealtimeConfig) { c.JwtSecret = strings.Repeat("k", 32) + "\n" }, field: "realtime.jwt_secret", rule: "control"},
		{name: "unmatched mask", mutate: func(c *switchboardv1.RealtimeConfig) { c.JwtSecret = compile.SecretMask + "abcd" }, field: "realtime.jwt_secret", rule: "masked"},
		{name: "jwt param digit", mutate: func(c *switchboardv1.RealtimeConfig) { c.JwtParam = "1jid" }, field: "realtime.jwt_param"},
		{name: "jwt param space", mutate: func(c *switchboardv1.RealtimeConfig) { c.JwtParam = "j id" }, field: "realtime.jwt_param"},
		{name: "origin with path", mutate: origins("https://a.example.com/app"), field: "realtime.allowed_origins[0]"},
		{name: "origin without scheme", mutate: origins("ok.example.com", "https://a.example.com"), field: "realtime.allowed_origins[0]"},
		{name: "origin bare wildcard label", mutate: origins("*."), field: "realtime.allowed_origins[0]"},
		{name: "origin inner wildcard", mutate: origins("https://*.example.com"), field: "realtime.allowed_origins[0]"},
		{name: "origin userinfo", mutate: origins("https://u@a.example.com"), field: "realtime.allowed_origins[0]"},
		{name: "origin bad port", mutate: origins("https://a.example.com:99999"), field: "realtime.allowed_origins[0]"},
		{name: "origin query", mutate: origins("*", "https://a.example.com?x"), field: "realtime.allowed_origins[1]"},
		{name: "origin empty", mutate: origins(""), field: "realtime.allowed_origins[0]"},
		{name: "origin duplicate", mutate: origins("https://a.example.com", "HTTPS://A.example.com"), field: "realtime.allowed_origins[1]", rule: "must be unique"},
		{name: "origin too long", mutate: origins("https://" + strings.Repeat("a.", 123) + "com"), field: "realtime.allowed_origins[0]", rule: "at most 253"},
		{name: "too many origins", mutate: func(c *switchboardv1.RealtimeConfig) {
			c.AllowedOrigins = nil
			for i := range 101 {
				c.AllowedOrigins = append(c.AllowedOrigins, fmt.Sprintf("https://o%d.example.com", i))
			}
		}, field: "realtime.allowed_origins", rule: "at most 100"},
		{name: "max connections", mutate: func(c *switchboardv1.RealtimeConfig) { c.MaxConnections = 100001 }, field: "realtime.max_connections", rule: "between 0 and 100000"},
		{name: "negative max connections", mutate: func(c *switchboardv1.RealtimeConfig) { c.MaxConnections = -1 }, field: "realtime.max_connections"},
		{name: "history limit", mutate: func(c *switchboardv1.RealtimeConfig) { c.HistoryLimit = 10001 }, field: "realtime.history_limit"},
		{name: "history ttl", mutate: func(c *switchboardv1.RealtimeConfig) { c.HistoryTtlSeconds = 86401 }, field: "realtime.history_ttl_seconds"},
		{name: "sessions ttl", mutate: func(c *switchboardv1.RealtimeConfig) { c.SessionsTtlSeconds = -1 }, field: "realtime.sessions_ttl_seconds"},
		{name: "unknown JSON field", json: `{"jwt_secret":"0123456789abcdef0123456789abcdef","origins":["*"]}`, field: "realtime", rule: `unknown field "origins"`},
		{name: "wrong JSON type", json: `{"public_streams":"yes"}`, field: "realtime", rule: "publicStreams"},
		{name: "oversize JSON", json: `{"jwt_param":"` + strings.Repeat("a", compile.MaxJSONBytes) + `"}`, field: "realtime", rule: "at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tc.json != "" {
				_, err = compile.DecodeJSON(artifactv1.Kind_KIND_REALTIME, []byte(tc.json))
			} else {
				cfg := validRealtime()
				tc.mutate(cfg)
				_, err = compile.ValidateRealtime(cfg, compile.Options{})
			}
			vs := violations(t, err)
			require.Equal(t, []string{tc.field}, fields(vs), "violations: %v", vs)
			require.Contains(t, vs[0].Rule, tc.rule)
		})
	}
}

func TestValidateReportsEveryViolation(t *testing.T) {
	t.Parallel()
	cfg := &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{
		{Name: "a", UpstreamUrl: "http://10.0.0.1", TimeoutMs: -1},
		{Name: "a", UpstreamUrl: "https://ok.example.com", WaitInOpenMs: 1},
	}}
	_, err := compile.ValidateBreaker(cfg, compile.Options{})
	require.Equal(t, []string{
		"breaker.services[0].upstream_url",
		"breaker.services[0].timeout_ms",
		"breaker.services[1].wait_in_open_ms",
		"breaker.services[1].name",
	}, fields(violations(t, err)))
	require.Contains(t, err.Error(), "breaker.services[0].timeout_ms: must be between 1 and 60000")
}

func TestValidateCapsViolations(t *testing.T) {
	t.Parallel()
	cfg := &switchboardv1.BreakerConfig{}
	for range 200 {
		cfg.Services = append(cfg.Services, &switchboardv1.BreakerService{Name: "X", UpstreamUrl: "ftp://x"})
	}
	vs := violations(t, mustFail(compile.ValidateBreaker(cfg, compile.Options{})))
	require.Len(t, vs, 101)
	require.Equal(t, "breaker", vs[100].Field)
	require.Contains(t, vs[100].Rule, "more violations not shown")
}

func mustFail[T any](_ T, err error) error { return err }

func TestBreakerDefaults(t *testing.T) {
	t.Parallel()
	in := &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{
		{Name: "users", UpstreamUrl: "https://users.example.com"},
		{Name: "slow", UpstreamUrl: "https://slow.example.com", TimeoutMs: 2000, WindowType: switchboardv1.WindowType_WINDOW_TYPE_TIME,
			Fallback: &switchboardv1.FallbackResponse{Body: "busy", Headers: map[string]string{"Retry-After": "5"}}},
	}}
	out, err := compile.ValidateBreaker(in, compile.Options{})
	require.NoError(t, err)
	require.Empty(t, in.Services[0].TimeoutMs, "input must not be modified")

	want := &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{
		{
			Name: "users", UpstreamUrl: "https://users.example.com",
			TimeoutMs: 5000, WindowType: switchboardv1.WindowType_WINDOW_TYPE_COUNT, WindowSize: 100,
			MinimumCalls: 10, FailureRateThreshold: 50, SlowCallRateThreshold: 100, SlowCallDurationMs: 5000,
			WaitInOpenMs: 30000, HalfOpenPermittedCalls: 5,
			FailureOutcomes: []switchboardv1.FailureOutcome{
				switchboardv1.FailureOutcome_FAILURE_OUTCOME_HTTP_5XX,
				switchboardv1.FailureOutcome_FAILURE_OUTCOME_TIMEOUT,
				switchboardv1.FailureOutcome_FAILURE_OUTCOME_CONNECTION_ERROR,
			},
			ForcedState: switchboardv1.ForcedState_FORCED_STATE_NONE,
			Fallback: &switchboardv1.FallbackResponse{
				Status:  503,
				Body:    `{"error":"circuit breaker open","service":"users"}`,
				Headers: map[string]string{"Content-Type": "application/json"},
			},
		},
		{
			Name: "slow", UpstreamUrl: "https://slow.example.com",
			TimeoutMs: 2000, WindowType: switchboardv1.WindowType_WINDOW_TYPE_TIME, WindowSize: 60,
			MinimumCalls: 10, FailureRateThreshold: 50, SlowCallRateThreshold: 100, SlowCallDurationMs: 2000,
			WaitInOpenMs: 30000, HalfOpenPermittedCalls: 5,
			FailureOutcomes: []switchboardv1.FailureOutcome{
				switchboardv1.FailureOutcome_FAILURE_OUTCOME_HTTP_5XX,
				switchboardv1.FailureOutcome_FAILURE_OUTCOME_TIMEOUT,
				switchboardv1.FailureOutcome_FAILURE_OUTCOME_CONNECTION_ERROR,
			},
			ForcedState: switchboardv1.ForcedState_FORCED_STATE_NONE,
			Fallback:    &switchboardv1.FallbackResponse{Status: 503, Body: "busy", Headers: map[string]string{"Retry-After": "5"}},
		},
	}}
	require.True(t, proto.Equal(want, out), "got %v", out)

	again, err := compile.ValidateBreaker(out, compile.Options{})
	require.NoError(t, err)
	require.True(t, proto.Equal(out, again), "validation must be idempotent")

	empty, err := compile.ValidateBreaker(&switchboardv1.BreakerConfig{}, compile.Options{})
	require.NoError(t, err)
	require.Empty(t, empty.Services)
}

func TestRealtimeDefaults(t *testing.T) {
	t.Parallel()
	out, err := compile.ValidateRealtime(&switchboardv1.RealtimeConfig{
		AllowedOrigins: []string{"HTTPS://App.Example.com/", "*.Example.org", "*", "http://[::1]:3000", "capacitor://localhost"},
	}, compile.Options{})
	require.NoError(t, err)
	want := &switchboardv1.RealtimeConfig{
		JwtParam:           "jid",
		AllowedOrigins:     []string{"https://app.example.com", "*.example.org", "*", "http://[::1]:3000", "capacitor://localhost"},
		HistoryLimit:       100,
		HistoryTtlSeconds:  300,
		SessionsTtlSeconds: 300,
	}
	require.True(t, proto.Equal(want, out), "got %v", out)
	again, err := compile.ValidateRealtime(out, compile.Options{})
	require.NoError(t, err)
	require.True(t, proto.Equal(out, again))
}

func TestAllowPrivateTargets(t *testing.T) {
	t.Parallel()
	private := []string{
		"http://127.0.0.1:8080", "http://localhost:3000", "http://api.localhost", "http://[::1]/",
		"http://10.0.0.1", "http://192.168.1.10", "http://172.20.0.5", "http://169.254.10.10",
		"http://[fe80::1]", "http://[fd12::1]", "http://100.64.1.1", "http://db", "http://app.internal:8080",
		"http://host.docker.internal", "http://printer.local", "http://2130706433/",
	}
	never := []string{
		"http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://metadata.google.internal/",
		"http://metadata/", "http://[::ffff:169.254.169.254]/", "http://0xa9fea9fe/", "http://169.254.170.2/",
		"http://0.0.0.0/", "http://224.0.0.1/", "http://255.255.255.255/",
	}
	for _, u := range private {
		cfg := &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{{Name: "s", UpstreamUrl: u}}}
		_, err := compile.ValidateBreaker(cfg, compile.Options{})
		require.Equal(t, []string{"breaker.services[0].upstream_url"}, fields(violations(t, err)), u)
		if u == "http://2130706433/" {
			continue // loopback allowed, but still not canonical
		}
		_, err = compile.ValidateBreaker(cfg, compile.Options{AllowPrivateTargets: true})
		require.NoError(t, err, u)
	}
	for _, u := range never {
		cfg := &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{{Name: "s", UpstreamUrl: u}}}
		_, err := compile.ValidateBreaker(cfg, compile.Options{AllowPrivateTargets: true})
		require.Equal(t, []string{"breaker.services[0].upstream_url"}, fields(violations(t, err)), u)
	}
}

func TestPublicTargetsAccepted(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"https://api.example.com", "http://api.example.com:8080/v1?key=x", "https://8.8.8.8", "http://[2606:4700::1111]:443/",
		"https://EXAMPLE.com./x", "https://under_score.example.com", "http://[::ffff:8.8.8.8]/", "https://xn--bcher-kva.example/",
	} {
		cfg := &switchboardv1.BreakerConfig{Services: []*switchboardv1.BreakerService{{Name: "s", UpstreamUrl: u}}}
		_, err := compile.ValidateBreaker(cfg, compile.Options{})
		require.NoError(t, err, u)
	}
}

func TestValidateKindMismatch(t *testing.T) {
	t.Parallel()
	_, err := compile.Validate(artifactv1.Kind_KIND_REALTIME, validBreaker(), compile.Options{})
	require.Equal(t, []string{"realtime"}, fields(violations(t, err)))
	_, err = compile.Validate(artifactv1.Kind_KIND_UNSPECIFIED, validBreaker(), compile.Options{})
	require.Equal(t, []string{"kind"}, fields(violations(t, err)))
	out, err := compile.Validate(artifactv1.Kind_KIND_BREAKER, validBreaker(), compile.Options{})
	require.NoError(t, err)
	require.IsType(t, &switchboardv1.BreakerConfig{}, out)
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	m, err := compile.DecodeJSON(artifactv1.Kind_KIND_BREAKER, []byte(`{
		"services": [{"name": "users", "upstreamUrl": "https://users.example.com", "window_type": "WINDOW_TYPE_TIME",
		  "failure_outcomes": ["FAILURE_OUTCOME_HTTP_429"], "fallback": {"status": 429, "headers": {"Retry-After": "1"}}}]}`))
	require.NoError(t, err)
	cfg := m.(*switchboardv1.BreakerConfig)
	require.Equal(t, switchboardv1.WindowType_WINDOW_TYPE_TIME, cfg.Services[0].WindowType)
	_, err = compile.ValidateBreaker(cfg, compile.Options{})
	require.NoError(t, err)

	_, err = compile.DecodeJSON(artifactv1.Kind_KIND_UNSPECIFIED, []byte(`{}`))
	require.Equal(t, []string{"kind"}, fields(violations(t, err)))
}
