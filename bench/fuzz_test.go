package bench

import (
	"testing"
)

// FuzzBrokerInput feeds arbitrary broker bytes through every decoder the
// client uses: none may panic, and a frame packetSize accepts is decoded
// within its bounds.
func FuzzBrokerInput(f *testing.F) {
	f.Add([]byte{0x20, 2, 0, 0})    // CONNACK
	f.Add([]byte{0x90, 3, 0, 1, 0}) // SUBACK
	f.Add(appendPublishHeader(nil, 5, 1, false, 7, []byte("a/b"), 0))
	f.Add([]byte{0x40, 2, 0, 1, 0x70, 3, 0, 1, 0x92}) // PUBACK, PUBCOMP with reason
	f.Add(appendWSFrame(nil, wsOpBinary, []byte{0x30, 3, 0, 1, 'a'}, [4]byte{9, 8, 7, 6}))
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, v := range []byte{4, 5} {
			b := in
			for len(b) > 0 {
				size, err := packetSize(b)
				if err != nil || size > len(b) {
					break
				}
				if size < 2 {
					t.Fatalf("size %d", size)
				}
				frame := b[:size]
				var p publishView
				if parsePublish(frame, v, &p) == nil && len(p.Payload) > len(frame) {
					t.Fatal("payload beyond frame")
				}
				_, _, _ = parseConnack(frame)
				_, _, _ = parseSuback(frame, v)
				_, _, _ = parseAck(frame)
				b = b[size:]
			}
		}
		k := newWSKey([]byte("k"))
		_, _ = wsHandshake(in, &k)
		n, _, _, _ := wsStream(in, nil, func([]byte) {})
		if n > len(in) {
			t.Fatalf("consumed %d of %d", n, len(in))
		}
	})
}
