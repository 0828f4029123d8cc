package gateway

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// deflateAnswer is the gateway's Sec-WebSocket-Extensions answer to a plain
// permessage-deflate offer (RFC 7692 7.1.1: both no_context_takeover).
const deflateAnswer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// dialDeflateWS is dialRawWS with a Sec-WebSocket-Extensions offer ("" for
// none); it returns the client and the server's extensions answer.
func dialDeflateWS(t testing.TB, addr, offer string) (*rawWS, string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawWS{Conn: nc, r: bufio.NewReader(nc)}
	req := "GET /mqtt HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n"
	if offer != "" {
		req += "Sec-WebSocket-Extensions: " + offer + "\r\n"
	}
	if _, err := nc.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return c, resp.Header.Get("Sec-WebSocket-Extensions")
}

// deflateMsg compresses p as a permessage-deflate client would (RFC 7692
// 7.2.1), with the standard library.
func deflateMsg(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.DefaultCompression)
	_, _ = w.Write(p)
	_ = w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// inflateMsg is the reference inflater for the server's RSV1 frames.
func inflateMsg(t testing.TB, z []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(z), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	p, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("server frame does not inflate: %v", err)
	}
	return p
}

// rawFrameB0 reads one server frame and returns its first byte (FIN, RSV,
// opcode) and payload.
func (c *rawWS) rawFrameB0(t testing.TB) (b0 byte, payload []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(c.r, h[:]); err != nil {
		t.Fatalf("frame: %v", err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		_, _ = io.ReadFull(c.r, e[:])
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		_, _ = io.ReadFull(c.r, e[:])
		n = binary.BigEndian.Uint64(e[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.r, payload); err != nil {
		t.Fatalf("frame payload: %v", err)
	}
	return h[0], payload
}

// jsonTelemetry is a realistic JSON payload (about 300 bytes).
func jsonTelemetry(i int) []byte {
	return []byte(`{"device":"pump-station-17/unit-4","ts":1733480000` + string(rune('0'+i%10)) +
		`,"temperature_c":21.5,"humidity_pct":40.2,"pressure_hpa":1013.25,"vibration_rms":0.013,` +
		`"status":"ok","firmware":"4.2.1-rc3","battery_pct":87,"rssi_dbm":-67,"uptime_s":86400,` +
		`"alarms":[],"location":{"lat":52.5200,"lon":13.4050},"tags":["north","line-2","critical"]}`)
}

// TestWSDeflateRaw: a raw client that offers permessage-deflate gets the
// RFC 7692 answer, sends a compressed PUBLISH (RSV1) that the gateway
// inflates and routes, and receives it back compressed (RSV1, inflating to
// the same PUBLISH); small packets (CONNACK, SUBACK) travel uncompressed. A
// client that offers nothing, or a gateway with ws_deflate = false, gets no
// extension and uncompressed frames, and MQTT works the same.
func TestWSDeflateRaw(t *testing.T) {
	for _, tc := range []struct {
		name, offer, want string
		off               bool
		compressed        bool // the 330-byte PUBLISH comes back compressed
	}{
		{name: "RFC7692-7/offered", offer: "permessage-deflate; client_max_window_bits", want: deflateAnswer, compressed: true},
		{name: "RFC7692-7.1.2.1/server_max_window_bits=9", offer: "permessage-deflate; server_max_window_bits=9", want: deflateAnswer + "; server_max_window_bits=9", compressed: true},
		// 2^8 = 256 bytes: the PUBLISH is longer than the client's window, so it goes uncompressed.
		{name: "RFC7692-7.1.2.1/server_max_window_bits=8", offer: "permessage-deflate; server_max_window_bits=8", want: deflateAnswer + "; server_max_window_bits=8"},
		{name: "RFC7692-7/not offered", offer: ""},
		{name: "RFC7692-7/ws_deflate=false", offer: "permessage-deflate", off: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGateway(t, func(c *Config) {
				c.Listeners.WS = "127.0.0.1:0"
				c.Listeners.WSDeflate = !tc.off
			})
			c, ext := dialDeflateWS(t, g.Addr("ws"), tc.offer)
			if ext != tc.want {
				t.Fatalf("Sec-WebSocket-Extensions %q, want %q", ext, tc.want)
			}
			c.connectWS(t, "z1") // CONNACK: 4 bytes, under ws_deflate_min_bytes, so not compressed
			sub := frame(0x82, append([]byte{0, 1, 0, 3}, "t/z\x00"...))
			if _, err := c.Write(wsBinary(sub)); err != nil {
				t.Fatal(err)
			}
			if b0, p := c.rawFrameB0(t); b0 != 0x82 || p[0] != 0x90 {
				t.Fatalf("SUBACK frame %x %x", b0, p)
			}
			before := metric(t, g, `edgegw_ws_deflate_messages_total{dir="in"}`)
			pub := publishV3(0, 0, "t/z", jsonTelemetry(1))
			if tc.want != "" {
				_, _ = c.Write(maskedFrame(0xc2, deflateMsg(pub))) // FIN|RSV1|binary
			} else {
				_, _ = c.Write(wsBinary(pub))
			}
			b0, p := c.rawFrameB0(t)
			compressed := b0&0x40 != 0
			if compressed {
				p = inflateMsg(t, p)
			}
			if b0&0x8f != 0x82 || compressed != tc.compressed || !bytes.Equal(p, pub) {
				t.Fatalf("PUBLISH frame b0 %#x (compressed %v, want %v), %d bytes equal %v", b0, compressed, tc.compressed, len(p), bytes.Equal(p, pub))
			}
			if tc.want != "" {
				eventually(t, "inflated message counted", func() bool {
					out := metric(t, g, `edgegw_ws_deflate_messages_total{dir="out"}`)
					return metric(t, g, `edgegw_ws_deflate_messages_total{dir="in"}`) == before+1 && (out >= 1) == tc.compressed
				})
			}
			// A ping is answered with an uncompressed pong (control frames never are, RFC 7692 6.1).
			_, _ = c.Write(wsPing("p"))
			if b0, p := c.rawFrameB0(t); b0 != 0x8a || string(p) != "p" {
				t.Fatalf("pong %#x %q", b0, p)
			}
		})
	}
}

// TestWSDeflateBadInput: a compressed message that inflates past
// limits.max_packet_size (a bomb: 4 MiB of zeros in 4 KiB) is refused with
// close 1009 after at most the limit was inflated, a corrupt one with close
// 1007, an RSV1 ping with 1002; each counted by reason, and a client on
// the same gateway is not affected.
func TestWSDeflateBadInput(t *testing.T) {
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.WS = "127.0.0.1:0"
		c.Limits.MaxPacketSize = 64 << 10
	})
	bystander, _ := dialDeflateWS(t, g.Addr("ws"), "permessage-deflate")
	bystander.connectWS(t, "bystander")
	for _, tc := range []struct {
		name   string
		frame  []byte
		code   uint16
		reason string
	}{
		{"RFC7692-8.2.3/bomb", maskedFrame(0xc2, deflateMsg(make([]byte, 4<<20))), 1009, "ws_inflate_too_large"},
		{"RFC7692-8.2.3/bomb in fragments", append(maskedFrame(0x42, deflateMsg(make([]byte, 4<<20))[:50]), maskedFrame(0x80, deflateMsg(make([]byte, 4<<20))[50:])...), 1009, "ws_inflate_too_large"},
		{"RFC7692-6.2/corrupt", maskedFrame(0xc2, []byte{0xff, 0xfe, 0xfd, 0x00, 0x17}), 1007, "ws_inflate_corrupt"},
		{"RFC7692-6.1/RSV1 ping", maskedFrame(0xc9, nil), 1002, "protocol_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label := `edgegw_connections_closed_total{reason="` + tc.reason + `"}`
			before := metric(t, g, label)
			c, _ := dialDeflateWS(t, g.Addr("ws"), "permessage-deflate")
			c.connectWS(t, "bad")
			if _, err := c.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			for {
				b0, p := c.rawFrameB0(t)
				if b0&0x0f != 8 {
					continue // none expected for v3, but tolerate data frames
				}
				if len(p) < 2 || binary.BigEndian.Uint16(p) != tc.code {
					t.Fatalf("close %x, want code %d", p, tc.code)
				}
				break
			}
			c.expectEOF(t)
			eventually(t, "close counted as "+tc.reason, func() bool { return metric(t, g, label) == before+1 })
		})
	}
	// The bystander still works: a compressed PUBLISH to itself.
	if _, err := bystander.Write(wsBinary(frame(0x82, append([]byte{0, 1, 0, 1}, "b\x00"...)))); err != nil {
		t.Fatal(err)
	}
	bystander.rawFrameB0(t) // SUBACK
	pub := publishV3(0, 0, "b", jsonTelemetry(2))
	_, _ = bystander.Write(maskedFrame(0xc2, deflateMsg(pub)))
	if b0, p := bystander.rawFrameB0(t); b0 != 0xc2 || !bytes.Equal(inflateMsg(t, p), pub) {
		t.Fatalf("bystander frame %#x %q", b0, p)
	}
}

// dialGorillaDeflate opens a gorilla/websocket client that offers
// permessage-deflate to the ws listener at addr, and checks the answer.
func dialGorillaDeflate(t *testing.T, addr string) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, EnableCompression: true, HandshakeTimeout: 5 * time.Second}
	wc, resp, err := d.Dial("ws://"+addr+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Cleanup(func() { wc.Close() })
	if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != deflateAnswer {
		t.Fatalf("deflate answer %q", got)
	}
	return &wsClient{Conn: wc}
}

// TestWSDeflateGorilla: gorilla/websocket, a third-party client, negotiates
// permessage-deflate (it offers both no_context_takeover parameters) and
// runs MQTT with compressed frames both ways, counted by the gateway.
func TestWSDeflateGorilla(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Listeners.WS = "127.0.0.1:0" })
	c := dialGorillaDeflate(t, g.Addr("ws"))
	c.connect(t, 4, "gorilla-z", 0)
	c.send(t, frame(0x82, append([]byte{0, 1, 0, 3}, "g/z\x00"...)))
	if pkts, _ := c.read(t, 1); pkts[0][0] != 0x90 {
		t.Fatalf("SUBACK %x", pkts)
	}
	for i := range 20 {
		pub := publishV3(0, 0, "g/z", jsonTelemetry(i))
		c.send(t, pub)
		if pkts, _ := c.read(t, 1); !bytes.Equal(pkts[0], pub) {
			t.Fatalf("message %d came back as %x", i, pkts[0])
		}
	}
	eventually(t, "compressed frames counted both ways", func() bool {
		return metric(t, g, `edgegw_ws_deflate_messages_total{dir="in"}`) >= 20 &&
			metric(t, g, `edgegw_ws_deflate_messages_total{dir="out"}`) >= 20
	})
}

// TestWSDeflateSplitEveryByte: a compressed PUBLISH in two frames (RSV1 on
// the first, a continuation), cut at every byte into two reads, is inflated
// and delivered the same every time (RFC 6455 5.2: frame boundaries are not
// read boundaries; RFC 7692 6.1: RSV1 on the first frame only).
func TestWSDeflateSplitEveryByte(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Listeners.WS = "127.0.0.1:0" })
	c, _ := dialDeflateWS(t, g.Addr("ws"), "permessage-deflate")
	c.connectWS(t, "split")
	_, _ = c.Write(wsBinary(frame(0x82, append([]byte{0, 1, 0, 1}, "s\x00"...))))
	c.rawFrameB0(t) // SUBACK
	pub := publishV3(0, 0, "s", jsonTelemetry(3))
	z := deflateMsg(pub)
	msg := append(maskedFrame(0x42, z[:len(z)/2]), maskedFrame(0x80, z[len(z)/2:])...)
	for cut := 1; cut < len(msg); cut++ {
		c.writeSplit(t, msg, cut)
		b0, p := c.rawFrameB0(t)
		if b0&0x40 != 0 {
			p = inflateMsg(t, p)
		}
		if !bytes.Equal(p, pub) {
			t.Fatalf("cut at %d: got %d bytes, want the %d-byte PUBLISH", cut, len(p), len(pub))
		}
	}
}
