package ws

import "unicode/utf8"

// Frame header layout (RFC 6455 section 5.2).
const (
	finBit    = 0x80
	rsvBits   = 0x70
	opMask    = 0x0f
	maskBit   = 0x80
	len7Mask  = 0x7f
	len16Code = 126
	len64Code = 127

	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa

	// MaxControlPayload is the largest payload of a control frame (RFC 6455 5.5).
	MaxControlPayload = 125
	// MaxServerHeader is the largest header of a frame this package writes:
	// unmasked, with a 64-bit length.
	MaxServerHeader = 10
	// MaxClientHeader is the largest header of a client frame: masked, with a
	// 64-bit length.
	MaxClientHeader = 14
)

// HeaderSize returns the size of the unmasked server frame header that
// AppendFrameHeader writes for a payload of n bytes: 2, 4 or 10.
func HeaderSize(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xffff:
		return 4
	}
	return 10
}

// AppendFrameHeader appends the header of an unmasked, final, binary
// server-to-client frame for a payload of n bytes and returns the extended
// slice. The payload is not written: send it after the header (Writev), so an
// MQTT packet shared by many subscribers is never copied. It does not allocate
// when dst has MaxServerHeader bytes of spare capacity.
func AppendFrameHeader(dst []byte, n int) []byte {
	return appendHeader(dst, finBit|opBinary, n)
}

// AppendFrame appends a whole unmasked, final, binary frame carrying payload.
// It is meant for small packets (CONNACK, PUBACK, PINGRESP) written in one
// piece; large shared payloads go through AppendFrameHeader and Writev.
func AppendFrame(dst, payload []byte) []byte {
	dst = appendHeader(dst, finBit|opBinary, len(payload))
	return append(dst, payload...)
}

// AppendClose appends an unmasked close frame with code and reason. Code 0
// writes a close frame without a status (and without the reason). The reason is
// cut, at a UTF-8 boundary, to fit the 125-byte control frame payload.
func AppendClose(dst []byte, code CloseCode, reason string) []byte {
	if code == 0 {
		return appendHeader(dst, finBit|opClose, 0)
	}
	if len(reason) > MaxControlPayload-2 {
		cut := MaxControlPayload - 2
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	dst = appendHeader(dst, finBit|opClose, 2+len(reason))
	dst = append(dst, byte(code>>8), byte(code))
	return append(dst, reason...)
}

func appendHeader(dst []byte, b0 byte, n int) []byte {
	switch {
	case n < 0:
		panic("BUG: ws: negative frame payload length")
	case n <= 125:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return append(dst, b0, len16Code, byte(n>>8), byte(n))
	}
	u := uint64(n)
	return append(dst, b0, len64Code,
		byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
		byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}
