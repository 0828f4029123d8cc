package mqttcodec

import (
	"strings"
	"testing"
)

// Tests from the spec audit: each case pins a reason code or a citation the
// specification text decides (MQTT 5.0 OS, MQTT 3.1.1 OS), so that the
// codec cannot drift back to a remembered rule.

// TestSpecReasonCodes checks the error and the reason code a receiver must
// use where the spec text says "Malformed Packet" or "Protocol Error".
func TestSpecReasonCodes(t *testing.T) {
	conn := func(lvl byte, flags byte, rest ...[]byte) []byte {
		return pkt(0x10, cat(str("MQTT"), raw(lvl, flags), be16(0)), cat(rest...))
	}
	cases := []struct {
		name string
		v    Version
		in   []byte
		want *Error
		code ReasonCode
	}{
		// 5.0 section 3.8.3.1: "It is a Protocol Error if the Maximum QoS
		// field has the value 3"; 3.1.1 [MQTT-3-8.3-4] says malformed.
		{"[MQTT-3.8.3.1] SUBSCRIBE v5 Maximum QoS 3 is a Protocol Error", V5,
			pkt(0x82, be16(1), props(), str("a"), raw(0x03)), ErrSubQoS3, ProtocolError},
		{"3.1.1 [MQTT-3-8.3-4] SUBSCRIBE QoS 3 is malformed", V311,
			pkt(0x82, be16(1), str("a"), raw(0x03)), ErrQoS3, MalformedPacket},
		// Reserved bits make the packet malformed [MQTT-3.8.3-5], whatever
		// else the options byte says.
		{"[MQTT-3.8.3-5] reserved bits win over QoS 3", V5,
			pkt(0x82, be16(1), props(), str("a"), raw(0x83)), ErrSubOptionsReserved, MalformedPacket},
		// Section 1.5.4: ill-formed UTF-8 or U+0000 anywhere in a packet is a
		// Malformed Packet, topic names included (not 0x90 Topic Name invalid).
		{"[MQTT-1.5.4-2] PUBLISH topic with U+0000 is malformed", V5,
			pkt(0x30, str("a\x00b"), props()), ErrTopicUTF8, MalformedPacket},
		{"[MQTT-1.5.4-1] PUBLISH topic with a surrogate is malformed", V311,
			pkt(0x30, str("abcdefgh\xed\xa0\x80")), ErrTopicUTF8, MalformedPacket},
		{"[MQTT-1.5.4-1] will topic ill-formed UTF-8 is malformed", V5,
			conn(5, 0x06, props(), str("c"), props(), str("t\xff"), str("p")), ErrInvalidUTF8, MalformedPacket},
		{"[MQTT-1.5.4-2] will topic U+0000 is malformed", V311,
			conn(4, 0x06, str("c"), str("t\x00"), str("p")), ErrInvalidUTF8, MalformedPacket},
		// A well-formed will topic that is not a valid topic name is refused
		// with CONNACK 0x90.
		{"[MQTT-4.7.0-1] will topic with a wildcard is 0x90", V5,
			conn(5, 0x06, props(), str("c"), props(), str("t/+"), str("p")), ErrWillTopic, TopicNameInvalid},
		{"[MQTT-3.3.2-2] PUBLISH topic with a wildcard is 0x90", V5,
			pkt(0x30, str("a/#"), props()), ErrTopicWildcard, TopicNameInvalid},
		// Section 3.15.2.2.2: "It is a Protocol Error to omit the
		// Authentication Method".
		{"[MQTT-3.15.2.2.2] AUTH continue without method", V5,
			pkt(0xf0, raw(0x18), props(pS(PropReasonString, "x"))), ErrAuthMethodMissing, ProtocolError},
		{"[MQTT-3.15.2.2.2] AUTH reason only", V5, raw(0xf0, 1, 0x19), ErrAuthMethodMissing, ProtocolError},
		{"[MQTT-3.15.2.2.2] AUTH success with empty properties", V5, raw(0xf0, 2, 0x00, 0), ErrAuthMethodMissing, ProtocolError},
		// Section 3.3.2.1: "a Protocol Error if the Topic Name is zero length
		// and there is no Topic Alias".
		{"[MQTT-3.3.2.1] empty topic without alias", V5, pkt(0x30, str(""), props()), ErrTopicAliasMissing, ProtocolError},
		// Section 3.3.4: "A Topic Alias value of 0 ... is a Protocol Error,
		// the receiver uses DISCONNECT with Reason Code of 0x94".
		{"[MQTT-3.3.2-8] topic alias 0 is 0x94", V5, pkt(0x30, str("t"), props(pU16(PropTopicAlias, 0))), ErrTopicAliasZero, TopicAliasInvalid},
		// Section 2.2.2.2: an identifier not valid for the packet type is a
		// Malformed Packet; repeating a property is a Protocol Error.
		{"[MQTT-2.2.2.2] will property in CONNECT properties is malformed", V5,
			conn(5, 0x02, props(pU32(PropWillDelay, 1)), str("c")), ErrPropNotAllowed, MalformedPacket},
		{"[MQTT-3.1.2.11.2] Session Expiry twice is a Protocol Error", V5,
			conn(5, 0x02, props(pU32(PropSessionExpiry, 1), pU32(PropSessionExpiry, 1)), str("c")), ErrPropDuplicate, ProtocolError},
		// Sections 3.1.2.11.3 and 3.1.2.11.4: the value 0 is a Protocol Error.
		{"[MQTT-3.1.2.11.3] Receive Maximum 0", V5, conn(5, 0x02, props(pU16(PropReceiveMaximum, 0)), str("c")), ErrPropValue, ProtocolError},
		{"[MQTT-3.1.2.11.4] Maximum Packet Size 0", V5, conn(5, 0x02, props(pU32(PropMaximumPacketSize, 0)), str("c")), ErrPropValue, ProtocolError},
		// Section 3.1.2.3 and [MQTT-3.1.2-12]: reserved flag and will QoS 3
		// are Malformed Packets.
		{"[MQTT-3.1.2-3] CONNECT reserved flag", V5, conn(5, 0x03, props(), str("c")), ErrConnectReserved, MalformedPacket},
		{"[MQTT-3.1.2-12] will QoS 3", V5, conn(5, 0x1e, props(), str("c"), props(), str("t"), str("p")), ErrWillQoS, MalformedPacket},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeFrame(c.in, c.v)
			if err != c.want {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if got := ReasonOf(err); got != c.code {
				t.Fatalf("ReasonOf = %v, want %v", got, c.code)
			}
		})
	}
}

// TestSpecAccepted checks packets the spec allows and an over-strict codec
// could refuse.
func TestSpecAccepted(t *testing.T) {
	cases := []struct {
		name string
		v    Version
		in   []byte
	}{
		{"[MQTT-3.15.2.1] AUTH empty form: Success, no properties", V5, raw(0xf0, 0)},
		{"[MQTT-3.15.2.2.2] AUTH re-authenticate with method", V5, pkt(0xf0, raw(0x19), props(pS(PropAuthMethod, "m")))},
		{"[MQTT-3.1.2.9] v5 password without user name", V5,
			pkt(0x10, cat(str("MQTT"), raw(5, 0x42), be16(0)), cat(props(), str("c"), str("pw")))},
		{"[MQTT-1.5.4-3] BOM kept in a topic", V311, pkt(0x30, str("\xef\xbb\xbft"))},
		{"[MQTT-1.5.4] control character U+0001 allowed", V311, pkt(0x30, str("a\x01"))},
		{"[MQTT-3.8.3.1] SUBSCRIBE v5 all options set", V5, pkt(0x82, be16(1), props(), str("a"), raw(0x2e))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := decodeFrame(c.in, c.v); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
}

// TestSpecCitations pins the conformance IDs in error messages (they end up
// in logs and close reasons) to the ones the spec texts use for that rule.
func TestSpecCitations(t *testing.T) {
	cases := []struct {
		err     *Error
		want    []string
		wantNot []string
	}{
		{ErrPacketTooLarge, []string{"[MQTT-3.2.2-15]"}, []string{"[MQTT-3.1.2-24]"}},
		{ErrInvalidUTF8, []string{"[MQTT-1.5.4-1]", "[MQTT-1.5.4-2]", "3.1.1: [MQTT-1.5.3-1]"}, nil},
		{ErrWillFlags, []string{"[MQTT-3.1.2-11] [MQTT-3.1.2-13] (3.1.1:", "[MQTT-3.1.2-15]"}, nil},
		{ErrWillQoS, []string{"[MQTT-3.1.2-12] (3.1.1: [MQTT-3.1.2-14])"}, nil},
		{ErrWillTopic, []string{"[MQTT-4.7.0-1]"}, []string{"[MQTT-3.1.3-11]"}},
		{ErrConnackPresent, []string{"[MQTT-3.2.2-6] (3.1.1: [MQTT-3.2.2-4])"}, nil},
		{ErrTopicWildcard, []string{"[MQTT-3.3.2-2]", "[MQTT-4.7.0-1]"}, nil},
		{ErrTopicAliasMissing, []string{"[MQTT-3.3.2.1]"}, []string{"[MQTT-3.3.2.3.4]"}},
		{ErrPayloadFormat, []string{"[MQTT-3.3.2.3.2]"}, []string{"[MQTT-3.3.2-4]"}},
		{ErrNoFilters, []string{"(3.1.1: [MQTT-3.8.3-3]"}, nil},
		{ErrSubOptionsReserved, []string{"[MQTT-3.8.3-5] (3.1.1: [MQTT-3-8.3-4])"}, nil},
		{ErrNoReasons, []string{"[MQTT-3.8.4-6]", "3.1.1: [MQTT-3.8.4-5]"}, []string{"[MQTT-3.9.3-1]"}},
		{ErrFilterWildcard, []string{"[MQTT-4.7.1-1] [MQTT-4.7.1-2] (3.1.1: [MQTT-4.7.1-2] [MQTT-4.7.1-3])"}, nil},
		{ErrTopicUTF8, []string{"[MQTT-1.5.4-1]"}, nil},
		{ErrSubIDZero, []string{"[MQTT-3.3.2.3.8]"}, nil},
		{ErrSubQoS3, []string{"[MQTT-3.8.3.1]"}, nil},
		{ErrAuthMethodMissing, []string{"[MQTT-3.15.2.2.2]"}, nil},
	}
	for _, c := range cases {
		for _, w := range c.want {
			if !strings.Contains(c.err.Msg, w) {
				t.Errorf("%q does not cite %q", c.err.Msg, w)
			}
		}
		for _, w := range c.wantNot {
			if strings.Contains(c.err.Msg, w) {
				t.Errorf("%q cites %q, which is another rule", c.err.Msg, w)
			}
		}
	}
}
