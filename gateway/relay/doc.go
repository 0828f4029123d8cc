// Package relay connects edgegw to upstream brokers: each configured
// upstream ([[relay.upstream]], gateway/config) gets a pool of MQTT client
// connections (3.1.1 or 5.0 over mqttcodec) that carry the local messages
// matching its forward rules up, and the upstream messages matching its
// import rules down, with reference-counted subscription aggregation and
// end-to-end acknowledgement. The gateway's glue (gateway/relay.go) is its
// only user.
//
// Files:
//   - upstream.go: Upstream, New, Start, Close, Forward, Matches.
//   - link.go: one pooled connection: dial, CONNECT, failover and backoff,
//     the writer (publish window, resend with DUP, keep alive).
//   - read.go: the reader: acknowledgements, imports, SUBACK pacing.
//   - aggregate.go: local subscriptions -> upstream subscriptions.
//   - backoff.go: exponential backoff with full jitter.
//   - metrics.go: every metric family, per upstream (label upstream).
//   - errors.go: why a connection went down, as counted and logged.
//
// # Goroutines, and why not gnet's Engine.Register
//
// Each pooled connection runs on exactly two goroutines: a writer, which
// also dials and handshakes (DNS, TCP connect, TLS, CONNECT/CONNACK, backoff
// sleeps), and a reader, started per TCP connection. A pool of 4 is 8
// goroutines, whatever the number of devices. Registering the upstream
// sockets on the gateway's event loops (gnet v2.10 Engine.Register) was
// considered and not chosen: dialling, name resolution and the TLS handshake
// would still have to run off the loop, the loop would own a client-side
// protocol state machine (reconnects, windows, resend order) next to its
// server-side one, and a loop busy with a million devices would delay the
// upstream's acknowledgements (the device's acknowledgements wait on them).
// A handful of dedicated goroutines blocking in read and write is the
// simplest thing that keeps every event loop free of I/O waits.
//
// The loops talk to the relay only through non-blocking calls:
//   - Forward: one short mutex-protected append to the connection's queue
//     and a non-blocking wake of its writer. The queue is bounded per
//     upstream (buffer_messages, buffer_bytes); past the bound Forward
//     refuses the message (Full): QoS 0 is dropped and counted, QoS 1 is
//     not acknowledged to the device (it keeps the message and resends it);
//     QoS 2 is admitted past the bound (see Forward: its duplicates are
//     suppressed by the device's session, so a refusal could not be retried).
//   - Subscribed / Unsubscribed: the aggregation's reference counts under one
//     mutex per upstream, and upstream SUBSCRIBE/UNSUBSCRIBE operations queued
//     for the writer.
//
// The relay reaches the loops only through the callbacks in Hooks, which the
// gateway implements by posting into loop inboxes: Done (tokens of messages
// the upstream acknowledged: the device's PUBACK/PUBREC hold is released on
// its loop) and Import (upstream messages, published on a loop).
//
// # Order
//
// The same topic always uses the same pooled connection (FNV-1a of the
// topic), each connection's queue is FIFO and, after a reconnect, the
// messages sent and not acknowledged are resent first, in their order, with
// DUP [MQTT-3.3.1-1], before anything newer: per-topic order holds across
// reconnects. Every upstream subscription of one import rule lives on one
// connection, whose imports reach the gateway in the order received.
//
// # End-to-end acknowledgement
//
// A QoS 1 message is done when the upstream's PUBACK arrives; a QoS 2
// message when its PUBCOMP arrives (a broker may hand a QoS 2 message on
// only at PUBREL, so PUBREC is not yet "the upstream has it"). A QoS 0
// upstream publish is done once written. A v5 PUBACK or PUBREC with an error
// reason code ends the message too (resending it would meet the same
// refusal); it is counted as dropped, reason "rejected". Messages held when
// the relay closes are never released: their devices were not acknowledged.
//
// Upstream sessions start clean by default: after a reconnect the relay
// resubscribes its current set (paced: one SUBSCRIBE of at most 64 filters
// at a time) and resends what was not acknowledged, under new packet
// identifiers; upstream messages published while the link was down are not
// imported. With session_expiry > 0 each pooled connection keeps its
// session (v5 Session Expiry Interval; 3.1.1 clean session 0): the first
// connection after a start, and the first to another address after a
// failover, is clean (the QoS 2 identifiers an old session there holds are
// unknown to us, and one it still held would swallow a new message; 3.1.1
// connects clean, disconnects, and connects again with clean session 0),
// later ones resume it. When the CONNACK says the session is
// present the relay finishes its flows there [MQTT-4.4.0-1]: PUBREL again
// for QoS 2 messages whose PUBREC came, every other unacknowledged message
// again with DUP under its packet identifier, in send order; the queued
// subscription changes stand (the upstream kept the subscriptions) and the
// inbound QoS 2 identifiers awaiting PUBREL are kept, so a resent inbound
// message is not imported twice. What the upstream queued for the
// subscriptions while the link was down arrives. When it is not present
// (expired, another broker after a failover) the clean path applies.
//
// # Subscription aggregation
//
// A local subscription to filter L counts under every import rule I that
// it overlaps: as L itself when I covers L, else as I (a local "#" under the
// import rule "commands/#" wants all of commands/#). The upstream set of a
// rule is the distinct counted filters minus those another one covers.
// Collapse rule: when two of them overlap without one covering the other
// (so the upstream would send some messages twice), or past 64 distinct
// filters (CollapseAt), the rule subscribes its import filter itself, once,
// and unsubscribes the rest; it expands again when the set shrinks to half
// of CollapseAt. Overlap-free sets keep upstream fan-out exact (no message
// imported that no local subscriber wants, no duplicates), and the cap
// bounds the upstream's per-client subscription state and the cover
// computation, O(n^2) on at most 64 filters, run only when a distinct
// filter appears or disappears (a thousand clients on one filter cost one
// map increment each). An upstream subscription exists while its count is
// above zero; the last unsubscribe, or the end of the last session holding
// it, unsubscribes upstream.
//
// # Loop prevention
//
// gateway/config refuses an upstream whose forward and import rules overlap,
// so what it forwards can never match what it imports. On top of that, v5
// upstream subscriptions carry No Local, and the gateway never forwards a
// message to the upstream it was imported from (3.1.1 has no No Local: the
// gateway tags the import, see gateway/relay.go).
//
// # Imports
//
// gateway/config, session (Message, the immutable shared message),
// mqttcodec, gateway/telemetry (metric help texts), VictoriaMetrics/metrics
// and the standard library. Never gateway or gnet.
package relay
