package breaker

// window holds the outcomes the failure and slow-call rates are computed
// over: the last N calls (countWindow) or the calls of the last N seconds
// (timeWindow).
type window interface {
	add(nowSec int64, failure, slow bool)
	totals(nowSec int64) (calls, failures, slow int)
	reset()
}

const (
	flagFailure uint8 = 1 << iota
	flagSlow
)

// countWindow is a ring buffer of the last size outcomes with running
// totals, so adding and reading are O(1).
type countWindow struct {
	ring              []uint8
	next, n           int
	failures, slowCnt int
}

func newCountWindow(size int) *countWindow { return &countWindow{ring: make([]uint8, size)} }

func (w *countWindow) add(_ int64, failure, slow bool) {
	if w.n == len(w.ring) {
		old := w.ring[w.next]
		if old&flagFailure != 0 {
			w.failures--
		}
		if old&flagSlow != 0 {
			w.slowCnt--
		}
	} else {
		w.n++
	}
	var f uint8
	if failure {
		f |= flagFailure
		w.failures++
	}
	if slow {
		f |= flagSlow
		w.slowCnt++
	}
	w.ring[w.next] = f
	w.next = (w.next + 1) % len(w.ring)
}

func (w *countWindow) totals(int64) (int, int, int) { return w.n, w.failures, w.slowCnt }

func (w *countWindow) reset() {
	clear(w.ring)
	w.next, w.n, w.failures, w.slowCnt = 0, 0, 0, 0
}

// timeWindow keeps one bucket per second for the last size seconds, with
// running totals; buckets that fall out of the window are subtracted as the
// clock advances, so the cost is O(1) amortised.
type timeWindow struct {
	buckets []bucket
	head    int64 // the newest second seen
	calls   int
	fails   int
	slowCnt int
}

type bucket struct{ calls, failures, slow int }

func newTimeWindow(seconds int, nowSec int64) *timeWindow {
	return &timeWindow{buckets: make([]bucket, seconds), head: nowSec}
}

// advance expires the buckets between head and now.
func (w *timeWindow) advance(nowSec int64) {
	if nowSec <= w.head {
		return
	}
	size := int64(len(w.buckets))
	if nowSec-w.head >= size {
		w.reset()
		w.head = nowSec
		return
	}
	for t := w.head + 1; t <= nowSec; t++ {
		b := &w.buckets[t%size]
		w.calls -= b.calls
		w.fails -= b.failures
		w.slowCnt -= b.slow
		*b = bucket{}
	}
	w.head = nowSec
}

func (w *timeWindow) add(nowSec int64, failure, slow bool) {
	w.advance(nowSec)
	// A clock that steps back lands in the newest bucket.
	b := &w.buckets[w.head%int64(len(w.buckets))]
	b.calls++
	w.calls++
	if failure {
		b.failures++
		w.fails++
	}
	if slow {
		b.slow++
		w.slowCnt++
	}
}

func (w *timeWindow) totals(nowSec int64) (int, int, int) {
	w.advance(nowSec)
	return w.calls, w.fails, w.slowCnt
}

func (w *timeWindow) reset() {
	clear(w.buckets)
	w.calls, w.fails, w.slowCnt = 0, 0, 0
}
