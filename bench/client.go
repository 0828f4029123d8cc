package bench

import (
	"context"
	"encoding/binary"
	"strconv"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Client states.
const (
	stIdle        uint8 = iota // no connection; owned by the dialer side
	stWSHandshake              // WebSocket upgrade sent, waiting for 101
	stConnecting               // CONNECT sent, waiting for CONNACK
	stSubscribing              // SUBSCRIBE sent, waiting for SUBACK
	stReady                    // connected (and subscribed)
	stClosing                  // we are closing it
)

// Client roles (bits).
const (
	rolePub uint8 = 1 << iota
	roleSub
)

// client is one MQTT connection's state. Loop-only while connected (see doc.go);
// kept small: it is what every idle connection costs the tool besides gnet's conn.
type client struct {
	gc        gnet.Conn
	lp        *loop
	tracks    map[uint32]*seqTrack // per publisher; nil unless this client subscribes and received
	wsIn      []byte               // WebSocket only: MQTT bytes received but not yet a whole packet
	connStart int64                // unix nanos of the dial
	lastTx    int64                // unix nanos of the last write (keepalive)
	nextDue   int64                // unix nanos of the next publish slot
	idx       uint32               // global client index (publisher ID in payloads)
	seq       uint32               // next sequence number to publish
	slot      int32                // position in lp.clients, -1 when not registered
	pubSlot   int32                // position in lp.pubs, -1 when not registered
	nextPID   uint16
	inflight  uint16
	role      uint8
	st        uint8
	attempts  uint8 // reconnect attempts since the last success
	everReady bool
	inReady   bool // counted in runner.ready
}

// loop is the per-event-loop state. Loop-only except the counters and
// histograms, which the sampler reads atomically.
type loop struct {
	r       *runner
	el      gnet.EventLoop
	clients []*client
	pubs    []*client
	scratch []byte
	wsOut   []byte // WebSocket framing buffer
	pv      publishView
	ctr     counters
	lat     liveHist // publish-to-deliver latency
	connLat liveHist // dial to CONNACK
	lastHK  int64    // last housekeeping (unix nanos)
}

// handler is the gnet event handler shared by all loops of one runner.
type handler struct {
	gnet.BuiltinEventEngine
	r *runner
}

// OnOpen runs on the new connection's loop: register it and send CONNECT.
func (h *handler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	c, ok := gc.Context().(*client)
	if !ok {
		return nil, gnet.Close
	}
	lp := h.r.loopFor(gc.EventLoop())
	c.gc = gc
	c.lp = lp
	c.st = stConnecting
	c.slot = int32(len(lp.clients))
	lp.clients = append(lp.clients, c)
	c.lastTx = time.Now().UnixNano()
	if h.r.ws {
		c.st = stWSHandshake
		buf := appendWSUpgrade(lp.scratch[:0], h.r.wsHost, h.r.cfg.WSPath, &h.r.wsKey)
		lp.scratch = buf[:0]
		return buf, gnet.None
	}
	// gnet writes out before OnOpen's caller returns (copying what the
	// socket does not take), so the loop's scratch buffer can carry it.
	buf := h.r.appendConnect(lp.scratch[:0], c)
	lp.scratch = buf[:0]
	return buf, gnet.None
}

// OnClose runs on the loop: unregister and, in a storm, schedule a reconnect.
func (h *handler) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*client)
	if !ok || c.lp == nil {
		return gnet.None
	}
	lp := c.lp
	lp.unregister(c)
	wasConnecting := c.st == stConnecting || c.st == stWSHandshake
	wasReady := c.inReady
	c.inReady = false
	ours := c.st == stClosing
	c.st = stIdle
	c.gc = nil
	c.lp = nil
	c.inflight = 0
	c.wsIn = nil
	r := h.r
	if wasReady {
		r.ready.Add(-1)
	}
	if !ours {
		if wasConnecting {
			lp.ctr.connFail.Add(1)
			r.fails.add("closed_before_connack")
		} else {
			lp.ctr.closed.Add(1)
		}
	}
	if r.settled(c) {
		return gnet.None
	}
	r.redial(c)
	return gnet.None
}

func (lp *loop) unregister(c *client) {
	if c.slot >= 0 && int(c.slot) < len(lp.clients) && lp.clients[c.slot] == c {
		last := lp.clients[len(lp.clients)-1]
		lp.clients[c.slot] = last
		last.slot = c.slot
		lp.clients[len(lp.clients)-1] = nil
		lp.clients = lp.clients[:len(lp.clients)-1]
	}
	c.slot = -1
	if c.pubSlot >= 0 && int(c.pubSlot) < len(lp.pubs) && lp.pubs[c.pubSlot] == c {
		last := lp.pubs[len(lp.pubs)-1]
		lp.pubs[c.pubSlot] = last
		last.pubSlot = c.pubSlot
		lp.pubs[len(lp.pubs)-1] = nil
		lp.pubs = lp.pubs[:len(lp.pubs)-1]
	}
	c.pubSlot = -1
}

// maxPacketsPerWake bounds the work one connection gets per wake.
const maxPacketsPerWake = 256

// OnTraffic decodes and handles the inbound packets. Loop-only.
func (h *handler) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*client)
	if !ok || c.lp == nil {
		return gnet.Close
	}
	if h.r.ws {
		return h.trafficWS(gc, c)
	}
	lp := c.lp
	now := time.Now().UnixNano()
	out := lp.scratch[:0]
	var act gnet.Action
	for i := 0; i < maxPacketsPerWake; i++ {
		nb := gc.InboundBuffered()
		if nb < 2 {
			break
		}
		head, _ := gc.Peek(min(nb, 5))
		size, err := packetSize(head)
		if err == errNeedMore || (err == nil && nb < size) {
			break
		}
		if err != nil {
			h.r.fails.add("malformed_from_broker")
			act = gnet.Close
			break
		}
		frame, _ := gc.Peek(size)
		out, act = h.r.handle(lp, c, frame, now, out)
		_, _ = gc.Discard(size)
		if act != gnet.None {
			break
		}
		if i == maxPacketsPerWake-1 && gc.InboundBuffered() > 0 {
			_ = gc.Wake(nil)
		}
	}
	if len(out) > 0 && c.gc != nil {
		lp.write(c, out)
		c.lastTx = now
	}
	lp.scratch = out[:0]
	return act
}

// write sends b on c, framed when the transport is WebSocket. Loop-only.
func (lp *loop) write(c *client, b []byte) {
	if !lp.r.ws {
		_, _ = c.gc.Write(b)
		return
	}
	lp.wsOut = appendWSFrame(lp.wsOut[:0], wsOpBinary, b, lp.r.wsMask)
	_, _ = c.gc.Write(lp.wsOut)
	if cap(lp.wsOut) > 1<<20 {
		lp.wsOut = nil // do not keep a burst's buffer
	}
}

// trafficWS is OnTraffic for MQTT over WebSocket: finish the upgrade, strip
// the frames into c.wsIn, then handle the whole MQTT packets there.
func (h *handler) trafficWS(gc gnet.Conn, c *client) gnet.Action {
	lp, r := c.lp, h.r
	now := time.Now().UnixNano()
	buf, _ := gc.Peek(gc.InboundBuffered())
	if c.st == stWSHandshake {
		n, err := wsHandshake(buf, &r.wsKey)
		if err != nil {
			lp.ctr.connFail.Add(1)
			r.fails.add("ws_handshake")
			c.st = stClosing
			return gnet.Close
		}
		if n == 0 {
			return gnet.None
		}
		_, _ = gc.Discard(n)
		c.st = stConnecting
		out := r.appendConnect(lp.scratch[:0], c)
		lp.write(c, out)
		lp.scratch = out[:0]
		buf, _ = gc.Peek(gc.InboundBuffered())
	}
	n, data, closed, err := wsStream(buf, c.wsIn, func(p []byte) {
		var pb [256]byte
		_, _ = gc.Write(appendWSFrame(pb[:0], wsOpPong, p, r.wsMask))
	})
	_, _ = gc.Discard(n)
	c.wsIn = data
	if err != nil {
		r.fails.add("ws_bad_frame")
		return gnet.Close
	}
	out := lp.scratch[:0]
	act := gnet.None
	off := 0
	for act == gnet.None {
		size, err := packetSize(c.wsIn[off:])
		if err == errNeedMore || (err == nil && len(c.wsIn)-off < size) {
			break
		}
		if err != nil {
			r.fails.add("malformed_from_broker")
			act = gnet.Close
			break
		}
		out, act = r.handle(lp, c, c.wsIn[off:off+size], now, out)
		off += size
	}
	rest := copy(c.wsIn, c.wsIn[off:])
	c.wsIn = c.wsIn[:rest]
	if rest == 0 && cap(c.wsIn) > 4096 {
		c.wsIn = nil // an idle client keeps no large buffer
	}
	if len(out) > 0 && c.gc != nil {
		lp.write(c, out)
		c.lastTx = now
	}
	lp.scratch = out[:0]
	if closed {
		r.fails.add("ws_close_from_broker")
		return gnet.Close
	}
	return act
}

// handle applies one packet from the broker; replies are appended to out.
func (r *runner) handle(lp *loop, c *client, frame []byte, now int64, out []byte) ([]byte, gnet.Action) {
	switch frame[0] >> 4 {
	case pktConnack:
		if c.st != stConnecting {
			r.fails.add("unexpected_connack")
			return out, gnet.Close
		}
		_, code, err := parseConnack(frame)
		if err != nil {
			lp.ctr.connFail.Add(1)
			r.fails.add("malformed_connack")
			c.st = stClosing
			return out, gnet.Close
		}
		if code != 0 {
			lp.ctr.connFail.Add(1)
			r.fails.add(connackName(r.ver, code))
			c.st = stClosing
			return out, gnet.Close
		}
		lp.ctr.connOK.Add(1)
		lp.connLat.record(now - c.connStart)
		c.attempts = 0
		if c.role&roleSub != 0 {
			c.st = stSubscribing
			c.nextPID++
			if c.nextPID == 0 {
				c.nextPID = 1
			}
			out = appendSubscribe(out, r.ver, c.nextPID, r.subFilter(lp, c), byte(r.cfg.QoS))
			return out, gnet.None
		}
		r.becomeReady(lp, c, now)
	case pktSuback:
		_, code, err := parseSuback(frame, r.ver)
		if err != nil || code >= 0x80 {
			r.fails.add("suback_refused")
			lp.ctr.connFail.Add(1)
			c.st = stClosing
			return out, gnet.Close
		}
		if c.st == stSubscribing {
			r.becomeReady(lp, c, now)
		}
	case pktPublish:
		if err := parsePublish(frame, r.ver, &lp.pv); err != nil {
			r.fails.add("malformed_publish")
			return out, gnet.Close
		}
		p := &lp.pv
		r.received(lp, c, p.Payload, now)
		switch p.QoS {
		case 1:
			out = appendAck(out, pktPuback, p.PID)
		case 2:
			out = appendAck(out, pktPubrec, p.PID)
		}
	case pktPuback, pktPubcomp:
		_, reason, err := parseAck(frame)
		if err != nil {
			return out, gnet.Close
		}
		if c.inflight > 0 {
			c.inflight--
		}
		if reason >= 0x80 {
			lp.ctr.pubErrors.Add(1)
			r.fails.add(ackName(frame[0]>>4, reason))
		} else {
			lp.ctr.acked.Add(1)
		}
	case pktPubrec:
		pid, reason, err := parseAck(frame)
		if err != nil {
			return out, gnet.Close
		}
		if reason >= 0x80 {
			if c.inflight > 0 {
				c.inflight--
			}
			lp.ctr.pubErrors.Add(1)
			r.fails.add(ackName(pktPubrec, reason))
			break
		}
		out = appendAck(out, pktPubrel, pid)
	case pktPubrel:
		pid, _, err := parseAck(frame)
		if err != nil {
			return out, gnet.Close
		}
		out = appendAck(out, pktPubcomp, pid)
	case pktPingresp:
	case pktDisconnect:
		r.fails.add("disconnect_from_broker")
		return out, gnet.Close
	default:
		r.fails.add("unexpected_packet")
		return out, gnet.Close
	}
	return out, gnet.None
}

// ackName names a refused acknowledgement for the failure table.
func ackName(typ, reason byte) string {
	// e.g. "pubcomp_packet_identifier_not_found" (PUBCOMP 0x92)
	name := "puback"
	switch typ {
	case pktPubrec:
		name = "pubrec"
	case pktPubcomp:
		name = "pubcomp"
	}
	return name + "_" + connackName(5, reason)
}

// becomeReady marks c connected (and subscribed). Loop-only.
func (r *runner) becomeReady(lp *loop, c *client, now int64) {
	c.st = stReady
	c.everReady = true
	c.inReady = true
	r.ready.Add(1)
	if c.role&rolePub != 0 {
		c.pubSlot = int32(len(lp.pubs))
		lp.pubs = append(lp.pubs, c)
	}
}

// received accounts one delivered payload. Loop-only.
func (r *runner) received(lp *loop, c *client, payload []byte, now int64) {
	lp.ctr.received.Add(1)
	if len(payload) < minPayload || (len(payload) >= minPayload+len(r.runID) &&
		string(payload[minPayload:minPayload+len(r.runID)]) != r.runID) {
		lp.ctr.foreign.Add(1)
		return
	}
	ts := int64(binary.BigEndian.Uint64(payload))
	pub := binary.BigEndian.Uint32(payload[8:])
	seq := binary.BigEndian.Uint32(payload[12:])
	lp.lat.record(now - ts)
	if c.tracks == nil {
		c.tracks = make(map[uint32]*seqTrack, 1)
	}
	t := c.tracks[pub]
	if t == nil {
		t = &seqTrack{}
		c.tracks[pub] = t
	}
	switch t.observe(seq) {
	case 1:
		lp.ctr.duplicates.Add(1)
	case 2:
		lp.ctr.outOfOrder.Add(1)
	}
}

// tick runs on the loop from the pacer: publish what is due, and once a
// second do housekeeping (keepalive, connect timeouts).
func (lp *loop) tick(_ context.Context) error {
	r := lp.r
	now := time.Now().UnixNano()
	if r.publishing.Load() {
		lp.publishDue(now)
	}
	if now-lp.lastHK >= r.hkEvery {
		lp.lastHK = now
		lp.housekeeping(now)
	}
	return nil
}

// maxBurst bounds how many messages one publisher writes per tick.
const maxBurst = 1024

func (lp *loop) publishDue(now int64) {
	r := lp.r
	qos := byte(r.cfg.QoS)
	for _, c := range lp.pubs {
		if c.nextDue == 0 {
			// First slot: spread the publishers over one interval so
			// they do not all fire in the same tick.
			c.nextDue = now + int64(c.idx)*7919%max(r.interval, 1)
		}
		if c.st != stReady || c.nextDue > now {
			continue
		}
		if now-c.nextDue > int64(time.Second) {
			lp.ctr.lagged.Add(1)
			c.nextDue = now
		}
		out := lp.scratch[:0]
		n := 0
		for c.nextDue <= now && n < maxBurst {
			if qos > 0 && int(c.inflight) >= r.cfg.Inflight {
				lp.ctr.throttled.Add(1)
				c.nextDue += r.interval
				continue
			}
			out = r.appendMessage(out, c, now)
			c.nextDue += r.interval
			n++
		}
		if n > 0 {
			lp.write(c, out)
			c.lastTx = now
			lp.ctr.sent.Add(uint64(n))
			lp.ctr.expected.Add(uint64(n) * uint64(r.fanout(c)))
		}
		lp.scratch = out[:0]
	}
}

// appendMessage encodes c's next PUBLISH. Loop-only.
func (r *runner) appendMessage(out []byte, c *client, now int64) []byte {
	qos := byte(r.cfg.QoS)
	var pid uint16
	if qos > 0 {
		c.nextPID++
		if c.nextPID == 0 {
			c.nextPID = 1
		}
		pid = c.nextPID
		c.inflight++
	}
	var tb [64]byte
	topic := r.pubTopic(tb[:0], c)
	out = appendPublishHeader(out, r.ver, qos, false, pid, topic, r.cfg.Payload)
	p := len(out)
	out = append(out, r.payload...)
	binary.BigEndian.PutUint64(out[p:], uint64(now))
	binary.BigEndian.PutUint32(out[p+8:], c.idx)
	binary.BigEndian.PutUint32(out[p+12:], c.seq)
	c.seq++
	return out
}

func (lp *loop) housekeeping(now int64) {
	r := lp.r
	ka := int64(r.cfg.KeepAlive.D())
	timeout := int64(r.cfg.ConnectTimeout.D())
	var ping [2]byte
	for _, c := range lp.clients {
		switch c.st {
		case stWSHandshake, stConnecting, stSubscribing:
			if now-c.connStart > timeout {
				lp.ctr.connFail.Add(1)
				r.fails.add("connack_timeout")
				c.st = stClosing
				_ = c.gc.Close()
			}
		case stReady:
			if ka > 0 && now-c.lastTx > ka/2 {
				lp.write(c, appendPingreq(ping[:0]))
				c.lastTx = now
				lp.ctr.pings.Add(1)
			}
		}
	}
}

// closeAll closes every connection of the loop, politely (DISCONNECT) when
// polite is set. Loop-only.
func (lp *loop) closeAll(polite bool) {
	var d [2]byte
	for _, c := range append([]*client(nil), lp.clients...) {
		if c.gc == nil {
			continue
		}
		if polite && c.st == stReady {
			lp.write(c, appendDisconnect(d[:0]))
		}
		c.st = stClosing
		_ = c.gc.Close()
	}
}

// clientID is the MQTT client identifier of client idx in this run.
func (r *runner) clientID(dst []byte, c *client) []byte {
	dst = append(dst, "eb-"...)
	dst = append(dst, r.runID...)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, uint64(c.idx), 10)
}
