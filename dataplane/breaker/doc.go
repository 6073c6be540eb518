// Package breaker is the circuit-breaking reverse proxy data plane. It
// routes /{service}/… to each configured service's upstream (every method,
// streamed bodies, hop-by-hop headers dropped, X-Forwarded-* set) through a
// per-service circuit breaker, and answers with the service's fallback
// response while the breaker is open. It implements configsync.Applier:
// a new config swaps the route table atomically, so in-flight requests
// finish on the routes they started on, and services whose breaker settings
// did not change keep their breaker (state and window).
//
// The breaker itself (Breaker) is written here rather than taken from
// failsafe-go or sony/gobreaker: the config schema asks for resilience4j's
// model — a count- or time-based sliding window, minimum calls, a failure
// rate and a separate slow-call rate, each with its own threshold, and a
// fixed number of half-open probes judged together. failsafe-go's circuit
// breaker has count- and time-based failure thresholds but no slow-call
// rate (a slow success cannot count against one rate and not the other),
// and gobreaker's counts are cleared per interval rather than kept in a
// sliding window of N calls. Bending either to the schema would have needed
// more code than the state machine itself, which is small and tested
// directly.
//
// What a call's outcome is: the call's duration is the time to the
// upstream's response headers (so a slow client reading a large body does
// not make the upstream look slow), timeout_ms bounds the same span, and
// the response status (5xx, 429), a timeout or a connection error counts
// as a failure when listed in failure_outcomes. A client that goes away
// before the upstream answers is not counted at all.
//
// The dialer refuses addresses compile.IsBlockedIP blocks, after DNS
// resolution, so a name that resolves to an internal address (DNS
// rebinding) is refused too; AllowPrivateTargets relaxes it for local and
// self-hosted setups, never for cloud metadata addresses.
//
// The package imports only gen/, compile/, configsync, the standard library
// and libraries: never the control plane.
package breaker
