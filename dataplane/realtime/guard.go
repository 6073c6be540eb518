package realtime

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// originPolicy is allowed_origins, already normalized by compile: `*`,
// `*.domain` or `scheme://host[:port]`, lower case. An empty list allows
// every origin.
type originPolicy struct {
	any      bool
	exact    map[string]bool // canonical scheme://host[:port]
	suffixes []string        // ".domain" for each `*.domain`
}

func newOriginPolicy(origins []string) originPolicy {
	p := originPolicy{any: len(origins) == 0, exact: make(map[string]bool)}
	for _, o := range origins {
		o = strings.ToLower(o)
		switch {
		case o == "*":
			p.any = true
		case strings.HasPrefix(o, "*."):
			p.suffixes = append(p.suffixes, o[1:])
		default:
			if u, err := url.Parse(o); err == nil && u.Host != "" {
				p.exact[canonicalOrigin(u.Scheme, u.Host)] = true
			}
		}
	}
	return p
}

// allows reports whether a request with this Origin header may connect. A
// request without one is not a browser's (browsers always send Origin on
// WebSocket and cross-origin requests) and is allowed: origin checks protect
// browsers from cross-site use, and any other client can send any Origin.
func (p originPolicy) allows(origin string) bool {
	if origin == "" || p.any {
		return true
	}
	u, err := url.Parse(strings.ToLower(origin))
	if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.User != nil {
		return false // includes the opaque origin "null"
	}
	if p.exact[canonicalOrigin(u.Scheme, u.Host)] {
		return true
	}
	host := u.Hostname()
	for _, s := range p.suffixes {
		if strings.HasSuffix(host, s) && len(host) > len(s) {
			return true
		}
	}
	return false
}

// canonicalOrigin drops a default port, as browsers do in Origin headers.
func canonicalOrigin(scheme, host string) string {
	switch {
	case (scheme == "https" || scheme == "wss") && strings.HasSuffix(host, ":443"):
		host = strings.TrimSuffix(host, ":443")
	case (scheme == "http" || scheme == "ws") && strings.HasSuffix(host, ":80"):
		host = strings.TrimSuffix(host, ":80")
	}
	return scheme + "://" + host
}

// bearerMatches reports whether the Authorization header is exactly
// `Bearer <key>`, in constant time with respect to the key.
func bearerMatches(r *http.Request, key []byte) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(token), key) == 1
}

// connSet tracks one node's hijacked WebSocket connections so that its
// shutdown can close what AnyCable left open, including a connection
// upgraded by the old node just after the swap.
type connSet struct {
	mu     sync.Mutex
	closed bool
	conns  map[*trackedConn]struct{}
}

func newConnSet() *connSet { return &connSet{conns: make(map[*trackedConn]struct{})} }

func (s *connSet) add(c *trackedConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *connSet) remove(c *trackedConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// seal refuses connections from now on.
func (s *connSet) seal() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

func (s *connSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// drain waits until every connection has closed or ctx ends. AnyCable
// queues the disconnect message and close frame and writes them from each
// session's own goroutine, so closing at once would lose them.
func (s *connSet) drain(ctx context.Context) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.len() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// closeAll seals the set and closes what is left.
func (s *connSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	left := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		left = append(left, c)
	}
	s.mu.Unlock()
	for _, c := range left {
		_ = c.Close()
	}
}

// trackedConn is a hijacked connection that holds a connection slot until
// it is closed.
type trackedConn struct {
	net.Conn
	once    sync.Once
	set     *connSet
	release func()
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.set.remove(c)
		c.release()
	})
	return err
}

// hijackWriter hands the WebSocket upgrader a trackedConn instead of the
// raw connection.
type hijackWriter struct {
	http.ResponseWriter
	set      *connSet
	release  func()
	hijacked bool // the slot now belongs to the connection (or is released)
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("realtime: response writer cannot be hijacked")
	}
	raw, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.hijacked = true
	c := &trackedConn{Conn: raw, set: w.set, release: w.release}
	if !w.set.add(c) {
		// The node was swapped out and shut down while this request was
		// on its way; the client reconnects to the new one.
		_ = raw.Close()
		w.release()
		return nil, nil, errNodeClosed
	}
	return c, brw, nil
}

// corsWriter answers an allowed cross-origin SSE request with its own
// origin: AnyCable, which leaves origin checks to us here, would send `*`,
// which browsers refuse for credentialed requests.
type corsWriter struct {
	http.ResponseWriter
	origin string
	done   bool
}

func (w *corsWriter) fix() {
	if w.done {
		return
	}
	w.done = true
	if w.origin != "" {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", w.origin)
		h.Add("Vary", "Origin")
	}
}

func (w *corsWriter) WriteHeader(code int) {
	w.fix()
	w.ResponseWriter.WriteHeader(code)
}

func (w *corsWriter) Write(b []byte) (int, error) {
	w.fix()
	return w.ResponseWriter.Write(b)
}

func (w *corsWriter) Flush() {
	w.fix()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *corsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
