// Package compile turns customer configs into signed artifacts and back.
//
// It validates breaker and realtime configs (ranges, names, unsafe upstream
// URLs, document size, unknown fields), fills in every default documented in
// proto/switchboard/v1/config.proto, compiles a config into the
// artifact/v1 Payload, signs it with an Ed25519 Keyring and verifies signed
// envelopes against a set of TrustedKeys.
//
// Everything here is pure: no I/O, no DNS, no clock, no globals beyond
// constants. The control plane uses it to validate and publish; data planes
// import it to Verify artifacts and to reuse IsBlockedIP in their dialers, so
// it imports nothing but the standard library, protobuf, gen/ and the root
// switchboard package (itself standard-library only).
package compile
