// Package realtime is the realtime data plane: a managed WebSocket pub/sub
// server that embeds AnyCable (github.com/anycable/anycable-go v1.5.6) as a
// library and takes its settings from the instance's signed config.
//
// A Server is one stable http.Handler that serves
//
//	/cable       WebSocket, Action Cable protocol (actioncable-v1-json, actioncable-v1-ext-json)
//	/events      Server-Sent Events
//	/_broadcast  HTTP broadcast: POST {"stream":"…","data":"…"} with Authorization: Bearer <broadcast_key>
//	/healthz     the process is up
//	/readyz      a config has been applied (503 before)
//	/metrics     Prometheus: the Gatherer handed to New, which gets this package's and AnyCable's metrics
//
// and implements configsync.Applier. Until the first Apply every endpoint but
// /healthz and /metrics answers 503.
//
// # What AnyCable does here
//
// RPC is off: there is no application backend to call. Connections are
// identified by JWT only (jwt_secret; the token in the jwt_param query
// parameter, `?jid=…` by default, or the `X-<jwt_param>` header), and the
// token must carry an `ext` claim, AnyCable's identifiers. Without a
// jwt_secret every connection is refused, since nothing could identify it.
// Subscriptions go through AnyCable's signed streams: the `$pubsub` channel
// with `signed_stream_name` (Rails MessageVerifier format, HMAC-SHA256 of the
// base64 JSON stream name, keyed with streams_secret), or with `stream_name`
// when public_streams is on. Without a streams_secret no signed stream
// verifies. Broadcasts go to the memory broker, which keeps history for
// reliable streams (history_limit, history_ttl_seconds) and sessions for
// resumption (sessions_ttl_seconds).
//
// # Applying a config
//
// allowed_origins, max_connections and broadcast_key are enforced by this
// package in front of AnyCable and change live: existing connections are
// kept, new requests see the new values at once. An Origin header is checked
// against allowed_origins (`*`, `*.domain` matching subdomains, or
// `scheme://host[:port]` exactly, default ports ignored); a request without
// an Origin header is not a browser's and is let through, since origin
// checks protect browsers and a non-browser client can send any Origin.
// max_connections counts WebSocket and SSE connections together; past it a
// new connection gets 503. With no broadcast_key, /_broadcast refuses
// everything (403): AnyCable would otherwise accept unauthenticated
// broadcasts.
//
// The other settings (jwt_secret, jwt_param, streams_secret, public_streams,
// history_limit, history_ttl_seconds, sessions_ttl_seconds) are fixed when an
// AnyCable node starts. A change to any of them starts a new node, swaps it
// in atomically (requests that arrive from then on reach the new node), and
// shuts the old one down gracefully. What a client of the old node sees:
//
//   - WebSocket: a {"type":"disconnect","reason":"server_restart","reconnect":true}
//     message, then a close frame with code 1001 (going away). Action Cable
//     clients (@rails/actioncable, @anycable/web) reconnect on their own, to
//     the new node. The new node checks the JWT again, so after a jwt_secret
//     change a client holding a token signed with the old secret is refused
//     ({"type":"disconnect","reason":"unauthorized","reconnect":false}) and
//     must fetch a new token.
//   - SSE: the same disconnect event, then the response ends; EventSource
//     reconnects.
//   - Reliable streams: the new node's memory broker starts empty. A client
//     that reconnects with the ext protocol cannot restore its session
//     (sessions lived in the old node's memory) and cannot fetch history
//     published before the restart: messages broadcast between the old
//     node's last delivery and the client's resubscription are lost. A
//     history request by offset names the old node's epoch and is answered
//     with reject_history; one by time gets what the new node has seen.
//     Subscribing again works as for a new client.
//
// A restart costs each connected client a reconnect, and each restart leaves
// a few dozen idle goroutines behind (AnyCable's memory broker and worker
// pools have no way to stop them); restarts happen only on the config
// changes above. Connections the old node still holds when its shutdown
// ends (ShutdownTimeout) are closed.
package realtime
