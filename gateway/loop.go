package gateway

import (
	"time"

	"github.com/panjf2000/gnet/v2"

	"edgegw/gateway/listener"
	"edgegw/mqttcodec"
	"edgegw/router"
	"edgegw/session"
)

// loop is the gateway's state for one gnet event loop. Everything but in
// (the inbox) and el is loop-only.
type loop struct {
	g   *Gateway
	el  gnet.EventLoop
	idx int
	in  inbox

	depth    int   // nesting of begin/end (OnClose may run inside a wake)
	now      int64 // clock read once per wake, unix nanos
	arena    []byte
	dirty    []*conn
	remote   []*loop
	outbox   map[*loop]*outbox // per target loop, this wake's items
	acks     []*ackToken       // released parked acks to send at the end of the wake
	wills    []pendingWill     // wills due, published at the end of the wake (publishWills)
	pump     []*conn           // connections whose queue waits for output budget (pumpQueues)
	pumpAt   bool              // an inPump item is on its way to this loop
	refusing string            // while a refused CONNECT is logged: its client ID (connect.go refuse)
	pumpDue  bool              // a pump round is due at the next inPump (a connection was listed, or the last round made progress)
	co       coalescer         // connections whose deliveries wait for engine.flush_delay (coalesce.go)
	unsubs   []staleSubs       // ended sessions' filters still to remove from the router (dropStaleSubs)
	matches  []router.Delivery
	scratch  session.Scratch
	connect  mqttcodec.Connect
	req      takeoverReq // scratch for a CONNECT that creates its session (see onConnect)
	reasons  []byte
	wheel    wheel
	conns    connList      // every open connection, for drain (index in conn.slot)
	cong     []*sessionRec // subscribers holding parked acks
	stalled  []*conn       // connections not read while their replies are over budget (replybound.go)
	// connecting holds connections in open order for the CONNECT timeout:
	// one timeout for all, so a FIFO (8 bytes per pending connection,
	// emptied at each tick) does what the wheel would.
	connecting []*conn
	connHead   int
	outs       []*session.Out    // pool of write buffers for connections with pending output
	ws         map[*conn]*wsConn // WebSocket state of this loop's ws connections
	wsIov      [][]byte          // scratch: frame header + segments of one ws flush
	wsz        *wsDeflate        // permessage-deflate shared by the ws connections; nil until needed (wsdeflate.go)

	// TLS (tls.go): the state of this loop's tls and wss connections, and
	// scratch for one wake's plaintext of one connection (tlsConn.compact)
	// and for one buffer to writev.
	tls      map[*conn]*tlsConn
	tlsPlain []byte
	tlsIov   [][]byte

	st         loopStats
	drainPhase int32 // the last drain phase this loop applied (drain.go)

	ka listener.KeepAliveCheck // listeners whose keepalive options reached this loop's sockets

	// lingers holds the connections closing after their reason: FIN sent,
	// input discarded until a bound (linger.go); nil until the first.
	lingers map[*conn]lingerState

	// importing is, while an upstream's message is published, 1 + that
	// upstream's index: it is not forwarded back there (relay.go).
	importing uint8

	// guards holds each connection's protection state (guard.go) while
	// Gateway.prot is set; nil until the first.
	guards map[*conn]*guard
}

func newLoop(g *Gateway, el gnet.EventLoop, idx int) *loop {
	l := &loop{g: g, el: el, idx: idx, arena: make([]byte, 0, 16<<10), outbox: map[*loop]*outbox{}, ws: map[*conn]*wsConn{}, tls: map[*conn]*tlsConn{}}
	l.now = time.Now().UnixNano()
	l.wheel.init(int64(g.cfg.Engine.TickInterval.D()), l.now)
	return l
}

// begin starts a wake: reads the clock once.
func (l *loop) begin() {
	if l.depth == 0 {
		l.now = time.Now().UnixNano()
	}
	l.depth++
}

// end finishes a wake: sends released acks, flushes every connection written
// to (one writev each), wakes the loops that got inbox items (one Execute
// each) and recycles the arena.
func (l *loop) end() {
	if l.depth > 1 {
		l.depth--
		return
	}
	if len(l.co.conns) > 0 && l.now >= l.co.due {
		l.flushHeld() // engine.flush_delay is up (coalesce.go)
	}
	for len(l.wills) > 0 || len(l.acks) > 0 || len(l.dirty) > 0 {
		l.publishWills()
		for i := 0; i < len(l.acks); i++ {
			l.sendAck(l.acks[i])
			l.acks[i] = nil
		}
		l.acks = l.acks[:0]
		for i := 0; i < len(l.dirty); i++ {
			c := l.dirty[i]
			l.dirty[i] = nil
			c.dirty = false
			c.flush()
		}
		l.dirty = l.dirty[:0]
	}
	if len(l.unsubs) > 0 {
		l.dropStaleSubs()
	}
	if (len(l.unsubs) > 0 || l.pumpDue) && !l.pumpAt {
		l.pumpAt = true
		l.send(l, inItem{kind: inPump}) // come back soon: a wake of its own
	}
	l.wakeRemote()
	if cap(l.tlsPlain) > 1<<20 {
		l.tlsPlain = nil
	}
	if cap(l.arena) > 1<<20 {
		l.arena = make([]byte, 0, 16<<10) // held segments keep the old array alive
	} else if len(l.co.conns) == 0 {
		l.arena = l.arena[:0] // nothing held points into it (coalesce.go)
	}
	l.depth--
}

// process applies one inbox item.
func (l *loop) process(it *inItem) {
	switch it.kind {
	case inDeliver:
		l.deliverItem(it)
	case inAck:
		l.sendAck(it.tok)
	case inTakeover:
		l.takeover(it.req)
	case inAttach:
		l.attach(it.req)
	case inRetry:
		l.retryConnect(it.req)
	case inAuth:
		l.authDone(it.req)
	case inTick:
		l.tick()
	case inDrain:
		l.drain()
	case inPump:
		l.pumpAt = false
		if l.pumpDue {
			l.pumpDue = false
			l.pumpQueues()
		}
	case inFlush:
		l.flushTimer()
	case inImport:
		l.publishImported(it)
	case inFence:
		l.send(it.req.from, inItem{kind: inFenceAck, req: it.req})
	case inFenceAck:
		l.fenceAck(it.req)
	case inFenceDone:
		l.fenceDone(it.req)
	}
}

// tick advances the wheel, re-checks congested subscribers and folds the
// loop's counters into the metrics.
func (l *loop) tick() {
	l.expireConnecting()
	l.wheel.advance(l, l.now)
	for i := 0; i < len(l.cong); i++ {
		if rec := l.cong[i]; l.checkDrained(rec) {
			i--
		}
	}
	l.resumeStalled()
	if len(l.pump) > 0 {
		l.pumpQueues() // connections whose socket drained since (gnet has no writable callback)
	}
	if l.drainPhase == drainSettle {
		l.closeDelivered()
	}
	l.st.fold(l.g.m)
}

// addConn / delConn keep l.conns for drain.
func (l *loop) addConn(c *conn) { l.conns.add(c) }

func (l *loop) delConn(c *conn) { l.conns.del(c) }

// connList holds a loop's open connections in chunks of connChunk, so that
// growing it never copies: a connect storm leaves no garbage behind (a
// slice doubling its way to two million entries leaves as much garbage as
// it holds). Loop-only.
type connList struct {
	chunks []*[connChunk]*conn
	n      int
}

const connChunk = 1024

func (cl *connList) add(c *conn) {
	if cl.n == len(cl.chunks)*connChunk {
		cl.chunks = append(cl.chunks, new([connChunk]*conn))
	}
	c.slot.Store(int32(cl.n))
	cl.chunks[cl.n/connChunk][cl.n%connChunk] = c
	cl.n++
}

func (cl *connList) at(i int) *conn { return cl.chunks[i/connChunk][i%connChunk] }

// del removes c, moving the last connection into its place. At most one
// empty chunk is kept past the last one in use (a spare against add/del
// flapping at a chunk boundary); the rest is given back.
func (cl *connList) del(c *conn) {
	i := int(c.slot.Load())
	if i < 0 || i >= cl.n || cl.at(i) != c {
		return
	}
	last := cl.n - 1
	m := cl.at(last)
	cl.chunks[i/connChunk][i%connChunk] = m
	m.slot.Store(int32(i))
	cl.chunks[last/connChunk][last%connChunk] = nil
	cl.n = last
	c.slot.Store(-1)
	if keep := (cl.n+connChunk-1)/connChunk + 1; len(cl.chunks) > keep {
		cl.chunks[len(cl.chunks)-1] = nil
		cl.chunks = cl.chunks[:len(cl.chunks)-1]
	}
}

// appendTo appends every connection to dst.
func (cl *connList) appendTo(dst []*conn) []*conn {
	for i := 0; i < cl.n; i += connChunk {
		dst = append(dst, cl.chunks[i/connChunk][:min(connChunk, cl.n-i)]...)
	}
	return dst
}

// getOut takes a write buffer from the pool.
func (l *loop) getOut() *session.Out {
	if n := len(l.outs); n > 0 {
		o := l.outs[n-1]
		l.outs = l.outs[:n-1]
		return o
	}
	o := &session.Out{Arena: &l.arena}
	o.Reset()
	return o
}

// putOut returns a flushed write buffer to the pool.
func (l *loop) putOut(o *session.Out) {
	o.Reset()
	if cap(o.Iov) > 1024 {
		o.Iov = nil
	}
	if len(l.outs) < 4096 {
		l.outs = append(l.outs, o)
	}
}

// expireConnecting closes connections that sent no CONNECT within
// limits.connect_timeout (no rule ID: the spec leaves the time to the
// server) and forgets those that did.
func (l *loop) expireConnecting() {
	timeout := int64(l.g.cfg.Limits.ConnectTimeout.D())
	for l.connHead < len(l.connecting) {
		c := l.connecting[l.connHead]
		if c.state == stConnecting && !c.closed {
			if l.now-c.wheelAt < timeout {
				break
			}
			// A TLS handshake in progress ends at the record layer's own
			// timeout; the CONNECT timeout starts again at its end (tls.go).
			if !c.deferConnectTimeout() {
				c.kick(0, closeConnectTimeout, nil)
			}
		}
		l.connecting[l.connHead] = nil
		l.connHead++
	}
	switch {
	case l.connHead == len(l.connecting):
		l.connecting, l.connHead = l.connecting[:0], 0
		if cap(l.connecting) > 1024 {
			l.connecting = nil
		}
	case l.connHead > 1024 && l.connHead*2 > len(l.connecting):
		n := copy(l.connecting, l.connecting[l.connHead:])
		clear(l.connecting[n:])
		l.connecting, l.connHead = l.connecting[:n], 0
	}
}
