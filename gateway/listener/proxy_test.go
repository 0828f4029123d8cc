package listener

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// proxyV2 builds a v2 header: verCmd, famProto, then block as the address
// block and TLVs (the length is len(block)).
func proxyV2(verCmd, famProto byte, block ...[]byte) []byte {
	b := append([]byte(nil), proxyV2Sig[:]...)
	b = append(b, verCmd, famProto, 0, 0)
	for _, p := range block {
		b = append(b, p...)
	}
	binary.BigEndian.PutUint16(b[14:16], uint16(len(b)-ProxyV2HeaderLen))
	return b
}

// v2Inet is a TCP4/TCP6 address block for src and dst.
func v2Inet(src, dst netip.AddrPort) []byte {
	var b []byte
	b = append(b, src.Addr().AsSlice()...)
	b = append(b, dst.Addr().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

// tlv is one v2 TLV record.
func tlv(typ byte, v []byte) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(v))), v...)
}

var (
	ap4a = netip.MustParseAddrPort("192.168.0.1:56324")
	ap4b = netip.MustParseAddrPort("192.168.0.11:443")
	ap6a = netip.MustParseAddrPort("[2001:db8::1]:65535")
	ap6b = netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:0")
)

// goldenProxy are valid headers: the spec's examples (haproxy
// doc/proxy-protocol.txt 2.1, 2.2) and every v2 family and command.
var goldenProxy = []struct {
	name string
	in   []byte
	want ProxyHeader
}{
	{"2.1/example", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"), ProxyHeader{1, ProxyForward, ap4a, ap4b}},
	{"2.1/max-tcp4", []byte("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
		ProxyHeader{1, ProxyForward, netip.MustParseAddrPort("255.255.255.255:65535"), netip.MustParseAddrPort("255.255.255.255:65535")}},
	{"2.1/max-tcp6", []byte("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 0\r\n"),
		ProxyHeader{1, ProxyForward, netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), ap6b}},
	{"2.1/tcp6-compressed", []byte("PROXY TCP6 2001:db8::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 0\r\n"), ProxyHeader{1, ProxyForward, ap6a, ap6b}},
	{"2.1/unknown-short", []byte("PROXY UNKNOWN\r\n"), ProxyHeader{Version: 1}},
	{"2.1/unknown-107", []byte("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"), ProxyHeader{Version: 1}},
	{"2.2/tcp4", proxyV2(0x21, 0x11, v2Inet(ap4a, ap4b)), ProxyHeader{2, ProxyForward, ap4a, ap4b}},
	{"2.2/tcp6", proxyV2(0x21, 0x21, v2Inet(ap6a, ap6b)), ProxyHeader{2, ProxyForward, ap6a, ap6b}},
	{"2.2/tcp4-tlvs", proxyV2(0x21, 0x11, v2Inet(ap4a, ap4b), tlv(0x01, []byte("mqtt")), tlv(0x04, nil), tlv(0xE0, bytes.Repeat([]byte{7}, 300))),
		ProxyHeader{2, ProxyForward, ap4a, ap4b}},
	{"2.2/local-empty", proxyV2(0x20, 0x00), ProxyHeader{Version: 2}},
	{"2.2/local-with-addresses", proxyV2(0x20, 0x11, v2Inet(ap4a, ap4b)), ProxyHeader{Version: 2}},
	{"2.2/local-garbage-family", proxyV2(0x20, 0xff, []byte{1, 2, 3}), ProxyHeader{Version: 2}},
	{"2.2/proxy-unspec", proxyV2(0x21, 0x00, []byte("ignored")), ProxyHeader{Version: 2}},
	{"2.2/udp4-falls-back", proxyV2(0x21, 0x12, v2Inet(ap4a, ap4b)), ProxyHeader{Version: 2}},
	{"2.2/udp6-falls-back", proxyV2(0x21, 0x22, v2Inet(ap6a, ap6b)), ProxyHeader{Version: 2}},
	{"2.2/unix-stream", proxyV2(0x21, 0x31, make([]byte, v2LenUnix)), ProxyHeader{Version: 2}},
	{"2.2/unix-dgram-tlv", proxyV2(0x21, 0x32, make([]byte, v2LenUnix), tlv(0x05, []byte{1})), ProxyHeader{Version: 2}},
}

// mqttConnect is the first bytes of a CONNECT, which follow the header.
var mqttConnect = []byte{0x10, 0x0c, 0x00, 0x04, 'M', 'Q', 'T', 'T'}

// TestProxyGolden parses each golden header whole, followed by the proxied
// protocol's bytes (n must stop at the header), and byte by byte (every
// shorter prefix must be ErrProxyNeedMore).
func TestProxyGolden(t *testing.T) {
	for _, g := range goldenProxy {
		t.Run(g.name, func(t *testing.T) {
			in := append(append([]byte(nil), g.in...), mqttConnect...)
			n, hdr, err := ParseProxy(in)
			if err != nil || n != len(g.in) || hdr != g.want {
				t.Fatalf("ParseProxy = %d, %+v, %v; want %d, %+v", n, hdr, err, len(g.in), g.want)
			}
			for i := 0; i < len(g.in); i++ {
				if n, _, err := ParseProxy(g.in[:i]); err != ErrProxyNeedMore || n != 0 {
					t.Fatalf("prefix %d/%d: n=%d err=%v, want ErrProxyNeedMore", i, len(g.in), n, err)
				}
			}
			if n, hdr2, err := ParseProxy(g.in); n != len(g.in) || hdr2 != g.want || err != nil {
				t.Fatalf("exact: %d %+v %v", n, hdr2, err)
			}
		})
	}
}

// TestProxyMalformed gives each malformed header its own error and reason.
func TestProxyMalformed(t *testing.T) {
	tcp4 := v2Inet(ap4a, ap4b)
	cases := []struct {
		name string
		in   []byte
		want *ProxyError
	}{
		{"mqtt-without-header", mqttConnect, ErrProxySignature},
		{"http", []byte("GET / HTTP/1.1\r\n"), ErrProxySignature},
		{"v1-lowercase", []byte("proxy TCP4"), ErrProxySignature},
		{"v1-two-spaces", []byte("PROXY  TCP4"), ErrProxyV1Protocol},
		{"v1-no-crlf", []byte("PROXY UNKNOWN " + strings.Repeat("f", 100)), ErrProxyV1TooLong},
		{"v1-lone-lf", []byte("PROXY UNKNOWN x\n"), ErrProxyV1CRLF},
		{"v1-lone-cr", []byte("PROXY UNKNOWN\rx"), ErrProxyV1CRLF},
		{"v1-udp4", []byte("PROXY UDP4 1.2.3.4 1.2.3.5 1 2\r\n"), ErrProxyV1Protocol},
		{"v1-empty-proto", []byte("PROXY \r\n"), ErrProxyV1Protocol},
		{"v1-three-fields", []byte("PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n"), ErrProxyV1Fields},
		{"v1-five-fields", []byte("PROXY TCP4 1.2.3.4 1.2.3.5 1 2 3\r\n"), ErrProxyV1Fields},
		{"v1-double-space", []byte("PROXY TCP4 1.2.3.4  1.2.3.5 1 2\r\n"), ErrProxyV1Fields},
		{"v1-trailing-space", []byte("PROXY TCP4 1.2.3.4 1.2.3.5 1 2 \r\n"), ErrProxyV1Fields},
		{"v1-leading-zero-ip", []byte("PROXY TCP4 1.2.3.04 1.2.3.5 1 2\r\n"), ErrProxyV1Address},
		{"v1-family-mismatch", []byte("PROXY TCP4 ::1 1.2.3.5 1 2\r\n"), ErrProxyV1Address},
		{"v1-v4-in-tcp6", []byte("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), ErrProxyV1Address},
		{"v1-zone", []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), ErrProxyV1Address},
		{"v1-short-v6", []byte("PROXY TCP6 1:2:3 ::1 1 2\r\n"), ErrProxyV1Address},
		{"v1-port-leading-zero", []byte("PROXY TCP4 1.2.3.4 1.2.3.5 01 2\r\n"), ErrProxyV1Port},
		{"v1-port-too-big", []byte("PROXY TCP4 1.2.3.4 1.2.3.5 1 65536\r\n"), ErrProxyV1Port},
		{"v1-port-sign", []byte("PROXY TCP4 1.2.3.4 1.2.3.5 +1 2\r\n"), ErrProxyV1Port},
		{"v2-bad-signature", []byte{0x0D, 0x0A, 0x0D, 0x0A, 0x01}, ErrProxySignature},
		{"v2-version-1", proxyV2(0x11, 0x11, tcp4), ErrProxyV2Version},
		{"v2-version-3", proxyV2(0x31, 0x11, tcp4)[:13], ErrProxyV2Version},
		{"v2-command-2", proxyV2(0x22, 0x11, tcp4)[:13], ErrProxyV2Command},
		{"v2-family-4", proxyV2(0x21, 0x41, tcp4)[:14], ErrProxyV2Family},
		{"v2-protocol-3", proxyV2(0x21, 0x13, tcp4), ErrProxyV2Family},
		{"v2-unspec-stream", proxyV2(0x21, 0x01, tcp4), ErrProxyV2Family},
		{"v2-inet-unspec", proxyV2(0x21, 0x10, tcp4), ErrProxyV2Family},
		{"v2-tcp4-short", proxyV2(0x21, 0x11, tcp4[:11]), ErrProxyV2Length},
		{"v2-tcp6-short", proxyV2(0x21, 0x21, tcp4), ErrProxyV2Length},
		{"v2-unix-short", proxyV2(0x21, 0x31, make([]byte, 215)), ErrProxyV2Length},
		{"v2-tlv-truncated-head", proxyV2(0x21, 0x11, tcp4, []byte{1, 0}), ErrProxyV2TLV},
		{"v2-tlv-overruns", proxyV2(0x21, 0x11, tcp4, []byte{1, 0, 5, 'a'}), ErrProxyV2TLV},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, hdr, err := ParseProxy(c.in)
			if err != c.want || n != 0 || hdr != (ProxyHeader{}) {
				t.Fatalf("ParseProxy(%q) = %d, %+v, %v; want %v", c.in, n, hdr, err, c.want)
			}
			var pe *ProxyError
			if !errors.As(err, &pe) || pe.Reason() != c.want.Reason() {
				t.Fatalf("reason: %v", err)
			}
			seen[c.want.Reason()] = true
		})
	}
	for _, e := range ProxyErrors {
		if !seen[e.Reason()] {
			t.Errorf("no malformed case yields %s", e.Reason())
		}
	}
}

// TestProxyReasonsDistinct checks each error has its own label.
func TestProxyReasonsDistinct(t *testing.T) {
	labels := map[string]bool{}
	for _, e := range ProxyErrors {
		if labels[e.Reason()] || e.Reason() == "" || e.Error() == "" {
			t.Fatalf("duplicate or empty reason %q", e.Reason())
		}
		labels[e.Reason()] = true
	}
}

// TestProxyRejectsEarly: garbage is refused from the first byte that
// cannot belong to a header, without waiting for more.
func TestProxyRejectsEarly(t *testing.T) {
	for _, in := range []string{"\x10", "PR0", "\r\n\r\n\x00\r\nX", "PROXY X", "PROXY TCP5", "PROXY UNKNOWNX", "\r\n\r\n\x00\r\nQUIT\n\x31"} {
		if _, _, err := ParseProxy([]byte(in)); err == ErrProxyNeedMore || err == nil {
			t.Errorf("%q: %v, want a refusal", in, err)
		}
	}
}

// TestProxyV2RandomRoundTrip builds random TCP4/TCP6 v2 headers with random
// TLVs (a reference encoder) and checks the parse, fed in random pieces.
func TestProxyV2RandomRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		var a, b [16]byte
		for j := range a {
			a[j], b[j] = byte(r.Uint32()), byte(r.Uint32())
		}
		src := netip.AddrPortFrom(netip.AddrFrom16(a), uint16(r.Uint32()))
		dst := netip.AddrPortFrom(netip.AddrFrom16(b), uint16(r.Uint32()))
		fam := byte(0x21)
		if i%2 == 0 {
			src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[:4])), src.Port())
			dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), dst.Port())
			fam = 0x11
		}
		var tlvs []byte
		for k := r.IntN(4); k > 0; k-- {
			tlvs = append(tlvs, tlv(byte(r.Uint32()), make([]byte, r.IntN(40)))...)
		}
		in := proxyV2(0x21, fam, v2Inet(src, dst), tlvs)
		want := ProxyHeader{2, ProxyForward, src, dst}
		stream := append(append([]byte(nil), in...), mqttConnect...)
		have := 0
		for {
			have = min(len(stream), have+1+r.IntN(20))
			n, hdr, err := ParseProxy(stream[:have])
			if err == ErrProxyNeedMore {
				if have >= len(in) {
					t.Fatalf("need more with %d of %d bytes", have, len(in))
				}
				continue
			}
			if err != nil || n != len(in) || hdr != want {
				t.Fatalf("got %d %+v %v, want %d %+v", n, hdr, err, len(in), want)
			}
			break
		}
	}
}

// TestProxyAllocs: a successful parse allocates nothing, v1 and v2, nor
// does an incomplete one, nor Trusted.
func TestProxyAllocs(t *testing.T) {
	for _, g := range goldenProxy {
		if a := testing.AllocsPerRun(100, func() { _, _, _ = ParseProxy(g.in) }); a != 0 {
			t.Errorf("%s: %.1f allocs per header", g.name, a)
		}
	}
	for _, g := range goldenProxy[:8] {
		for i := 0; i < len(g.in); i += 7 {
			if a := testing.AllocsPerRun(20, func() { _, _, _ = ParseProxy(g.in[:i]) }); a != 0 {
				t.Errorf("%s prefix %d: %.1f allocs", g.name, i, a)
			}
		}
	}
	trust, _ := ParseProxyTrust([]string{"10.0.0.0/8", "2001:db8::/32"})
	a := netip.MustParseAddr("::ffff:10.1.2.3")
	if n := testing.AllocsPerRun(100, func() { _ = trust.Trusted(a) }); n != 0 {
		t.Errorf("Trusted: %.1f allocs", n)
	}
}

// TestProxyTrust covers CIDRs, bare addresses, mapped forms, the zero
// value, and errors that name the bad entry.
func TestProxyTrust(t *testing.T) {
	var zero ProxyTrust
	if zero.Trusted(netip.MustParseAddr("127.0.0.1")) {
		t.Fatal("zero ProxyTrust trusts")
	}
	tr, err := ParseProxyTrust([]string{"10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::ffff:172.16.0.0/108", "10.1.2.3/8"})
	if err != nil || tr.Len() != 5 {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"10.255.0.1": true, "::ffff:10.0.0.1": true, "11.0.0.1": false,
		"192.168.1.7": true, "192.168.1.8": false,
		"2001:db8:1::5": true, "2001:db9::1": false,
		"172.16.3.4": true, "172.32.0.1": false, "::1": false,
	} {
		if got := tr.Trusted(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Trusted(%s) = %v, want %v", addr, got, want)
		}
	}
	for _, bad := range []string{"10.0.0/8", "10.0.0.0/33", "fe80::1%eth0", "", "host.example"} {
		_, err := ParseProxyTrust([]string{"10.0.0.0/8", bad})
		var te *TrustError
		if !errors.As(err, &te) || te.Index != 1 || te.Entry != bad ||
			!strings.Contains(err.Error(), `listeners.proxy_trusted[1] "`+bad+`"`) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestProxyOverSocket sends headers through a real loopback TCP socket one
// byte per write (TCP_NODELAY) and parses what each read returns, the way
// an event loop sees the stream: the header completes exactly once and the
// MQTT bytes after it are left for the next layer.
func TestProxyOverSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, g := range []int{0, 4, 7} {
		g := goldenProxy[g]
		t.Run(g.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			s, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
			go func() {
				stream := append(append([]byte(nil), g.in...), mqttConnect...)
				for i := range stream {
					if _, err := c.Write(stream[i : i+1]); err != nil {
						return
					}
				}
			}()
			var buf []byte
			chunk := make([]byte, 64)
			for {
				k, err := s.Read(chunk)
				if err != nil && err != io.EOF {
					t.Fatal(err)
				}
				buf = append(buf, chunk[:k]...)
				n, hdr, perr := ParseProxy(buf)
				if perr == ErrProxyNeedMore {
					continue
				}
				if perr != nil || n != len(g.in) || hdr != g.want {
					t.Fatalf("got %d %+v %v", n, hdr, perr)
				}
				if src := hdr.Source(netip.MustParseAddrPort("127.0.0.1:5")); g.want.Command == ProxyForward && src != g.want.Src {
					t.Fatalf("Source = %v", src)
				}
				rest := buf[n:]
				for len(rest) < len(mqttConnect) {
					k, err := s.Read(chunk)
					if err != nil {
						t.Fatal(err)
					}
					rest = append(rest, chunk[:k]...)
				}
				if !bytes.Equal(rest, mqttConnect) {
					t.Fatalf("after header: %x", rest)
				}
				return
			}
		})
	}
}

// TestProxySourceLocal: LOCAL and UNKNOWN keep the real address.
func TestProxySourceLocal(t *testing.T) {
	real := netip.MustParseAddrPort("10.0.0.1:1234")
	if got := (ProxyHeader{Version: 2}).Source(real); got != real {
		t.Fatal(got)
	}
	if got := (ProxyHeader{2, ProxyForward, ap4a, ap4b}).Source(real); got != ap4a {
		t.Fatal(got)
	}
	if ProxyLocal.String() != "local" || ProxyForward.String() != "proxy" {
		t.Fatal("String")
	}
}
