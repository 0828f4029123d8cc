package ws

import (
	"errors"
	"strconv"
)

// ErrNeedMore is returned by Handshake.Feed while buf holds a valid but
// incomplete request: wait for more bytes and call Feed again with the whole
// buffered prefix.
var ErrNeedMore = errors.New("ws: need more bytes")

// ErrHandshakeDone is returned by Handshake.Feed after the handshake has
// finished, successfully or not.
var ErrHandshakeDone = errors.New("ws: handshake already done")

// HandshakeError is a refused upgrade request. Its values are pre-allocated and
// compared with errors.Is or ==; Handshake.Feed returns the matching HTTP
// response bytes with it.
type HandshakeError struct {
	Status  int    // HTTP status code of the response
	Msg     string // why; also the response body
	phrase  string // HTTP reason phrase
	header  string // extra response header lines, each ending in CRLF
	upgrade bool   // the response carries "Upgrade: websocket" (RFC 7230 6.7)
}

// Error returns the message.
func (e *HandshakeError) Error() string { return e.Msg }

// Refusals of the upgrade request (RFC 6455 section 4.2.1 and 4.2.2).
var (
	ErrMalformedRequest  = &HandshakeError{Status: 400, phrase: "Bad Request", Msg: "ws: malformed HTTP request"}
	ErrHTTPVersion       = &HandshakeError{Status: 400, phrase: "Bad Request", Msg: "ws: HTTP version below 1.1"}
	ErrMethod            = &HandshakeError{Status: 405, phrase: "Method Not Allowed", Msg: "ws: method is not GET", header: "Allow: GET\r\n"}
	ErrNotFound          = &HandshakeError{Status: 404, phrase: "Not Found", Msg: "ws: unknown request path"}
	ErrRequestTooLarge   = &HandshakeError{Status: 431, phrase: "Request Header Fields Too Large", Msg: "ws: upgrade request too large"}
	ErrRequestBody       = &HandshakeError{Status: 400, phrase: "Bad Request", Msg: "ws: upgrade request has a body"}
	ErrNoHost            = &HandshakeError{Status: 400, phrase: "Bad Request", Msg: "ws: missing or repeated Host header"}
	ErrNotUpgrade        = &HandshakeError{Status: 426, phrase: "Upgrade Required", Msg: "ws: not a WebSocket upgrade request", header: "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n", upgrade: true}
	ErrConnectionUpgrade = &HandshakeError{Status: 400, phrase: "Bad Request", Msg: "ws: Connection header lacks the upgrade token"}
	ErrVersion           = &HandshakeError{Status: 426, phrase: "Upgrade Required", Msg: "ws: unsupported Sec-WebSocket-Version", header: "Sec-WebSocket-Version: 13\r\n"}
	ErrKey               = &HandshakeError{Status: 400, phrase: "Bad Request", Msg: "ws: missing or invalid Sec-WebSocket-Key"}
	ErrNoMQTTProtocol    = &HandshakeError{Status: 400, phrase: "Bad Request", Msg: "ws: client does not offer the mqtt subprotocol"}
)

// CloseCode is a WebSocket close status code (RFC 6455 section 7.4).
type CloseCode uint16

// Close codes used by this package (RFC 6455 section 7.4.1).
const (
	CloseNormal          CloseCode = 1000
	CloseGoingAway       CloseCode = 1001
	CloseProtocolError   CloseCode = 1002
	CloseUnsupportedData CloseCode = 1003
	CloseNoStatus        CloseCode = 1005 // never on the wire
	CloseAbnormal        CloseCode = 1006 // never on the wire
	CloseInvalidPayload  CloseCode = 1007
	ClosePolicyViolation CloseCode = 1008
	CloseTooBig          CloseCode = 1009
	CloseInternalError   CloseCode = 1011
	CloseTryAgainLater   CloseCode = 1013
)

// String returns the RFC 6455 name of the code, or its number.
func (c CloseCode) String() string {
	switch c {
	case CloseNormal:
		return "normal closure"
	case CloseGoingAway:
		return "going away"
	case CloseProtocolError:
		return "protocol error"
	case CloseUnsupportedData:
		return "unsupported data"
	case CloseNoStatus:
		return "no status received"
	case CloseAbnormal:
		return "abnormal closure"
	case CloseInvalidPayload:
		return "invalid frame payload data"
	case ClosePolicyViolation:
		return "policy violation"
	case CloseTooBig:
		return "message too big"
	case CloseInternalError:
		return "internal server error"
	case CloseTryAgainLater:
		return "try again later"
	}
	return "close code " + strconv.Itoa(int(c))
}

// validOnWire reports whether a peer may send c in a close frame
// (RFC 6455 section 7.4.1 and 7.4.2; 1012-1014 are IANA-registered).
func (c CloseCode) validOnWire() bool {
	switch {
	case c >= 1000 && c <= 1003:
		return true
	case c >= 1007 && c <= 1014:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// CloseError ends a Reader's stream. Its values are pre-allocated and compared
// with errors.Is or ==. Code is the close code the Reader sent back in ctrl.
type CloseError struct {
	Code CloseCode
	Msg  string
}

// Error returns the message.
func (e *CloseError) Error() string { return e.Msg }

// ErrPeerClosed is returned by Reader.Feed when the client sent a valid close
// frame; ctrl holds the echoed close frame. It is a clean end, not a violation.
var ErrPeerClosed = &CloseError{Code: CloseNormal, Msg: "ws: peer closed the connection"}

// Violations that end a Reader's stream; ctrl holds a close frame with Code.
var (
	ErrUnmasked        = &CloseError{Code: CloseProtocolError, Msg: "ws: client frame is not masked"}                  // RFC 6455 5.1
	ErrReservedBits    = &CloseError{Code: CloseProtocolError, Msg: "ws: RSV bits set without a negotiated extension"} // RFC 6455 5.2
	ErrReservedOpcode  = &CloseError{Code: CloseProtocolError, Msg: "ws: reserved opcode"}                             // RFC 6455 5.2
	ErrTextFrame       = &CloseError{Code: CloseUnsupportedData, Msg: "ws: text frame; MQTT needs binary frames"}      // [MQTT-6.0.0-1]
	ErrControlTooLong  = &CloseError{Code: CloseProtocolError, Msg: "ws: control frame payload over 125 bytes"}        // RFC 6455 5.5
	ErrControlFragment = &CloseError{Code: CloseProtocolError, Msg: "ws: fragmented control frame"}                    // RFC 6455 5.5
	ErrContinuation    = &CloseError{Code: CloseProtocolError, Msg: "ws: continuation frame without a message"}        // RFC 6455 5.4
	ErrUnfinished      = &CloseError{Code: CloseProtocolError, Msg: "ws: new data frame inside a fragmented message"}  // RFC 6455 5.4
	ErrLength          = &CloseError{Code: CloseProtocolError, Msg: "ws: 64-bit payload length with the high bit set"} // RFC 6455 5.2
	ErrFrameTooBig     = &CloseError{Code: CloseTooBig, Msg: "ws: frame payload over the limit"}                       // RFC 6455 7.4.1
	ErrCloseCode       = &CloseError{Code: CloseProtocolError, Msg: "ws: invalid close code"}                          // RFC 6455 7.4
	ErrCloseLength     = &CloseError{Code: CloseProtocolError, Msg: "ws: close frame with a 1-byte payload"}           // RFC 6455 5.5.1
	ErrCloseReasonUTF8 = &CloseError{Code: CloseInvalidPayload, Msg: "ws: close reason is not valid UTF-8"}            // RFC 6455 5.5.1
	ErrRSV1            = &CloseError{Code: CloseProtocolError, Msg: "ws: RSV1 on a control or continuation frame"}     // RFC 7692 6
	ErrInflateTooBig   = &CloseError{Code: CloseTooBig, Msg: "ws: message inflates past the limit"}                    // RFC 7692 8.2.3, 6455 7.4.1
	ErrInflateCorrupt  = &CloseError{Code: CloseInvalidPayload, Msg: "ws: corrupt permessage-deflate data"}            // RFC 7692 6.2
)
