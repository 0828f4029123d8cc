package gateway

import (
	"net"
	"net/netip"

	"edgegw/gateway/auth"
	"edgegw/gateway/limit"
)

// guard is one connection's protection state: the client address from its
// PROXY header, the verdict of its authentication while it travels back,
// its compiled ACL matcher, its hold on its user's connection count and its
// publish buckets. It lives in its loop's guards map from OnOpen to
// OnClose, only when Gateway.prot is set (conn stays at its 80 bytes,
// TestIdleSizes). Loop-only, except res, which the verifier's pool
// goroutine writes before it posts inAuth (the inbox lock orders the two).
type guard struct {
	src       netip.AddrPort   // the PROXY header's source; zero when none
	proxyWait bool             // the PROXY header has not been read yet
	user      string           // CONNECT user name (for the user slot and ACLs)
	res       auth.Result      // the verdict, written by the pool before inAuth
	acl       *auth.ACLMatcher // nil: everything allowed
	slot      limit.UserSlot   // max_connections_per_user; released at close
	pub       limit.Publish    // publish_rate_per_client / publish_bytes_per_client
}

// newGuard gives c its guard at OnOpen. Loop-only.
func (l *loop) newGuard(c *conn) *guard {
	if l.guards == nil {
		l.guards = map[*conn]*guard{}
	}
	gd := &guard{proxyWait: l.g.prot.proxy}
	l.guards[c] = gd
	return gd
}

// dropGuard forgets c's guard at close and gives back its user slot.
// Loop-only.
func (l *loop) dropGuard(c *conn) {
	gd := l.guards[c]
	if gd == nil {
		return
	}
	if p := l.g.prot; p.lim != nil {
		p.lim.Release(gd.slot)
	}
	delete(l.guards, c)
}

// peerAddr is the socket's remote address as a netip value (no allocation).
func peerAddr(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok && t != nil {
		if ip, ok := netip.AddrFromSlice(t.IP); ok {
			return netip.AddrPortFrom(ip.Unmap(), uint16(t.Port))
		}
	}
	return netip.AddrPort{}
}

// clientAddr is c's client address: the PROXY header's source when there
// was one, else the socket's peer. Loop-only.
func (c *conn) clientAddr() netip.AddrPort {
	if c.l.guards != nil {
		if gd := c.l.guards[c]; gd != nil && gd.src.IsValid() {
			return netip.AddrPortFrom(gd.src.Addr().Unmap(), gd.src.Port())
		}
	}
	return peerAddr(c.gc.RemoteAddr())
}

// remoteAddr is clientAddr as a net.Addr, for logs: the socket's own
// address unless a PROXY header named another. Loop-only.
func (c *conn) remoteAddr() net.Addr {
	if c.l.guards != nil {
		if gd := c.l.guards[c]; gd != nil && gd.src.IsValid() {
			return net.TCPAddrFromAddrPort(gd.src)
		}
	}
	return c.gc.RemoteAddr()
}
