package gateway

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
)

// proxyV1 is a PROXY protocol v1 line from src.
func proxyV1(src string) []byte {
	return []byte("PROXY TCP4 " + src + " 192.0.2.1 40000 1883\r\n")
}

// proxyV2 is a PROXY protocol v2 header (PROXY, TCP over IPv4) from src.
func proxyV2(src string) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x21, 0x11, 0, 12)
	s := netip.MustParseAddr(src).As4()
	b = append(b, s[:]...)
	b = append(b, 192, 0, 2, 1)
	b = binary.BigEndian.AppendUint16(b, 40000)
	return binary.BigEndian.AppendUint16(b, 1883)
}

// TestProtectProxy: PROXY v1 and v2 headers from a trusted peer are read
// (also when they arrive in pieces) and the address inside becomes the
// client's for the per-IP connect rate; a peer outside proxy_trusted, a
// garbage header and a missing header are closed, each counted by reason.
func TestProtectProxy(t *testing.T) {
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.ProxyProtocol = true
		c.Listeners.ProxyTrusted = []string{"127.0.0.0/8"}
		c.Limits.ConnectRatePerIP = 0.001 // one connect per source IP in the test's time
	})
	addr := g.Addr("tcp")
	for _, tc := range []struct {
		name string
		hdr  func(string) []byte
		ip   string
	}{{"v1", proxyV1, "198.51.100.1"}, {"v2", proxyV2, "198.51.100.2"}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := protoConnack(t, addr, tc.hdr(tc.ip), connectPacket(5, uniq("px"), 30, true)); got != 0 {
				t.Fatalf("first connect from %s: %#x", tc.ip, got)
			}
			// The same address inside the header: over connect_rate_per_ip
			// (v5 0x9F), although the socket's address is the same as for
			// the next one, which is accepted.
			if got := protoConnack(t, addr, tc.hdr(tc.ip), connectPacket(5, uniq("px"), 30, true)); got != 0x9F {
				t.Fatalf("second connect from %s: %#x, want 0x9F", tc.ip, got)
			}
			if got := protoConnack(t, addr, tc.hdr(tc.ip), connectPacket(4, uniq("px"), 30, true)); got != -1 {
				t.Fatalf("v3 over the rate: %#x, want a close without CONNACK", got)
			}
		})
	}
	t.Run("in pieces", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		msg := append(proxyV2("198.51.100.3"), connectPacket(4, uniq("pieces"), 30, true)...)
		for _, cut := range [][2]int{{0, 5}, {5, 14}, {14, 20}, {20, len(msg)}} {
			if _, err := nc.Write(msg[cut[0]:cut[1]]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		rc := &rawConn{Conn: nc, r: bufio.NewReader(nc)}
		h, body, err := rc.readPacket(5 * time.Second)
		if err != nil || h != 0x20 || body[1] != 0 {
			t.Fatalf("CONNACK %#x % x %v", h, body, err)
		}
	})
	for _, tc := range []struct {
		name, reason string
		pre          []byte
	}{
		{"garbage", "signature", []byte("GET / HTTP/1.1\r\n\r\n")},
		{"missing", "signature", nil},
		{"bad v1 address", "", []byte("PROXY TCP4 300.1.1.1 192.0.2.1 1 2\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := protoConnack(t, addr, tc.pre, connectPacket(4, uniq("bad"), 30, true)); got != -1 {
				t.Fatalf("answered %#x, want a close", got)
			}
		})
	}
	eventually(t, "proxy closes counted", func() bool {
		return metric(t, g, `edgegw_proxy_closed_total{reason="proxy_signature"}`) >= 2 &&
			metric(t, g, `edgegw_protect_refused_total{reason="connect_rate_per_ip"}`) >= 4
	})
}

// TestProtectProxyUntrusted: with proxy_protocol on, a peer outside
// proxy_trusted is closed at accept even with a well-formed header, and
// counted as untrusted.
func TestProtectProxyUntrusted(t *testing.T) {
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.ProxyProtocol = true
		c.Listeners.ProxyTrusted = []string{"10.0.0.0/8"}
	})
	for _, hdr := range [][]byte{proxyV1("198.51.100.9"), proxyV2("198.51.100.9")} {
		if got := protoConnack(t, g.Addr("tcp"), hdr, connectPacket(5, uniq("u"), 30, true)); got != -1 {
			t.Fatalf("untrusted peer answered %#x", got)
		}
	}
	eventually(t, "untrusted counted", func() bool {
		return metric(t, g, `edgegw_proxy_closed_total{reason="proxy_untrusted"}`) >= 2
	})
}

// TestProtectProxyBan: flapping by one address inside the PROXY header bans
// that address (v5 0x8A, v3 0x05), not the balancer's.
func TestProtectProxyBan(t *testing.T) {
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.ProxyProtocol = true
		c.Listeners.ProxyTrusted = []string{"127.0.0.1"}
		c.Limits.FlappingMaxConnects = 3
		c.Limits.FlappingWindow = Duration(time.Minute)
		c.Limits.FlappingBan = Duration(time.Minute)
	})
	addr := g.Addr("tcp")
	codes := []int{}
	for i := 0; i < 6; i++ {
		codes = append(codes, protoConnack(t, addr, proxyV1("203.0.113.5"), connectPacket(5, uniq("flap"), 30, true)))
	}
	if codes[0] != 0 || codes[5] != 0x8A {
		t.Fatalf("CONNACKs from the flapping address %x, want 0 first and 0x8a at the end", codes)
	}
	if got := protoConnack(t, addr, proxyV1("203.0.113.5"), connectPacket(4, uniq("flap3"), 30, true)); got != 0x05 {
		t.Fatalf("v3 from the banned address: %#x, want 0x05", got)
	}
	if got := protoConnack(t, addr, proxyV1("203.0.113.6"), connectPacket(5, uniq("other"), 30, true)); got != 0 {
		t.Fatalf("another address behind the same balancer: %#x, want 0", got)
	}
	if v := metric(t, g, "edgegw_bans"); v < 1 {
		t.Fatalf("edgegw_bans %v", v)
	}
}

// TestProtectProxySplitEveryByte: a PROXY v1 or v2 header followed by a
// CONNECT, cut into two writes at every byte boundary (the second write
// after the gateway had time to read the first), is read whole every time:
// CONNACK 0, and no PROXY close counted.
func TestProtectProxySplitEveryByte(t *testing.T) {
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.ProxyProtocol = true
		c.Listeners.ProxyTrusted = []string{"127.0.0.0/8"}
	})
	for _, v := range []struct {
		name string
		hdr  []byte
	}{{"v1", proxyV1("198.51.100.9")}, {"v2", proxyV2("198.51.100.9")}} {
		msg := append(append([]byte(nil), v.hdr...), connectPacket(4, "split", 30, true)...)
		for k := 1; k < len(msg); k++ {
			nc, err := net.Dial("tcp", g.Addr("tcp"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := nc.Write(msg[:k]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
			if _, err := nc.Write(msg[k:]); err != nil {
				t.Fatal(err)
			}
			rc := &rawConn{Conn: nc, r: bufio.NewReader(nc)}
			h, body, err := rc.readPacket(5 * time.Second)
			nc.Close()
			if err != nil || h != 0x20 || len(body) < 2 || body[1] != 0 {
				t.Fatalf("%s cut at %d of %d: CONNACK %#x % x %v", v.name, k, len(msg), h, body, err)
			}
		}
	}
	for _, r := range []string{"proxy_signature", "proxy_incomplete", "proxy_untrusted"} {
		if n := metric(t, g, `edgegw_proxy_closed_total{reason="`+r+`"}`); n != 0 {
			t.Errorf("%s closes: %v, want 0", r, n)
		}
	}
}
