package gateway

// PROXY protocol (listeners.proxy_protocol): the header a balancer sends
// before anything else on every listener (tcp, ws, tls, wss), read on the
// loop from gnet's inbound buffer before the WebSocket upgrade, the TLS
// handshake or the CONNECT see a byte. Loop-only.

import (
	"errors"

	"github.com/panjf2000/gnet/v2"

	"edgegw/gateway/listener"
)

// proxyAdmit decides at OnOpen whether gc's peer may send a PROXY header
// at all (listeners.proxy_trusted): any other peer is closed at once, before
// any state exists, and counted (haproxy doc/proxy-protocol.txt section 2:
// the receiver must not guess whether a header is present). It reports
// true when gc may go on (or PROXY is off).
func (l *loop) proxyAdmit(gc gnet.Conn) bool {
	p := l.g.prot
	if !p.proxy {
		return true
	}
	if p.trust.Trusted(peerAddr(gc.RemoteAddr()).Addr()) {
		return true
	}
	p.m.proxyUntrust.Inc()
	l.st.closed[closeProtocol]++
	logClose(l.g.log, "", gc.RemoteAddr(), closeProtocol, 0, errProxyUntrusted)
	return false
}

var errProxyUntrusted = errors.New("PROXY header expected from a peer outside listeners.proxy_trusted")

// readProxy consumes c's PROXY header from the inbound buffer when one is
// expected. It reports whether reading may go on: false while the header
// is incomplete (the bytes stay buffered; the CONNECT timeout bounds the
// wait) or when a malformed header closed c. The header may arrive in
// pieces: ParseProxy is called again with the whole buffered prefix.
func (c *conn) readProxy() bool {
	l := c.l
	gd := l.guards[c]
	if gd == nil || !gd.proxyWait {
		return true
	}
	gc := c.gc
	n := gc.InboundBuffered()
	if n == 0 {
		return false
	}
	buf, _ := gc.Peek(min(n, listener.MaxProxyV2))
	size, hdr, err := listener.ParseProxy(buf)
	if errors.Is(err, listener.ErrProxyNeedMore) {
		if n >= listener.MaxProxyV2 { // cannot happen: ParseProxy bounds both versions
			l.g.prot.m.proxyTooLong.Inc()
			c.kick(0, closeProtocol, err)
		}
		return false
	}
	if err != nil {
		var pe *listener.ProxyError
		if errors.As(err, &pe) && l.g.prot.m.proxy[pe] != nil {
			l.g.prot.m.proxy[pe].Inc()
		}
		c.kick(0, closeProtocol, err)
		return false
	}
	_, _ = gc.Discard(size)
	gd.proxyWait = false
	gd.src = hdr.Source(peerAddr(gc.RemoteAddr()))
	return gc.InboundBuffered() > 0
}
