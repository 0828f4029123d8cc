package gateway

import (
	"net"
	"time"

	"github.com/panjf2000/gnet/v2"

	"edgegw/gateway/listener"
	"edgegw/gateway/ws"
)

// handler is the gnet event handler. Every method but OnTick runs on the
// event loop that owns the connection; OnTick runs on gnet's ticker
// goroutine and only posts to inboxes.
type handler struct {
	gnet.BuiltinEventEngine
	g *Gateway
}

// OnBoot records the engine and signals Start.
func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.g.eng = eng
	close(h.g.booted)
	return gnet.None
}

// OnOpen creates the connection context on c's loop and arms the CONNECT
// timeout. New connections are refused while draining.
func (h *handler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	g := h.g
	l := g.loopOf(gc.EventLoop())
	refuse := closeReason(numCloseReasons)
	switch {
	case g.draining.Load():
		refuse = closeShutdown
	case g.m.conns.Load() >= g.maxConns:
		refuse = closeConnLimit
	}
	if refuse != numCloseReasons {
		// Refused before any state exists: OnClose sees no context, so the
		// close is counted and logged here.
		l.st.closed[refuse]++
		logClose(g.log, "", gc.RemoteAddr(), refuse, 0, nil)
		return nil, gnet.Close
	}
	if g.sock.UserTimeout > 0 {
		// Bounds how long data we sent may stay unacknowledged before the
		// kernel gives up (keepalive probes only run on an idle socket; a
		// vanished subscriber with messages in flight would otherwise be
		// retransmitted to for ~15 minutes, holding its queue and, under
		// backpressure, its publishers). gnet has no option for it and
		// creates its listening sockets itself (one per loop), so it is set
		// on each accepted socket: one system call per connection.
		_ = listener.SetUserTimeout(gc.Fd(), g.sock.UserTimeout)
		// The keepalive options come from the listener, except on sockets
		// accepted while gnet was still setting up its listeners.
		if a, ok := gc.LocalAddr().(*net.TCPAddr); ok {
			l.ka.Ensure(gc.Fd(), a.Port, g.sock.KeepAlive())
		}
	}
	if g.prot != nil && !l.proxyAdmit(gc) {
		return nil, gnet.Close // a PROXY header from a peer outside proxy_trusted (proxy.go)
	}
	l.begin()
	c := &conn{gc: gc, l: l, lastActive: l.now}
	if a, ok := gc.LocalAddr().(*net.TCPAddr); ok && a.Port != 0 {
		switch a.Port {
		case g.wsPort:
			c.ws = true
		case g.tlsPort:
			c.tls = true
		case g.wssPort:
			c.ws, c.tls = true, true
		}
	}
	if c.ws {
		l.ws[c] = &wsConn{hs: ws.Handshake{Path: g.cfg.Listeners.WSPath, Deflate: g.cfg.Listeners.WSDeflate}}
	}
	if c.tls {
		// The record layer wakes the loop (from a handshake goroutine) when
		// the handshake has output or ended: gnet runs OnTraffic, which
		// feeds it (readTLS). Wake of a closed connection is a no-op.
		l.tls[c] = &tlsConn{rec: g.tlsSrv.NewConn(func() { _ = gc.Wake(nil) })}
	}
	gc.SetContext(c)
	if g.prot != nil {
		l.newGuard(c) // guard.go
	}
	l.addConn(c)
	l.st.opened++
	g.m.conns.Add(1)
	c.wheelAt = l.now // open time, for the CONNECT timeout (the wheel is not used before CONNECT)
	l.connecting = append(l.connecting, c)
	l.end()
	return nil, gnet.None
}

// OnClose ends the connection's session (abnormal close: will published).
func (h *handler) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok || c == nil {
		return gnet.None
	}
	c.onClose(err)
	return gnet.None
}

// OnTraffic frames and applies inbound packets.
func (h *handler) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok || c == nil {
		return gnet.Close
	}
	l := c.l
	l.begin()
	act := c.read()
	l.end()
	return act
}

// OnTick posts one tick to every loop (one Execute per loop per tick).
func (h *handler) OnTick() (time.Duration, gnet.Action) {
	for _, l := range h.g.allLoops() {
		postNow(l, inItem{kind: inTick})
	}
	h.g.purgeRetained(time.Now().UnixNano())
	h.g.foldTLS()
	return h.g.cfg.Engine.TickInterval.D(), gnet.None
}
