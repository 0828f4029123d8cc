// Package mqttcodec decodes and encodes every MQTT 3.1 (protocol level 3),
// 3.1.1 (level 4) and 5.0 (level 5) control packet and every v5 property.
//
// It owns framing (PacketSize), decoding into caller-owned structs, encoding
// with AppendX functions into caller-owned buffers, the spec validation that a
// packet codec can decide on its own (reserved bits, QoS 3, UTF-8 rules,
// property placement and duplicates, reason codes), and topic name / topic
// filter validation helpers. It knows nothing about connections or sessions:
// checks that need session state (topic alias maximum, receive maximum,
// subscription identifiers sent by a client, packet identifiers in use) belong
// to the session.
//
// Lifetimes: decoded packets are views. Every []byte a decoder stores
// (topic, payload, client ID, properties, filters) points into the frame the
// caller passed in and is valid until the caller releases or reuses that
// buffer. Copy what must outlive it. Encoders append to dst and never retain
// it; with enough capacity in dst they do not allocate.
//
// On error a decoder may have filled part of its struct; only the error is
// meaningful then.
//
// Errors: every protocol violation is a pre-allocated *Error carrying the v5
// reason code the receiver should use (ReasonOf). ErrNeedMore means "a valid
// prefix, wait for more bytes". No function panics on any input, reads past
// the slice it was given, or allocates in proportion to a length the peer
// claims but has not sent.
//
// Spec IDs in comments ([MQTT-x.y.z-n]) are MQTT 5.0 conformance statements;
// where 3.1.1 numbers a rule differently or only 3.1.1 has it, the comment
// says "3.1.1:". A bare section number ([MQTT-3.3.2.3.4]) points at a rule
// the specification states without a conformance ID.
//
// Concurrency: no package state is mutated after init; all functions are safe
// for concurrent use on distinct values. A decoded struct is owned by one
// goroutine (in edgegw: the event loop that owns the connection).
//
// Imports: the standard library only.
package mqttcodec
