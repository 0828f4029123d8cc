package tlsrec

import "strconv"

// Alert is a TLS alert description (RFC 8446 section 6, RFC 5246 section 7.2).
type Alert uint8

// Alerts this package sends or names.
const (
	AlertCloseNotify         Alert = 0
	AlertUnexpectedMessage   Alert = 10
	AlertBadRecordMAC        Alert = 20
	AlertRecordOverflow      Alert = 22
	AlertHandshakeFailure    Alert = 40
	AlertBadCertificate      Alert = 42
	AlertCertificateUnknown  Alert = 46
	AlertUnknownCA           Alert = 48
	AlertDecodeError         Alert = 50
	AlertProtocolVersion     Alert = 70
	AlertInternalError       Alert = 80
	AlertUserCanceled        Alert = 90
	AlertNoRenegotiation     Alert = 100
	AlertCertificateRequired Alert = 116
)

// String returns the RFC name of the alert, or its number.
func (a Alert) String() string {
	switch a {
	case AlertCloseNotify:
		return "close_notify"
	case AlertUnexpectedMessage:
		return "unexpected_message"
	case AlertBadRecordMAC:
		return "bad_record_mac"
	case AlertRecordOverflow:
		return "record_overflow"
	case AlertHandshakeFailure:
		return "handshake_failure"
	case AlertBadCertificate:
		return "bad_certificate"
	case AlertCertificateUnknown:
		return "certificate_unknown"
	case AlertUnknownCA:
		return "unknown_ca"
	case AlertDecodeError:
		return "decode_error"
	case AlertProtocolVersion:
		return "protocol_version"
	case AlertInternalError:
		return "internal_error"
	case AlertUserCanceled:
		return "user_canceled"
	case AlertNoRenegotiation:
		return "no_renegotiation"
	case AlertCertificateRequired:
		return "certificate_required"
	}
	return "alert " + strconv.Itoa(int(a))
}

// Error ends a Conn. Its values are pre-allocated and compared with errors.Is
// or ==; Reason is a short snake_case label for a counter. Alert is the alert
// Feed appended to out for the peer, if Sent.
type Error struct {
	Reason string // counter label: "bad_record_mac", "handshake_timeout", ...
	Msg    string
	Alert  Alert
	Sent   bool // an alert record with Alert was appended to out
}

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// Ends of a connection that are not violations.
var (
	// ErrPeerClosed: the client sent close_notify. Feed appended our own
	// close_notify to out (RFC 8446 6.1); write it, then close.
	ErrPeerClosed = &Error{Reason: "peer_closed", Msg: "tlsrec: peer sent close_notify", Alert: AlertCloseNotify, Sent: true}
	// ErrClosed: the Conn was closed with Close.
	ErrClosed = &Error{Reason: "closed", Msg: "tlsrec: connection closed"}
	// ErrNotEstablished: AppendRecord was called before the handshake completed.
	ErrNotEstablished = &Error{Reason: "not_established", Msg: "tlsrec: handshake not complete"}
)

// Handshake refusals and failures. The handshake pool counts each by Reason
// (Stats); Conn.Cause returns the crypto/tls error behind ErrHandshake,
// ErrClientCert and ErrPeerAlert for the log line.
var (
	// ErrNotTLS: the first bytes are not a TLS handshake record (garbage,
	// plain MQTT or HTTP on the TLS port, an SSLv2 hello). Nothing is sent.
	ErrNotTLS = &Error{Reason: "not_tls", Msg: "tlsrec: first record is not a TLS handshake"}
	// ErrBusy: MaxHandshakes handshakes were in progress; the client is
	// refused with an internal_error alert before its ClientHello is read.
	ErrBusy = &Error{Reason: "busy", Msg: "tlsrec: too many handshakes in progress", Alert: AlertInternalError, Sent: true}
	// ErrHandshakeTimeout: the handshake did not complete within
	// Config.HandshakeTimeout.
	ErrHandshakeTimeout = &Error{Reason: "handshake_timeout", Msg: "tlsrec: handshake timed out"}
	// ErrHandshake: crypto/tls refused the handshake (no common version,
	// suite or group, malformed messages, ...); out holds its alert.
	ErrHandshake = &Error{Reason: "handshake_failed", Msg: "tlsrec: handshake failed"}
	// ErrClientCert: the client certificate was missing while required, or
	// did not verify against the client CA; out holds crypto/tls's alert.
	ErrClientCert = &Error{Reason: "bad_client_cert", Msg: "tlsrec: client certificate refused"}
	// ErrPeerAlert: the client sent a fatal alert.
	ErrPeerAlert = &Error{Reason: "peer_alert", Msg: "tlsrec: peer sent a fatal alert"}
)

// Violations of the record layer after the handshake (RFC 8446 section 5,
// RFC 5246 section 6). Feed appended the alert to out; write it and close.
var (
	ErrUnexpectedMessage = &Error{Reason: "unexpected_message", Msg: "tlsrec: unexpected record or message", Alert: AlertUnexpectedMessage, Sent: true}       // RFC 8446 5, 5.1
	ErrBadRecordMAC      = &Error{Reason: "bad_record_mac", Msg: "tlsrec: record failed authentication", Alert: AlertBadRecordMAC, Sent: true}                // RFC 8446 5.2
	ErrRecordOverflow    = &Error{Reason: "record_overflow", Msg: "tlsrec: record over the size limit", Alert: AlertRecordOverflow, Sent: true}               // RFC 8446 5.1, 5.2
	ErrDecode            = &Error{Reason: "decode_error", Msg: "tlsrec: malformed alert or handshake message", Alert: AlertDecodeError, Sent: true}           // RFC 8446 6.2
	ErrProtocolVersion   = &Error{Reason: "protocol_version", Msg: "tlsrec: record with the wrong protocol version", Alert: AlertProtocolVersion, Sent: true} // RFC 8446 5.1
	ErrRenegotiation     = &Error{Reason: "renegotiation", Msg: "tlsrec: client attempted renegotiation", Alert: AlertNoRenegotiation, Sent: true}            // RFC 5746 4.4
	ErrTooManyIgnored    = &Error{Reason: "too_many_ignored", Msg: "tlsrec: too many records without data", Alert: AlertUnexpectedMessage, Sent: true}        // as crypto/tls maxUselessRecords
	// ErrInternal: a broken invariant in this package (the record keys did not
	// decrypt the Finished record crypto/tls wrote). Never expected; counted.
	ErrInternal = &Error{Reason: "internal_error", Msg: "tlsrec: internal error", Alert: AlertInternalError}
)
