package mqttcodec

import (
	"bytes"
	"testing"
)

type golden struct {
	name  string
	v     Version
	frame []byte
	want  any
}

func b(s string) []byte { return []byte(s) }

// v3Goldens are the same bytes for 3.1 and 3.1.1 except CONNECT; vectors
// that differ between the two are in versionGoldens (mqtt31_test.go).
func v3Goldens(v Version) []golden {
	name, lvl := "MQTT", byte(4)
	if v == V31 {
		name, lvl = "MQIsdp", 3
	}
	return []golden{
		{"CONNECT/minimal", v, pkt(0x10, str(name), raw(lvl, 0x02), be16(60), str("c1")),
			&Connect{ProtocolName: b(name), Version: v, CleanStart: true, KeepAlive: 60, ClientID: b("c1")}},
		{"CONNECT/full", v, pkt(0x10, str(name), raw(lvl, 0xf6), be16(0xffff), str("dev-42"), str("will/t"), str("bye"), str("user"), str("pw\x00x")),
			&Connect{ProtocolName: b(name), Version: v, CleanStart: true, KeepAlive: 0xffff, ClientID: b("dev-42"),
				WillFlag: true, WillQoS: 2, WillRetain: true, WillTopic: b("will/t"), WillPayload: b("bye"),
				UsernameFlag: true, Username: b("user"), PasswordFlag: true, Password: b("pw\x00x")}},
		{"CONNECT/will-qos1-no-retain", v, pkt(0x10, str(name), raw(lvl, 0x0c), be16(10), str(""), str("a"), str("")),
			&Connect{ProtocolName: b(name), Version: v, KeepAlive: 10, ClientID: b(""), WillFlag: true, WillQoS: 1, WillTopic: b("a"), WillPayload: b("")}},
		{"CONNACK/accepted", v, raw(0x20, 2, 0, 0), &Connack{}},
		{"CONNACK/refused", v, raw(0x20, 2, 0, 5), &Connack{Reason: 5}},
		{"PUBLISH/qos0", v, pkt(0x30, str("a/b"), b("hello")), &Publish{Topic: b("a/b"), Payload: b("hello")}},
		{"PUBLISH/qos1-retain", v, pkt(0x33, str("a/b"), be16(7), b("x")), &Publish{QoS: 1, Retain: true, Topic: b("a/b"), PacketID: 7, Payload: b("x")}},
		{"PUBLISH/qos2-dup-empty", v, pkt(0x3c, str("t"), be16(0xffff)), &Publish{Dup: true, QoS: 2, Topic: b("t"), PacketID: 0xffff}},
		{"PUBLISH/long", v, pkt(0x30, str("$SYS/x"), bytes.Repeat(b("z"), 300)), &Publish{Topic: b("$SYS/x"), Payload: bytes.Repeat(b("z"), 300)}},
		{"PUBACK", v, raw(0x40, 2, 0, 1), &Ack{Type: PUBACK, PacketID: 1}},
		{"PUBREC", v, raw(0x50, 2, 1, 0), &Ack{Type: PUBREC, PacketID: 256}},
		{"PUBREL", v, raw(0x62, 2, 0x12, 0x34), &Ack{Type: PUBREL, PacketID: 0x1234}},
		{"PUBCOMP", v, raw(0x70, 2, 0xff, 0xff), &Ack{Type: PUBCOMP, PacketID: 0xffff}},
		{"SUBSCRIBE", v, pkt(0x82, be16(10), str("a/+"), raw(0), str("#"), raw(1), str("$share/g/x"), raw(2)),
			&Subscribe{PacketID: 10, Filters: []Subscription{{Filter: b("a/+")}, {Filter: b("#"), QoS: 1}, {Filter: b("$share/g/x"), QoS: 2}}}},
		{"SUBACK", v, raw(0x90, 6, 0, 10, 0, 1, 2, 0x80), &Suback{PacketID: 10, Reasons: raw(0, 1, 2, 0x80)}},
		{"UNSUBSCRIBE", v, pkt(0xa2, be16(11), str("a/+"), str("b")), &Unsubscribe{PacketID: 11, Filters: [][]byte{b("a/+"), b("b")}}},
		{"UNSUBACK", v, raw(0xb0, 2, 0, 11), &Suback{PacketID: 11}},
		{"PINGREQ", v, raw(0xc0, 0), &pingPacket{PINGREQ}},
		{"PINGRESP", v, raw(0xd0, 0), &pingPacket{PINGRESP}},
		{"DISCONNECT", v, raw(0xe0, 0), &Disconnect{}},
	}
}

func v5Goldens() []golden {
	v := V5
	connProps := props(pU32(PropSessionExpiry, 3600), pS(PropAuthMethod, "SCRAM"), pS(PropAuthData, "\x01\x02"),
		pB(PropRequestProblemInfo, 0), pB(PropRequestResponseInfo, 1), pU16(PropReceiveMaximum, 20),
		pU16(PropTopicAliasMaximum, 10), pUser("k", "v"), pUser("k", "v2"), pU32(PropMaximumPacketSize, 1<<20))
	willProps := props(pB(PropPayloadFormat, 1), pU32(PropMessageExpiry, 99), pS(PropContentType, "text/plain"),
		pS(PropResponseTopic, "resp/t"), pS(PropCorrelationData, "\x00corr"), pU32(PropWillDelay, 5), pUser("w", "1"))
	ackProps := props(pS(PropReasonString, "why"), pUser("a", "b"))
	ackP := Properties{Present: propBits(PropReasonString, PropUser), ReasonString: b("why"), User: users("a", "b")}
	return []golden{
		{"CONNECT/minimal", v, pkt(0x10, str("MQTT"), raw(5, 0x02), be16(30), props(), str("")),
			&Connect{ProtocolName: b("MQTT"), Version: V5, CleanStart: true, KeepAlive: 30, ClientID: b("")}},
		{"CONNECT/all-props", v, pkt(0x10, str("MQTT"), raw(5, 0xee), be16(30), connProps, str("cid"), willProps, str("w/t"), str("payload"), str("u"), str("p")),
			&Connect{ProtocolName: b("MQTT"), Version: V5, CleanStart: true, KeepAlive: 30, ClientID: b("cid"),
				Props: Properties{Present: propBits(PropSessionExpiry, PropAuthMethod, PropAuthData, PropRequestProblemInfo, PropRequestResponseInfo,
					PropReceiveMaximum, PropTopicAliasMaximum, PropUser, PropMaximumPacketSize),
					SessionExpiry: 3600, AuthMethod: b("SCRAM"), AuthData: raw(1, 2), RequestProblemInfo: 0, RequestResponseInfo: 1,
					ReceiveMaximum: 20, TopicAliasMaximum: 10, User: users("k", "v", "k", "v2"), MaximumPacketSize: 1 << 20},
				WillFlag: true, WillQoS: 1, WillRetain: true,
				WillProps: Properties{Present: propBits(PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic, PropCorrelationData, PropWillDelay, PropUser),
					PayloadFormat: 1, MessageExpiry: 99, ContentType: b("text/plain"), ResponseTopic: b("resp/t"), CorrelationData: b("\x00corr"),
					WillDelay: 5, User: users("w", "1")},
				WillTopic: b("w/t"), WillPayload: b("payload"), UsernameFlag: true, Username: b("u"), PasswordFlag: true, Password: b("p")}},
		{"CONNECT/password-only", v, pkt(0x10, str("MQTT"), raw(5, 0x40), be16(0), props(), str("c"), str("secret")),
			&Connect{ProtocolName: b("MQTT"), Version: V5, ClientID: b("c"), PasswordFlag: true, Password: b("secret")}},
		{"CONNACK/minimal", v, raw(0x20, 3, 0, 0, 0), &Connack{}},
		{"CONNACK/all-props", v, pkt(0x20, raw(1, 0), props(pU32(PropSessionExpiry, 7), pS(PropAssignedClientID, "auto-1"),
			pU16(PropServerKeepAlive, 120), pS(PropAuthMethod, "m"), pS(PropAuthData, "d"), pS(PropResponseInfo, "ri"),
			pS(PropServerReference, "other:1883"), pS(PropReasonString, "ok"), pU16(PropReceiveMaximum, 100),
			pU16(PropTopicAliasMaximum, 16), pB(PropMaximumQoS, 1), pB(PropRetainAvailable, 0), pUser("x", "y"),
			pU32(PropMaximumPacketSize, 65536), pB(PropWildcardSubAvailable, 1), pB(PropSubIDAvailable, 0), pB(PropSharedSubAvailable, 1))),
			&Connack{SessionPresent: true, Props: Properties{
				Present: propBits(PropSessionExpiry, PropAssignedClientID, PropServerKeepAlive, PropAuthMethod, PropAuthData, PropResponseInfo,
					PropServerReference, PropReasonString, PropReceiveMaximum, PropTopicAliasMaximum, PropMaximumQoS, PropRetainAvailable,
					PropUser, PropMaximumPacketSize, PropWildcardSubAvailable, PropSubIDAvailable, PropSharedSubAvailable),
				SessionExpiry: 7, AssignedClientID: b("auto-1"), ServerKeepAlive: 120, AuthMethod: b("m"), AuthData: b("d"),
				ResponseInfo: b("ri"), ServerReference: b("other:1883"), ReasonString: b("ok"), ReceiveMaximum: 100,
				TopicAliasMaximum: 16, MaximumQoS: 1, RetainAvailable: 0, User: users("x", "y"), MaximumPacketSize: 65536,
				WildcardSubAvailable: 1, SubIDAvailable: 0, SharedSubAvailable: 1}}},
		{"CONNACK/refused", v, raw(0x20, 3, 0, 0x87, 0), &Connack{Reason: NotAuthorized}},
		{"PUBLISH/qos0-noprops", v, pkt(0x30, str("a/b"), props(), b("hi")), &Publish{Topic: b("a/b"), Payload: b("hi")}},
		{"PUBLISH/qos1-all-props", v, pkt(0x32, str("a/b"), be16(5), props(pB(PropPayloadFormat, 1), pU32(PropMessageExpiry, 60),
			pS(PropContentType, "json"), pS(PropResponseTopic, "r/1"), pS(PropCorrelationData, "c"), pV(PropSubscriptionID, 1),
			pV(PropSubscriptionID, 268435455), pU16(PropTopicAlias, 3), pUser("u", "1"), pUser("u", "2")), b("{}")),
			&Publish{QoS: 1, Topic: b("a/b"), PacketID: 5, Payload: b("{}"), Props: Properties{
				Present: propBits(PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic, PropCorrelationData,
					PropSubscriptionID, PropTopicAlias, PropUser),
				PayloadFormat: 1, MessageExpiry: 60, ContentType: b("json"), ResponseTopic: b("r/1"), CorrelationData: b("c"),
				SubscriptionIDs: [4]uint32{1, 268435455}, NumSubscriptionIDs: 2, TopicAlias: 3, User: users("u", "1", "u", "2")}}},
		{"PUBLISH/alias-only", v, pkt(0x34, str(""), be16(9), props(pU16(PropTopicAlias, 1)), b("p")),
			&Publish{QoS: 2, Topic: b(""), PacketID: 9, Payload: b("p"), Props: Properties{Present: propBits(PropTopicAlias), TopicAlias: 1}}},
		{"PUBLISH/six-subids", v, pkt(0x30, str("t"), props(pV(PropSubscriptionID, 1), pV(PropSubscriptionID, 2), pV(PropSubscriptionID, 3),
			pV(PropSubscriptionID, 4), pV(PropSubscriptionID, 200), pV(PropSubscriptionID, 70000))),
			&Publish{Topic: b("t"), Props: Properties{Present: propBits(PropSubscriptionID), SubscriptionIDs: [4]uint32{1, 2, 3, 4},
				NumSubscriptionIDs: 6, MoreSubscriptionIDs: []uint32{200, 70000}}}},
		{"PUBACK/short", v, raw(0x40, 2, 0, 1), &Ack{Type: PUBACK, PacketID: 1}},
		{"PUBACK/reason", v, raw(0x40, 3, 0, 1, 0x10), &Ack{Type: PUBACK, PacketID: 1, Reason: NoMatchingSubscribers}},
		{"PUBACK/props", v, pkt(0x40, be16(2), raw(0x97), ackProps), &Ack{Type: PUBACK, PacketID: 2, Reason: QuotaExceeded, Props: ackP}},
		{"PUBREC/props", v, pkt(0x50, be16(3), raw(0x00), ackProps), &Ack{Type: PUBREC, PacketID: 3, Props: ackP}},
		{"PUBREL/reason", v, raw(0x62, 3, 0, 4, 0x92), &Ack{Type: PUBREL, PacketID: 4, Reason: PacketIDNotFound}},
		{"PUBREL/props", v, pkt(0x62, be16(4), raw(0), ackProps), &Ack{Type: PUBREL, PacketID: 4, Props: ackP}},
		{"PUBCOMP/props", v, pkt(0x70, be16(5), raw(0x92), ackProps), &Ack{Type: PUBCOMP, PacketID: 5, Reason: PacketIDNotFound, Props: ackP}},
		{"SUBSCRIBE/options", v, pkt(0x82, be16(1), props(pV(PropSubscriptionID, 300), pUser("s", "t")),
			str("a/#"), raw(0x2e), str("$share/g/b"), raw(0x19), str("c"), raw(0x00)),
			&Subscribe{PacketID: 1, Props: Properties{Present: propBits(PropSubscriptionID, PropUser), SubscriptionIDs: [4]uint32{300}, NumSubscriptionIDs: 1, User: users("s", "t")},
				Filters: []Subscription{{Filter: b("a/#"), QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
					{Filter: b("$share/g/b"), QoS: 1, RetainAsPublished: true, RetainHandling: 1}, {Filter: b("c")}}}},
		{"SUBACK/props", v, pkt(0x90, be16(1), ackProps, raw(0, 1, 2, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2)),
			&Suback{PacketID: 1, Props: ackP, Reasons: raw(0, 1, 2, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2)}},
		{"UNSUBSCRIBE/props", v, pkt(0xa2, be16(2), props(pUser("k", "")), str("a"), str("$share/g/#")),
			&Unsubscribe{PacketID: 2, Props: Properties{Present: propBits(PropUser), User: users("k", "")}, Filters: [][]byte{b("a"), b("$share/g/#")}}},
		{"UNSUBACK/props", v, pkt(0xb0, be16(2), ackProps, raw(0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91)),
			&Suback{PacketID: 2, Props: ackP, Reasons: raw(0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91)}},
		{"PINGREQ", v, raw(0xc0, 0), &pingPacket{PINGREQ}},
		{"PINGRESP", v, raw(0xd0, 0), &pingPacket{PINGRESP}},
		{"DISCONNECT/short", v, raw(0xe0, 0), &Disconnect{}},
		{"DISCONNECT/reason", v, raw(0xe0, 1, 0x04), &Disconnect{Reason: DisconnectWithWill}},
		{"DISCONNECT/props", v, pkt(0xe0, raw(0x9c), props(pU32(PropSessionExpiry, 0), pS(PropServerReference, "srv"), pS(PropReasonString, "move"), pUser("a", "b"))),
			&Disconnect{Reason: UseAnotherServer, Props: Properties{Present: propBits(PropSessionExpiry, PropServerReference, PropReasonString, PropUser),
				ServerReference: b("srv"), ReasonString: b("move"), User: users("a", "b")}}},
		{"AUTH/short", v, raw(0xf0, 0), &Auth{}},
		{"AUTH/props", v, pkt(0xf0, raw(0x18), props(pS(PropAuthMethod, "SCRAM-SHA-1"), pS(PropAuthData, "\xff\x00"), pS(PropReasonString, "more"), pUser("a", "b"))),
			&Auth{Reason: ContinueAuthentication, Props: Properties{Present: propBits(PropAuthMethod, PropAuthData, PropReasonString, PropUser),
				AuthMethod: b("SCRAM-SHA-1"), AuthData: raw(0xff, 0), ReasonString: b("more"), User: users("a", "b")}}},
		{"AUTH/reauth", v, pkt(0xf0, raw(0x19), props(pS(PropAuthMethod, "m"))),
			&Auth{Reason: ReAuthenticate, Props: Properties{Present: propBits(PropAuthMethod), AuthMethod: b("m")}}},
	}
}

func allGoldens() []golden {
	g := append(v3Goldens(V31), v3Goldens(V311)...)
	g = append(g, versionGoldens()...)
	return append(g, v5Goldens()...)
}

func TestGoldenDecode(t *testing.T) {
	for _, g := range allGoldens() {
		t.Run(g.v.String()+"/"+g.name, func(t *testing.T) {
			n, err := PacketSize(g.frame, 0)
			if err != nil || n != len(g.frame) {
				t.Fatalf("PacketSize = %d, %v; want %d", n, err, len(g.frame))
			}
			got := newLike(g.want)
			if err := decodeInto(g.frame, g.v, got); err != nil {
				t.Fatalf("decode % x: %v", g.frame, err)
			}
			if a, w := normalize(got), normalize(g.want); a != w {
				t.Errorf("decode mismatch\n got %s\nwant %s", a, w)
			}
		})
	}
}

func TestGoldenEncode(t *testing.T) {
	for _, g := range allGoldens() {
		t.Run(g.v.String()+"/"+g.name, func(t *testing.T) {
			got := encode(nil, g.v, TypeOf(g.frame), g.want)
			if !bytes.Equal(got, g.frame) {
				t.Errorf("encode\n got % x\nwant % x", got, g.frame)
			}
			// Appending to a non-empty dst keeps the prefix.
			pre := []byte("prefix")
			got = encode(pre, g.v, TypeOf(g.frame), g.want)
			if !bytes.Equal(got[:6], []byte("prefix")) || !bytes.Equal(got[6:], g.frame) {
				t.Errorf("encode after prefix: % x", got)
			}
		})
	}
}

// TestGoldenCoversEveryProperty guards the golden table: every v5 property
// appears in at least one golden frame, and every packet type in every
// version.
func TestGoldenCoversEveryProperty(t *testing.T) {
	var seen uint64
	types := map[Version]map[PacketType]bool{}
	for _, g := range allGoldens() {
		if types[g.v] == nil {
			types[g.v] = map[PacketType]bool{}
		}
		types[g.v][TypeOf(g.frame)] = true
		p, err := decodeFrame(g.frame, g.v)
		if err != nil {
			t.Fatal(err)
		}
		switch q := p.(type) {
		case *Connect:
			seen |= q.Props.Present | q.WillProps.Present
		case *Connack:
			seen |= q.Props.Present
		case *Publish:
			seen |= q.Props.Present
		case *Ack:
			seen |= q.Props.Present
		case *Subscribe:
			seen |= q.Props.Present
		case *Unsubscribe:
			seen |= q.Props.Present
		case *Suback:
			seen |= q.Props.Present
		case *Disconnect:
			seen |= q.Props.Present
		case *Auth:
			seen |= q.Props.Present
		}
	}
	for id := PropID(1); id < 64; id++ {
		if propType[id] != tNone && seen&(1<<id) == 0 {
			t.Errorf("no golden vector carries property %v", id)
		}
	}
	for _, v := range []Version{V31, V311, V5} {
		last := DISCONNECT
		if v == V5 {
			last = AUTH
		}
		for pt := CONNECT; pt <= last; pt++ {
			if !types[v][pt] {
				t.Errorf("no golden vector for %v %v", v, pt)
			}
		}
	}
}
