package mqttcodec

import (
	"errors"
	"fmt"
	"testing"
)

func TestDecodeErrors(t *testing.T) {
	conn := func(lvl byte, flags byte, rest ...[]byte) []byte {
		name := "MQTT"
		if lvl == 3 {
			name = "MQIsdp"
		}
		return pkt(0x10, cat(str(name), raw(lvl, flags), be16(0)), cat(rest...))
	}
	cases := []struct {
		name string
		v    Version
		in   []byte
		want *Error
	}{
		// Fixed header.
		{"3.1.1 [MQTT-2.2.2-1] CONNECT flags", V311, pkt(0x11, str("MQTT"), raw(4, 2), be16(0), str("c")), ErrReservedFlags},
		{"[MQTT-3.6.1-1] PUBREL flags 0000", V311, raw(0x60, 2, 0, 1), ErrReservedFlags},
		{"[MQTT-3.8.1-1] SUBSCRIBE flags 0000", V311, pkt(0x80, be16(1), str("a"), raw(0)), ErrReservedFlags},
		{"[MQTT-3.10.1-1] UNSUBSCRIBE flags 0000", V311, pkt(0xa0, be16(1), str("a")), ErrReservedFlags},
		{"3.1.1 [MQTT-2.2.2-1] PINGREQ flags", V311, raw(0xc1, 0), ErrReservedFlags},
		{"[MQTT-2.1.3-1] DISCONNECT flags", V5, raw(0xe2, 0), ErrReservedFlags},
		{"[MQTT-2.1.3-1] AUTH flags", V5, raw(0xf1, 0), ErrReservedFlags},
		{"[MQTT-2.1.4] frame longer than remaining length", V311, raw(0x40, 2, 0, 1, 9), ErrFrameLength},
		{"[MQTT-2.1.4] frame shorter than remaining length", V311, raw(0x40, 2, 0), ErrFrameLength},
		{"[MQTT-1.5.5-1] 5-byte varint", V311, raw(0x30, 0x80, 0x80, 0x80, 0x80, 0x01), ErrMalformedVarint},
		// CONNECT.
		{"[MQTT-3.1.2-1] protocol name", V311, pkt(0x10, str("MQTX"), raw(4, 2), be16(0), str("c")), ErrProtocolName},
		{"[MQTT-3.1.2-2] level 6", V311, pkt(0x10, str("MQTT"), raw(6, 2), be16(0), str("c")), ErrUnsupportedVersion},
		{"[MQTT-3.1.2-2] MQIsdp level 4", V311, pkt(0x10, str("MQIsdp"), raw(4, 2), be16(0), str("c")), ErrUnsupportedVersion},
		{"[MQTT-3.1.2-2] MQTT level 3", V311, pkt(0x10, str("MQTT"), raw(3, 2), be16(0), str("c")), ErrUnsupportedVersion},
		{"[MQTT-3.1.2-3] reserved flag", V311, conn(4, 0x03, str("c")), ErrConnectReserved},
		{"[MQTT-3.1.2-11] will QoS without will", V311, conn(4, 0x08, str("c")), ErrWillFlags},
		{"[MQTT-3.1.2-13] will retain without will", V5, conn(5, 0x20, props(), str("c")), ErrWillFlags},
		{"3.1.1 [MQTT-3.1.2-14] will QoS 3", V311, conn(4, 0x1c, str("c"), str("t"), str("p")), ErrWillQoS},
		{"[MQTT-3.1.2-22] password without user", V311, conn(4, 0x40, str("c"), str("p")), ErrPasswordFlag},
		{"[MQTT-3.1.2-22] password without user 3.1", V31, conn(3, 0x40, str("c"), str("p")), ErrPasswordFlag},
		{"3.1.1 [MQTT-4.7.1-1] will topic wildcard", V311, conn(4, 0x04, str("c"), str("a/#"), str("p")), ErrWillTopic},
		{"[MQTT-4.7.3-1] will topic empty", V311, conn(4, 0x04, str("c"), str(""), str("p")), ErrWillTopic},
		{"[MQTT-1.5.4-2] client ID U+0000", V311, conn(4, 0x02, str("c\x00")), ErrInvalidUTF8},
		{"[MQTT-1.5.4-1] client ID surrogate", V311, conn(4, 0x02, str("\xed\xa0\x80")), ErrInvalidUTF8},
		{"[MQTT-1.5.4-1] client ID ill-formed", V311, conn(4, 0x02, str("\xc3")), ErrInvalidUTF8},
		{"[MQTT-1.5.4-1] overlong", V311, conn(4, 0x02, str("\xc0\xaf")), ErrInvalidUTF8},
		{"[MQTT-1.5.4-1] username invalid", V311, conn(4, 0x82, str("c"), str("\xff")), ErrInvalidUTF8},
		{"CONNECT missing password", V311, conn(4, 0xc2, str("c"), str("u")), ErrTruncated},
		{"CONNECT trailing", V311, conn(4, 0x02, str("c"), raw(0)), ErrTrailingBytes},
		{"[MQTT-2.2.2.2] CONNECT with Topic Alias", V5, conn(5, 0x02, props(pU16(PropTopicAlias, 1)), str("c")), ErrPropNotAllowed},
		{"[MQTT-2.2.2.2] will with Session Expiry", V5, conn(5, 0x06, props(), str("c"), props(pU32(PropSessionExpiry, 1)), str("t"), str("p")), ErrPropNotAllowed},
		{"[MQTT-2.2.2.2] CONNECT Will Delay outside will", V5, conn(5, 0x02, props(pU32(PropWillDelay, 1)), str("c")), ErrPropNotAllowed},
		{"[MQTT-3.1.2.11.3] Receive Maximum 0", V5, conn(5, 0x02, props(pU16(PropReceiveMaximum, 0)), str("c")), ErrPropValue},
		{"[MQTT-3.1.2.11.4] Maximum Packet Size 0", V5, conn(5, 0x02, props(pU32(PropMaximumPacketSize, 0)), str("c")), ErrPropValue},
		{"[MQTT-3.1.2.11.7] Request Problem Information 2", V5, conn(5, 0x02, props(pB(PropRequestProblemInfo, 2)), str("c")), ErrPropValue},
		{"[MQTT-3.1.2.11.6] Request Response Information 2", V5, conn(5, 0x02, props(pB(PropRequestResponseInfo, 2)), str("c")), ErrPropValue},
		{"[MQTT-2.2.2.2] duplicate Session Expiry", V5, conn(5, 0x02, props(pU32(PropSessionExpiry, 1), pU32(PropSessionExpiry, 2)), str("c")), ErrPropDuplicate},
		{"[MQTT-2.2.2.2] unknown property", V5, conn(5, 0x02, props(raw(0x04, 0)), str("c")), ErrPropUnknown},
		{"[MQTT-2.2.2.2] property id 0 in PUBLISH", V5, pkt(0x30, str("t"), props(raw(0x00))), ErrPropUnknown},
		{"[MQTT-2.2.2.2] property id 0x80", V5, conn(5, 0x02, props(raw(0x80, 0x01, 0)), str("c")), ErrPropUnknown},
		{"[MQTT-2.2.2.1] property length past packet", V5, pkt(0x10, str("MQTT"), raw(5, 2), be16(0), raw(9), pU32(PropSessionExpiry, 1)), ErrPropLength},
		{"property value truncated", V5, conn(5, 0x02, raw(3), raw(0x11, 0, 0)), ErrPropLength},
		{"[MQTT-3.1.2.11.10] auth data without method", V5, conn(5, 0x02, props(pS(PropAuthData, "x")), str("c")), ErrAuthDataNoMethod},
		{"[MQTT-3.15.2.2.3] AUTH data without method", V5, pkt(0xf0, raw(0x18), props(pS(PropAuthData, "x"))), ErrAuthDataNoMethod},
		{"[MQTT-1.5.7-1] user property invalid UTF-8", V5, conn(5, 0x02, props(pUser("k", "\xff")), str("c")), ErrInvalidUTF8},
		{"[MQTT-1.5.4-1] content type invalid", V5, pkt(0x30, str("t"), props(pS(PropContentType, "\xed\xbf\xbf"))), ErrInvalidUTF8},
		// CONNACK.
		{"[MQTT-3.2.2-1] CONNACK reserved flags", V311, raw(0x20, 2, 2, 0), ErrConnackFlags},
		{"[MQTT-3.2.2.3] CONNACK return code 6", V311, raw(0x20, 2, 0, 6), ErrReasonCode},
		{"[MQTT-3.2.2-8] CONNACK v5 reason 0x10", V5, raw(0x20, 3, 0, 0x10, 0), ErrReasonCode},
		{"3.1.1 [MQTT-3.2.2-4] session present with error", V311, raw(0x20, 2, 1, 5), ErrConnackPresent},
		{"CONNACK v3 trailing", V311, raw(0x20, 3, 0, 0, 0), ErrTrailingBytes},
		{"[MQTT-3.2.2.3.4] Maximum QoS 2", V5, pkt(0x20, raw(0, 0), props(pB(PropMaximumQoS, 2))), ErrPropValue},
		{"[MQTT-3.2.2.3.5] Retain Available 2", V5, pkt(0x20, raw(0, 0), props(pB(PropRetainAvailable, 2))), ErrPropValue},
		{"[MQTT-3.2.2.3.11] Wildcard Sub Available 2", V5, pkt(0x20, raw(0, 0), props(pB(PropWildcardSubAvailable, 2))), ErrPropValue},
		{"[MQTT-3.2.2.3.12] SubID Available 2", V5, pkt(0x20, raw(0, 0), props(pB(PropSubIDAvailable, 2))), ErrPropValue},
		{"[MQTT-3.2.2.3.13] Shared Sub Available 2", V5, pkt(0x20, raw(0, 0), props(pB(PropSharedSubAvailable, 2))), ErrPropValue},
		{"[MQTT-2.2.2.2] CONNACK with Will Delay", V5, pkt(0x20, raw(0, 0), props(pU32(PropWillDelay, 2))), ErrPropNotAllowed},
		// PUBLISH.
		{"[MQTT-1.5.5-1] non-minimal remaining length", V311, raw(0x40, 0x82, 0x00, 0, 1), ErrMalformedVarint},
		{"[MQTT-1.5.5-1] non-minimal property length", V5, pkt(0x30, str("t"), raw(0x80, 0x00)), ErrMalformedVarint},
		{"[MQTT-1.5.5-1] non-minimal subscription id", V5, pkt(0x30, str("t"), props(raw(0x0b, 0x81, 0x00))), ErrMalformedVarint},
		{"[MQTT-3.3.1-4] QoS 3", V311, pkt(0x36, str("t"), be16(1)), ErrQoS3},
		{"[MQTT-3.3.1-4] QoS 3 v5", V5, pkt(0x36, str("t"), be16(1), props()), ErrQoS3},
		{"[MQTT-3.3.1-2] DUP on QoS 0", V311, pkt(0x38, str("t")), ErrDupQoS0},
		{"[MQTT-3.3.2-2] + in topic", V311, pkt(0x30, str("a/+")), ErrTopicWildcard},
		{"[MQTT-3.3.2-2] # in topic", V5, pkt(0x30, str("#"), props()), ErrTopicWildcard},
		{"[MQTT-3.3.2-2] # in long topic", V311, pkt(0x30, str("0123456789abcdef#")), ErrTopicWildcard},
		{"[MQTT-4.7.3-1] empty topic v3", V311, pkt(0x30, str("")), ErrTopicEmpty},
		{"[MQTT-3.3.2.1] empty topic without alias", V5, pkt(0x30, str(""), props()), ErrTopicAliasMissing},
		{"[MQTT-3.3.2-8] topic alias 0", V5, pkt(0x30, str("t"), props(pU16(PropTopicAlias, 0))), ErrTopicAliasZero},
		{"[MQTT-4.7.3-2] topic U+0000", V311, pkt(0x30, str("a\x00b")), ErrTopicUTF8},
		{"[MQTT-4.7.3-2] topic surrogate", V311, pkt(0x30, str("abcdefgh\xed\xa0\x80")), ErrTopicUTF8},
		{"3.1.1 [MQTT-2.3.1-1] PUBLISH packet id 0", V311, pkt(0x32, str("t"), be16(0)), ErrPacketIDZero},
		{"PUBLISH missing packet id", V311, pkt(0x32, str("t"), raw(1)), ErrTruncated},
		{"PUBLISH topic past end", V311, pkt(0x30, raw(0, 5), b("ab")), ErrTruncated},
		{"[MQTT-3.3.2.3.2] payload format 2", V5, pkt(0x30, str("t"), props(pB(PropPayloadFormat, 2))), ErrPropValue},
		{"[MQTT-3.3.2-14] response topic wildcard", V5, pkt(0x30, str("t"), props(pS(PropResponseTopic, "r/#"))), ErrTopicWildcard},
		{"[MQTT-3.8.2.1.2] subscription id 0", V5, pkt(0x30, str("t"), props(pV(PropSubscriptionID, 0))), ErrSubIDZero},
		{"[MQTT-1.5.5-1] subscription id 5-byte varint", V5, pkt(0x30, str("t"), props(raw(0x0b, 0x80, 0x80, 0x80, 0x80, 0x01))), ErrMalformedVarint},
		{"[MQTT-2.2.2.2] duplicate topic alias", V5, pkt(0x30, str("t"), props(pU16(PropTopicAlias, 1), pU16(PropTopicAlias, 1))), ErrPropDuplicate},
		{"[MQTT-2.2.2.2] PUBLISH with Reason String", V5, pkt(0x30, str("t"), props(pS(PropReasonString, "x"))), ErrPropNotAllowed},
		{"PUBLISH v5 missing props", V5, pkt(0x30, str("t")), ErrTruncated},
		// Acks.
		{"[MQTT-2.2.1-5] PUBACK id 0", V311, raw(0x40, 2, 0, 0), ErrPacketIDZero},
		{"PUBACK v3 trailing", V311, raw(0x40, 3, 0, 1, 0), ErrTrailingBytes},
		{"[MQTT-3.4.2-1] PUBACK reason 0x92", V5, raw(0x40, 3, 0, 1, 0x92), ErrReasonCode},
		{"[MQTT-3.6.2-1] PUBREL reason 0x10", V5, raw(0x62, 3, 0, 1, 0x10), ErrReasonCode},
		{"[MQTT-2.2.2.2] PUBACK with Topic Alias", V5, pkt(0x40, be16(1), raw(0), props(pU16(PropTopicAlias, 1))), ErrPropNotAllowed},
		{"[MQTT-2.2.2.2] PUBACK duplicate reason string", V5, pkt(0x40, be16(1), raw(0), props(pS(PropReasonString, "a"), pS(PropReasonString, "b"))), ErrPropDuplicate},
		{"PUBACK v5 trailing after props", V5, pkt(0x40, be16(1), raw(0), props(), raw(1)), ErrTrailingBytes},
		// SUBSCRIBE / UNSUBSCRIBE.
		{"3.1.1 [MQTT-3.8.3-3] SUBSCRIBE no filters", V311, pkt(0x82, be16(1)), ErrNoFilters},
		{"[MQTT-3.8.3-2] SUBSCRIBE no filters v5", V5, pkt(0x82, be16(1), props()), ErrNoFilters},
		{"3.1.1 [MQTT-2.3.1-1] SUBSCRIBE id 0", V311, pkt(0x82, be16(0), str("a"), raw(0)), ErrPacketIDZero},
		{"[MQTT-3-8.3-4] SUBSCRIBE QoS 3", V311, pkt(0x82, be16(1), str("a"), raw(3)), ErrQoS3},
		{"[MQTT-3-8.3-4] SUBSCRIBE v3 reserved bits", V311, pkt(0x82, be16(1), str("a"), raw(4)), ErrSubOptionsReserved},
		{"[MQTT-3.8.3-5] SUBSCRIBE v5 reserved bits", V5, pkt(0x82, be16(1), props(), str("a"), raw(0x40)), ErrSubOptionsReserved},
		{"[MQTT-3.8.3.1] retain handling 3", V5, pkt(0x82, be16(1), props(), str("a"), raw(0x30)), ErrRetainHandling},
		{"[MQTT-3.8.3-4] no local on shared", V5, pkt(0x82, be16(1), props(), str("$share/g/a"), raw(0x04)), ErrNoLocalShared},
		{"[MQTT-3.8.3-1] filter invalid UTF-8", V311, pkt(0x82, be16(1), str("\xff"), raw(0)), ErrInvalidUTF8},
		{"SUBSCRIBE missing options", V311, pkt(0x82, be16(1), str("a")), ErrTruncated},
		{"[MQTT-2.2.2.2] SUBSCRIBE duplicate subscription id", V5, pkt(0x82, be16(1), props(pV(PropSubscriptionID, 1), pV(PropSubscriptionID, 2)), str("a"), raw(0)), ErrPropDuplicate},
		{"[MQTT-2.2.2.2] SUBSCRIBE with Reason String", V5, pkt(0x82, be16(1), props(pS(PropReasonString, "a")), str("a"), raw(0)), ErrPropNotAllowed},
		{"[MQTT-3.10.3-2] UNSUBSCRIBE no filters", V311, pkt(0xa2, be16(1)), ErrNoFilters},
		{"[MQTT-2.2.1-3] UNSUBSCRIBE id 0", V5, pkt(0xa2, be16(0), props(), str("a")), ErrPacketIDZero},
		{"[MQTT-2.2.2.2] UNSUBSCRIBE with Subscription Identifier", V5, pkt(0xa2, be16(1), props(pV(PropSubscriptionID, 1)), str("a")), ErrPropNotAllowed},
		{"UNSUBSCRIBE truncated filter", V311, pkt(0xa2, be16(1), raw(0, 3, 'a')), ErrTruncated},
		// SUBACK / UNSUBACK.
		{"3.1.1 [MQTT-3.9.3-2] SUBACK reason 0x83", V311, raw(0x90, 3, 0, 1, 0x83), ErrReasonCode},
		{"[MQTT-3.9.3-2] SUBACK v5 reason 0x03", V5, raw(0x90, 4, 0, 1, 0, 0x03), ErrReasonCode},
		{"3.1.1 [MQTT-3.8.4-5] SUBACK without reasons", V311, raw(0x90, 2, 0, 1), ErrNoReasons},
		{"[MQTT-3.11.3-2] UNSUBACK reason 0x01", V5, raw(0xb0, 4, 0, 1, 0, 0x01), ErrReasonCode},
		{"UNSUBACK v3 trailing", V311, raw(0xb0, 3, 0, 1, 0), ErrTrailingBytes},
		{"[MQTT-2.2.1-6] SUBACK id 0", V311, raw(0x90, 3, 0, 0, 0), ErrPacketIDZero},
		// DISCONNECT / AUTH / PING.
		{"DISCONNECT v3 trailing", V311, raw(0xe0, 1, 0), ErrTrailingBytes},
		{"[MQTT-3.14.2-1] DISCONNECT reason 0x01", V5, raw(0xe0, 1, 0x01), ErrReasonCode},
		{"[MQTT-2.2.2.2] DISCONNECT with Assigned Client ID", V5, pkt(0xe0, raw(0), props(pS(PropAssignedClientID, "x"))), ErrPropNotAllowed},
		{"[MQTT-3.15.2-1] AUTH reason 0x80", V5, raw(0xf0, 1, 0x80), ErrReasonCode},
		{"[MQTT-2.1.2] AUTH in 3.1.1", V311, raw(0xf0, 0), ErrReservedType},
		{"[MQTT-2.2.2.2] AUTH with Session Expiry", V5, pkt(0xf0, raw(0x18), props(pU32(PropSessionExpiry, 1))), ErrPropNotAllowed},
		{"3.1.1 section 3.12.1 PINGREQ body", V311, raw(0xc0, 1, 0), ErrTrailingBytes},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeFrame(c.in, c.v)
			if err != c.want {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("errors.Is failed")
			}
			if ReasonOf(err) != c.want.Code {
				t.Fatalf("ReasonOf = %v", ReasonOf(err))
			}
		})
	}
}

func TestWrongDecoder(t *testing.T) {
	ping := raw(0xc0, 0)
	var (
		c  Connect
		ca Connack
		p  Publish
		a  Ack
		s  Subscribe
		u  Unsubscribe
		sa Suback
		d  Disconnect
		au Auth
	)
	errs := []error{DecodeConnect(ping, &c), DecodeConnack(ping, V5, &ca), DecodePublish(ping, V5, &p),
		DecodeAck(ping, V5, &a), DecodeSubscribe(ping, V5, &s), DecodeUnsubscribe(ping, V5, &u),
		DecodeSuback(ping, V5, &sa), DecodeUnsuback(ping, V5, &sa), DecodeDisconnect(ping, V5, &d),
		DecodeAuth(ping, V5, &au), DecodePing(raw(0xe0, 0))}
	for i, err := range errs {
		if err != ErrWrongType {
			t.Errorf("decoder %d: %v", i, err)
		}
	}
	if err := DecodePublish(raw(0x30, 3, 0, 1, 'a'), Version(9), &p); err != ErrUnknownVersion {
		t.Errorf("unknown version: %v", err)
	}
}

func TestPacketSize(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		max  int
		want int
		err  error
	}{
		{"empty", nil, 0, 0, ErrNeedMore},
		{"one byte", raw(0x30), 0, 0, ErrNeedMore},
		{"zero length", raw(0xc0, 0), 0, 2, nil},
		{"body not needed", raw(0x30, 10), 0, 12, nil},
		{"127", raw(0x30, 0x7f), 0, 129, nil},
		{"128", raw(0x30, 0x80, 0x01), 0, 131, nil},
		{"16383", raw(0x30, 0xff, 0x7f), 0, 16386, nil},
		{"16384", raw(0x30, 0x80, 0x80, 0x01), 0, 16388, nil},
		{"max", raw(0x30, 0xff, 0xff, 0xff, 0x7f), 0, MaxPacketSize, nil},
		{"continuation pending", raw(0x30, 0x80), 0, 0, ErrNeedMore},
		{"continuation pending 3", raw(0x30, 0x80, 0x80, 0x80), 0, 0, ErrNeedMore},
		{"[MQTT-1.5.5-1] 5 bytes", raw(0x30, 0x80, 0x80, 0x80, 0x80), 0, 0, ErrMalformedVarint},
		{"[MQTT-1.5.5-1] 5 bytes terminated", raw(0x30, 0xff, 0xff, 0xff, 0xff, 0x7f), 0, 0, ErrMalformedVarint},
		{"[MQTT-1.5.5-1] non-minimal", raw(0x30, 0x80, 0x00), 0, 0, ErrMalformedVarint},
		{"[MQTT-1.5.5-1] non-minimal 3", raw(0x30, 0x85, 0x80, 0x00), 0, 0, ErrMalformedVarint},
		{"[MQTT-2.1.2] type 0", raw(0x00, 0), 0, 0, ErrReservedType},
		{"[MQTT-3.2.2-15] too large", raw(0x30, 0x80, 0x01), 130, 0, ErrPacketTooLarge},
		{"at limit", raw(0x30, 0x80, 0x01), 131, 131, nil},
		{"too large before body, huge claim", raw(0x30, 0xff, 0xff, 0xff, 0x7f), 1 << 20, 0, ErrPacketTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, err := PacketSize(c.in, c.max)
			if n != c.want || err != c.err {
				t.Fatalf("PacketSize(% x, %d) = %d, %v; want %d, %v", c.in, c.max, n, err, c.want, c.err)
			}
		})
	}
	if TypeOf(nil) != 0 || TypeOf(raw(0x82)) != SUBSCRIBE {
		t.Fatal("TypeOf")
	}
}

func TestReasonOf(t *testing.T) {
	if ReasonOf(nil) != Success || ReasonOf(ErrPacketTooLarge) != PacketTooLarge ||
		ReasonOf(fmt.Errorf("wrapped: %w", ErrTopicWildcard)) != TopicNameInvalid ||
		ReasonOf(errors.New("x")) != MalformedPacket || ReasonOf(ErrNeedMore) != MalformedPacket {
		t.Fatal("ReasonOf")
	}
	if ErrPacketTooLarge.Error() == "" || ReasonCode(0x95).String() != "Packet too large" || ReasonCode(0x42).String() != "ReasonCode(0x42)" {
		t.Fatal("strings")
	}
	if PUBLISH.String() != "PUBLISH" || PacketType(16).String() != "PacketType(16)" || V5.String() != "5.0" || Version(9).String() != "level(9)" {
		t.Fatal("type strings")
	}
	if PropTopicAlias.String() != "Topic Alias" || PropID(0x7f).String() != "PropID(0x7f)" {
		t.Fatal("prop strings")
	}
	if ConnackV3Code(Success) != 0 || ConnackV3Code(UnsupportedProtocolVersion) != 1 || ConnackV3Code(ClientIDNotValid) != 2 ||
		ConnackV3Code(ServerBusy) != 3 || ConnackV3Code(BadUsernameOrPassword) != 4 || ConnackV3Code(NotAuthorized) != 5 {
		t.Fatal("ConnackV3Code")
	}
	if !ProtocolError.IsError() || GrantedQoS2.IsError() {
		t.Fatal("IsError")
	}
}
