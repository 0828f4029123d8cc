package gateway

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"
)

// TestWebSocket: a paho client over ws://.../mqtt exchanges QoS 0/1/2
// messages with a TCP client, both directions.
func TestWebSocket(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Listeners.WS = "127.0.0.1:0" })
	if g.Addr("ws") == "" {
		t.Fatal("no ws address")
	}
	colWS, colTCP := newCollector(), newCollector()
	wsc := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("ws://" + g.Addr("ws") + "/mqtt").SetClientID("ws-1").
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	waitTok(t, wsc.Connect(), "ws connect")
	defer wsc.Disconnect(0)
	tcp := v3Client(t, g, "tcp-1", nil)
	waitTok(t, wsc.Subscribe("ws/in", 2, colWS.handler), "ws subscribe")
	waitTok(t, tcp.Subscribe("ws/out", 2, colTCP.handler), "tcp subscribe")
	for q := byte(0); q <= 2; q++ {
		payload := string(make([]byte, 200*int(q)+1)) + "x"
		waitTok(t, tcp.Publish("ws/in", q, false, payload), "tcp publish")
		colWS.expect(t, "ws/in", payload)
		waitTok(t, wsc.Publish("ws/out", q, false, payload), "ws publish")
		colTCP.expect(t, "ws/out", payload)
	}
	// a plain MQTT client on the ws port is refused with an HTTP error
	rc := dialRaw(t, &Gateway{addrs: map[string]string{"tcp": g.Addr("ws")}})
	_, _ = rc.Write(connectPacket(4, "confused", 0, true))
	rc.expectClosed(t)
}

// wsClient is a hand-driven MQTT-over-WebSocket client (gorilla/websocket)
// for the close tests: it sends raw MQTT packets in binary frames and reads
// what the server sends until its close frame.
type wsClient struct {
	*websocket.Conn
}

func dialWS(t *testing.T, addr string) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial("ws://"+addr+"/mqtt", nil)
	if err != nil {
		t.Fatalf("ws dial: %v", err)
	}
	resp.Body.Close()
	t.Cleanup(func() { c.Close() })
	return &wsClient{Conn: c}
}

func (c *wsClient) send(t *testing.T, pkt []byte) {
	t.Helper()
	if err := c.WriteMessage(websocket.BinaryMessage, pkt); err != nil {
		t.Fatalf("ws write: %v", err)
	}
}

// connect sends CONNECT and waits for a successful CONNACK.
func (c *wsClient) connect(t *testing.T, version byte, id string, keepAlive uint16) {
	t.Helper()
	c.send(t, connectPacket(version, id, keepAlive, true))
	pkts, cerr := c.read(t, 1)
	if cerr != nil || len(pkts) != 1 || pkts[0][0] != 0x20 || pkts[0][3] != 0 {
		t.Fatalf("CONNACK: %x, %v", pkts, cerr)
	}
}

// read collects the MQTT packets of the server's binary frames (a frame may
// hold several, a packet may span frames [MQTT-6.0.0-2]) until it has want
// packets (want > 0) or until the server's close frame (want 0), which it
// returns. A text frame, a timeout or a TCP close without a close frame fail
// the test.
func (c *wsClient) read(t *testing.T, want int) ([][]byte, *websocket.CloseError) {
	t.Helper()
	var stream []byte
	var pkts [][]byte
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for want == 0 || len(pkts) < want {
		typ, data, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				if ce.Code == websocket.CloseAbnormalClosure {
					t.Fatalf("TCP closed without a WebSocket close frame (after %x)", pkts)
				}
				if len(stream) > 0 {
					t.Fatalf("close frame after a partial MQTT packet %x", stream)
				}
				return pkts, ce
			}
			t.Fatalf("ws read (after %x): %v", pkts, err)
		}
		if typ != websocket.BinaryMessage {
			t.Fatalf("frame type %d, want binary [MQTT-6.0.0-1]", typ)
		}
		stream = append(stream, data...)
		for len(stream) > 1 {
			n, mul, i := 0, 1, 1
			for ; i < len(stream) && i < 5; i++ {
				n += int(stream[i]&127) * mul
				mul *= 128
				if stream[i] < 128 {
					break
				}
			}
			if i >= len(stream) || len(stream) < i+1+n {
				break
			}
			pkts = append(pkts, append([]byte(nil), stream[:i+1+n]...))
			stream = stream[i+1+n:]
		}
	}
	return pkts, nil
}

// expectClose reads until the close frame and checks it: code, and the
// last MQTT packet before it (nil: none allowed; a v5 DISCONNECT is
// {0xE0, len, reason, ...}).
func (c *wsClient) expectClose(t *testing.T, code int, disconnect byte) {
	t.Helper()
	pkts, ce := c.read(t, 0)
	if ce == nil || ce.Code != code {
		t.Fatalf("close frame %v, want code %d", ce, code)
	}
	switch {
	case disconnect == 0 && len(pkts) > 0:
		t.Fatalf("MQTT packets %x before the close frame, want none", pkts)
	case disconnect != 0 && len(pkts) == 0:
		t.Fatalf("no DISCONNECT before the close frame (code %d)", ce.Code)
	case disconnect != 0:
		last := pkts[len(pkts)-1]
		if last[0] != 0xE0 || len(last) < 3 || last[2] != disconnect {
			t.Fatalf("last packet before the close %x, want DISCONNECT 0x%02X", last, disconnect)
		}
	}
	// The server closes TCP after its close frame (RFC 6455 7.1.1).
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var buf [1]byte
	if _, err := c.UnderlyingConn().Read(buf[:]); err == nil {
		t.Fatalf("data after the close frame")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("TCP not closed after the close frame")
	}
}

// TestWebSocketServerClose: every close the server decides on a WebSocket
// connection ends with a close frame (RFC 6455 7.1.2) carrying a code that
// says why, after the v5 DISCONNECT in its own binary frame.
func TestWebSocketServerClose(t *testing.T) {
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.WS = "127.0.0.1:0"
		c.Limits.MaxPacketSize = 1024
	})
	qos3 := frame(0x36, []byte{0, 1, 'a', 0, 1, 0, 'x'})
	cases := []struct {
		name       string
		version    byte
		keepAlive  uint16
		act        func(t *testing.T, c *wsClient, id string)
		code       int
		disconnect byte // v5 DISCONNECT reason before the close; 0: no MQTT packet
	}{
		{name: "MQTT-3.3.1-4/v5-malformed-1002", version: 5, code: 1002, disconnect: 0x81,
			act: func(t *testing.T, c *wsClient, _ string) { c.send(t, append(frame(0x36, []byte{0, 1, 'a', 0, 1}), 0)) }},
		{name: "MQTT-3.3.1-4/v3-malformed-1002", version: 4, code: 1002,
			act: func(t *testing.T, c *wsClient, _ string) { c.send(t, qos3) }},
		{name: "MQTT-3.2.2-15/v5-too-large-1009", version: 5, code: 1009, disconnect: 0x95,
			act: func(t *testing.T, c *wsClient, _ string) {
				c.send(t, frame(0x30, append([]byte{0, 1, 'a', 0}, make([]byte, 2000)...)))
			}},
		{name: "MQTT-6.0.0-1/v5-text-frame-1003", version: 5, code: 1003, disconnect: 0x82,
			act: func(t *testing.T, c *wsClient, _ string) {
				if err := c.WriteMessage(websocket.TextMessage, []byte{0xC0, 0}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "MQTT-3.1.2-24/v5-keepalive-1000", version: 5, keepAlive: 1, code: 1000, disconnect: 0x8D,
			act: func(*testing.T, *wsClient, string) {}},
		{name: "MQTT-3.1.4-3/v5-takeover-1000", version: 5, code: 1000, disconnect: 0x8E,
			act: func(t *testing.T, _ *wsClient, id string) { dialWS(t, g.Addr("ws")).connect(t, 5, id, 0) }},
		{name: "MQTT-3.14.4-1/v5-client-disconnect-1000", version: 5, code: 1000,
			act: func(t *testing.T, c *wsClient, _ string) { c.send(t, []byte{0xE0, 0}) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := uniq("wsclose")
			c := dialWS(t, g.Addr("ws"))
			c.connect(t, tc.version, id, tc.keepAlive)
			tc.act(t, c, id)
			c.expectClose(t, tc.code, tc.disconnect)
		})
	}
	t.Run("MQTT-3.1.0-1/not-connect-first-1002", func(t *testing.T) {
		t.Parallel()
		c := dialWS(t, g.Addr("ws"))
		c.send(t, []byte{0xC0, 0}) // PINGREQ before CONNECT
		c.expectClose(t, 1002, 0)
	})
}

// TestWebSocketDrainClose: Shutdown sends a v5 WebSocket client DISCONNECT
// 0x8B and then close 1001 (going away); a 3.1.1 client gets close 1001 and
// no MQTT packet.
func TestWebSocketDrainClose(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version byte
		reason  byte // 0: no DISCONNECT before the close frame
	}{
		{"v5 DISCONNECT 0x8B", 5, 0x8B},
		{"v3.1.1 close only", 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "", "127.0.0.1:0", ""
			cfg.Engine.Loops = 2
			g, err := New(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Start(); err != nil {
				t.Fatal(err)
			}
			c := dialWS(t, g.Addr("ws"))
			c.connect(t, tc.version, "drain-ws", 0)
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				done <- g.Shutdown(ctx)
			}()
			c.expectClose(t, 1001, tc.reason)
			if err := <-done; err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		})
	}
}
