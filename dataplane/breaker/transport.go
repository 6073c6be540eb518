package breaker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboardhq/switchboard/compile"
)

// BlockedAddressError is the dial error for an address compile.IsBlockedIP
// refuses.
type BlockedAddressError struct{ Addr string }

func (e *BlockedAddressError) Error() string {
	return "connection to " + e.Addr + " refused: the address is not allowed as an upstream"
}

// NewTransport returns the upstream transport: its dialer checks every
// address it is about to connect to, after DNS resolution, against
// compile.IsBlockedIP. It ignores HTTP(S)_PROXY, which would bypass that
// check.
func NewTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return &BlockedAddressError{Addr: address}
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || compile.IsBlockedIP(ip, allowPrivate) {
				return &BlockedAddressError{Addr: host}
			}
			return nil
		},
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// errUpstreamTimeout is the cause of a call cancelled by timeout_ms.
var errUpstreamTimeout = errors.New("upstream did not answer within timeout_ms")

// outcome is how an upstream call ended.
type outcome int

const (
	outcomeResponse outcome = iota // an HTTP response, judged by status
	outcomeTimeout
	outcomeConnError
	outcomeCancelled // the client went away: not the upstream's doing
)

// callKey carries a *call in a request's context to routeTransport.
type callKey struct{}

// call is one proxied request's breaker bookkeeping.
type call struct {
	mode   mode
	permit Permit
	done   atomic.Bool
}

type mode int

const (
	modeNormal mode = iota
	modeMetricsOnly
	modeDisabled
)

// routeTransport bounds each upstream call by the route's timeout, up to
// the response headers, and records the call's outcome.
type routeTransport struct {
	base http.RoundTripper
	r    *route
	p    *Proxy
}

func (t *routeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(callKey{}).(*call)
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(t.r.timeout, func() { cancel(errUpstreamTimeout) })
	start := time.Now()
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	elapsed := time.Since(start)
	timedOut := !timer.Stop()
	if err == nil && timedOut {
		// The headers arrived as the timer fired; the body is cancelled.
		resp.Body.Close()
		resp, err = nil, errUpstreamTimeout
	}
	if err != nil {
		cancel(nil)
		switch {
		case timedOut || errors.Is(context.Cause(ctx), errUpstreamTimeout):
			t.p.finish(c, t.r, outcomeTimeout, 0, elapsed)
			return nil, fmt.Errorf("%w (%s)", errUpstreamTimeout, t.r.timeout)
		case req.Context().Err() != nil:
			t.p.finish(c, t.r, outcomeCancelled, 0, elapsed)
		default:
			t.p.finish(c, t.r, outcomeConnError, 0, elapsed)
		}
		return nil, err
	}
	t.p.finish(c, t.r, outcomeResponse, resp.StatusCode, elapsed)
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases the call's context once the body is done.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// Write lets ReverseProxy use an upgraded (101) connection's body as a
// writer, as it requires.
func (b *cancelOnClose) Write(p []byte) (int, error) {
	if w, ok := b.ReadCloser.(io.Writer); ok {
		return w.Write(p)
	}
	return 0, errors.New("upstream body is not writable")
}
