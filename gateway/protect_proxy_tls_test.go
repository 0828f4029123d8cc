package gateway

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

// TestProtectProxyWSAndTLS: the PROXY header comes before the WebSocket
// upgrade on the ws listener and before the ClientHello on the tls
// listener; its address is the client's there too (the per-IP rate refuses
// a second CONNECT from the same address inside the header, 0x9F, and
// accepts another address).
func TestProtectProxyWSAndTLS(t *testing.T) {
	ca := newTestCA(t, "proxy")
	g := tlsGateway(t, ca, nil, func(c *Config) {
		c.Listeners.WS = "127.0.0.1:0"
		c.Listeners.ProxyProtocol = true
		c.Listeners.ProxyTrusted = []string{"127.0.0.1/32"}
		c.Limits.ConnectRatePerIP = 0.001
	})
	ws := func(src string) int {
		nc, err := net.Dial("tcp", g.Addr("ws"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		req := "GET /mqtt HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
		if _, err := nc.Write(append(proxyV2(src), req...)); err != nil {
			t.Fatal(err)
		}
		c := &rawWS{Conn: nc, r: bufio.NewReader(nc)}
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			line, err := c.r.ReadString('\n')
			if err != nil {
				t.Fatalf("upgrade: %v", err)
			}
			if line == "\r\n" {
				break
			}
		}
		if _, err := nc.Write(wsBinary(connectPacket(5, uniq("pws"), 30, true))); err != nil {
			t.Fatal(err)
		}
		p := c.packet(t)
		return int(p[3]) // 0x20 len flags reason
	}
	if got := ws("198.51.100.20"); got != 0 {
		t.Fatalf("ws first: %#x", got)
	}
	if got := ws("198.51.100.20"); got != 0x9F {
		t.Fatalf("ws second from the same header address: %#x, want 0x9F", got)
	}
	pool := ca.pool
	tlsConnack := func(src string) int {
		nc, err := net.Dial("tcp", g.Addr("tls"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := nc.Write(proxyV1(src)); err != nil {
			t.Fatal(err)
		}
		host, _, _ := net.SplitHostPort(g.Addr("tls"))
		tc := tls.Client(nc, &tls.Config{RootCAs: pool, ServerName: host})
		_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := tc.Write(connectPacket(4, uniq("ptls"), 30, true)); err != nil {
			t.Fatalf("tls: %v", err)
		}
		rc := &rawConn{Conn: tc, r: bufio.NewReader(tc)}
		h, body, err := rc.readPacket(5 * time.Second)
		if err != nil {
			if strings.Contains(err.Error(), "EOF") {
				return -1
			}
			t.Fatal(err)
		}
		if h != 0x20 {
			t.Fatalf("%#x", h)
		}
		return int(body[1])
	}
	if got := tlsConnack("198.51.100.21"); got != 0 {
		t.Fatalf("tls first: %#x", got)
	}
	if got := tlsConnack("198.51.100.21"); got != -1 {
		t.Fatalf("tls v3 second from the same header address: %#x, want a close", got)
	}
	if got := tlsConnack("198.51.100.22"); got != 0 {
		t.Fatalf("tls from another header address: %#x", got)
	}
}
