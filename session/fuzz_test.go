package session

import (
	"testing"

	"edgegw/mqttcodec"
)

// FuzzHandle feeds arbitrary frames (after PacketSize framing) to connected
// v3 and v5 sessions: no panic, and every error carries a reason code.
func FuzzHandle(f *testing.F) {
	seeds := [][]byte{
		pubFrame(5, 1, 1, "a/b", 0),
		pubFrame(5, 2, 7, "", 3),
		pubFrame(4, 0, 0, "x", 0),
		{0x62, 2, 0, 7},                   // PUBREL
		{0x40, 2, 0, 1},                   // PUBACK
		{0x50, 3, 0, 1, 0x80},             // PUBREC error
		{0x82, 6, 0, 1, 0, 1, 'a', 1},     // SUBSCRIBE v3
		{0xA2, 5, 0, 2, 0, 1, 'a'},        // UNSUBSCRIBE v3
		{0xC0, 0},                         // PINGREQ
		{0xE0, 0},                         // DISCONNECT
		{0xE0, 6, 0x04, 4, 0x11, 0, 0, 1}, // DISCONNECT v5 with session expiry
		{0x10, 0},                         // CONNECT
		{0xF0, 0},                         // AUTH
	}
	for _, s := range seeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, data []byte, v5 bool) {
		v := mqttcodec.V311
		if v5 {
			v = mqttcodec.V5
		}
		s := connected(t, v, 4)
		var sc Scratch
		o := newOut()
		for len(data) > 0 {
			n, err := mqttcodec.PacketSize(data, 1<<16)
			if err != nil || n > len(data) {
				return
			}
			ev, err := s.Handle(data[:n], &sc, 0, o)
			if err != nil {
				if rc := mqttcodec.ReasonOf(err); rc < 0x80 {
					t.Fatalf("error %v with reason 0x%x", err, rc)
				}
				return
			}
			if ev.Kind == EvPublish && ev.Msg != nil && ev.QoS > 0 {
				s.AckPublish(ev.QoS, ev.PacketID, o)
			}
			data = data[n:]
		}
		_ = packets(t, o) // what the session wrote must frame cleanly
	})
}
