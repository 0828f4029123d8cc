package bench

import (
	"bytes"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// TestWSStreamSplits feeds a stream of frames (binary, continuation,
// masked and not, ping, all three length encodings) split at random points
// and checks the MQTT bytes come out whole and in order.
func TestWSStreamSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var stream, want []byte
	for i, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000, 3} {
		p := make([]byte, n)
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		want = append(want, p...)
		if i%2 == 0 {
			stream = appendWSFrame(stream, wsOpBinary, p, [4]byte{1, 2, 3, 4}) // masked
		} else {
			// Server frames are unmasked: build one by hand.
			op := byte(wsOpCont)
			if i == 1 {
				op = wsOpBinary
			}
			stream = append(stream, 0x80|op)
			switch {
			case n < 126:
				stream = append(stream, byte(n))
			case n <= 0xFFFF:
				stream = append(stream, 126, byte(n>>8), byte(n))
			default:
				stream = append(stream, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
			}
			stream = append(stream, p...)
		}
		if i == 4 {
			stream = append(stream, 0x89, 2, 'h', 'i') // ping between data frames
		}
	}
	stream = append(stream, 0x88, 0) // close
	for trial := 0; trial < 20; trial++ {
		var in, got []byte
		pings, closed := 0, false
		for off := 0; off < len(stream) && !closed; {
			step := 1 + rng.IntN(3000)
			if trial == 0 {
				step = 1 // byte at a time
			}
			end := min(off+step, len(stream))
			in = append(in, stream[off:end]...)
			off = end
			n, out, c, err := wsStream(in, got, func(p []byte) {
				if string(p) != "hi" {
					t.Fatalf("ping payload %q", p)
				}
				pings++
			})
			if err != nil {
				t.Fatal(err)
			}
			got, closed = out, c
			in = append(in[:0], in[n:]...)
		}
		if !bytes.Equal(got, want) || pings != 1 || !closed {
			t.Fatalf("trial %d: %d bytes (want %d), pings %d, closed %v", trial, len(got), len(want), pings, closed)
		}
	}
	if _, _, _, err := wsStream([]byte{0x83, 0}, nil, nil); err == nil {
		t.Error("reserved opcode accepted")
	}
	if _, _, _, err := wsStream([]byte{0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 0}, nil, nil); err == nil {
		t.Error("huge frame accepted")
	}
}

func TestWSHandshake(t *testing.T) {
	k := newWSKey([]byte("0123456789abcdef"))
	// RFC 6455 section 1.3's example key and accept.
	k2 := wsKey{key: "dGhlIHNhbXBsZSBub25jZQ==", accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}
	if got := newWSKey([]byte("the sample nonce")); got != k2 {
		t.Fatalf("key %+v, want %+v", got, k2)
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + k.accept + "\r\n\r\n"
	if n, err := wsHandshake([]byte(resp+"\x82\x00"), &k); err != nil || n != len(resp) {
		t.Fatalf("n %d err %v", n, err)
	}
	if n, err := wsHandshake([]byte(resp[:20]), &k); err != nil || n != 0 {
		t.Fatalf("partial: n %d err %v", n, err)
	}
	for _, bad := range []string{
		"HTTP/1.1 404 Not Found\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: nope\r\n\r\n",
	} {
		if _, err := wsHandshake([]byte(bad), &k); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestWebSocketAgainstMochi runs publishing scenarios over Mochi's
// WebSocket listener; counts add up exactly as over TCP.
func TestWebSocketAgainstMochi(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // Mochi's WebSocket listener does not report a :0 port
	s := mqtt.New(nil)
	_ = s.AddHook(new(auth.AllowHook), nil)
	if err := s.AddListener(listeners.NewWebsocket(listeners.Config{ID: "ws", Address: addr})); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeMochi(s) })
	waitListening(t, addr)
	for _, tc := range []struct {
		scenario  string
		qos, mqtt int
	}{{ScenarioFanIn, 1, 4}, {ScenarioP2P, 1, 5}, {ScenarioFanOut, 2, 5}, {ScenarioShared, 0, 4}} {
		t.Run(tc.scenario+"/qos"+strconv.Itoa(tc.qos), func(t *testing.T) {
			c := small(addr, tc.scenario)
			c.Transport, c.QoS, c.MQTT = "ws", tc.qos, tc.mqtt
			c.Payload = 300 // frames with the 16-bit length form
			r := run(t, c)
			checkExact(t, &c, r)
		})
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}
