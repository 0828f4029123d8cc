// Package session holds one MQTT client's protocol state: CONNECT validation
// and CONNACK, keepalive, inbound QoS 1/2 flows (receive maximum, duplicate
// QoS 2 suppression, topic aliases, message expiry, payload format checks),
// outbound packet identifiers and the inflight window, resend on resume, the
// will message, and the bounded offline queue of a persistent session.
//
// Outbound topic aliases (alias.go): for a v5 client that announced a Topic
// Alias Maximum, the first N distinct topics written to a connection (N = the
// client's maximum capped by Limits.OutTopicAliases) keep aliases 1..N for
// the connection's life; the first PUBLISH of each carries topic and alias,
// later ones an empty topic and the alias; other topics go in full. Aliases
// are dropped when the connection ends [MQTT-3.3.2-7], so resends after a
// resume announce them again. Measured against LRU replacement of N aliases
// (BenchmarkAliasPolicy, 75-byte topics, N = 16; bytes per message, none /
// first N / LRU): 16 topics in turn 81 / 9.0 / 9.0; 1,000 topics with Zipf
// 1.2 81 / 45.9 / 47.5; 16 live topics with one replaced every 2,000
// messages 81 / 68.7 / 9.1. First N was chosen for its cost: nothing is
// updated per message, a topic past N costs no allocation and no
// re-announcement, and a mapping never changes, so no PUBLISH can be read
// against a stale one. Its loss is a connection whose topic set drifts: it
// keeps the savings of its first topics only, until it reconnects.
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
