package ws

import "bytes"

// ExtensionDeflate is the permessage-deflate extension token (RFC 7692 7).
const ExtensionDeflate = "permessage-deflate"

// Window sizes of permessage-deflate (RFC 7692 7.1.2): the LZ77 sliding window
// is 2^bits bytes.
const (
	minWindowBits = 8
	maxWindowBits = 15
)

// deflateOffer is the result of choosing among a request's
// permessage-deflate offers: 0 when none is acceptable, otherwise the server
// window bits to answer with (8..15) and whether the offer named
// server_max_window_bits (then the answer must repeat it, RFC 7692 7.1.2.1).
type deflateOffer struct {
	bits    uint8 // 0: none accepted; else the server's window bits
	echoMax bool  // answer with server_max_window_bits=bits
}

// chooseDeflate walks the Sec-WebSocket-Extensions values of a request (one
// header value; call it for each header line, first to last) and returns the
// first acceptable permessage-deflate offer (RFC 7692 5: the server picks by
// its own preference, ours is the client's order). An offer is declined, and
// the next one tried, when it repeats a parameter, names an unknown one, or
// gives a value that is not allowed (RFC 7692 7: "a server MUST decline an
// extension negotiation offer" in each case). Values may be tokens or quoted
// strings (RFC 7692 7: the unquoted value must be a token); names compare
// without case.
func chooseDeflate(v []byte) deflateOffer {
	for len(v) > 0 {
		var offer []byte
		offer, v = cutList(v, ',')
		name, params := cutList(offer, ';')
		if !equalFold(trimOWS(name), ExtensionDeflate) {
			continue
		}
		if o, ok := parseDeflateParams(params); ok {
			return o
		}
	}
	return deflateOffer{}
}

// parseDeflateParams checks one offer's parameters (after the extension
// name) against RFC 7692 7.1.
func parseDeflateParams(params []byte) (deflateOffer, bool) {
	o := deflateOffer{bits: maxWindowBits}
	var seen uint8 // one bit per known parameter
	for len(params) > 0 {
		var p []byte
		p, params = cutList(params, ';')
		p = trimOWS(p)
		if len(p) == 0 {
			return o, false
		}
		name, value, hasValue := p, []byte(nil), false
		if i := bytes.IndexByte(p, '='); i >= 0 {
			name, value, hasValue = trimOWS(p[:i]), trimOWS(p[i+1:]), true
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			if !isToken(value) {
				return o, false
			}
		}
		var bit uint8
		switch {
		case equalFold(name, "server_no_context_takeover"):
			// 7.1.1.1: no value; we answer with it anyway.
			bit = 1
			if hasValue {
				return o, false
			}
		case equalFold(name, "client_no_context_takeover"):
			// 7.1.1.2: no value; we answer with it anyway.
			bit = 2
			if hasValue {
				return o, false
			}
		case equalFold(name, "server_max_window_bits"):
			// 7.1.2.1: a value 8..15 is required. We accept any: the
			// compressor's 32 KiB window cannot shrink, but a message of at
			// most 2^bits bytes cannot refer back further than that, so the
			// writer compresses only messages that small (Handshake.Deflate).
			bit = 4
			b, ok := windowBits(value)
			if !hasValue || !ok {
				return o, false
			}
			o.bits, o.echoMax = b, true
		case equalFold(name, "client_max_window_bits"):
			// 7.1.2.2: no value, or 8..15. The inflater keeps a 32 KiB
			// window per loop whatever the client uses, so we never limit
			// the client's window and leave the parameter out of the answer.
			bit = 8
			if _, ok := windowBits(value); hasValue && !ok {
				return o, false
			}
		default:
			return o, false // 7: unknown parameter
		}
		if seen&bit != 0 {
			return o, false // 7: a parameter given twice
		}
		seen |= bit
	}
	return o, true
}

// windowBits parses a window-bits value: 1*DIGIT, 8..15, no leading zero
// (RFC 7692 7.1.2.1).
func windowBits(v []byte) (uint8, bool) {
	switch {
	case len(v) == 1 && v[0] >= '8' && v[0] <= '9':
		return v[0] - '0', true
	case len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5':
		return 10 + v[1] - '0', true
	}
	return 0, false
}

// cutList splits v at the first sep outside a quoted string and returns the
// element before it and the rest after it.
func cutList(v []byte, sep byte) (elem, rest []byte) {
	quoted := false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && quoted && i+1 < len(v):
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			return v[:i], v[i+1:]
		}
	}
	return v, nil
}

// appendDeflateResponse appends the Sec-WebSocket-Extensions line that
// accepts o: both no_context_takeover parameters always (RFC 7692 7.1.1.1
// and 7.1.1.2 let a server add them to any offer), so that no compressor or
// decompressor state outlives a message.
func appendDeflateResponse(dst []byte, o deflateOffer) []byte {
	dst = append(dst, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover"...)
	if o.echoMax {
		dst = append(dst, "; server_max_window_bits="...)
		if o.bits >= 10 {
			dst = append(dst, '1', '0'+o.bits-10)
		} else {
			dst = append(dst, '0'+o.bits)
		}
	}
	return append(dst, "\r\n"...)
}
