package mqttcodec

import "errors"

// Error is a protocol violation found while framing or decoding. Values are
// pre-allocated package variables: compare with errors.Is or ==. Code is the
// v5 reason code the receiver should send (DISCONNECT, CONNACK or an ack);
// a v3 receiver closes the connection instead.
type Error struct {
	Code ReasonCode
	Msg  string
}

// Error returns Msg.
func (e *Error) Error() string { return e.Msg }

// ErrNeedMore reports that the input is a valid prefix of a packet: wait for
// more bytes. It is not an *Error: nothing is wrong yet.
var ErrNeedMore = errors.New("mqttcodec: need more bytes")

func newErr(code ReasonCode, msg string) *Error { return &Error{Code: code, Msg: "mqttcodec: " + msg} }

// Framing errors.
var (
	ErrMalformedVarint = newErr(MalformedPacket, "variable byte integer longer than 4 bytes or not minimal [MQTT-1.5.5-1]")
	ErrPacketTooLarge  = newErr(PacketTooLarge, "packet larger than the receiver's Maximum Packet Size, a Protocol Error [MQTT-3.2.2-15] [MQTT-3.2.2.3.6] [MQTT-3.1.2.11.4]")
	ErrReservedType    = newErr(MalformedPacket, "reserved packet type [MQTT-2.1.2]")
	ErrReservedFlags   = newErr(MalformedPacket, "invalid fixed header flags [MQTT-2.1.3-1] (3.1.1: [MQTT-2.2.2-1])")
	ErrFrameLength     = newErr(MalformedPacket, "frame length does not match the remaining length [MQTT-2.1.4]")
	ErrWrongType       = newErr(ProtocolError, "packet type does not match the decoder")
	ErrTruncated       = newErr(MalformedPacket, "field runs past the end of the packet [MQTT-1.5]")
	ErrTrailingBytes   = newErr(MalformedPacket, "unexpected bytes after the last field")
	ErrUnknownVersion  = newErr(UnsupportedProtocolVersion, "decoder called with an unknown protocol version")
)

// Data representation errors [MQTT-1.5].
var (
	ErrInvalidUTF8 = newErr(MalformedPacket, "string is not well-formed UTF-8, contains a surrogate or U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2] (3.1.1: [MQTT-1.5.3-1] [MQTT-1.5.3-2])")
)

// CONNECT and CONNACK errors.
var (
	ErrProtocolName       = newErr(UnsupportedProtocolVersion, "protocol name is not MQTT or MQIsdp [MQTT-3.1.2-1]")
	ErrUnsupportedVersion = newErr(UnsupportedProtocolVersion, "unsupported protocol level [MQTT-3.1.2-2]")
	ErrConnectReserved    = newErr(MalformedPacket, "CONNECT reserved flag is not 0 [MQTT-3.1.2-3]")
	ErrWillFlags          = newErr(MalformedPacket, "will QoS or will retain set without the will flag [MQTT-3.1.2-11] [MQTT-3.1.2-13] (3.1.1: [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15])")
	ErrWillQoS            = newErr(MalformedPacket, "will QoS is 3 [MQTT-3.1.2-12] (3.1.1: [MQTT-3.1.2-14])")
	ErrPasswordFlag       = newErr(MalformedPacket, "password flag set without the user name flag (3.1.1: [MQTT-3.1.2-22]; 5.0 allows it, section 3.1.2.9)")
	ErrWillTopic          = newErr(TopicNameInvalid, "will topic is empty or contains a wildcard [MQTT-4.7.3-1] [MQTT-4.7.0-1] (3.1.1: [MQTT-4.7.3-1] [MQTT-4.7.1-1])")
	ErrConnackFlags       = newErr(MalformedPacket, "CONNACK acknowledge flags reserved bits are not 0 [MQTT-3.2.2-1] (3.1.1: [MQTT-3.2.2.1], no ID)")
	ErrConnackPresent     = newErr(ProtocolError, "CONNACK session present with a non-zero reason code [MQTT-3.2.2-6] (3.1.1: [MQTT-3.2.2-4])")
	ErrReasonCode         = newErr(ProtocolError, "reason code is not valid for this packet type [MQTT-2.4]")
)

// PUBLISH errors.
var (
	ErrQoS3              = newErr(MalformedPacket, "QoS 3: PUBLISH [MQTT-3.3.1-4], 3.1.1 SUBSCRIBE [MQTT-3-8.3-4]")
	ErrDupQoS0           = newErr(MalformedPacket, "DUP flag set on a QoS 0 message [MQTT-3.3.1-2]")
	ErrTopicWildcard     = newErr(TopicNameInvalid, "topic name contains a wildcard [MQTT-3.3.2-2] [MQTT-4.7.0-1]")
	ErrTopicEmpty        = newErr(TopicNameInvalid, "topic name is empty [MQTT-4.7.3-1]")
	ErrTopicAliasMissing = newErr(ProtocolError, "empty topic name without a topic alias [MQTT-3.3.2.1]")
	ErrPayloadFormat     = newErr(PayloadFormatInvalid, "payload format indicator is UTF-8 but the payload is not [MQTT-3.3.2.3.2]")
	ErrPacketIDZero      = newErr(ProtocolError, "packet identifier 0 where a non-zero one is required [MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1])")
)

// SUBSCRIBE, UNSUBSCRIBE and SUBACK errors.
var (
	ErrNoFilters          = newErr(ProtocolError, "SUBSCRIBE or UNSUBSCRIBE without a topic filter [MQTT-3.8.3-2] [MQTT-3.10.3-2] (3.1.1: [MQTT-3.8.3-3] [MQTT-3.10.3-2])")
	ErrSubOptionsReserved = newErr(MalformedPacket, "subscription options reserved bits are not 0 [MQTT-3.8.3-5] (3.1.1: [MQTT-3-8.3-4])")
	ErrSubQoS3            = newErr(ProtocolError, "subscription options Maximum QoS is 3 [MQTT-3.8.3.1]")
	ErrRetainHandling     = newErr(ProtocolError, "retain handling is 3 [MQTT-3.8.3.1]")
	ErrNoLocalShared      = newErr(ProtocolError, "no local set on a shared subscription [MQTT-3.8.3-4]")
	ErrNoReasons          = newErr(ProtocolError, "SUBACK or UNSUBACK without a reason code [MQTT-3.8.4-6] [MQTT-3.11.3] (3.1.1: [MQTT-3.8.4-5])")
)

// Topic name and filter errors (ValidTopicName, ValidTopicFilter).
var (
	ErrFilterEmpty    = newErr(TopicFilterInvalid, "topic filter is empty [MQTT-4.7.3-1]")
	ErrFilterWildcard = newErr(TopicFilterInvalid, "wildcard not alone in its level or # not last [MQTT-4.7.1-1] [MQTT-4.7.1-2] (3.1.1: [MQTT-4.7.1-2] [MQTT-4.7.1-3])")
	ErrFilterUTF8     = newErr(TopicFilterInvalid, "topic filter is not valid UTF-8 [MQTT-4.7.3-2]")
	ErrShareInvalid   = newErr(TopicFilterInvalid, "shared subscription is not $share/{ShareName}/{filter} [MQTT-4.8.2-1] [MQTT-4.8.2-2]")
	ErrTopicUTF8      = newErr(MalformedPacket, "topic name is not well-formed UTF-8 or contains U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2] [MQTT-4.7.3-2]")
)

// Property errors [MQTT-2.2.2].
var (
	ErrPropLength        = newErr(MalformedPacket, "property length runs past the packet [MQTT-2.2.2]")
	ErrPropUnknown       = newErr(MalformedPacket, "unknown property identifier [MQTT-2.2.2.2]")
	ErrPropNotAllowed    = newErr(MalformedPacket, "property not valid for this packet type [MQTT-2.2.2.2]")
	ErrPropDuplicate     = newErr(ProtocolError, "property included more than once [MQTT-2.2.2.2]")
	ErrPropValue         = newErr(ProtocolError, "property has a value the specification forbids (a Protocol Error in each property's section)")
	ErrTopicAliasZero    = newErr(TopicAliasInvalid, "topic alias 0 [MQTT-3.3.2-8] [MQTT-3.3.4]")
	ErrAuthDataNoMethod  = newErr(ProtocolError, "authentication data without an authentication method [MQTT-3.1.2.11.10]")
	ErrAuthMethodMissing = newErr(ProtocolError, "AUTH without an authentication method [MQTT-3.15.2.2.2]")
	ErrSubIDZero         = newErr(ProtocolError, "subscription identifier 0 [MQTT-3.3.2.3.8] [MQTT-3.8.2.1.2]")
)

// ReasonOf returns err's reason code: the *Error's Code, Success for nil, and
// MalformedPacket for any other error (including ErrNeedMore, which a caller
// should never map to a reason code).
func ReasonOf(err error) ReasonCode {
	if err == nil {
		return Success
	}
	if e, ok := err.(*Error); ok {
		return e.Code
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return MalformedPacket
}
