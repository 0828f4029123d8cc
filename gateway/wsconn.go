package gateway

import (
	"errors"

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
	in       []byte // unmasked MQTT byte stream not yet framed (copied once from the frames)
	ctrl     []byte // pong / close frames to send
}

var errNotUpgrade = errors.New("gateway: WebSocket listener got something other than an HTTP GET")

// readWS is read for a WebSocket connection: the upgrade, then frames
// unmasked into w.in, then MQTT packets framed from w.in exactly as on TCP.
func (c *conn) readWS() gnet.Action {
	gc, l := c.gc, c.l
	w := l.ws[c]
	if w == nil {
		return gnet.Close
	}
	if !w.upgraded {
		buf, _ := gc.Peek(-1)
		if k := min(len(buf), 4); string(buf[:k]) != "GET "[:k] {
			c.kick(0, closeProtocol, errNotUpgrade) // not HTTP: no need to wait for a request end
			return gnet.None
		}
		n, resp, err := w.hs.Feed(buf, nil)
		if errors.Is(err, ws.ErrNeedMore) {
			return gnet.None
		}
		_, _ = gc.Write(resp) // 101, or the HTTP refusal
		_, _ = gc.Discard(n)
		if err != nil {
			c.kick(0, closeProtocol, err)
			return gnet.None
		}
		w.upgraded = true
		w.rd.MaxFrame = -1 // MQTT's own maximum packet size applies to the stream
	}
	if gc.InboundBuffered() > 0 {
		buf, _ := gc.Peek(-1)
		n, in, ctrl, err := w.rd.Feed(buf, w.in, w.ctrl[:0])
		w.in, w.ctrl = in, ctrl
		_, _ = gc.Discard(n)
		l.st.bytesIn += uint64(n)
		if len(w.ctrl) > 0 {
			_, _ = gc.Write(w.ctrl) // pong, or the close echo
		}
		if err != nil {
			reason := closeProtocol
			if err == ws.ErrPeerClosed {
				reason = closeNetwork // a WebSocket close without DISCONNECT: the will is published
			}
			c.kick(0, reason, err)
			return gnet.None
		}
	}
	if len(w.in) > 4*l.g.cfg.Limits.MaxPacketSize+l.g.cfg.Engine.ReadBufferSize {
		c.kick(0, closeInboundOverflow, nil)
		return gnet.None
	}
	off := 0
	defer func() {
		if off > 0 && !c.closed {
			k := copy(w.in, w.in[off:])
			w.in = w.in[:k]
		}
		if cap(w.in) > 64<<10 && len(w.in) == 0 {
			w.in = nil
		}
	}()
	maxPacket := l.g.cfg.Limits.MaxPacketSize
	for i := 0; i < l.g.cfg.Engine.MaxPacketsPerWake && !c.closed; i++ {
		if c.state == stClosing || c.state == stWaiting || c.paused {
			return gnet.None
		}
		rest := w.in[off:]
		if len(rest) == 0 {
			return gnet.None
		}
		if c.state == stConnecting && rest[0] != byte(mqttcodec.CONNECT)<<4 {
			c.kick(0, closeProtocol, errNotConnect)
			return gnet.None
		}
		size, err := mqttcodec.PacketSize(rest, maxPacket)
		if errors.Is(err, mqttcodec.ErrNeedMore) || err == nil && len(rest) < size {
			return gnet.None
		}
		if err != nil {
			c.violation(err)
			return gnet.None
		}
		c.handle(rest[:size])
		off += size
	}
	if !c.closed {
		_ = gc.Wake(nil)
	}
	return gnet.None
}

// wsFrame prefixes o's pending bytes with one binary frame header: the MQTT
// packets of a wake travel in one WebSocket frame [MQTT-6.0.0-2].
func (c *conn) wsFrame(iov [][]byte, total int) [][]byte {
	l := c.l
	start := len(l.arena)
	l.arena = ws.AppendFrameHeader(l.arena, total)
	hdr := l.arena[start:len(l.arena):len(l.arena)]
	l.wsIov = append(l.wsIov[:0], hdr)
	l.wsIov = append(l.wsIov, iov...)
	return l.wsIov
}
