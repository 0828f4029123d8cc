package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"edgegw/mqttcodec"
	"edgegw/session"
)

type connState uint8

const (
	stConnecting connState = iota // waiting for CONNECT
	stWaiting                     // CONNECT accepted, waiting for its verdict (authwait.go) or its session handed over from another loop
	stConnected                   // session attached
	stClosing                     // close requested; input ignored
)

// conn is one client connection. Loop-only: touched only on the loop that
// owns the socket.
type conn struct {
	gc         gnet.Conn
	l          *loop
	rec        *sessionRec  // attached session; nil before CONNECT completes
	out        *session.Out // pending writes of this wake; nil when none (from the loop's pool)
	lastActive int64        // unix nanos of the last inbound traffic (keep alive), or of the open
	wheelAt    int64
	slot       atomic.Int32 // index in loop.conns; -1 once removed at close (gone, readable from any loop)
	withheld   int32        // this publisher's PUBACK/PUBREC parked by backpressure
	state      connState
	version    mqttcodec.Version
	reason     closeReason
	dirty      bool
	paused     bool   // v3: decoding stopped while receive_maximum acks are withheld
	stalled    bool   // listed in loop.stalled: decoding stops while its replies are over budget (replybound.go)
	closed     bool   // OnClose ran
	detached   bool   // session handling for the close is done
	reading    bool   // inside read (framing loop) for this connection
	ws         bool   // arrived on the WebSocket or WSS listener (state in loop.ws)
	tls        bool   // arrived on the TLS or WSS listener (state in loop.tls)
	pumping    bool   // listed in loop.pump (queued messages wait for output budget)
	bridge     bool   // CONNECT level 0x83/0x84: its subscriptions are no-local, retain-as-published (subscribe.go)
	coalescing bool   // listed in loop.co: its out holds deliveries for engine.flush_delay (coalesce.go)
	keepAlive  uint16 // negotiated keep alive, seconds; 0 = none
}

// kaNanos is the keep-alive deadline after the last packet: 1.5 x keep
// alive [MQTT-3.1.2-24]; 0 = none.
func (c *conn) kaNanos() int64 { return int64(c.keepAlive) * 1_500_000_000 }

// o returns c's pending-write buffer, taking one from the loop's pool.
//
// The buffer's Limit is what is left of limits.max_outbound_bytes after what
// gnet still holds for c: the session queues messages past it (see pump.go).
func (c *conn) o() *session.Out {
	if c.out == nil {
		c.out = c.l.getOut()
		room := c.l.g.cfg.Limits.MaxOutboundBytes
		if !c.closed {
			room -= c.gc.OutboundBuffered()
		}
		c.out.Limit = max(1, room)
	}
	return c.out
}

// pending is the number of bytes waiting in c.out.
func (c *conn) pending() int {
	if c.out == nil {
		return 0
	}
	return c.out.Bytes
}

func (c *conn) slotAt() *int64 { return &c.wheelAt }

// gone reports whether c was closed and removed from its loop. Safe from
// any loop: a takeover on the session's owner drops the claim of a
// connection that is gone (takeover.go).
func (c *conn) gone() bool { return c.slot.Load() < 0 }

// ownedBy is always true: a connection never leaves its loop.
func (c *conn) ownedBy(*loop) bool { return true }

// fire enforces the keep alive [MQTT-3.1.2-24] and limits.retry_interval
// (the CONNECT timeout is loop.expireConnecting).
func (c *conn) fire(l *loop, now int64) int64 {
	switch c.state {
	case stClosing:
		return c.lingerFire(now) // linger.go
	case stConnected:
		var next int64
		if c.keepAlive > 0 {
			dl := c.lastActive + c.kaNanos()
			if now >= dl {
				c.kick(mqttcodec.KeepAliveTimeout, closeKeepAlive, nil)
				return 0
			}
			next = dl
		}
		if iv := int64(l.g.cfg.Limits.RetryInterval.D()); iv > 0 && c.rec != nil && c.rec.st.Inflight() > 0 {
			var ss session.SendStats
			if r := c.rec.st.Resend(now, iv, c.o(), &ss); r > 0 && (next == 0 || r < next) {
				next = r
			}
			l.countSend(ss)
			c.settle()
		}
		return next
	}
	return 0
}

// armRetry makes sure c's timer fires for limits.retry_interval while it
// has unacknowledged outbound messages (v3 only; see session.Resend).
func (c *conn) armRetry() {
	iv := int64(c.l.g.cfg.Limits.RetryInterval.D())
	if iv > 0 && c.version != mqttcodec.V5 && c.rec.st.Inflight() > 0 {
		c.l.wheel.schedule(c, c.l.now+iv)
	}
}

// read frames packets from the borrowed inbound buffer, at most
// engine.max_packets_per_wake per wake.
func (c *conn) read() gnet.Action {
	gc, l := c.gc, c.l
	switch {
	case c.state == stClosing || c.closed:
		if !c.closed {
			c.lingerRead(gc.InboundBuffered()) // bounded (linger.go)
		}
		_, _ = gc.Discard(-1)
		return gnet.None
	case c.state == stWaiting || c.paused || c.held():
		// The client is sending (its PINGREQ may be among the bytes we hold
		// back): a publisher paused by backpressure, or a client whose
		// replies wait unread (replybound.go), must not be closed as
		// keep-alive timed out.
		c.lastActive = l.now
		if gc.InboundBuffered() > l.inboundBound() {
			c.kick(0, closeInboundOverflow, nil)
		}
		return gnet.None
	}
	c.lastActive = l.now
	if c.state == stConnecting && l.guards != nil && !c.readProxy() {
		return gnet.None // the PROXY header first (proxy.go)
	}
	if c.rec != nil && c.rec.has(recInCong) {
		l.checkDrained(c.rec)
	}
	c.reading = true
	defer func() { c.reading = false }()
	if c.tls {
		return c.readTLS()
	}
	if c.ws {
		return c.readWS((*gnetSource)(c))
	}
	if c.frames((*tcpSource)(c)) == stopBudget {
		_ = gc.Wake(nil) // budget spent: let the others run, come back later
	}
	return gnet.None
}

// handle applies one frame. It returns true when reading must stop (closing,
// waiting for a session, paused).
func (c *conn) handle(frame []byte) bool {
	l := c.l
	t := mqttcodec.TypeOf(frame)
	l.st.pktIn[t&15]++
	if c.state == stConnecting {
		c.onConnect(frame)
		return c.state != stConnected
	}
	if t == mqttcodec.PUBLISH && l.g.draining.Load() {
		l.g.m.drainRefused.Inc() // not acknowledged: the publisher resends it elsewhere (drain.go)
		return false
	}
	var gd *guard
	if t == mqttcodec.PUBLISH {
		var ok bool
		if gd, ok = c.publishGuard(len(frame)); !ok { // aclcheck.go
			return true
		}
	}
	rec := c.rec
	st := rec.st
	before := c.pending()
	ev, err := st.Handle(frame, &l.scratch, l.now, c.o())
	if err != nil {
		c.violation(err)
		return true
	}
	switch ev.Kind {
	case session.EvPublish:
		if ev.Msg != nil && c.mayPublish(gd, &ev) {
			l.publish(ev.Msg, rec, c, ev.QoS, ev.PacketID)
		}
		// v3 has no receive maximum: stop reading a publisher that has
		// receive_maximum acknowledgements parked (resumed by sendAck).
		if c.version != mqttcodec.V5 && c.withheld >= int32(l.g.lim.ReceiveMaximum) {
			c.paused = true
			l.st.paused++
		}
	case session.EvAcked:
		l.countSend(ev.Sent)
	case session.EvPing:
		l.st.pktOut[mqttcodec.PINGRESP]++
	case session.EvSubscribe:
		if !c.subscribe() {
			return true
		}
	case session.EvUnsubscribe:
		c.unsubscribe()
	case session.EvDisconnect:
		// [MQTT-3.14.4-3] only a normal DISCONNECT (0x00) discards the will;
		// v5 0x04 and every error reason code publish it [MQTT-3.1.2-8].
		c.reason = closeClient
		c.state = stClosing
		c.logClose(closeClient, ev.Reason, nil)
		c.detach(ev.Reason != mqttcodec.Success, false)
		c.closeSocket()
	}
	if c.coalescing && c.pending() == before {
		c.wantPump() // no reply: held deliveries keep waiting (coalesce.go)
	} else {
		c.settle()
	}
	return c.state != stConnected || c.paused
}

// settle schedules a flush when c has pending bytes, or returns an unused
// write buffer to the pool (idle connections hold none).
func (c *conn) settle() {
	c.wantPump()
	if c.pending() > 0 {
		c.markDirty()
	} else if c.out != nil && !c.dirty {
		c.l.putOut(c.out)
		c.out = nil
	}
}

// markDirty schedules c for the end-of-wake writev.
func (c *conn) markDirty() {
	if !c.dirty {
		c.dirty = true
		c.l.dirty = append(c.l.dirty, c)
	}
}

// flush writes c's pending segments with writev (chunks of at most 1024).
func (c *conn) flush() {
	o := c.out
	if o == nil {
		return
	}
	// o is flush's from here on: a failed write closes c synchronously
	// (gnet runs OnClose inside Writev), and onClose must not return o to
	// the pool too, or two connections would later share one buffer.
	c.out = nil
	l := c.l
	if !c.closed {
		l.st.bytesOut += uint64(o.Bytes)
		if o.Bytes > 0 {
			l.st.flushes[l.co.trigger()]++
		}
		iov := o.Iov
		if c.ws && o.Bytes > 0 {
			iov = c.wsFrame(iov, o.Bytes)
		}
		for len(iov) > 0 && !c.closed {
			k := min(len(iov), 1024)
			c.writev(iov[:k]) // sealed into TLS records for TLS
			iov = iov[k:]
		}
		if c.tls && c.state == stClosing {
			c.tlsNotify() // behind the last packets (the v5 DISCONNECT)
		}
	}
	l.putOut(o)
	if c.state == stClosing {
		c.lingerFlushed() // the reason is out: FIN, then lingering (linger.go)
	}
	if c.rec != nil && c.rec.has(recInCong) && c.rec.conn == c {
		l.checkDrained(c.rec)
	}
}

// over reports whether c is a slow consumer (slow_consumer_policy): the
// bytes written toward its socket and not yet taken by the kernel are past
// limits.max_outbound_bytes, or together with its session's queue they are
// while that queue waits for the client's acknowledgements (the inflight
// window is full). A queue that waits only for output budget (retained
// messages of a SUBSCRIBE, a resumed offline queue) goes out as the socket
// drains (pump.go) and does not make c slow.
func (c *conn) over() bool {
	max, n := c.l.g.cfg.Limits.MaxOutboundBytes, c.writeBacklog()
	if n > max {
		return true
	}
	if c.rec == nil || c.rec.st == nil {
		return false
	}
	_, b := c.rec.st.Queued()
	return b > 0 && n+b > max && !c.rec.st.CanSend()
}

// violation closes c for a protocol violation: v5 DISCONNECT with the
// error's reason code, v3 plain close; the will is published.
func (c *conn) violation(err error) {
	rc := mqttcodec.ReasonOf(err)
	c.kick(rc, closeReasonOf(rc), err)
}

// kick closes c from the server side: v5 DISCONNECT with rc (when rc != 0
// and the CONNECT was accepted), the session detached (will published
// unless shutting down or taken over with a will delay), logged once,
// counted by reason in OnClose.
func (c *conn) kick(rc mqttcodec.ReasonCode, reason closeReason, err error) {
	c.kickRef(rc, reason, err, "")
}

func (c *conn) kickRef(rc mqttcodec.ReasonCode, reason closeReason, err error, serverRef string) {
	if c.state == stClosing || c.closed {
		return
	}
	l := c.l
	if rc != 0 && c.version == mqttcodec.V5 && c.state == stConnected {
		session.AppendDisconnect(c.o(), c.version, rc, serverRef)
		l.st.pktOut[mqttcodec.DISCONNECT]++
		c.markDirty()
	}
	wasConnected := c.state == stConnected
	told := rc != 0 && c.version == mqttcodec.V5 && wasConnected
	c.state = stClosing
	c.reason = reason
	c.logClose(reason, rc, err)
	if wasConnected {
		c.detach(reason != closeShutdown, reason == closeTakeover)
	}
	if c.ws {
		c.wsClose() // the WebSocket close frame, after the DISCONNECT (RFC 6455 7.1.2)
	}
	if told {
		c.closeTold() // FIN after the DISCONNECT, then a bounded linger (linger.go)
		return
	}
	c.closeSocket()
}

// closeSocket has gnet close c's socket once pending writes are flushed.
// (Returning gnet.Close from OnTraffic when the close is decided while
// reading would save a queued closure per close, but broke the slow-consumer
// DISCONNECT 0x97 in TestSlowConsumerDisconnect; not pursued.)
func (c *conn) closeSocket() {
	c.unhold() // held deliveries go before the close (coalesce.go)
	if c.tls && c.pending() == 0 {
		c.tlsNotify() // with pending bytes, flush sends it behind them
	}
	_ = c.gc.Close()
}

// logClose logs c's close once, with its client ID and address.
func (c *conn) logClose(reason closeReason, rc mqttcodec.ReasonCode, err error) {
	id := c.l.refusing // a refused CONNECT's client ID (refuse)
	if c.rec != nil {
		id = c.rec.id
	}
	if t := c.l.tls[c]; c.tls && t != nil && t.user != "" {
		// The client certificate's identity (listeners.tls_username_from).
		logClose(c.l.g.log, id, c.remoteAddr(), reason, rc, err, slog.String("tls_user", t.user))
		return
	}
	logClose(c.l.g.log, id, c.remoteAddr(), reason, rc, err)
}

// logClose logs one connection close: violations at warn, the ordinary
// ends of a connection at info. Called once per close, never per packet.
// An ordinary close allocates once (the address text): a disconnect storm
// of N clients must not leave N x hundreds of bytes of garbage on a heap
// that no GC cycle is about to collect (see BenchmarkIdleConnections).
func logClose(lg *slog.Logger, id string, remote net.Addr, reason closeReason, rc mqttcodec.ReasonCode, err error, extra ...slog.Attr) {
	lvl := slog.LevelWarn
	switch reason {
	case closeClient, closeNetwork, closeShutdown, closeTakeover, closeConnectTimeout, closeKeepAlive, closeConnLimit:
		lvl = slog.LevelInfo
	}
	if !lg.Enabled(context.Background(), lvl) {
		return
	}
	var attrs [7]slog.Attr
	attrs[0] = slog.String("client_id", id)
	attrs[1] = slog.String("addr", addrText(remote))
	attrs[2] = slog.String("reason", reason.String())
	n := 3
	if rc != 0 {
		attrs[n] = slog.String("code", hexByte(byte(rc)))
		n++
	}
	if err != nil {
		attrs[n] = slog.String("err", err.Error())
		n++
	}
	n += copy(attrs[n:], extra)
	lg.LogAttrs(context.Background(), lvl, "closing client connection", attrs[:n]...)
}

// addrText formats a remote address as "ip:port" with one allocation (the
// string) for TCP addresses; net.TCPAddr.String takes several.
func addrText(a net.Addr) string {
	switch a := a.(type) {
	case nil:
		return ""
	case *net.TCPAddr:
		if a == nil {
			return ""
		}
		var buf [64]byte
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return a.String()
		}
		return string(netip.AddrPortFrom(ip.Unmap().WithZone(a.Zone), uint16(a.Port)).AppendTo(buf[:0]))
	default:
		return a.String()
	}
}

// onClose runs when gnet closed the socket (any cause); err is gnet's
// (nil for EOF). A close we did not start is logged here.
func (c *conn) onClose(err error) {
	l := c.l
	l.begin()
	c.closed = true
	if c.state != stClosing {
		c.reason = closeNetwork
		c.logClose(closeNetwork, 0, err)
		if c.state == stConnected {
			c.detach(true, false) // abnormal close: the will is published [MQTT-3.1.2-8]
		}
		c.state = stClosing
	}
	l.st.closed[c.reason]++
	c.endLinger(lingerEOF)
	l.g.m.conns.Add(-1)
	if l.guards != nil {
		l.dropGuard(c) // guard.go: the user slot is given back
	}
	l.delConn(c)
	if c.ws {
		if w := l.ws[c]; w != nil {
			w.rd.Release() // a compressed message cut by the close (wsdeflate.go)
		}
		delete(l.ws, c)
	}
	if c.tls {
		if t := l.tls[c]; t != nil {
			t.rec.Close() // a handshake in progress is abandoned
		}
		delete(l.tls, c)
	}
	if c.out != nil && !c.dirty {
		l.putOut(c.out)
		c.out = nil
	}
	l.end()
}
