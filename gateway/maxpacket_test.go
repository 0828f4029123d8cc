package gateway

import (
	"testing"
	"time"
)

// [MQTT-3.1.2-24]: the gateway never sends a packet over the client's
// Maximum Packet Size. A SUBACK grows with the filters of its SUBSCRIBE: one
// that could never be sent is refused with DISCONNECT 0x95 before anything
// is subscribed, and one that fits is answered.
func TestSubackOverClientMaximumPacketSize(t *testing.T) {
	g := newTestGateway(t, nil)
	// v5 CONNECT with Maximum Packet Size 8.
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 0, 5, 0x27, 0, 0, 0, 8, 0, 2, 'm', 'p'}
	sub := func(n int) []byte {
		b := []byte{0, 1, 0} // packet id 1, no properties
		for i := 0; i < n; i++ {
			b = append(b, 0, 3, 'f', '/', byte('a'+i), 0)
		}
		return frame(0x82, b)
	}
	for _, tc := range []struct {
		name    string
		filters int
		want    byte // first byte of the answer
	}{
		{"SUBACK of 7 bytes fits", 2, 0x90},
		{"SUBACK of 10 bytes is refused with 0x95", 5, 0xE0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, g)
			_, _ = rc.Write(frame(0x10, body))
			if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
				t.Fatalf("CONNACK %x %v", h, err)
			}
			_, _ = rc.Write(sub(tc.filters))
			h, b, err := rc.readPacket(5 * time.Second)
			if err != nil || h != tc.want {
				t.Fatalf("answer %x %x %v, want %x", h, b, err, tc.want)
			}
			if h == 0xE0 {
				if len(b) < 1 || b[0] != 0x95 {
					t.Fatalf("DISCONNECT %x, want reason 0x95", b)
				}
				rc.expectClosed(t)
			}
		})
	}
	eventually(t, "no subscription left from the refused SUBSCRIBE", func() bool {
		return metric(t, g, "edgegw_subscriptions") == 0
	})
}
