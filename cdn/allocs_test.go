package cdn_test

import (
	"net/http"
	"testing"
)

// headerWriter is the least a ResponseWriter can be, so the count is the
// handler's own.
type headerWriter struct {
	h    http.Header
	code int
}

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerWriter) WriteHeader(code int)        { w.code = code }

// The 304 answer for a fresh cached artifact does no store call and
// allocates little: it is most of a CDN's traffic.
// (Not parallel: AllocsPerRun refuses.)
func TestNotModifiedPathAllocations(t *testing.T) {
	b := setup(t, false)
	ins, token := b.newInstance(t)
	b.publish(t, ins, 1, false)
	etag := b.get(t, ins, token, "", "").header.Get("ETag")

	req, err := http.NewRequest(http.MethodGet, "/v1/instances/"+ins+"/artifact", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("If-None-Match", etag)
	h := b.cdn.Handler()
	w := &headerWriter{h: make(http.Header)}
	allocs := testing.AllocsPerRun(1000, func() {
		clear(w.h)
		h.ServeHTTP(w, req)
	})
	if w.code != http.StatusNotModified {
		t.Fatalf("code %d", w.code)
	}
	t.Logf("%.0f allocations per 304", allocs)
	if allocs > 8 {
		t.Errorf("%.0f allocations per 304, want at most 8", allocs)
	}
}
