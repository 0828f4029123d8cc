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
//   - Inflater, Deflater: permessage-deflate (RFC 7692) for the Readers and
//     frames of one loop.
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
// # permessage-deflate
//
// With Handshake.Deflate set, the first acceptable permessage-deflate offer
// (RFC 7692) is accepted, always answered with server_no_context_takeover
// and client_no_context_takeover (7.1.1.1 and 7.1.1.2 let a server add both
// to any offer). Without context takeover no sliding window survives a
// message, so the compressor and the decompressor are per loop, not per
// connection (Deflater, Inflater): an idle connection holds no compression
// state, where context takeover would cost up to 32 KiB each way per
// connection, tens of gigabytes at two million connections.
//
// Window bits. klauspost/compress/flate, like Go's own flate, always
// compresses with a 32 KiB window. An offer with server_max_window_bits=w
// (8..15) is still accepted and echoed: a message of at most 2^w bytes
// cannot refer back further than 2^w, so the gateway compresses only
// messages that short and sends longer ones uncompressed (RSV1 clear), which
// RFC 7692 allows per message (Handshake.Compression). client_max_window_bits
// needs nothing from us: the Inflater decodes any window up to 32 KiB, so
// the answer never names it (7.1.2.2 makes it optional) and the client keeps
// its own choice. An offer with an unknown or repeated parameter, or a value
// outside 8..15, is declined and the next offer tried (RFC 7692 7).
//
// Frames. RSV1 marks a compressed message on its first frame only; RSV1 on
// a continuation or control frame, and RSV2/RSV3 always, close with 1002.
// Control frames are never compressed. The compressed bytes of a message in
// progress are gathered in a buffer the Inflater lends for that message
// only, bounded by Inflater.Limit (plus deflate's worst-case growth); the
// message is inflated when its last frame is in, with the 0x00 0x00 0xff
// 0xff tail restored (7.2.2), into the MQTT stream, producing at most Limit
// bytes: a message that inflates past it (a deflate bomb) closes with 1009,
// one that is not valid DEFLATE with 1007 (the payload is not consistent
// with its type). The gateway sets Limit to limits.max_packet_size: a
// compressed message carries one MQTT packet, or several whose sum fits.
// Without a negotiated extension any RSV bit is a protocol error (1002).
//
// # Imports
//
// The standard library, github.com/gobwas/ws (for its Cipher, the XOR
// unmasking kernel) and github.com/klauspost/compress/flate (deflate). It
// must not import gnet or any other edgegw package: the gateway drives it,
// with bytes.
package ws
