package gateway

import (
	"bytes"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// MQTT 3.1 (protocol level 3, "MQIsdp") details, end to end through raw
// sockets: a re-sent PUBREL, SUBSCRIBE or UNSUBSCRIBE carries DUP (3.1
// section 2.1), the CONNACK has no session present flag (3.1 section 3.2),
// and a client identifier is 1 to 23 characters (3.1 section 3.1).

// connect31 builds a 3.1 CONNECT ("MQIsdp", level 3), keep alive 0.
func connect31(id string, clean bool) []byte {
	body := []byte{0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0, 0, 0}
	if clean {
		body[9] = 0x02
	}
	body = append(body, byte(len(id)>>8), byte(len(id)))
	return frame(0x10, append(body, id...))
}

// expectPacket reads one packet and checks it byte for byte (header + body).
func (c *rawConn) expectPacket(t *testing.T, what string, want []byte) {
	t.Helper()
	h, body, err := c.readPacket(5 * time.Second)
	if got := frame(h, body); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s: got % x (%v), want % x", what, got, err, want)
	}
}

// TestMQTT31DupResend: a 3.1 client re-sends PUBREL, SUBSCRIBE and
// UNSUBSCRIBE with DUP set (fixed header 0x6A, 0x8A, 0xAA); the gateway
// answers them instead of closing the connection as malformed, so a QoS 2
// exchange interrupted by a reconnect completes. A 3.1.1 client sending the
// same bytes is still closed [MQTT-2.2.2-1] [MQTT-3.6.1-1].
func TestMQTT31DupResend(t *testing.T) {
	g := newTestGateway(t, nil)
	col := newCollector()
	sub := v3Client(t, g, uniq("sub31"), nil)
	waitTok(t, sub.Subscribe("m31/#", 2, col.handler), "subscribe m31/#")

	id := uniq("c31")
	rc := dialRaw(t, g)
	_, _ = rc.Write(connect31(id, false))
	rc.expectPacket(t, "CONNACK", []byte{0x20, 2, 0, 0})

	t.Run("SUBSCRIBE with DUP gets SUBACK", func(t *testing.T) {
		_, _ = rc.Write(frame(0x8a, []byte{0, 1, 0, 5, 'm', '3', '1', '/', 's', 1}))
		rc.expectPacket(t, "SUBACK", []byte{0x90, 3, 0, 1, 1})
	})
	t.Run("UNSUBSCRIBE with DUP gets UNSUBACK", func(t *testing.T) {
		_, _ = rc.Write(frame(0xaa, []byte{0, 2, 0, 5, 'm', '3', '1', '/', 's'}))
		rc.expectPacket(t, "UNSUBACK", []byte{0xb0, 2, 0, 2})
	})
	t.Run("PUBREL with DUP after a reconnect gets PUBCOMP", func(t *testing.T) {
		_, _ = rc.Write(frame(0x34, []byte{0, 6, 'm', '3', '1', '/', 'q', '2', 0, 3, 'x'}))
		rc.expectPacket(t, "PUBREC", []byte{0x50, 2, 0, 3})
		rc.Close() // the connection drops before the PUBREL
		col.expect(t, "m31/q2", "x")

		rc2 := dialRaw(t, g)
		_, _ = rc2.Write(connect31(id, false))
		rc2.expectPacket(t, "CONNACK on resume", []byte{0x20, 2, 0, 0})
		_, _ = rc2.Write([]byte{0x6a, 2, 0, 3}) // PUBREL re-sent: DUP set
		rc2.expectPacket(t, "PUBCOMP", []byte{0x70, 2, 0, 3})
		// Still open and serving: a PINGREQ is answered.
		_, _ = rc2.Write([]byte{0xc0, 0})
		rc2.expectPacket(t, "PINGRESP", []byte{0xd0, 0})
		col.none(t, 200*time.Millisecond) // delivered once, not again on PUBREL
	})
	t.Run("MQTT-2.2.2-1 3.1.1 keeps the fixed flags", func(t *testing.T) {
		for _, bad := range [][]byte{
			{0x6a, 2, 0, 3},                         // PUBREL with DUP
			frame(0x8a, []byte{0, 1, 0, 1, 'a', 1}), // SUBSCRIBE with DUP
			frame(0xaa, []byte{0, 2, 0, 1, 'a'}),    // UNSUBSCRIBE with DUP
		} {
			c := dialRaw(t, g)
			_, _ = c.Write(connectPacket(4, uniq("c311"), 0, true))
			c.expectPacket(t, "CONNACK", []byte{0x20, 2, 0, 0})
			_, _ = c.Write(bad)
			if last := c.expectClosed(t); last != nil {
				t.Fatalf("3.1.1 % x: got % x before close, want a close", bad, last)
			}
		}
	})
}

// TestMQTT31ConnackNoSessionPresent: resuming a persistent session, a 3.1
// client gets CONNACK 20 02 00 00 (the byte is reserved in 3.1); a 3.1.1
// client gets the session present flag [MQTT-3.2.2-2].
func TestMQTT31ConnackNoSessionPresent(t *testing.T) {
	g := newTestGateway(t, nil)
	for _, c := range []struct {
		name    string
		connect func(id string) []byte
		resume  []byte // the CONNACK on the second connection
	}{
		{"3.1 section 3.2 reserved byte stays 0", func(id string) []byte { return connect31(id, false) }, []byte{0x20, 2, 0, 0}},
		{"MQTT-3.2.2-2 3.1.1 session present", func(id string) []byte { return connectPacket(4, id, 0, false) }, []byte{0x20, 2, 1, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := uniq("sp")
			rc := dialRaw(t, g)
			_, _ = rc.Write(c.connect(id))
			rc.expectPacket(t, "first CONNACK", []byte{0x20, 2, 0, 0})
			_, _ = rc.Write(frame(0x82, []byte{0, 1, 0, 1, 'a', 1})) // something to keep in the session
			rc.expectPacket(t, "SUBACK", []byte{0x90, 3, 0, 1, 1})
			_, _ = rc.Write([]byte{0xe0, 0})
			rc.expectClosed(t)

			rc2 := dialRaw(t, g)
			_, _ = rc2.Write(c.connect(id))
			rc2.expectPacket(t, "CONNACK on resume", c.resume)
		})
	}
}

// TestMQTT31ClientIDLength: 3.1 allows 1 to 23 characters in a client
// identifier and refuses a longer one with return code 2 (identifier
// rejected), then closes; 3.1.1 has no such limit [MQTT-3.1.3-5].
func TestMQTT31ClientIDLength(t *testing.T) {
	g := newTestGateway(t, nil)
	for _, c := range []struct {
		name    string
		connect []byte
		code    byte
	}{
		{"3.1 23 characters accepted", connect31(strings.Repeat("a", 23), true), 0},
		{"3.1 23 two-byte characters accepted", connect31(strings.Repeat("é", 23), true), 0},
		{"3.1 24 characters refused with code 2", connect31(strings.Repeat("b", 24), true), 2},
		{"3.1.1 24 characters accepted", connectPacket(4, strings.Repeat("c", 24), 0, true), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := dialRaw(t, g)
			_, _ = rc.Write(c.connect)
			rc.expectPacket(t, "CONNACK", []byte{0x20, 2, 0, c.code})
			if c.code != 0 {
				if last := rc.expectClosed(t); last != nil {
					t.Fatalf("got % x after the refusal", last)
				}
			}
		})
	}
	// A real 3.1 client (paho, protocol version 3) sees the refusal as such.
	o := mqtt.NewClientOptions().AddBroker("tcp://" + g.Addr("tcp")).SetClientID(strings.Repeat("p", 24)).
		SetProtocolVersion(3).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	cl := mqtt.NewClient(o)
	tok := cl.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() == nil || !strings.Contains(tok.Error().Error(), "identifier rejected") {
		t.Fatalf("paho 3.1 with a 24-character ID: %v, want identifier rejected", tok.Error())
	}
}
