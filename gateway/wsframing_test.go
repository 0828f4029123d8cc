package gateway

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// rawWS is a WebSocket client on a bare TCP socket: it writes masked
// frames exactly where a test cuts them (TCP_NODELAY, Go's default for TCP)
// and reads the server's frames one by one.
type rawWS struct {
	net.Conn
	r      *bufio.Reader
	stream []byte // MQTT bytes of binary frames not yet returned by packet
}

// dialRawWS opens addr and upgrades to WebSocket (subprotocol mqtt).
func dialRawWS(t testing.TB, addr string) *rawWS {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawWS{Conn: nc, r: bufio.NewReader(nc)}
	req := "GET /mqtt HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := c.r.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 101") {
		t.Fatalf("upgrade: %q %v", status, err)
	}
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatalf("upgrade headers: %v", err)
		}
		if line == "\r\n" {
			return c
		}
	}
}

// wsMask is the masking key of every test frame: not zero, so that a frame
// read with the wrong phase or offset decodes to garbage.
var wsMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// maskedFrame is a client frame: b0 is FIN|RSV|opcode, the payload is
// masked with wsMask; the length takes 7, 16 or 64 bits as needed.
func maskedFrame(b0 byte, payload []byte) []byte {
	out := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	out = append(out, wsMask[:]...)
	for i, b := range payload {
		out = append(out, b^wsMask[i&3])
	}
	return out
}

func wsBinary(mqtt []byte) []byte { return maskedFrame(0x82, mqtt) }

func wsPing(p string) []byte { return maskedFrame(0x89, []byte(p)) }

func wsCloseFrame(code uint16, reason string) []byte {
	return maskedFrame(0x88, append([]byte{byte(code >> 8), byte(code)}, reason...))
}

// writeSplit writes b in two writes cut at k, with a pause between them so
// that the server reads them separately.
func (c *rawWS) writeSplit(t testing.TB, b []byte, k int) {
	t.Helper()
	if _, err := c.Write(b[:k]); err != nil {
		t.Fatalf("write: %v", err)
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := c.Write(b[k:]); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// frame reads one server frame: opcode and payload (server frames are not
// masked).
func (c *rawWS) frame(d time.Duration) (op byte, payload []byte, err error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var h [2]byte
	if _, err = io.ReadFull(c.r, h[:]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		return 0, nil, fmt.Errorf("masked server frame %x", h)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err = io.ReadFull(c.r, e[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err = io.ReadFull(c.r, e[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(c.r, payload)
	return h[0] & 0x0f, payload, err
}

// packet returns the next MQTT packet of the server's binary frames; any
// other frame (a close above all) fails the test.
func (c *rawWS) packet(t testing.TB) []byte {
	t.Helper()
	for {
		if len(c.stream) >= 2 {
			n, mul, i := 0, 1, 1
			for ; i < len(c.stream) && i < 5; i++ {
				n += int(c.stream[i]&127) * mul
				mul *= 128
				if c.stream[i] < 128 {
					break
				}
			}
			if i < len(c.stream) && len(c.stream) >= i+1+n {
				p := append([]byte(nil), c.stream[:i+1+n]...)
				c.stream = c.stream[i+1+n:]
				return p
			}
		}
		op, payload, err := c.frame(5 * time.Second)
		if err != nil {
			t.Fatalf("reading MQTT packet: %v", err)
		}
		if op != 2 {
			t.Fatalf("frame opcode %d (%s), want binary", op, closeText(op, payload))
		}
		c.stream = append(c.stream, payload...)
	}
}

// expectFrame reads one frame and checks its opcode and payload.
func (c *rawWS) expectFrame(t testing.TB, op byte, payload []byte) {
	t.Helper()
	gotOp, got, err := c.frame(5 * time.Second)
	if err != nil {
		t.Fatalf("want frame %d %q: %v", op, payload, err)
	}
	if gotOp != op || string(got) != string(payload) {
		t.Fatalf("frame %d %q (%s), want %d %q", gotOp, got, closeText(gotOp, got), op, payload)
	}
}

// expectEOF checks that the server closed TCP with nothing more to read.
func (c *rawWS) expectEOF(t testing.TB) {
	t.Helper()
	if op, p, err := c.frame(5 * time.Second); err == nil {
		t.Fatalf("frame %d %x after the close", op, p)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("TCP not closed after the close frame")
	}
}

func closeText(op byte, p []byte) string {
	if op != 8 || len(p) < 2 {
		return ""
	}
	return fmt.Sprintf("close %d %q", binary.BigEndian.Uint16(p), p[2:])
}

// connectWS sends CONNECT (v3.1.1, clean, no keep alive) in one frame and
// checks the CONNACK.
func (c *rawWS) connectWS(t testing.TB, id string) {
	t.Helper()
	if _, err := c.Write(wsBinary(connectPacket(4, id, 0, true))); err != nil {
		t.Fatal(err)
	}
	if p := c.packet(t); string(p) != "\x20\x02\x00\x00" {
		t.Fatalf("CONNACK %x", p)
	}
}

// publishV3 is a v3.1.1 PUBLISH; id is used for QoS > 0.
func publishV3(qos byte, id uint16, topic string, payload []byte) []byte {
	body := []byte{byte(len(topic) >> 8), byte(len(topic))}
	body = append(body, topic...)
	if qos > 0 {
		body = append(body, byte(id>>8), byte(id))
	}
	return frame(0x30|qos<<1, append(body, payload...))
}

// TestWSFramingSplitEveryByte: ping, close and binary frames (carrying
// CONNECT, PUBLISH QoS 1 with 7- and 16-bit frame lengths) are cut at every
// byte boundary into two writes that the gateway reads separately; each cut
// must give the same answer as the whole frame (RFC 6455 5.2: the frame
// boundaries are not the read boundaries). A read that held only the start
// of a header used to be thrown away (gnet's Discard(0) drops everything).
func TestWSFramingSplitEveryByte(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Listeners.WS = "127.0.0.1:0" })
	addr := g.Addr("ws")
	t.Run("RFC6455-5.5.2/ping", func(t *testing.T) {
		t.Parallel()
		c := dialRawWS(t, addr)
		c.connectWS(t, uniq("split-ping"))
		ping := wsPing("are you there")
		for k := 1; k < len(ping); k++ {
			c.writeSplit(t, ping, k)
			c.expectFrame(t, 0xA, []byte("are you there"))
		}
	})
	t.Run("MQTT-6.0.0-2/connect", func(t *testing.T) {
		t.Parallel()
		f := wsBinary(connectPacket(4, "split-connect", 0, true))
		for k := 1; k < len(f); k++ {
			c := dialRawWS(t, addr)
			c.writeSplit(t, f, k)
			if p := c.packet(t); string(p) != "\x20\x02\x00\x00" {
				t.Fatalf("cut at %d: CONNACK %x", k, p)
			}
			c.Close()
		}
	})
	for _, size := range []int{20, 300} { // frame length in 7 and in 16 bits
		t.Run(fmt.Sprintf("MQTT-6.0.0-2/publish-qos1-%d", size), func(t *testing.T) {
			t.Parallel()
			c := dialRawWS(t, addr)
			c.connectWS(t, uniq("split-pub"))
			payload := []byte(strings.Repeat("p", size))
			for k := 1; k < len(wsBinary(publishV3(1, 1, "split/pub", payload))); k++ {
				f := wsBinary(publishV3(1, uint16(k), "split/pub", payload))
				c.writeSplit(t, f, k)
				if p := c.packet(t); string(p) != string([]byte{0x40, 2, byte(k >> 8), byte(k)}) {
					t.Fatalf("cut at %d: %x, want PUBACK %d", k, p, k)
				}
			}
		})
	}
	t.Run("RFC6455-5.5.1/close", func(t *testing.T) {
		t.Parallel()
		f := wsCloseFrame(1000, "bye")
		for k := 1; k < len(f); k++ {
			c := dialRawWS(t, addr)
			c.connectWS(t, uniq("split-close"))
			c.writeSplit(t, f, k)
			if op, p, err := c.frame(5 * time.Second); err != nil || op != 8 || len(p) < 2 || p[0] != 0x03 || p[1] != 0xe8 {
				t.Fatalf("cut at %d: frame %d %x (%s) %v, want the close echo 1000", k, op, p, closeText(op, p), err) // [RFC 6455 5.5.1]
			}
			c.expectEOF(t)
			c.Close()
		}
	})
	t.Run("byte-at-a-time", func(t *testing.T) {
		t.Parallel()
		c := dialRawWS(t, addr)
		sub := frame(0x82, append([]byte{0, 1, 0, 9}, "split/own\x01"...))
		var all []byte
		for _, f := range [][]byte{
			wsBinary(connectPacket(4, uniq("split-byte"), 0, true)),
			wsBinary(sub),
			wsPing("x"),
			wsBinary(publishV3(1, 7, "split/own", []byte("hello"))),
		} {
			all = append(all, f...)
		}
		for i := range all {
			if _, err := c.Write(all[i : i+1]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		want := map[byte]int{0x20: 1, 0x90: 1, 0x32: 1, 0x40: 1} // CONNACK, SUBACK, PUBLISH, PUBACK
		pongs := 0
		for n := 0; n < 4; {
			op, p, err := c.frame(5 * time.Second)
			if err != nil {
				t.Fatalf("after %d packets and %d pongs: %v", n, pongs, err)
			}
			if op == 0xA {
				pongs++
				continue
			}
			if op != 2 {
				t.Fatalf("frame %d (%s)", op, closeText(op, p))
			}
			c.stream = append(c.stream, p...)
			for len(c.stream) > 0 && n < 4 && len(c.stream) >= 2+int(c.stream[1]) {
				pkt := c.packet(t)
				want[pkt[0]]--
				n++
			}
		}
		for h, left := range want {
			if left != 0 {
				t.Fatalf("packet 0x%02x: %d missing", h, left)
			}
		}
		if pongs != 1 {
			t.Fatalf("%d pongs, want 1", pongs)
		}
	})
}

// TestWSFramingOddChunks: 5,000 QoS 0 PUBLISHes, each in its own masked
// frame, written as one stream cut into odd-sized writes (4,000, 1,337 and
// 7 bytes): the subscriber receives all 5,000, in order. With 4,000 bytes
// every 2 ms the stream used to end after about a hundred messages.
func TestWSFramingOddChunks(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Listeners.WS = "127.0.0.1:0" })
	const n = 5000
	for _, tc := range []struct {
		chunk int
		pause time.Duration
	}{{4000, 2 * time.Millisecond}, {1337, time.Millisecond}, {7, 0}} {
		t.Run(fmt.Sprintf("MQTT-6.0.0-2/chunk-%d", tc.chunk), func(t *testing.T) {
			topic := fmt.Sprintf("odd/%d", tc.chunk)
			col := newCollector()
			sub := v3Client(t, g, uniq("odd-sub"), nil)
			waitTok(t, sub.Subscribe(topic, 0, col.handler), "subscribe")
			c := dialRawWS(t, g.Addr("ws"))
			c.connectWS(t, uniq("odd-pub"))
			var stream []byte
			for i := 0; i < n; i++ {
				stream = append(stream, wsBinary(publishV3(0, 0, topic, fmt.Appendf(nil, "m%04d", i)))...)
			}
			for off := 0; off < len(stream); off += tc.chunk {
				if _, err := c.Write(stream[off:min(off+tc.chunk, len(stream))]); err != nil {
					t.Fatalf("write at %d: %v", off, err)
				}
				if tc.pause > 0 {
					time.Sleep(tc.pause)
				}
			}
			for i := 0; i < n; i++ {
				select {
				case m := <-col.ch:
					if want := fmt.Sprintf("m%04d", i); string(m.Payload()) != want {
						t.Fatalf("message %d: %q, want %q", i, m.Payload(), want)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("received %d of %d", i, n)
				}
			}
		})
	}
}

// connectWill is a v3.1.1 CONNECT (clean, no keep alive) with a QoS 0 will.
func connectWill(id, willTopic, will string) []byte {
	body := append([]byte{0, 4}, "MQTT"...)
	body = append(body, 4, 0x04|0x02, 0, 0)
	for _, s := range []string{id, willTopic, will} {
		body = append(body, byte(len(s)>>8), byte(len(s)))
		body = append(body, s...)
	}
	return frame(0x10, body)
}

// TestWSCloseSameRead: MQTT packets that arrive in the same read as the
// client's close frame (or a WebSocket violation) are handled before the
// close acts: the PUBLISH is delivered, and the will is published only when
// no DISCONNECT came first. The close used to win: the PUBLISH was lost and
// the will sent although the client had disconnected.
func TestWSCloseSameRead(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Listeners.WS = "127.0.0.1:0" })
	col := newCollector()
	sub := v3Client(t, g, uniq("sameread-sub"), nil)
	waitTok(t, sub.Subscribe("sameread/#", 1, col.handler), "subscribe")
	for _, tc := range []struct {
		name     string
		tail     []byte // after the PUBLISH, in the same write
		will     bool
		wantCode uint16 // of the server's close frame
	}{
		{"MQTT-3.14.4-3/disconnect-close", append(wsBinary([]byte{0xE0, 0}), wsCloseFrame(1000, "")...), false, 1000},
		{"MQTT-3.1.2-8/close-without-disconnect", wsCloseFrame(1000, ""), true, 1000},
		{"MQTT-6.0.0-1/text-frame-violation", maskedFrame(0x81, []byte("hi")), true, 1003},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "sameread/" + tc.name
			c := dialRawWS(t, g.Addr("ws"))
			if _, err := c.Write(wsBinary(connectWill(uniq("sameread"), topic+"/will", "gone"))); err != nil {
				t.Fatal(err)
			}
			if p := c.packet(t); string(p) != "\x20\x02\x00\x00" {
				t.Fatalf("CONNACK %x", p)
			}
			one := append(wsBinary(publishV3(1, 1, topic, []byte("last words"))), tc.tail...)
			if _, err := c.Write(one); err != nil {
				t.Fatal(err)
			}
			// The server's close frame ends what it sends (after a PUBACK at most).
			for {
				op, p, err := c.frame(5 * time.Second)
				if err != nil {
					t.Fatalf("no close frame: %v", err)
				}
				if op == 8 {
					if len(p) < 2 || binary.BigEndian.Uint16(p) != tc.wantCode {
						t.Fatalf("close %x (%s), want %d", p, closeText(op, p), tc.wantCode)
					}
					break
				}
			}
			c.expectEOF(t)
			col.expect(t, topic, "last words")
			if tc.will {
				col.expect(t, topic+"/will", "gone")
			} else {
				col.none(t, 300*time.Millisecond)
			}
		})
	}
}
