package ws

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"strings"
)

// DefaultMaxRequest is the size limit of the upgrade request, request line and
// headers included, when Handshake.MaxRequest is 0.
const DefaultMaxRequest = 8 << 10

// Subprotocol names. MQTT 5.0 and 3.1.1 clients offer "mqtt" [MQTT-6.0.0-3];
// MQTT 3.1 clients (old Paho JavaScript) offer "mqttv3.1".
const (
	ProtocolMQTT   = "mqtt"
	ProtocolMQTT31 = "mqttv3.1"
)

// acceptGUID is appended to the client's key before hashing (RFC 6455 1.3).
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Handshake is the upgrade state of one connection. Its zero value accepts any
// path; set the fields before the first Feed. Loop-only.
//
// Origin is not checked: MQTT clients authenticate in CONNECT, and most are not
// browsers. permessage-deflate is accepted only when Deflate is set; see the
// package documentation.
type Handshake struct {
	// Path is the required request path, such as "/mqtt" (the query string is
	// ignored). Other paths get 404. Empty accepts any path.
	Path string
	// MaxRequest bounds the request in bytes; a longer one gets 431.
	// 0 means DefaultMaxRequest.
	MaxRequest int
	// RequireProtocol refuses (400) clients that offer neither "mqtt" nor
	// "mqttv3.1". When false such clients, and clients that offer no
	// subprotocol at all, are upgraded without Sec-WebSocket-Protocol.
	RequireProtocol bool
	// Deflate accepts the first acceptable permessage-deflate offer
	// (RFC 7692), always with server_no_context_takeover and
	// client_no_context_takeover. When false offers are ignored and the
	// client sends uncompressed frames.
	Deflate bool

	scanned int          // bytes of the request already searched for its end
	done    bool         // Feed returned a response
	proto   uint8        // 0 none, 1 mqtt, 2 mqttv3.1
	deflate deflateOffer // the accepted permessage-deflate offer; bits 0 = none
}

// Feed parses the upgrade request from buf, a borrowed prefix of the inbound
// stream (read, never modified or kept). While the request is incomplete it
// returns 0 and ErrNeedMore: call again with the whole buffered prefix (the
// bytes already seen are not searched again).
//
// On success it returns the request's size n (bytes after it belong to the
// WebSocket stream), and resp: dst extended with the 101 response to write.
// On refusal it returns a *HandshakeError and resp: dst extended with the
// HTTP error response to write before closing the connection. Either way
// the handshake is then done and later calls return ErrHandshakeDone.
// Feed does not allocate when dst has room for the response.
func (h *Handshake) Feed(buf, dst []byte) (n int, resp []byte, err error) {
	if h.done {
		return 0, dst, ErrHandshakeDone
	}
	limit := h.MaxRequest
	if limit <= 0 {
		limit = DefaultMaxRequest
	}
	from := min(h.scanned, len(buf)) - 3
	if from < 0 {
		from = 0
	}
	end := bytes.Index(buf[from:min(len(buf), limit)], crlfcrlf)
	if end < 0 {
		if len(buf) >= limit {
			return h.refuse(dst, ErrRequestTooLarge)
		}
		h.scanned = len(buf)
		return 0, dst, ErrNeedMore
	}
	n = from + end + len(crlfcrlf)
	var key []byte
	key, err = h.parse(buf[:n])
	if err != nil {
		_, resp, _ = h.refuse(dst, err.(*HandshakeError))
		return n, resp, err
	}
	h.done = true
	return n, h.appendAccept(dst, key), nil
}

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
)

// parse checks the request (which ends in CRLF CRLF) against RFC 6455 4.2.1 and
// returns the client's key.
func (h *Handshake) parse(req []byte) (key []byte, err error) {
	// Request line: GET SP request-target SP HTTP/1.1 (RFC 7230 3.1.1).
	i := bytes.Index(req, crlf)
	line := req[:i]
	rest := req[i+2:]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return nil, ErrMalformedRequest
	}
	method, line := line[:sp1], line[sp1+1:]
	sp2 := bytes.IndexByte(line, ' ')
	if sp2 <= 0 {
		return nil, ErrMalformedRequest
	}
	target, version := line[:sp2], line[sp2+1:]
	if !validVersion(version) {
		return nil, ErrMalformedRequest
	}
	if string(version) < "HTTP/1.1" {
		return nil, ErrHTTPVersion
	}
	if string(method) != "GET" {
		return nil, ErrMethod
	}
	if h.Path != "" && string(requestPath(target)) != h.Path {
		return nil, ErrNotFound
	}

	var (
		hosts, keys, versions int
		upgrade, connUpgrade  bool
		wsVersion             []byte
		offered               uint8 // bit 1: mqtt, bit 2: mqttv3.1
	)
	for len(rest) > 2 { // the last line is the empty one
		i := bytes.Index(rest, crlf)
		line := rest[:i]
		rest = rest[i+2:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return nil, ErrMalformedRequest // also catches obs-fold (RFC 7230 3.2.4)
		}
		name, value := line[:colon], trimOWS(line[colon+1:])
		switch {
		case equalFold(name, "Host"):
			hosts++
		case equalFold(name, "Upgrade"):
			eachToken(value, func(t []byte) {
				// RFC 6455 4.2.1 item 3: the token is case-insensitive.
				upgrade = upgrade || equalFold(t, "websocket")
			})
		case equalFold(name, "Connection"):
			eachToken(value, func(t []byte) {
				connUpgrade = connUpgrade || equalFold(t, "upgrade")
			})
		case equalFold(name, "Sec-WebSocket-Key"):
			keys++
			key = value
		case equalFold(name, "Sec-WebSocket-Version"):
			versions++
			wsVersion = value
		case equalFold(name, "Sec-WebSocket-Protocol"):
			eachToken(value, func(t []byte) {
				switch string(t) { // subprotocol names are case-sensitive
				case ProtocolMQTT:
					offered |= 1
				case ProtocolMQTT31:
					offered |= 2
				}
			})
		case equalFold(name, "Sec-WebSocket-Extensions"):
			if h.Deflate && h.deflate.bits == 0 {
				h.deflate = chooseDeflate(value) // header lines in order, first acceptable offer wins
			}
		case equalFold(name, "Content-Length"):
			if string(value) != "0" {
				return nil, ErrRequestBody
			}
		case equalFold(name, "Transfer-Encoding"):
			return nil, ErrRequestBody
		}
	}
	switch {
	case hosts != 1:
		return nil, ErrNoHost // RFC 7230 5.4
	case !upgrade:
		return nil, ErrNotUpgrade
	case !connUpgrade:
		return nil, ErrConnectionUpgrade
	case versions != 1 || string(wsVersion) != "13":
		return nil, ErrVersion // RFC 6455 4.2.2: 426 with Sec-WebSocket-Version: 13
	case keys != 1 || !validKey(key):
		return nil, ErrKey
	}
	switch {
	case offered&1 != 0:
		h.proto = 1 // [MQTT-6.0.0-4]: the server selects "mqtt"
	case offered&2 != 0:
		h.proto = 2
	case h.RequireProtocol:
		return nil, ErrNoMQTTProtocol
	}
	return key, nil
}

// Protocol returns the negotiated subprotocol: "mqtt", "mqttv3.1", or "" when
// none was (or the handshake has not succeeded yet).
func (h *Handshake) Protocol() string {
	switch h.proto {
	case 1:
		return ProtocolMQTT
	case 2:
		return ProtocolMQTT31
	}
	return ""
}

// Compression reports whether permessage-deflate was negotiated and, if
// so, the largest message the server may compress: 2^server_max_window_bits
// when the client asked for a window below 32 KiB (a shorter message cannot
// refer back further), or 0 for no limit. It is valid once Feed succeeded.
func (h *Handshake) Compression() (on bool, maxMessage int) {
	switch b := h.deflate.bits; {
	case b == 0:
		return false, 0
	case b < maxWindowBits:
		return true, 1 << b
	}
	return true, 0
}

// Done reports whether Feed has produced its response (101 or a refusal).
func (h *Handshake) Done() bool { return h.done }

// appendAccept appends the 101 response for key (RFC 6455 4.2.2 item 5).
func (h *Handshake) appendAccept(dst, key []byte) []byte {
	var src [24 + len(acceptGUID)]byte
	copy(src[copy(src[:], key):], acceptGUID)
	sum := sha1.Sum(src[:])
	var accept [28]byte
	base64.StdEncoding.Encode(accept[:], sum[:])

	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\n"+
		"Upgrade: websocket\r\n"+
		"Connection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: "...)
	dst = append(dst, accept[:]...)
	dst = append(dst, "\r\n"...)
	if p := h.Protocol(); p != "" {
		dst = append(dst, "Sec-WebSocket-Protocol: "...)
		dst = append(dst, p...)
		dst = append(dst, "\r\n"...)
	}
	if h.deflate.bits != 0 {
		dst = appendDeflateResponse(dst, h.deflate)
	}
	return append(dst, "\r\n"...)
}

// refuse ends the handshake with e and appends its HTTP response to dst.
func (h *Handshake) refuse(dst []byte, e *HandshakeError) (int, []byte, error) {
	h.done = true
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, e.phrase...)
	dst = append(dst, "\r\nConnection: "...)
	if e.upgrade {
		// RFC 7230 6.7: a sender of Upgrade also lists "upgrade" in Connection.
		dst = append(dst, "Upgrade, "...)
	}
	dst = append(dst, "close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(e.Msg)+1), 10)
	dst = append(dst, "\r\n"...)
	dst = append(dst, e.header...)
	dst = append(dst, "\r\n"...)
	dst = append(dst, e.Msg...)
	return 0, append(dst, '\n'), e
}

// validVersion reports whether v is "HTTP/" DIGIT "." DIGIT (RFC 7230 2.6).
func validVersion(v []byte) bool {
	return len(v) == 8 && string(v[:5]) == "HTTP/" && isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// requestPath returns the path of an origin-form or absolute-form target,
// without the query (RFC 7230 5.3).
func requestPath(target []byte) []byte {
	if i := bytes.Index(target, []byte("://")); i > 0 && target[0] != '/' {
		target = target[i+3:]
		j := bytes.IndexByte(target, '/')
		if j < 0 {
			return []byte("/")
		}
		target = target[j:]
	}
	if i := bytes.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	return target
}

// validKey reports whether k is the base64 of 16 bytes (RFC 6455 4.2.1 item 5).
func validKey(k []byte) bool {
	if len(k) != 24 {
		return false
	}
	var raw [18]byte
	n, err := base64.StdEncoding.Decode(raw[:], k)
	return err == nil && n == 16
}

// eachToken calls fn with each non-empty element of a comma-separated list
// (RFC 7230 7), whitespace trimmed.
func eachToken(v []byte, fn func([]byte)) {
	for len(v) > 0 {
		var t []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			t, v = v, nil
		}
		if t = trimOWS(t); len(t) > 0 {
			fn(t)
		}
	}
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals the ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// isToken reports whether b is a non-empty RFC 7230 token (a header name).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
