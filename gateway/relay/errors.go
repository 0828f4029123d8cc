package relay

import (
	"errors"
	"strconv"

	"edgegw/mqttcodec"
)

// downReason says why a pooled connection attempt failed or an established
// connection ended. It labels edgegw_relay_connection_errors_total and the
// state-change log line.
type downReason uint8

const (
	downDial       downReason = iota // TCP connect failed (refused, unreachable, timeout, DNS)
	downTLS                          // TLS handshake failed
	downRefused                      // CONNACK with an error code
	downTimeout                      // no CONNACK, or nothing heard for 1.5 x keep alive
	downProtocol                     // the upstream sent something that is not the MQTT it must speak
	downClosed                       // EOF or reset after CONNACK
	downDisconnect                   // the upstream sent DISCONNECT (v5)
	downWrite                        // a write failed or stalled past 1.5 x keep alive
	numDownReasons
)

var downLabels = [numDownReasons]string{"dial", "tls", "refused", "timeout", "protocol", "closed", "server_disconnect", "write"}

// String is r's label.
func (r downReason) String() string {
	if r < numDownReasons {
		return downLabels[r]
	}
	return "down_reason_" + strconv.Itoa(int(r))
}

// dropReason labels edgegw_relay_dropped_total: a message the relay ended
// without the upstream (or, for imports, a local subscriber) having it.
type dropReason uint8

const (
	dropBufferFull dropReason = iota // QoS 0 forward while the buffer was full
	dropRejected                     // the upstream acknowledged with an error reason code (v5)
	dropTooLarge                     // over the upstream's Maximum Packet Size (v5 CONNACK)
	dropExpired                      // its Message Expiry Interval passed while held
	dropUnmapped                     // an upstream message outside remote_prefix or every import rule
	numDropReasons
)

var dropLabels = [numDropReasons]string{"buffer_full", "rejected", "packet_too_large", "expired", "unmapped"}

// String is r's label.
func (r dropReason) String() string {
	if r < numDropReasons {
		return dropLabels[r]
	}
	return "drop_reason_" + strconv.Itoa(int(r))
}

// linkError is a connection failure with the reason it is counted under.
type linkError struct {
	reason downReason
	err    error // the cause; nil for the pre-allocated ones
	msg    string
}

func (e *linkError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *linkError) Unwrap() error { return e.err }

// Pre-allocated connection errors.
var (
	errConnackTimeout  = &linkError{reason: downTimeout, msg: "relay: no CONNACK within the connect timeout"}
	errKeepAlive       = &linkError{reason: downTimeout, msg: "relay: nothing heard for 1.5 x keep alive"}
	errNotConnack      = &linkError{reason: downProtocol, msg: "relay: first packet is not a CONNACK"}              // [MQTT-3.2.0-1]
	errUnexpected      = &linkError{reason: downProtocol, msg: "relay: packet a server must not send"}              // e.g. a second CONNACK, SUBSCRIBE
	errTopicAlias      = &linkError{reason: downProtocol, msg: "relay: topic alias we did not allow"}               // [MQTT-3.1.2-27]: our Topic Alias Maximum is 0
	errServerClosed    = &linkError{reason: downDisconnect, msg: "relay: the upstream sent DISCONNECT"}             // [MQTT-3.14]
	errEOF             = &linkError{reason: downClosed, msg: "relay: the upstream closed the connection"}           //
	errClosing         = errors.New("relay: closing")                                                               // Close was called
	errTooLargeInbound = &linkError{reason: downProtocol, msg: "relay: packet over our Maximum Packet Size"}        // [MQTT-3.1.2-24]
	errBadFrame        = &linkError{reason: downProtocol, msg: "relay: malformed packet from the upstream"}         // mqttcodec rejected it
	errRefused         = &linkError{reason: downRefused, msg: "relay: the upstream refused CONNECT"}                // see refusedError
	errWriteStalled    = &linkError{reason: downWrite, msg: "relay: write failed or stalled past 1.5 x keep alive"} //
)

// refusedError names the CONNACK code of a refusal.
func refusedError(v mqttcodec.Version, code mqttcodec.ReasonCode) error {
	name := "0x" + strconv.FormatUint(uint64(code), 16)
	if v == mqttcodec.V5 {
		name += " " + code.String()
	}
	return &linkError{reason: downRefused, err: errors.New("CONNACK " + name), msg: errRefused.msg}
}

// wrap attaches cause to a reason.
func wrap(r downReason, msg string, cause error) error {
	return &linkError{reason: r, err: cause, msg: msg}
}

// reasonOf returns the reason err is counted under.
func reasonOf(err error) downReason {
	var le *linkError
	if errors.As(err, &le) {
		return le.reason
	}
	return downClosed
}
