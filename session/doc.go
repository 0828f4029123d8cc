// Package session holds one MQTT client's protocol state: CONNECT validation
// and CONNACK, keepalive, inbound QoS 1/2 flows (receive maximum, duplicate
// QoS 2 suppression, topic aliases, message expiry, payload format checks),
// outbound packet identifiers and the inflight window, resend on resume, the
// will message, and the bounded offline queue of a persistent session.
//
// Concurrency: Loop-only. A State is owned by exactly one event loop at a
// time and is never touched by two goroutines at once; it takes no locks.
// Handing a State to another loop (session takeover) is the gateway's job and
// happens through that loop's inbox.
//
// The package does no I/O and never calls the router: it decodes packets that
// the gateway framed, updates its state, encodes replies into an Out (small
// packets into a loop-owned arena, payloads shared), and returns intents
// (Event) that the gateway carries out.
//
// Imports: mqttcodec and the standard library only.
package session
