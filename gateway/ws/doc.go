// Package ws terminates MQTT over WebSocket (RFC 6455, MQTT 5.0 section 6) on
// byte slices, for callers that own the socket and never block.
//
// It owns three things and nothing else:
//
//   - Handshake: the HTTP/1.1 upgrade request of one connection, parsed from a
//     borrowed prefix of the inbound stream; it answers 101 with
//     Sec-WebSocket-Accept and "Sec-WebSocket-Protocol: mqtt" when offered, or a
//     ready-to-write HTTP refusal (400, 404, 405, 426, 431).
//   - Reader: the client-to-server frame stream of one connection after the
//     upgrade. It unmasks binary and continuation payloads into the caller's MQTT
//     stream buffer, answers ping with pong and close with close, and refuses
//     everything MQTT over WebSocket forbids with the right close code.
//   - AppendFrameHeader, AppendFrame, AppendClose: server-to-client frames
//     (unmasked, RFC 6455 5.1), as encoders into the caller's buffer, so that the
//     gateway can Writev [header, MQTT packet...] without copying the payload.
//
// # Concurrency
//
// Handshake and Reader are Loop-only: one value per connection, used by the
// goroutine that owns the connection (the gnet event loop), never shared. The
// Append functions are pure and safe for concurrent use. Nothing here blocks,
// starts a goroutine, or keeps a reference to a buffer it was given.
//
// # Buffers
//
// The inbound buf given to Handshake.Feed and Reader.Feed is borrowed (gnet's
// Peek): it is read, never modified and never retained. Unmasking writes into
// the caller's MQTT buffer (mqtt), not into buf: gnet's ring buffer may hand out
// a copy or a view, and a frame's payload must be copied out of the frame
// stream anyway, because MQTT packets are not aligned on frame boundaries
// [MQTT-6.0.0-2]; the copy and the unmask are one pass. Bytes beyond the n that
// Feed consumed are not remembered: the caller presents them again, first, on
// the next call (gnet keeps them when you Discard(n)).
//
// # No permessage-deflate
//
// The handshake never accepts the permessage-deflate extension (RFC 7692): a
// request that offers it gets a 101 without Sec-WebSocket-Extensions, which
// tells the client to send uncompressed frames. Inflating costs CPU per message
// and a sliding window of up to 32 KiB per connection with context takeover; at
// two million mostly idle connections that is tens of gigabytes, and MQTT
// payloads are usually tens to hundreds of bytes, where deflate saves little.
// Because no extension is negotiated, any RSV bit set on a frame is a protocol
// error (1002).
//
// # Imports
//
// The standard library and github.com/gobwas/ws (for its Cipher, the XOR
// unmasking kernel). It must not import gnet or any other edgegw package: the
// gateway drives it, with bytes.
package ws
