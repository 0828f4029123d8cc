package gateway

import (
	"fmt"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// rawV5 opens a raw v5 connection and reads its CONNACK.
func rawV5(t *testing.T, g *Gateway, id string) *rawConn {
	t.Helper()
	rc := dialRaw(t, g)
	_, _ = rc.Write(connectPacket(5, id, 0, true))
	h, body, err := rc.readPacket(5 * time.Second)
	if err != nil || h != 0x20 || body[1] != 0 {
		t.Fatalf("CONNACK: %x %x %v", h, body, err)
	}
	return rc
}

// publishV5 builds a v5 PUBLISH without properties.
func publishV5(qos byte, id uint16, topic string, payload []byte) []byte {
	body := []byte{byte(len(topic) >> 8), byte(len(topic))}
	body = append(body, topic...)
	if qos > 0 {
		body = append(body, byte(id>>8), byte(id))
	}
	body = append(body, 0)
	body = append(body, payload...)
	return frame(0x30|qos<<1, body)
}

// expectDisconnect reads until a v5 DISCONNECT and checks its reason code,
// then expects the close.
func expectDisconnect(t *testing.T, rc *rawConn, code byte) {
	t.Helper()
	last := rc.expectClosed(t)
	if len(last) < 2 || last[0] != 0xE0 || last[1] != code {
		t.Fatalf("last packet before close %x, want DISCONNECT 0x%x", last, code)
	}
}

func TestBadInput(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Limits.MaxPacketSize = 1024 })
	t.Run("MQTT-3.1.0-1 garbage before CONNECT is closed", func(t *testing.T) {
		rc := dialRaw(t, g)
		_, _ = rc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		if last := rc.expectClosed(t); last != nil {
			t.Fatalf("got %x before close", last)
		}
	})
	t.Run("MQTT-3.1.0-2 second CONNECT is 0x82", func(t *testing.T) {
		rc := rawV5(t, g, "twice")
		_, _ = rc.Write(connectPacket(5, "twice", 0, true))
		expectDisconnect(t, rc, 0x82)
	})
	t.Run("MQTT-3.2.2-? oversize packet is 0x95 from the fixed header alone", func(t *testing.T) {
		rc := rawV5(t, g, "big")
		_, _ = rc.Write([]byte{0x30, 0xa0, 0x8d, 0x06}) // remaining length 100000, no body
		expectDisconnect(t, rc, 0x95)
	})
	t.Run("MQTT-3.3.1-4 QoS 3 is malformed 0x81", func(t *testing.T) {
		rc := rawV5(t, g, "qos3")
		_, _ = rc.Write(publishV5(3, 1, "a", []byte("x")))
		expectDisconnect(t, rc, 0x81)
	})
	t.Run("MQTT-3.3.4-7 receive maximum exceeded is 0x93", func(t *testing.T) {
		rc := rawV5(t, g, "greedy")
		var b []byte
		for i := 1; i <= 65; i++ { // QoS 2 without PUBREL keeps the quota taken
			b = append(b, publishV5(2, uint16(i), "rm", []byte("x"))...)
		}
		_, _ = rc.Write(b)
		expectDisconnect(t, rc, 0x93)
	})
	t.Run("v3 client with a malformed packet is closed without DISCONNECT", func(t *testing.T) {
		rc := dialRaw(t, g)
		_, _ = rc.Write(connectPacket(4, "v3bad", 0, true))
		if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
			t.Fatalf("CONNACK: %x %v", h, err)
		}
		_, _ = rc.Write([]byte{0x82, 0x02, 0x00, 0x01}) // SUBSCRIBE without filters
		if last := rc.expectClosed(t); last != nil {
			t.Fatalf("v3 got %x before close", last)
		}
	})
	eventually(t, "violations counted", func() bool {
		return metric(t, g, `edgegw_connections_closed_total{reason="packet_too_large"}`) == 1 &&
			metric(t, g, `edgegw_connections_closed_total{reason="receive_maximum_exceeded"}`) == 1 &&
			metric(t, g, `edgegw_connections_closed_total{reason="malformed_packet"}`) >= 1 &&
			metric(t, g, `edgegw_connections_closed_total{reason="protocol_error"}`) >= 2
	})
}

// TestConnectTimeout: a socket that sends nothing is closed after
// limits.connect_timeout.
func TestConnectTimeout(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Limits.ConnectTimeout = Duration(200 * time.Millisecond) })
	rc := dialRaw(t, g)
	start := time.Now()
	rc.expectClosed(t)
	if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
		t.Fatalf("closed after %v, want ~200ms", d)
	}
	eventually(t, "connect_timeout counted", func() bool {
		return metric(t, g, `edgegw_connections_closed_total{reason="connect_timeout"}`) == 1
	})
}

// TestKeepAliveTimeout: a client silent for 1.5 x keep alive is closed with
// DISCONNECT 0x8D [MQTT-3.1.2-24].
func TestKeepAliveTimeout(t *testing.T) {
	g := newTestGateway(t, nil)
	rc := dialRaw(t, g)
	_, _ = rc.Write(connectPacket(5, "sleepy", 1, true))
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("CONNACK: %x %v", h, err)
	}
	start := time.Now()
	expectDisconnect(t, rc, 0x8D)
	if d := time.Since(start); d < 1400*time.Millisecond || d > 3*time.Second {
		t.Fatalf("closed after %v, want ~1.5s", d)
	}
}

// TestMalformedIsolated: one client sends a malformed packet while 100
// others keep exchanging messages; none of them notices.
func TestMalformedIsolated(t *testing.T) {
	g := newTestGateway(t, nil)
	const n = 100
	col := newCollector()
	clients := make([]mqtt.Client, n)
	var wg sync.WaitGroup
	for i := range clients {
		clients[i] = v3Client(t, g, fmt.Sprintf("iso-%d", i), nil)
		waitTok(t, clients[i].Subscribe(fmt.Sprintf("iso/%d", i), 1, col.handler), "subscribe")
	}
	stop := make(chan struct{})
	const rounds = 20
	for i := range clients {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				// each client publishes to its neighbour
				tok := clients[i].Publish(fmt.Sprintf("iso/%d", (i+1)%n), 1, false, fmt.Sprintf("%d-%d", i, r))
				if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					t.Errorf("client %d publish %d: %v", i, r, tok.Error())
					return
				}
			}
		}(i)
	}
	bad := rawV5(t, g, "vandal")
	_, _ = bad.Write([]byte{0x30, 0x05, 0x00, 0x09, 'a', 'b', 'c'}) // topic length past the packet
	expectDisconnect(t, bad, 0x81)
	wg.Wait()
	close(stop)
	eventually(t, "all messages delivered", func() bool { return col.n.Load() == n*rounds })
	for i := range clients {
		if !clients[i].IsConnectionOpen() {
			t.Fatalf("client %d lost its connection", i)
		}
	}
	if v := metric(t, g, `edgegw_connections_closed_total{reason="malformed_packet"}`); v != 1 {
		eventually(t, "one malformed close", func() bool {
			return metric(t, g, `edgegw_connections_closed_total{reason="malformed_packet"}`) == 1
		})
	}
}
