package mqttcodec

import (
	"bytes"
	"testing"
)

// versionGoldens are the golden vectors (decoded and encoded both ways by
// allGoldens) whose bytes differ between 3.1 and 3.1.1: the session present
// flag that 3.1 lacks, and the bridge protocol levels 0x83 and 0x84.
func versionGoldens() []golden {
	return []golden{
		{"CONNACK/present", V311, raw(0x20, 2, 1, 0), &Connack{SessionPresent: true}},
		// mosquitto's 3.1 bridge with try_private: "MQIsdp", level 0x83.
		{"CONNECT/bridge-0x83", V31, pkt(0x10, str("MQIsdp"), raw(0x83, 0x02), be16(60), str("br31")),
			&Connect{ProtocolName: b("MQIsdp"), Version: V31, Bridge: true, CleanStart: true, KeepAlive: 60, ClientID: b("br31")}},
		// mosquitto's 3.1.1 bridge with try_private (its default): "MQTT",
		// level 0x84, clean session 0, a will on its state topic.
		{"CONNECT/bridge-0x84", V311, pkt(0x10, str("MQTT"), raw(0x84, 0x2c), be16(60), str("host.edge"),
			str("$SYS/broker/connection/host.edge/state"), str("0")),
			&Connect{ProtocolName: b("MQTT"), Version: V311, Bridge: true, KeepAlive: 60, ClientID: b("host.edge"),
				WillFlag: true, WillQoS: 1, WillRetain: true, WillTopic: b("$SYS/broker/connection/host.edge/state"), WillPayload: b("0")}},
	}
}

// TestMQTT31Decode pins what 3.1 allows and 3.1.1/5.0 do not, and the other
// way round, with decode-only vectors (the encoder never sets DUP outside
// PUBLISH, so they cannot be golden both ways).
func TestMQTT31Decode(t *testing.T) {
	conn := func(name string, lvl byte) []byte {
		return pkt(0x10, str(name), raw(lvl, 0x02), be16(0), str("c"))
	}
	sub := func(h byte, v Version) []byte {
		if v == V5 {
			return pkt(h, be16(10), props(), str("a/+"), raw(1))
		}
		return pkt(h, be16(10), str("a/+"), raw(1))
	}
	unsub := func(h byte, v Version) []byte {
		if v == V5 {
			return pkt(h, be16(11), props(), str("a/+"))
		}
		return pkt(h, be16(11), str("a/+"))
	}
	cases := []struct {
		name  string
		v     Version
		frame []byte
		want  any   // decoded value when err is nil
		err   error // the expected error, nil for success
	}{
		// 3.1 section 2.1 "DUP flag": set when the client re-delivers a
		// PUBLISH, PUBREL, SUBSCRIBE or UNSUBSCRIBE; their QoS bits are 01.
		{"3.1 PUBREL re-sent with DUP", V31, raw(0x6a, 2, 0x12, 0x34), &Ack{Type: PUBREL, PacketID: 0x1234}, nil},
		{"3.1 SUBSCRIBE re-sent with DUP", V31, sub(0x8a, V31),
			&Subscribe{PacketID: 10, Filters: []Subscription{{Filter: b("a/+"), QoS: 1}}}, nil},
		{"3.1 UNSUBSCRIBE re-sent with DUP", V31, unsub(0xaa, V31), &Unsubscribe{PacketID: 11, Filters: [][]byte{b("a/+")}}, nil},
		// Only DUP is relaxed: the QoS bits stay 01, RETAIN stays 0, and
		// packets that 3.1 sends at QoS 0 take no DUP.
		{"3.1 PUBREL with RETAIN is malformed", V31, raw(0x63, 2, 0, 1), nil, ErrReservedFlags},
		{"3.1 SUBSCRIBE with QoS 0 bits is malformed", V31, sub(0x88, V31), nil, ErrReservedFlags},
		{"3.1 UNSUBSCRIBE with QoS 2 bits is malformed", V31, unsub(0xac, V31), nil, ErrReservedFlags},
		{"3.1 PUBACK with DUP is malformed", V31, raw(0x48, 2, 0, 1), nil, ErrReservedFlags},
		{"3.1 PUBCOMP with DUP is malformed", V31, raw(0x78, 2, 0, 1), nil, ErrReservedFlags},
		// 3.1.1 [MQTT-2.2.2-1] and 5.0 [MQTT-2.1.3-1]: the flags are fixed at 0010.
		{"3.1.1 [MQTT-3.6.1-1] PUBREL with DUP is malformed", V311, raw(0x6a, 2, 0, 1), nil, ErrReservedFlags},
		{"3.1.1 [MQTT-3.8.1-1] SUBSCRIBE with DUP is malformed", V311, sub(0x8a, V311), nil, ErrReservedFlags},
		{"3.1.1 [MQTT-3.10.1-1] UNSUBSCRIBE with DUP is malformed", V311, unsub(0xaa, V311), nil, ErrReservedFlags},
		{"5.0 [MQTT-3.6.1-1] PUBREL with DUP is malformed", V5, raw(0x6a, 2, 0, 1), nil, ErrReservedFlags},
		{"5.0 [MQTT-3.8.1-1] SUBSCRIBE with DUP is malformed", V5, sub(0x8a, V5), nil, ErrReservedFlags},
		{"5.0 [MQTT-3.10.1-1] UNSUBSCRIBE with DUP is malformed", V5, unsub(0xaa, V5), nil, ErrReservedFlags},
		// 3.1 section 3.2: the CONNACK's first byte is reserved, not a
		// session present flag.
		{"3.1 CONNACK reserved byte is not session present", V31, raw(0x20, 2, 1, 0), &Connack{}, nil},
		{"3.1.1 [MQTT-3.2.2-1] CONNACK reserved flags", V311, raw(0x20, 2, 2, 0), nil, ErrConnackFlags},
		// The bridge bit goes with 3.1 and 3.1.1 only, each under its own name.
		{"bridge level 0x85 is refused", V5, conn("MQTT", 0x85), nil, ErrUnsupportedVersion},
		{"bridge level 0x84 under MQIsdp is refused", V311, conn("MQIsdp", 0x84), nil, ErrUnsupportedVersion},
		{"bridge level 0x83 under MQTT is refused", V31, conn("MQTT", 0x83), nil, ErrUnsupportedVersion},
		{"level 0x80 is refused", V31, conn("MQTT", 0x80), nil, ErrUnsupportedVersion},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := decodeFrame(c.frame, c.v)
			if err != c.err {
				t.Fatalf("decode % x as %v: err %v, want %v", c.frame, c.v, err, c.err)
			}
			if c.err != nil {
				return
			}
			if a, w := normalize(p), normalize(c.want); a != w {
				t.Errorf("decode mismatch\n got %s\nwant %s", a, w)
			}
			// The same frame fed one byte at a time through PacketSize.
			if got := streamDecode(t, splitBytes(c.frame), c.v); len(got) != 1 || got[0] != normalize(c.want) {
				t.Errorf("byte at a time: %v", got)
			}
		})
	}
}

// splitBytes cuts b into one-byte chunks.
func splitBytes(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// TestMQTT31ConnackNoSessionPresent: a 3.1 CONNACK never carries the session
// present bit, whatever the caller asks (3.1 section 3.2: the byte is
// reserved); 3.1.1 and 5.0 carry it [MQTT-3.2.2-2].
func TestMQTT31ConnackNoSessionPresent(t *testing.T) {
	for _, c := range []struct {
		v    Version
		want []byte
	}{
		{V31, raw(0x20, 2, 0, 0)},
		{V311, raw(0x20, 2, 1, 0)},
		{V5, raw(0x20, 3, 1, 0, 0)},
	} {
		got := AppendConnack(nil, c.v, &Connack{SessionPresent: true})
		if !bytes.Equal(got, c.want) {
			t.Errorf("%v: AppendConnack(SessionPresent) = % x, want % x", c.v, got, c.want)
		}
	}
}
