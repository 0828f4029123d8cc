package gateway

import (
	"edgegw/gateway/ws"
	"edgegw/mqttcodec"
)

// wsDeflate is the permessage-deflate (RFC 7692) machinery of one loop,
// shared by all of its WebSocket connections: the extension is always
// negotiated without context takeover (ws.Handshake.Deflate), so no
// compressor or decompressor state outlives a message and an idle
// connection holds none; it costs the loop one inflater (about 45 KiB) and
// one deflater (a few hundred KiB), allocated at the first compressed
// message. Loop-only.
type wsDeflate struct {
	in  ws.Inflater
	out ws.Deflater
}

// deflater returns l's wsDeflate, creating it on first use. Loop-only.
func (l *loop) deflater() *wsDeflate {
	if l.wsz == nil {
		l.wsz = &wsDeflate{in: ws.Inflater{Limit: l.g.cfg.Limits.MaxPacketSize}}
	}
	return l.wsz
}

// wsDeflateStart arms w's Reader for compressed messages when the upgrade
// negotiated permessage-deflate. Loop-only, right after the 101.
func (c *conn) wsDeflateStart(w *wsConn) {
	if on, _ := w.hs.Compression(); on {
		w.rd.Inflate = &c.l.deflater().in
	}
}

// wsInflated folds the messages the loop's inflater handled into the loop's
// counters. Loop-only, after a Reader.Feed.
func (l *loop) wsInflated() {
	if l.wsz != nil && l.wsz.in.Inflated != 0 {
		l.st.wsDeflated[0] += l.wsz.in.Inflated
		l.wsz.in.Inflated = 0
	}
}

// wsDeflateFrame compresses the total bytes of iov into one frame with RSV1
// set, header included, appended to l.arena, when c negotiated
// permessage-deflate, the message is at least listeners.ws_deflate_min_bytes,
// no longer than the client's server_max_window_bits allows (a message of at
// most 2^bits bytes cannot refer back further; ws.Handshake.Compression),
// and compression saves bytes. Otherwise it returns nil and the caller
// frames iov as it is. Loop-only, inside flush (the arena lives until the
// end of the wake; gnet copies what the socket does not take at once).
func (c *conn) wsDeflateFrame(w *wsConn, iov [][]byte, total int) []byte {
	if w == nil || total < c.l.g.cfg.Listeners.WSDeflateMinBytes {
		return nil
	}
	on, maxMsg := w.hs.Compression()
	if !on || (maxMsg > 0 && total > maxMsg) {
		return nil
	}
	l := c.l
	start := len(l.arena)
	// Room for the largest header before the payload; the header, known only
	// after compressing, is written right-aligned into it.
	l.arena = append(l.arena, make([]byte, ws.MaxServerHeader)...)
	body := len(l.arena)
	l.arena = l.deflater().out.AppendCompressed(l.arena, iov)
	n := len(l.arena) - body
	if n+ws.HeaderSize(n) >= total+ws.HeaderSize(total) {
		l.arena = l.arena[:start] // incompressible: send it as it is
		return nil
	}
	hs := ws.HeaderSize(n)
	ws.AppendCompressedFrameHeader(l.arena[body-hs:body-hs], n)
	l.st.wsDeflated[1]++
	end := len(l.arena)
	return l.arena[body-hs : end : end]
}

// wsInflateClose maps the end of a WebSocket stream caused by
// permessage-deflate to its MQTT reason code and close reason: a message
// that inflates past limits.max_packet_size is a packet too large (0x95),
// one that is not valid DEFLATE a malformed packet (0x81). ok is false for
// any other end.
func wsInflateClose(err error) (rc mqttcodec.ReasonCode, reason closeReason, ok bool) {
	switch err {
	case ws.ErrInflateTooBig:
		return mqttcodec.PacketTooLarge, closeInflateTooLarge, true
	case ws.ErrInflateCorrupt:
		return mqttcodec.MalformedPacket, closeInflateCorrupt, true
	}
	return 0, 0, false
}
