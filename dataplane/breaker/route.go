package breaker

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	switchboardv1 "github.com/switchboardhq/switchboard/gen/switchboard/v1"
)

// route is one service in a route table: immutable once built. Its
// breaker (and counters) may be shared with the route of the same service in
// the previous table.
type route struct {
	name     string
	svc      *switchboardv1.BreakerService
	target   *url.URL
	forced   switchboardv1.ForcedState
	fallback fallback
	// failure outcomes that count
	fail5xx, fail429, failTimeout, failConn bool
	timeout, slowAfter                      time.Duration
	core                                    *core
	proxy                                   *httputil.ReverseProxy
}

// core is what survives a reload of an unchanged service: the breaker and
// the counters shown on the status endpoint.
type core struct {
	key     *switchboardv1.BreakerService // breakerKey of the service it was built for
	breaker *Breaker
	counts  counters
}

// fallback is a prepared fallback response.
type fallback struct {
	status int
	header http.Header
	body   []byte
}

// breakerKey is the part of a service that, when changed, makes its breaker
// start afresh. The fallback response and the forced state are applied on
// top of the breaker, so changing them keeps its state.
func breakerKey(s *switchboardv1.BreakerService) *switchboardv1.BreakerService {
	k := proto.CloneOf(s)
	k.Fallback = nil
	k.ForcedState = switchboardv1.ForcedState_FORCED_STATE_UNSPECIFIED
	return k
}

func settingsOf(s *switchboardv1.BreakerService) Settings {
	return Settings{
		TimeWindow:            s.WindowType == switchboardv1.WindowType_WINDOW_TYPE_TIME,
		WindowSize:            int(s.WindowSize),
		MinimumCalls:          int(s.MinimumCalls),
		FailureRateThreshold:  float64(s.FailureRateThreshold),
		SlowCallRateThreshold: float64(s.SlowCallRateThreshold),
		WaitInOpen:            time.Duration(s.WaitInOpenMs) * time.Millisecond,
		HalfOpenPermitted:     int(s.HalfOpenPermittedCalls),
	}
}

// newRoute builds the route for s, reusing prev's core when the breaker
// settings are unchanged.
func (p *Proxy) newRoute(s *switchboardv1.BreakerService, prev *route) (*route, error) {
	target, err := url.Parse(s.UpstreamUrl)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return nil, fmt.Errorf("service %s: bad upstream URL %q", s.Name, s.UpstreamUrl)
	}
	r := &route{
		name:      s.Name,
		svc:       s,
		target:    target,
		forced:    s.ForcedState,
		timeout:   time.Duration(s.TimeoutMs) * time.Millisecond,
		slowAfter: time.Duration(s.SlowCallDurationMs) * time.Millisecond,
	}
	if r.timeout <= 0 {
		r.timeout = 5 * time.Second
	}
	if r.slowAfter <= 0 {
		r.slowAfter = r.timeout
	}
	for _, o := range s.FailureOutcomes {
		switch o {
		case switchboardv1.FailureOutcome_FAILURE_OUTCOME_HTTP_5XX:
			r.fail5xx = true
		case switchboardv1.FailureOutcome_FAILURE_OUTCOME_HTTP_429:
			r.fail429 = true
		case switchboardv1.FailureOutcome_FAILURE_OUTCOME_TIMEOUT:
			r.failTimeout = true
		case switchboardv1.FailureOutcome_FAILURE_OUTCOME_CONNECTION_ERROR:
			r.failConn = true
		}
	}
	r.fallback = fallback{status: int(s.GetFallback().GetStatus()), header: make(http.Header), body: []byte(s.GetFallback().GetBody())}
	if r.fallback.status < 200 || r.fallback.status > 599 {
		r.fallback.status = http.StatusServiceUnavailable
	}
	for k, v := range s.GetFallback().GetHeaders() {
		r.fallback.header.Set(k, v)
	}
	r.fallback.header.Set("Content-Length", strconv.Itoa(len(r.fallback.body)))

	key := breakerKey(s)
	if prev != nil && proto.Equal(prev.core.key, key) {
		r.core = prev.core
	} else {
		name := s.Name
		r.core = &core{key: key}
		r.core.breaker = NewBreaker(settingsOf(s), p.now(), func(from, to State) {
			p.m.stateChanges.WithLabelValues(name, to.String()).Inc()
			p.log.Info("breaker state change", "service", name, "from", from.String(), "to", to.String())
		})
	}
	r.proxy = &httputil.ReverseProxy{
		Rewrite:        r.rewrite,
		Transport:      &routeTransport{base: p.transport, r: r, p: p},
		FlushInterval:  -1, // stream: flush every write
		ErrorHandler:   p.proxyError,
		ErrorLog:       p.errorLog,
		ModifyResponse: nil,
	}
	return r, nil
}

// rewrite strips /{service} and joins the rest onto the upstream URL.
func (r *route) rewrite(pr *httputil.ProxyRequest) {
	prefix := "/" + r.name
	out := pr.Out.URL
	out.Path = out.Path[len(prefix):]
	if out.RawPath != "" {
		if len(out.RawPath) >= len(prefix) && out.RawPath[:len(prefix)] == prefix {
			out.RawPath = out.RawPath[len(prefix):]
		} else {
			out.RawPath = ""
		}
	}
	bare := out.Path == ""
	pr.SetURL(r.target)
	if bare {
		// /{service} is the upstream URL itself, without a slash added.
		out.Path, out.RawPath = r.target.Path, r.target.RawPath
		if out.Path == "" {
			out.Path = "/"
		}
	}
	// Keep the chain of proxies in front of us; SetXForwarded appends the
	// client's address.
	if xff := pr.In.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		pr.Out.Header["X-Forwarded-For"] = append([]string(nil), xff...)
	}
	pr.SetXForwarded()
}
