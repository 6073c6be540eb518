package breaker_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/dataplane/breaker"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func settings() breaker.Settings {
	return breaker.Settings{
		WindowSize: 10, MinimumCalls: 4, FailureRateThreshold: 50, SlowCallRateThreshold: 100,
		WaitInOpen: time.Second, HalfOpenPermitted: 2,
	}
}

// call acquires and records one call.
func call(t *testing.T, b *breaker.Breaker, now time.Time, failure, slow bool) {
	t.Helper()
	p, ok := b.Acquire(now)
	require.True(t, ok, "call refused")
	b.Record(p, failure, slow, now)
}

func TestOpensOnlyAfterMinimumCalls(t *testing.T) {
	t.Parallel()
	var changes []string
	b := breaker.NewBreaker(settings(), t0, func(from, to breaker.State) { changes = append(changes, from.String()+">"+to.String()) })
	for range 3 {
		call(t, b, t0, true, false)
	}
	require.Equal(t, breaker.StateClosed, b.Snapshot(t0).State, "3 failures < minimum 4")
	require.Equal(t, -1.0, b.Snapshot(t0).FailureRate)
	call(t, b, t0, true, false)
	s := b.Snapshot(t0)
	require.Equal(t, breaker.StateOpen, s.State)
	require.Equal(t, t0.Add(time.Second), s.OpenUntil)
	_, ok := b.Acquire(t0.Add(999 * time.Millisecond))
	require.False(t, ok, "open refuses")
	require.Equal(t, []string{"closed>open"}, changes)
}

func TestFailureRateThreshold(t *testing.T) {
	t.Parallel()
	b := breaker.NewBreaker(settings(), t0, nil)
	// 1 of 4, then 2 of 5 failed: below 50%.
	for _, f := range []bool{false, false, true, false, true} {
		call(t, b, t0, f, false)
	}
	require.Equal(t, breaker.StateClosed, b.Snapshot(t0).State)
	call(t, b, t0, true, false) // 3 of 6: 50%
	require.Equal(t, breaker.StateOpen, b.Snapshot(t0).State)
}

func TestCountWindowSlides(t *testing.T) {
	t.Parallel()
	s := settings()
	s.WindowSize = 4
	b := breaker.NewBreaker(s, t0, nil)
	call(t, b, t0, true, false)
	call(t, b, t0, false, false)
	call(t, b, t0, false, false)
	call(t, b, t0, false, false) // 1/4
	call(t, b, t0, true, false)  // the first failure slid out: 1/4
	snap := b.Snapshot(t0)
	require.Equal(t, 4, snap.Calls)
	require.Equal(t, 1, snap.Failures)
	require.Equal(t, breaker.StateClosed, snap.State)
}

func TestSlowCallRateOpens(t *testing.T) {
	t.Parallel()
	s := settings()
	s.SlowCallRateThreshold = 75
	b := breaker.NewBreaker(s, t0, nil)
	call(t, b, t0, false, true)
	call(t, b, t0, false, true)
	call(t, b, t0, false, false)
	call(t, b, t0, false, true) // 3/4 slow, no failures
	require.Equal(t, breaker.StateOpen, b.Snapshot(t0).State)
}

func TestTimeWindowExpires(t *testing.T) {
	t.Parallel()
	s := settings()
	s.TimeWindow, s.WindowSize = true, 5 // seconds
	b := breaker.NewBreaker(s, t0, nil)
	for i := range 3 {
		call(t, b, t0.Add(time.Duration(i)*time.Second), true, false)
	}
	// At t0+6s the first two failures (t0, t0+1s) are out of the window.
	now := t0.Add(6 * time.Second)
	require.Equal(t, 1, b.Snapshot(now).Calls)
	// Had the expired failures counted, the next failure would open it.
	call(t, b, now, true, false)
	call(t, b, now, false, false)
	require.Equal(t, breaker.StateClosed, b.Snapshot(now).State, "3 calls in the window, fewer than 4")
	call(t, b, now, false, false)
	require.Equal(t, breaker.StateOpen, b.Snapshot(now).State, "2 of 4 in the window")
}

func TestTimeWindowOpens(t *testing.T) {
	t.Parallel()
	s := settings()
	s.TimeWindow, s.WindowSize = true, 60
	b := breaker.NewBreaker(s, t0, nil)
	for i := range 4 {
		call(t, b, t0.Add(time.Duration(i*10)*time.Second), i%2 == 0, false)
	}
	require.Equal(t, breaker.StateOpen, b.Snapshot(t0.Add(30*time.Second)).State, "2 of 4 within 60 s")

	// Long idle gaps reset the window entirely.
	b2 := breaker.NewBreaker(s, t0, nil)
	for i := range 3 {
		call(t, b2, t0.Add(time.Duration(i)*time.Hour), true, false)
	}
	require.Equal(t, 1, b2.Snapshot(t0.Add(2*time.Hour)).Calls)
	require.Equal(t, breaker.StateClosed, b2.Snapshot(t0.Add(2*time.Hour)).State)
}

func TestHalfOpenProbesClose(t *testing.T) {
	t.Parallel()
	b := breaker.NewBreaker(settings(), t0, nil)
	for range 4 {
		call(t, b, t0, true, false)
	}
	later := t0.Add(time.Second)
	require.Equal(t, breaker.StateHalfOpen, b.Snapshot(later).State)
	p1, ok := b.Acquire(later)
	require.True(t, ok)
	p2, ok := b.Acquire(later)
	require.True(t, ok)
	_, ok = b.Acquire(later)
	require.False(t, ok, "only 2 probes")
	b.Record(p1, false, false, later)
	require.Equal(t, breaker.StateHalfOpen, b.Snapshot(later).State, "judged once all probes finish")
	b.Record(p2, false, false, later)
	s := b.Snapshot(later)
	require.Equal(t, breaker.StateClosed, s.State)
	require.Zero(t, s.Calls, "closing starts an empty window")
}

func TestHalfOpenProbesReopen(t *testing.T) {
	t.Parallel()
	b := breaker.NewBreaker(settings(), t0, nil)
	for range 4 {
		call(t, b, t0, true, false)
	}
	later := t0.Add(time.Second)
	call(t, b, later, false, false)
	call(t, b, later, true, false) // 1 of 2 probes failed: 50%
	s := b.Snapshot(later)
	require.Equal(t, breaker.StateOpen, s.State)
	require.Equal(t, later.Add(time.Second), s.OpenUntil)
}

func TestStaleAndReleasedPermits(t *testing.T) {
	t.Parallel()
	b := breaker.NewBreaker(settings(), t0, nil)
	stale, ok := b.Acquire(t0) // starts while closed, finishes after opening
	require.True(t, ok)
	for range 4 {
		call(t, b, t0, true, false)
	}
	later := t0.Add(time.Second)
	p1, _ := b.Acquire(later)
	b.Record(stale, true, false, later) // ignored
	require.Equal(t, breaker.StateHalfOpen, b.Snapshot(later).State)

	p2, ok := b.Acquire(later)
	require.True(t, ok)
	b.Release(p2) // client went away: the slot is free again
	p3, ok := b.Acquire(later)
	require.True(t, ok)
	b.Record(p1, false, false, later)
	b.Record(p3, false, false, later)
	require.Equal(t, breaker.StateClosed, b.Snapshot(later).State)
}

func TestObserveNeverOpens(t *testing.T) {
	t.Parallel()
	b := breaker.NewBreaker(settings(), t0, nil)
	for range 20 {
		b.Observe(true, true, t0)
	}
	s := b.Snapshot(t0)
	require.Equal(t, breaker.StateClosed, s.State)
	require.Equal(t, 10, s.Calls)
	require.Equal(t, 100.0, s.FailureRate)
}
