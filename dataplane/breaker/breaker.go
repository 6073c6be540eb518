package breaker

import (
	"sync"
	"time"
)

// State is a breaker's own state. Forced states are decided per route, on
// top of it.
type State int

const (
	StateClosed State = iota
	StateOpen
	StateHalfOpen
)

func (s State) String() string {
	switch s {
	case StateOpen:
		return "open"
	case StateHalfOpen:
		return "half_open"
	default:
		return "closed"
	}
}

// Settings are a breaker's parameters, from a BreakerService with defaults
// filled in.
type Settings struct {
	// TimeWindow selects a window of WindowSize seconds instead of the
	// last WindowSize calls.
	TimeWindow   bool
	WindowSize   int
	MinimumCalls int
	// FailureRateThreshold and SlowCallRateThreshold are percentages; a
	// rate at or above either opens the breaker.
	FailureRateThreshold  float64
	SlowCallRateThreshold float64
	WaitInOpen            time.Duration
	HalfOpenPermitted     int
}

// Breaker is a circuit breaker with resilience4j's semantics: closed, it
// records every call in a sliding window and opens once the window holds at
// least MinimumCalls calls and the failure or slow-call rate reaches its
// threshold; open, it refuses calls for WaitInOpen; then half-open, it lets
// HalfOpenPermitted probe calls through and, once they have all finished,
// closes (with an empty window) if their rates are below the thresholds or
// opens again. Outcomes of calls that started in an earlier state are
// ignored. It is safe for concurrent use.
type Breaker struct {
	s        Settings
	onChange func(from, to State)

	mu       sync.Mutex
	state    State
	gen      uint64 // bumped on every transition
	win      window
	openedAt time.Time
	// Half-open probes: issued, finished, and the failures and slow calls
	// among the finished.
	hoIssued, hoDone, hoFail, hoSlow int
}

// NewBreaker returns a closed breaker. onChange, if not nil, is called on
// every transition, with the breaker's lock held: it must not call back.
func NewBreaker(s Settings, now time.Time, onChange func(from, to State)) *Breaker {
	s.WindowSize = max(s.WindowSize, 1)
	s.MinimumCalls = max(s.MinimumCalls, 1)
	s.HalfOpenPermitted = max(s.HalfOpenPermitted, 1)
	b := &Breaker{s: s, onChange: onChange}
	if s.TimeWindow {
		b.win = newTimeWindow(s.WindowSize, now.Unix())
	} else {
		b.win = newCountWindow(s.WindowSize)
	}
	return b
}

// Permit is a call the breaker let through. Pass it to Record or Release
// exactly once.
type Permit struct {
	gen      uint64
	halfOpen bool
}

// Acquire asks to make a call. ok is false while open, and while half-open
// once every probe is taken.
func (b *Breaker) Acquire(now time.Time) (p Permit, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick(now)
	switch b.state {
	case StateOpen:
		return Permit{}, false
	case StateHalfOpen:
		if b.hoIssued >= b.s.HalfOpenPermitted {
			return Permit{}, false
		}
		b.hoIssued++
		return Permit{gen: b.gen, halfOpen: true}, true
	default:
		return Permit{gen: b.gen}, true
	}
}

// Record reports a permitted call's outcome.
func (b *Breaker) Record(p Permit, failure, slow bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick(now)
	if p.gen != b.gen {
		return // started in an earlier state
	}
	switch b.state {
	case StateClosed:
		b.win.add(now.Unix(), failure, slow)
		calls, fails, slows := b.win.totals(now.Unix())
		if b.exceeded(calls, fails, slows) {
			b.transition(StateOpen, now)
		}
	case StateHalfOpen:
		b.hoDone++
		if failure {
			b.hoFail++
		}
		if slow {
			b.hoSlow++
		}
		if b.hoDone >= b.s.HalfOpenPermitted {
			if b.exceeded(b.hoDone, b.hoFail, b.hoSlow) {
				b.transition(StateOpen, now)
			} else {
				b.transition(StateClosed, now)
			}
		}
	}
}

// Release gives back a permit whose call has no outcome worth counting
// (the client went away): a half-open probe slot becomes free again.
func (b *Breaker) Release(p Permit) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.halfOpen && p.gen == b.gen && b.state == StateHalfOpen && b.hoIssued > 0 {
		b.hoIssued--
	}
}

// Observe records an outcome in the window without ever changing state:
// the metrics_only forced state.
func (b *Breaker) Observe(failure, slow bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == StateClosed {
		b.win.add(now.Unix(), failure, slow)
	}
}

// Snapshot is a breaker's state and window.
type Snapshot struct {
	State                 State
	Calls, Failures, Slow int
	// FailureRate and SlowCallRate are percentages of Calls; -1 until the
	// window holds MinimumCalls calls.
	FailureRate, SlowCallRate float64
	// OpenUntil is when an open breaker goes half-open.
	OpenUntil time.Time
}

// Snapshot returns the current state, moving open to half-open when due.
func (b *Breaker) Snapshot(now time.Time) Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tick(now)
	s := Snapshot{State: b.state, FailureRate: -1, SlowCallRate: -1}
	switch b.state {
	case StateHalfOpen:
		s.Calls, s.Failures, s.Slow = b.hoDone, b.hoFail, b.hoSlow
	default:
		s.Calls, s.Failures, s.Slow = b.win.totals(now.Unix())
	}
	if s.Calls >= b.s.MinimumCalls || (b.state == StateHalfOpen && s.Calls > 0) {
		s.FailureRate = 100 * float64(s.Failures) / float64(s.Calls)
		s.SlowCallRate = 100 * float64(s.Slow) / float64(s.Calls)
	}
	if b.state == StateOpen {
		s.OpenUntil = b.openedAt.Add(b.s.WaitInOpen)
	}
	return s
}

func (b *Breaker) exceeded(calls, fails, slows int) bool {
	if calls < b.s.MinimumCalls && b.state == StateClosed {
		return false
	}
	return 100*float64(fails) >= b.s.FailureRateThreshold*float64(calls) ||
		100*float64(slows) >= b.s.SlowCallRateThreshold*float64(calls)
}

// tick moves an open breaker to half-open once WaitInOpen has passed.
func (b *Breaker) tick(now time.Time) {
	if b.state == StateOpen && !now.Before(b.openedAt.Add(b.s.WaitInOpen)) {
		b.transition(StateHalfOpen, now)
	}
}

func (b *Breaker) transition(to State, now time.Time) {
	from := b.state
	b.state = to
	b.gen++
	b.hoIssued, b.hoDone, b.hoFail, b.hoSlow = 0, 0, 0, 0
	switch to {
	case StateOpen:
		b.openedAt = now
	case StateClosed:
		b.win.reset()
	}
	if b.onChange != nil && from != to {
		b.onChange(from, to)
	}
}
