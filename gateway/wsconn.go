package gateway

import (
	"bytes"
	"errors"
	"syscall"

	"github.com/panjf2000/gnet/v2"

	"edgegw/gateway/ws"
	"edgegw/mqttcodec"
)

// wsConn is the WebSocket state of a connection that arrived on the ws
// listener (MQTT over WebSocket, MQTT 5.0 section 6). Loop-only; kept in
// loop.ws so that TCP connections pay nothing for it.
type wsConn struct {
	hs       ws.Handshake
	rd       ws.Reader
	upgraded bool
	// closeSent: our close frame (or the echo of the client's) is written;
	// no data frame may follow it (RFC 6455 5.5.1).
	closeSent bool
	in        []byte // unmasked MQTT byte stream not yet framed (copied once from the frames)
	off       int    // bytes of in already framed and handled (see compact)
	ctrl      []byte // pong / close frames to send
	// code and why override the close frame's status and reason when the
	// WebSocket layer itself failed (ws.Reader's *CloseError); 0 = derived
	// from conn.reason by wsCloseCode.
	code ws.CloseCode
	why  string
	// end is why the client's stream ended (ws.ErrPeerClosed or a
	// *ws.CloseError), kept until the MQTT packets unframed before it are
	// handled (endWS); nil while it goes on.
	end error
}

// wsCloseCode is the WebSocket close status (RFC 6455 7.4.1) that goes with
// a close cause: 1001 when the server goes away, 1002 for protocol
// violations, 1009 for a packet over the limit, 1008 for policy limits, and
// 1000 when MQTT itself ended the connection in order (DISCONNECT, keep alive,
// takeover, refused CONNECT: the MQTT packet before it says why).
func wsCloseCode(r closeReason) ws.CloseCode {
	switch r {
	case closeShutdown:
		return ws.CloseGoingAway
	case closeProtocol, closeMalformed, closeReceiveMax, closeOtherViolation:
		return ws.CloseProtocolError
	case closeTooLarge:
		return ws.CloseTooBig
	case closeConnectTimeout, closeSlowConsumer, closeInboundOverflow, closeConnLimit:
		return ws.ClosePolicyViolation
	}
	return ws.CloseNormal
}

// wsClose sends c's WebSocket close frame once c is closing from the
// server side. When MQTT bytes are pending for this wake (the v5 DISCONNECT,
// a refused CONNACK) the frame is left to wsFrame, which writes it behind
// them; otherwise it is written now, before gnet's asynchronous Close runs.
// Loop-only; a no-op for TCP, before the upgrade, and after the first call.
func (c *conn) wsClose() {
	w := c.l.ws[c]
	if w == nil || !w.upgraded || w.closeSent || c.closed {
		return
	}
	if c.pending() > 0 {
		c.markDirty()
		return
	}
	w.closeSent = true
	l := c.l
	start := len(l.arena)
	l.arena = w.appendClose(l.arena, c.reason)
	c.write(l.arena[start:])
	c.wsShutdown()
}

// wsShutdown sends FIN right behind the close frame (shutdown SHUT_WR) when
// gnet holds nothing back. gnet closes the socket a little later, from its
// queue; by then the client's close echo may sit unread in the socket, and a
// close with unread data sends RST instead of FIN, which browsers report as
// an unclean close (CloseEvent.wasClean false) although the close frame
// arrived. With the FIN already sent, the client sees the orderly end first.
// The RFC's order holds: the server ends TCP first (RFC 6455 7.1.1).
func (c *conn) wsShutdown() {
	c.tlsNotify() // wss: TLS ends before TCP does
	if c.closed || c.gc.OutboundBuffered() > 0 {
		return // a write failed and closed c, or gnet flushes the rest before its close
	}
	_ = syscall.Shutdown(c.gc.Fd(), syscall.SHUT_WR)
}

// appendClose appends the close frame for cause r.
func (w *wsConn) appendClose(dst []byte, r closeReason) []byte {
	if w.code != 0 {
		return ws.AppendClose(dst, w.code, w.why)
	}
	return ws.AppendClose(dst, wsCloseCode(r), r.String())
}

// readWS is read for a WebSocket connection: the upgrade, then frames
// unmasked into w.in (feedWS), then MQTT packets framed from w.in exactly as
// on TCP, under the same budget and reply bound (replybound.go). The
// client's close frame, or a WebSocket violation, acts only after every
// whole MQTT packet before it is handled (endWS). Every close decided while
// reading ends with a WebSocket close frame after the last MQTT packet
// (wsClose). raw is the stream the WebSocket arrives on: gnet's inbound
// buffer (gnetSource) on ws, the TLS plaintext (tlsConn) on wss. Loop-only,
// inside OnTraffic.
func (c *conn) readWS(raw byteSource) gnet.Action {
	gc, l := c.gc, c.l
	w := l.ws[c]
	if w == nil {
		return gnet.Close
	}
	defer func() {
		if c.state == stClosing {
			c.wsClose()
		}
	}()
	if !w.upgraded {
		buf := raw.peek(raw.buffered())
		// A request with another method gets Feed's 405 (ws.ErrMethod) once its headers are in.
		if k := min(len(buf), 4); string(buf[:k]) != "GET "[:k] && !httpMethodPrefix(buf) {
			c.kick(0, closeProtocol, errNotUpgrade) // not HTTP: no need to wait for a request end
			return gnet.None
		}
		n, resp, err := w.hs.Feed(buf, nil)
		if errors.Is(err, ws.ErrNeedMore) {
			return gnet.None
		}
		c.write(resp) // 101, or the HTTP refusal
		if n > 0 {
			raw.discard(n) // gnet's Discard(n <= 0) drops everything buffered
		}
		if err != nil {
			c.kick(0, closeProtocol, err)
			return gnet.None
		}
		w.upgraded = true
		w.rd.MaxFrame = -1 // MQTT's own maximum packet size applies to the stream
		c.wsDeflateStart(w)
	}
	more := false // bytes left in gnet's buffer for a later wake to unframe
	if !w.rd.Done() && raw.buffered() > 0 {
		if c.repliesOver() {
			c.stall() // the pongs of what it sends would go unread too
			return gnet.None
		}
		more = c.feedWS(w, raw)
	}
	if len(w.in) > l.inboundBound() {
		c.kick(0, closeInboundOverflow, nil)
		return gnet.None
	}
	stop := c.frames(w)
	if !c.closed {
		w.compact()
	}
	switch stop {
	case stopBudget:
		_ = gc.Wake(nil) // budget spent: let the others run, come back later
		return gnet.None
	case stopHeld:
		return gnet.None // resumed by attach, sendAck or resumeStalled; a pending end waits too
	}
	// Every whole MQTT packet unframed so far is handled: only now may the
	// end of the stream act, so that [PUBLISH][DISCONNECT][close] in one
	// read delivers the PUBLISH and discards the will.
	if w.end != nil {
		c.endWS(w)
		return gnet.None
	}
	if more {
		_ = gc.Wake(nil)
	}
	return gnet.None
}

// wsConn is its connection's unmasked MQTT stream as a byteSource.
func (w *wsConn) buffered() int     { return len(w.in) - w.off }
func (w *wsConn) peek(n int) []byte { return w.in[w.off : w.off+n] }
func (w *wsConn) discard(n int)     { w.off += n }

// compact drops the framed bytes from in, and in itself once it is empty
// and large.
func (w *wsConn) compact() {
	if w.off > 0 {
		k := copy(w.in, w.in[w.off:])
		w.in, w.off = w.in[:k], 0
	}
	if cap(w.in) > 64<<10 && len(w.in) == 0 {
		w.in = nil
	}
}

// feedWS unframes up to engine.read_buffer_size bytes of raw (gnet's inbound
// buffer, or the TLS plaintext on wss) into w.in and writes the pongs they ask for; the chunk bounds the
// pongs one wake can write past the reply bound. A frame header or control
// frame cut by the read is left in gnet's buffer, unconsumed, until its rest
// arrives. A close frame or a WebSocket violation is kept in w.end for
// readWS to act on once the MQTT bytes before it are handled. It reports
// whether bytes it did not consume, beyond the chunk or past ws.Reader's
// inflate budget (wsdeflate.go), are left for another wake. Loop-only,
// inside OnTraffic (it peeks and discards c's inbound buffer).
func (c *conn) feedWS(w *wsConn, raw byteSource) (more bool) {
	l := c.l
	avail := raw.buffered()
	buf := raw.peek(min(avail, l.g.cfg.Engine.ReadBufferSize))
	n, in, ctrl, err := w.rd.Feed(buf, w.in, w.ctrl[:0])
	w.in, w.ctrl = in, ctrl
	l.wsInflated()
	if n > 0 {
		// Not Discard(0): gnet's Discard(n <= 0) drops everything buffered,
		// and a read that holds only the start of a header consumes nothing.
		raw.discard(n)
	}
	if !c.tls {
		l.st.bytesIn += uint64(n) // TLS counts the ciphertext (feedTLS)
	}
	var cerr *ws.CloseError
	switch {
	case err == nil:
	case err == ws.ErrPeerClosed:
		if c.pending() > 0 {
			c.flush() // held and unflushed messages go before the close echo (coalesce.go)
		}
		w.closeSent = true // ctrl ends with the echo of the client's close
	case errors.As(err, &cerr):
		// A WebSocket violation: ctrl ends with ws.Reader's close frame.
		// Hold it back so that a v5 client gets its DISCONNECT first;
		// wsClose sends the same code and reason after it.
		var tmp [ws.MaxServerHeader + ws.MaxControlPayload]byte
		if fr := ws.AppendClose(tmp[:0], cerr.Code, cerr.Msg); bytes.HasSuffix(w.ctrl, fr) {
			w.ctrl = w.ctrl[:len(w.ctrl)-len(fr)]
			w.code, w.why = cerr.Code, cerr.Msg
		} else {
			w.closeSent = true // not the frame we know: let it go out as it is
		}
	}
	if len(w.ctrl) > 0 {
		c.write(w.ctrl) // pongs, and the close echo
	}
	w.end = err
	return err == nil && n > 0 && n < avail // n < len(buf) too: Feed stopped at its inflate budget (wsdeflate.go)
}

// endWS closes c once its WebSocket stream ended (w.end) and every MQTT
// packet before the end is handled: a close frame without a DISCONNECT
// before it ends the connection abnormally, so the will is published
// [MQTT-3.1.2-8]; a WebSocket violation is a protocol error (v5 DISCONNECT
// 0x82, then close 1002). A no-op when a DISCONNECT already closed c.
func (c *conn) endWS(w *wsConn) {
	if rc, reason, ok := wsInflateClose(w.end); ok {
		c.kick(rc, reason, w.end) // permessage-deflate (wsdeflate.go)
	} else if w.end == ws.ErrPeerClosed {
		c.kick(0, closeNetwork, w.end)
	} else {
		c.kick(mqttcodec.ProtocolError, closeProtocol, w.end)
	}
}

// wsFrame prefixes o's pending bytes with one binary frame header: the MQTT
// packets of a wake travel in one WebSocket frame [MQTT-6.0.0-2]. When c is
// closing, wsFrame writes them itself with the close frame behind them (the
// v5 DISCONNECT, then the close, RFC 6455 7.1.2) and FIN, and returns nil;
// after the close frame nothing more is sent (RFC 6455 5.5.1), so later
// calls return nil too.
func (c *conn) wsFrame(iov [][]byte, total int) [][]byte {
	l := c.l
	w := l.ws[c]
	if w != nil && w.closeSent {
		return nil
	}
	if z := c.wsDeflateFrame(w, iov, total); z != nil {
		l.wsIov = append(l.wsIov[:0], z) // RSV1 frame: header and compressed payload (wsdeflate.go)
	} else {
		start := len(l.arena)
		l.arena = ws.AppendFrameHeader(l.arena, total)
		end := len(l.arena)
		l.wsIov = append(l.wsIov[:0], l.arena[start:end:end])
		l.wsIov = append(l.wsIov, iov...)
	}
	end := len(l.arena)
	if c.state == stClosing && w != nil && w.upgraded {
		// The last frames: written here, so that FIN can follow them at once
		// (wsShutdown); flush finds nothing left to write.
		w.closeSent = true
		l.arena = w.appendClose(l.arena, c.reason)
		l.wsIov = append(l.wsIov, l.arena[end:len(l.arena):len(l.arena)])
		for iov := l.wsIov; len(iov) > 0 && !c.closed; {
			k := min(len(iov), 1024)
			c.writev(iov[:k])
			iov = iov[k:]
		}
		c.wsShutdown()
		return nil
	}
	return l.wsIov
}
