package listener

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"unsafe"
)

// PROXY protocol limits (haproxy doc/proxy-protocol.txt, sections 2.1 and 2.2).
const (
	// MaxProxyV1 is the longest v1 line including CRLF (2.1: "PROXY UNKNOWN"
	// with two full IPv6 addresses and ports).
	MaxProxyV1 = 107
	// ProxyV2HeaderLen is the fixed part of a v2 header: signature,
	// version/command, family/protocol, length (2.2).
	ProxyV2HeaderLen = 16
	// MaxProxyV2 is the longest v2 header: the fixed part and a 16-bit length.
	MaxProxyV2 = ProxyV2HeaderLen + 0xffff
)

// proxyV2Sig is the v2 signature (2.2).
var proxyV2Sig = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// proxyV1Sig is the v1 line's start ("PROXY" and exactly one space).
const proxyV1Sig = "PROXY "

// ProxyCommand is what a PROXY header asks of the receiver.
type ProxyCommand uint8

const (
	// ProxyLocal: use the real connection's addresses (v2 LOCAL, v1 UNKNOWN,
	// and the families this receiver does not map to an IP: UNSPEC, UNIX,
	// DGRAM; 2.2 "falls back to the UNSPEC mode").
	ProxyLocal ProxyCommand = iota
	// ProxyForward: Src and Dst are the original client's connection.
	ProxyForward
)

// String returns "local" or "proxy".
func (c ProxyCommand) String() string {
	if c == ProxyForward {
		return "proxy"
	}
	return "local"
}

// ProxyHeader is a parsed PROXY protocol header. It is a plain value that
// holds no reference to the parsed bytes.
type ProxyHeader struct {
	Version uint8        // 1 or 2
	Command ProxyCommand // ProxyLocal: Src and Dst are the zero AddrPort
	// Src and Dst are the original client and the address it connected to,
	// as sent (an IPv4-mapped IPv6 address stays mapped; call Unmap for a
	// limit key). Valid only with ProxyForward.
	Src, Dst netip.AddrPort
}

// Source returns the client address to use for limits, ACLs, bans and
// logs: the header's source when it forwards one, else real (the socket's
// peer address).
func (h ProxyHeader) Source(real netip.AddrPort) netip.AddrPort {
	if h.Command == ProxyForward {
		return h.Src
	}
	return real
}

// ParseProxy parses the PROXY protocol header (v1 or v2) at the start of
// buf, the borrowed prefix of a connection's inbound stream. It reads no
// byte past the header: on success n is the header's length and buf[n:] is
// the first byte of the proxied protocol (MQTT, TLS, HTTP). While buf holds a
// valid but incomplete header it returns ErrProxyNeedMore: call again with
// the whole buffered prefix when more bytes arrive. A v2 header is at most
// MaxProxyV2 bytes, a v1 line at most MaxProxyV1. Any other error is a
// *ProxyError (malformed header): close the connection and count
// err.(*ProxyError).Reason(); n is 0 and hdr the zero value with any error.
// Bytes that cannot start a header are refused as soon as they arrive (2.1
// "abort the connection as soon as possible").
//
// ParseProxy never keeps buf and is safe for concurrent use. It allocates
// nothing for a valid header or an incomplete one (TestProxyAllocs); a
// malformed v1 address costs netip's error value, once per refused
// connection.
func ParseProxy(buf []byte) (n int, hdr ProxyHeader, err error) {
	if len(buf) == 0 {
		return 0, hdr, ErrProxyNeedMore
	}
	switch buf[0] {
	case proxyV1Sig[0]:
		n, hdr, err = parseProxyV1(buf)
	case proxyV2Sig[0]:
		n, hdr, err = parseProxyV2(buf)
	default:
		err = ErrProxySignature
	}
	if err != nil {
		return 0, ProxyHeader{}, err
	}
	return n, hdr, nil
}

// parseProxyV1 parses a v1 text line (2.1).
func parseProxyV1(buf []byte) (int, ProxyHeader, error) {
	var hdr ProxyHeader
	k := min(len(buf), len(proxyV1Sig))
	if string(buf[:k]) != proxyV1Sig[:k] {
		return 0, hdr, ErrProxySignature
	}
	// The protocol is refused as soon as its bytes cannot be one of ours.
	if len(buf) > len(proxyV1Sig) {
		p := buf[len(proxyV1Sig):]
		p = p[:min(len(p), len("UNKNOWN "))]
		if !hasPrefixOf(p, "TCP4 ") && !hasPrefixOf(p, "TCP6 ") && !hasPrefixOf(p, "UNKNOWN ") && !hasPrefixOf(p, "UNKNOWN\r") {
			return 0, hdr, ErrProxyV1Protocol
		}
	}
	// The line ends at the first LF, which must follow a CR; a CR or LF
	// anywhere else is malformed (2.1: "must not tolerate a single CR or LF").
	scan := buf[:min(len(buf), MaxProxyV1)]
	end := -1
	for i, c := range scan {
		if c == '\n' {
			if i == 0 || scan[i-1] != '\r' {
				return 0, hdr, ErrProxyV1CRLF
			}
			end = i + 1
			break
		}
		if c == '\r' && i+1 < len(scan) && scan[i+1] != '\n' {
			return 0, hdr, ErrProxyV1CRLF
		}
	}
	if end < 0 {
		if len(buf) >= MaxProxyV1 {
			return 0, hdr, ErrProxyV1TooLong
		}
		return 0, hdr, ErrProxyNeedMore
	}
	line := buf[len(proxyV1Sig) : end-2]
	proto, rest, _ := bytes.Cut(line, []byte{' '})
	hdr.Version = 1
	switch string(proto) {
	case "UNKNOWN":
		// 2.1: the receiver ignores anything before the CRLF and uses
		// the real connection's addresses.
		return end, hdr, nil
	case "TCP4", "TCP6":
	default:
		return 0, hdr, ErrProxyV1Protocol
	}
	v6 := proto[3] == '6'
	var f [4][]byte
	for i := range f {
		var ok bool
		f[i], rest, ok = bytes.Cut(rest, []byte{' '})
		if ok != (i < 3) || len(f[i]) == 0 {
			return 0, hdr, ErrProxyV1Fields
		}
	}
	src, ok1 := parseV1Addr(f[0], v6)
	dst, ok2 := parseV1Addr(f[1], v6)
	if !ok1 || !ok2 {
		return 0, hdr, ErrProxyV1Address
	}
	sp, ok1 := parseV1Port(f[2])
	dp, ok2 := parseV1Port(f[3])
	if !ok1 || !ok2 {
		return 0, hdr, ErrProxyV1Port
	}
	hdr.Command = ProxyForward
	hdr.Src = netip.AddrPortFrom(src, sp)
	hdr.Dst = netip.AddrPortFrom(dst, dp)
	return end, hdr, nil
}

// hasPrefixOf reports whether p is a prefix of s or starts with s.
func hasPrefixOf(p []byte, s string) bool {
	k := min(len(p), len(s))
	return string(p[:k]) == s[:k]
}

// parseV1Addr parses an address of the announced family. netip's parser is
// strict where 2.1 is (no leading zeros in IPv4, 128 bits in IPv6); zones
// are refused. The string view over b does not outlive the call: ParseAddr
// keeps no reference to a zoneless input.
func parseV1Addr(b []byte, v6 bool) (netip.Addr, bool) {
	if bytes.IndexByte(b, '%') >= 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(unsafe.String(unsafe.SliceData(b), len(b)))
	if err != nil || a.Is6() != v6 {
		return netip.Addr{}, false
	}
	return a, true
}

// parseV1Port parses a decimal port in [0, 65535] without leading zeros (2.1).
func parseV1Port(b []byte) (uint16, bool) {
	if len(b) > 5 || (len(b) > 1 && b[0] == '0') {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v > 0xffff {
		return 0, false
	}
	return uint16(v), true
}

// v2 address block sizes (2.2): two addresses and, for INET, two ports.
const (
	v2LenInet  = 2*4 + 2*2
	v2LenInet6 = 2*16 + 2*2
	v2LenUnix  = 2 * 108
)

// parseProxyV2 parses a v2 binary header (2.2).
func parseProxyV2(buf []byte) (int, ProxyHeader, error) {
	var hdr ProxyHeader
	k := min(len(buf), len(proxyV2Sig))
	if !bytes.Equal(buf[:k], proxyV2Sig[:k]) {
		return 0, hdr, ErrProxySignature
	}
	if len(buf) > 12 {
		// Checked as soon as the byte is in, so that garbage is refused
		// before its length is.
		if buf[12]>>4 != 2 {
			return 0, hdr, ErrProxyV2Version
		}
		if cmd := buf[12] & 0x0f; cmd > 1 {
			return 0, hdr, ErrProxyV2Command
		}
	}
	if len(buf) > 13 && buf[12]&0x0f == 1 {
		// The family is ignored with LOCAL (2.2), so it is checked only
		// with PROXY: AF_UNSPEC..AF_UNIX, UNSPEC..DGRAM, and UNSPEC only
		// with UNSPEC.
		fam, proto := buf[13]>>4, buf[13]&0x0f
		if fam > 3 || proto > 2 || (fam == 0) != (proto == 0) {
			return 0, hdr, ErrProxyV2Family
		}
	}
	if len(buf) < ProxyV2HeaderLen {
		return 0, hdr, ErrProxyNeedMore
	}
	size := int(binary.BigEndian.Uint16(buf[14:16]))
	hdr.Version = 2
	if buf[12]&0x0f == 0 { // LOCAL: skip the block, whatever it holds
		if len(buf) < ProxyV2HeaderLen+size {
			return 0, hdr, ErrProxyNeedMore
		}
		return ProxyV2HeaderLen + size, hdr, nil
	}
	var need int
	switch buf[13] >> 4 {
	case 1:
		need = v2LenInet
	case 2:
		need = v2LenInet6
	case 3:
		need = v2LenUnix
	}
	if size < need {
		return 0, hdr, ErrProxyV2Length
	}
	if len(buf) < ProxyV2HeaderLen+size {
		return 0, hdr, ErrProxyNeedMore
	}
	block := buf[ProxyV2HeaderLen : ProxyV2HeaderLen+size]
	if need > 0 && !validTLVs(block[need:]) {
		return 0, hdr, ErrProxyV2TLV
	}
	n := ProxyV2HeaderLen + size
	if buf[13] != 0x11 && buf[13] != 0x21 {
		// UNSPEC, UNIX and DGRAM: this receiver serves TCP and maps only
		// TCP over IPv4/IPv6 to a client address; the others fall back to
		// UNSPEC mode, the real connection's addresses (2.2).
		return n, hdr, nil
	}
	hdr.Command = ProxyForward
	if buf[13] == 0x11 {
		src := netip.AddrFrom4([4]byte(block[0:4]))
		dst := netip.AddrFrom4([4]byte(block[4:8]))
		hdr.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(block[8:10]))
		hdr.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(block[10:12]))
	} else {
		src := netip.AddrFrom16([16]byte(block[0:16]))
		dst := netip.AddrFrom16([16]byte(block[16:32]))
		hdr.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(block[32:34]))
		hdr.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(block[34:36]))
	}
	return n, hdr, nil
}

// validTLVs reports whether b is a whole sequence of type-length-value
// records (2.2.1: one type byte, a 16-bit length, the value). Their contents
// are skipped: no TLV changes which address the gateway uses.
func validTLVs(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 3 {
			return false
		}
		l := 3 + int(binary.BigEndian.Uint16(b[1:3]))
		if l > len(b) {
			return false
		}
		b = b[l:]
	}
	return true
}

// ProxyTrust is the set of networks allowed to send a PROXY header
// (listeners.proxy_trusted). The zero value trusts nobody. It is immutable
// after ParseProxyTrust and safe for concurrent use.
type ProxyTrust struct {
	nets []netip.Prefix
}

// ParseProxyTrust parses CIDRs ("10.0.0.0/8", "2001:db8::/32") and bare
// addresses (one host) from the configuration. An error names the key and
// the bad entry: `listeners.proxy_trusted[1] "10.0.0/8": ...`.
func ParseProxyTrust(entries []string) (ProxyTrust, error) {
	var t ProxyTrust
	for i, s := range entries {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return ProxyTrust{}, &TrustError{Index: i, Entry: s, Err: err}
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 { // ::ffff:10.0.0.0/104 is 10.0.0.0/8
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		t.nets = append(t.nets, p.Masked())
	}
	return t, nil
}

// Trusted reports whether a (the socket's peer address) may send a PROXY
// header. An IPv4-mapped IPv6 peer matches IPv4 networks. It never allocates.
func (t ProxyTrust) Trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Len returns the number of trusted networks.
func (t ProxyTrust) Len() int { return len(t.nets) }
