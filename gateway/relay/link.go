package relay

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"edgegw/mqttcodec"
	"edgegw/session"
)

// entry is one forwarded message held by a link until the upstream has it.
// Its fields are guarded by the link's mutex; msg is immutable and shared.
type entry struct {
	msg  *session.Message
	tok  any // Hooks.Done token; nil for QoS 0 devices and wills
	size int64
	qos  byte   // upstream QoS: min(message QoS, max_qos, the server's Maximum QoS)
	id   uint16 // packet identifier while in flight
	sent bool   // written at least once: a resend carries DUP [MQTT-3.3.1-1]
	rec  bool   // QoS 2: PUBREC received, PUBREL sent, PUBCOMP awaited
	done bool   // acknowledged: a tombstone in link.order
	at   int64  // unix nanos at Forward for a sampled latency; 0 = not sampled
}

// subOp is one upstream subscription change waiting for the writer.
type subOp struct {
	unsub  bool
	filter []byte // remote form
}

// subBatch is the most filters one SUBSCRIBE or UNSUBSCRIBE carries; one is
// in flight per connection at a time (resubscription is paced by SUBACKs).
const subBatch = 64

// writeChunk is how many bytes the writer encodes before a write.
const writeChunk = 256 << 10

// link is one pooled connection to an upstream. Its writer goroutine (run)
// dials, handshakes, backs off and writes; a reader goroutine per TCP
// connection (read.go) reads. The fields under mu are shared by both and by
// the loops' Forward; the rest belongs to the goroutine its comment names.
type link struct {
	u    *Upstream
	idx  int
	id   []byte   // client identifier
	src  net.Addr // local address to bind, or nil
	wake chan struct{}

	mu     sync.Mutex
	queue  []*entry          // waiting to be sent, FIFO from qhead
	qhead  int               //
	order  []*entry          // in flight, in send order; done entries are tombstones
	live   map[uint16]*entry // in flight by packet identifier
	nextID uint16            // last publish packet identifier (1..0x7FFF)
	window int               // publish window of the current connection
	ctrl   []byte            // encoded packets for the writer (acks of imports, PUBREL)
	ops    []subOp           // subscription changes not yet sent
	opID   uint16            // SUBSCRIBE/UNSUBSCRIBE awaiting its ack (0x8000..); 0 = none
	opSent [][]byte          // its filters (logs; sent again when a kept session resumes)
	opUns  bool              // it is an UNSUBSCRIBE
	nextOp uint16            //
	nc     net.Conn          // current connection, for closeConn
	state  linkState         //
	sample int               // Forward count modulo latencySampleEvery
	sess   session1          // parameters of the current connection (set before its reader starts)

	// writer goroutine only
	bo        backoff
	kept      string // session_expiry > 0: the address whose upstream holds a session of ours from an earlier connection
	wbuf      []byte
	tbuf      []byte
	take      []*entry
	wdones    []any
	lastWrite time.Time

	// reader goroutine only (reset before each reader starts)
	in2     map[uint16]bool // inbound QoS 2 packet identifiers awaiting PUBREL [MQTT-4.3.3-9]
	rp      mqttcodec.Publish
	ra      mqttcodec.Ack
	rs      mqttcodec.Suback
	imports []*session.Message
	acks    []byte
	dones   []any

	lastRead atomic.Int64 // unix nanos of the last bytes read
	healthy  atomic.Bool  // the current connection got CONNACK and a PINGRESP
}

// session1 are the negotiated parameters of one upstream connection.
type session1 struct {
	keepAlive time.Duration
	maxQoS    byte
	retain    bool
	maxPacket int // the upstream's Maximum Packet Size; 0 = none
}

func newLink(u *Upstream, i int) *link {
	return &link{
		u: u, idx: i, id: []byte(u.clientID(i)), src: u.sourceAddr(i),
		wake: make(chan struct{}, 1), live: map[uint16]*entry{},
		bo: backoff{min: u.opt.BackoffMin, max: u.opt.BackoffMax},
	}
}

// signal wakes the writer without blocking.
func (k *link) signal() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// enqueue appends e to the queue (Forward, on an event loop).
func (k *link) enqueue(e *entry) {
	k.mu.Lock()
	if k.sample++; k.sample >= latencySampleEvery {
		k.sample = 0
		e.at = time.Now().UnixNano()
	}
	k.queue = append(k.queue, e)
	k.mu.Unlock()
	k.signal()
}

// pushOps queues subscription changes for the writer.
func (k *link) pushOps(ops []subOp) {
	if len(ops) == 0 {
		return
	}
	k.mu.Lock()
	k.ops = append(k.ops, ops...)
	k.mu.Unlock()
	k.signal()
}

// setState records and logs a state change (once per change).
func (k *link) setState(s linkState, addr string, cause error) {
	k.mu.Lock()
	old := k.state
	k.state = s
	k.mu.Unlock()
	if old == s {
		return
	}
	k.u.m.states[old].Add(-1)
	k.u.m.states[s].Add(1)
	k.u.m.linkState[k.idx].Store(int32(s))
	switch {
	case cause != nil && !errors.Is(cause, errClosing):
		k.u.log.Warn("relay connection", "conn", k.idx, "state", s.String(), "address", addr, "reason", reasonOf(cause).String(), "error", cause.Error())
	default:
		k.u.log.Info("relay connection", "conn", k.idx, "state", s.String(), "address", addr)
	}
}

// closeConn closes the current connection (Close).
func (k *link) closeConn() {
	k.mu.Lock()
	nc := k.nc
	k.mu.Unlock()
	if nc != nil {
		_ = nc.Close()
	}
	k.signal()
}

// run is the writer goroutine: connect, serve, back off, fail over, until
// Close. Failover: a connection that fails before it was healthy moves on
// to the next address; one that was healthy tries its address again first.
func (k *link) run() {
	defer k.u.wg.Done()
	addrs := k.u.cfg.Addresses
	ai := 0
	for !k.u.closing() {
		a := addrs[ai]
		k.healthy.Store(false)
		k.setState(stateConnecting, a, nil)
		nc, rest, present, err := k.connect(a)
		if err == nil {
			k.u.m.connects.Inc()
			err = k.serve(nc, rest, a, present)
		}
		if k.u.closing() {
			break
		}
		k.u.m.errors[reasonOf(err)].Inc()
		k.setState(stateDown, a, err)
		if k.healthy.Load() {
			k.bo.reset()
		} else if len(addrs) > 1 {
			ai = (ai + 1) % len(addrs)
			k.u.m.failovers.Inc()
		}
		t := time.NewTimer(k.bo.next())
		select {
		case <-t.C:
		case <-k.u.stop:
			t.Stop()
		}
	}
	k.setState(stateDown, addrs[ai], errClosing)
}

// connect dials a, runs TLS when configured, sends CONNECT and reads the
// CONNACK. It returns the connection, the bytes read past the CONNACK and
// whether the upstream resumed our session (session_expiry > 0 only).
//
// Sessions kept (session_expiry > 0): the first connection after a start,
// and the first to an address after a failover, is clean (identifiers the
// old session there holds are unknown to us, and a QoS 2 one it still
// holds would swallow a new message of ours under it); later ones resume.
// A v5 clean start with a Session Expiry Interval already leaves a session
// that outlives the connection; 3.1.1 has no such thing, so there the
// clean connection is closed at once with DISCONNECT and a second one,
// clean session 0, starts the kept session.
func (k *link) connect(a string) (net.Conn, []byte, bool, error) {
	u := k.u
	ctx, cancel := context.WithTimeout(u.ctx, u.opt.DialTimeout) // Close cancels u.ctx
	defer cancel()
	clean := !k.persist() || k.kept != a
	if clean && k.persist() && u.version != mqttcodec.V5 {
		nc, err := k.dial(ctx, a)
		if err != nil {
			return nil, nil, false, err
		}
		if _, _, err := k.handshake(ctx, nc, a, true); err != nil {
			return nil, nil, false, err
		}
		_, _ = nc.Write(mqttcodec.AppendDisconnect(nil, u.version, &mqttcodec.Disconnect{}))
		_ = nc.Close()
		clean = false
	}
	nc, err := k.dial(ctx, a)
	if err != nil {
		return nil, nil, false, err
	}
	rest, present, err := k.handshake(ctx, nc, a, clean)
	if err != nil {
		return nil, nil, false, err
	}
	if k.persist() {
		k.kept = a
	}
	return nc, rest, present && !clean, nil
}

// dial opens a TCP (and TLS) connection to a and makes it the current one.
func (k *link) dial(ctx context.Context, a string) (net.Conn, error) {
	u := k.u
	d := net.Dialer{LocalAddr: k.src}
	nc, err := d.DialContext(ctx, "tcp", a)
	if err != nil {
		return nil, wrap(downDial, "relay: cannot dial "+a, err)
	}
	if u.tlsCfg != nil {
		cfg := u.tlsCfg.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(a)
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, wrap(downTLS, "relay: TLS handshake with "+a, err)
		}
		nc = tc
	}
	k.mu.Lock()
	k.nc = nc
	k.mu.Unlock()
	if u.closing() {
		_ = nc.Close()
		return nil, errClosing
	}
	return nc, nil
}

// handshake sends our CONNECT on nc and reads the CONNACK (nc is closed on
// failure). It returns the bytes read past the CONNACK and its Session
// Present flag.
func (k *link) handshake(ctx context.Context, nc net.Conn, a string, clean bool) ([]byte, bool, error) {
	u := k.u
	deadline, _ := ctx.Deadline()
	_ = nc.SetDeadline(deadline)
	if _, err := nc.Write(k.appendConnect(k.wbuf[:0], clean)); err != nil {
		_ = nc.Close()
		return nil, false, wrap(downClosed, "relay: cannot send CONNECT", err)
	}
	buf := make([]byte, 0, 512)
	for {
		size, err := mqttcodec.PacketSize(buf, 1024)
		if err == nil && size <= len(buf) {
			ca := mqttcodec.Connack{}
			if mqttcodec.TypeOf(buf) != mqttcodec.CONNACK {
				_ = nc.Close()
				return nil, false, errNotConnack
			}
			if err := mqttcodec.DecodeConnack(buf[:size], u.version, &ca); err != nil {
				_ = nc.Close()
				return nil, false, wrap(downProtocol, errBadFrame.msg, err)
			}
			if ca.Reason != mqttcodec.Success {
				_ = nc.Close()
				return nil, false, refusedError(u.version, ca.Reason)
			}
			k.negotiate(&ca)
			_ = nc.SetDeadline(time.Time{})
			return append([]byte(nil), buf[size:]...), ca.SessionPresent, nil
		}
		if err != nil && err != mqttcodec.ErrNeedMore {
			_ = nc.Close()
			if mqttcodec.TypeOf(buf) != mqttcodec.CONNACK {
				return nil, false, errNotConnack
			}
			return nil, false, wrap(downProtocol, errBadFrame.msg, err)
		}
		if len(buf) == cap(buf) {
			_ = nc.Close()
			return nil, false, errNotConnack
		}
		n, rerr := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr != nil && n == 0 {
			_ = nc.Close()
			var ne net.Error
			switch {
			case u.closing():
				return nil, false, errClosing
			case errors.As(rerr, &ne) && ne.Timeout():
				return nil, false, errConnackTimeout
			case errors.Is(rerr, io.EOF):
				return nil, false, wrap(downClosed, "relay: closed before CONNACK", rerr)
			}
			return nil, false, wrap(downClosed, "relay: before CONNACK", rerr)
		}
	}
}

// persist reports whether upstream sessions are kept (session_expiry > 0).
func (k *link) persist() bool { return k.u.cfg.SessionExpiry > 0 }

// appendConnect encodes our CONNECT: clean start or not (see connect),
// keep alive, credentials; v5: Receive Maximum importWindow, our Maximum
// Packet Size, no topic aliases, the Session Expiry Interval when sessions
// are kept.
func (k *link) appendConnect(dst []byte, clean bool) []byte {
	u := k.u
	c := mqttcodec.Connect{
		Version: u.version, CleanStart: clean, ClientID: k.id,
		KeepAlive: uint16(u.cfg.KeepAlive.D() / time.Second),
	}
	if u.cfg.Username != "" {
		c.UsernameFlag, c.Username = true, []byte(u.cfg.Username)
	}
	if len(u.pass) > 0 {
		c.PasswordFlag, c.Password = true, u.pass
	}
	if u.version == mqttcodec.V5 {
		c.Props.ReceiveMaximum = importWindow
		c.Props.Set(mqttcodec.PropReceiveMaximum)
		c.Props.MaximumPacketSize = uint32(u.opt.MaxPacket)
		c.Props.Set(mqttcodec.PropMaximumPacketSize)
		if k.persist() {
			c.Props.SessionExpiry = uint32(u.cfg.SessionExpiry.D() / time.Second)
			c.Props.Set(mqttcodec.PropSessionExpiry)
		}
	}
	return mqttcodec.AppendConnect(dst, &c)
}

// negotiate records the CONNACK's limits for this connection.
func (k *link) negotiate(ca *mqttcodec.Connack) {
	u := k.u
	s := session1{keepAlive: u.cfg.KeepAlive.D(), maxQoS: 2, retain: true}
	window := u.opt.Window3
	if u.version == mqttcodec.V5 {
		p := &ca.Props
		window = 65535
		if p.Has(mqttcodec.PropReceiveMaximum) && p.ReceiveMaximum > 0 {
			window = int(p.ReceiveMaximum)
		}
		window = min(window, MaxWindow)
		if p.Has(mqttcodec.PropMaximumQoS) {
			s.maxQoS = p.MaximumQoS // [MQTT-3.2.2-11]
		}
		if p.Has(mqttcodec.PropRetainAvailable) {
			s.retain = p.RetainAvailable != 0 // [MQTT-3.2.2-14]
		}
		if p.Has(mqttcodec.PropMaximumPacketSize) {
			s.maxPacket = int(p.MaximumPacketSize) // [MQTT-3.2.2-15]
		}
		if p.Has(mqttcodec.PropServerKeepAlive) && p.ServerKeepAlive > 0 {
			s.keepAlive = time.Duration(p.ServerKeepAlive) * time.Second // [MQTT-3.2.2-21]
		}
	}
	k.mu.Lock()
	k.sess = s
	k.window = window
	k.mu.Unlock()
}

// serve runs one established connection until it fails or Close: it
// resumes (held messages first, in order, then resubscription; or the kept
// session when present), starts the reader, and writes until either side
// ends. It returns why the connection ended; the reader has returned by
// then.
func (k *link) serve(nc net.Conn, rest []byte, a string, present bool) error {
	now := time.Now()
	k.lastRead.Store(now.UnixNano())
	k.setState(stateConnected, a, nil)
	if present {
		k.resumeSession()
	} else {
		k.resume()
		k.in2 = map[uint16]bool{}
	}
	readerDone := make(chan error, 1)
	go func() { readerDone <- k.read(nc, rest, a) }()
	ka := k.sess.keepAlive
	tick := time.NewTicker(min(ka/4, time.Second))
	defer tick.Stop()
	lastPing, ping := now, true // the first PINGREQ at once: its PINGRESP makes the link healthy
	end := func(err error) error {
		_ = nc.Close()
		rerr := <-readerDone
		if err == nil {
			err = rerr
		}
		k.mu.Lock()
		k.nc = nil
		k.mu.Unlock()
		return err
	}
	for {
		if err := k.flush(nc, ping); err != nil {
			return end(err)
		}
		if ping {
			lastPing, ping = time.Now(), false
		}
		select {
		case <-k.wake:
			k.coalesce()
		case err := <-readerDone:
			readerDone <- err
			return end(nil)
		case t := <-tick.C:
			if t.UnixNano()-k.lastRead.Load() > int64(ka+ka/2) {
				return end(errKeepAlive)
			}
			ping = t.Sub(lastPing) >= ka
		case <-k.u.stop:
			return end(errClosing)
		}
	}
}

// coalesceDelay is how long a busy writer waits for more messages before
// writing fewer than coalesceMin (see coalesce).
const (
	coalesceDelay = 100 * time.Microsecond
	coalesceMin   = 32
)

// coalesce lets messages accumulate before a write while the link is busy:
// when the last write was less than a millisecond ago and fewer than
// coalesceMin messages wait, the writer sleeps coalesceDelay once. Under
// load that turns one write (and one upstream read and PUBACK batch) per
// message into one per batch, for at most coalesceDelay of latency; an idle
// link writes at once.
func (k *link) coalesce() {
	if time.Since(k.lastWrite) > time.Millisecond {
		return
	}
	k.mu.Lock()
	n := len(k.queue) - k.qhead
	k.mu.Unlock()
	if n > 0 && n < coalesceMin {
		time.Sleep(coalesceDelay)
	}
}

// resume prepares a new connection with a new session: the messages in
// flight on the last one go back to the head of the queue, in their order
// (resent with DUP, under new packet identifiers), and the subscription
// changes are replaced by the current upstream set.
func (k *link) resume() {
	k.mu.Lock()
	var again []*entry
	for _, e := range k.order {
		if !e.done {
			e.rec, e.id = false, 0
			again = append(again, e)
		}
	}
	clear(k.order)
	k.order = k.order[:0]
	clear(k.live)
	if len(again) > 0 {
		k.queue = append(again, k.queue[k.qhead:]...)
		k.qhead = 0
	}
	k.ctrl = k.ctrl[:0]
	k.opID, k.opSent = 0, nil
	k.mu.Unlock()
	k.u.agg.resubscribe(k)
}

// resumeSession prepares a new connection on which the upstream resumed our
// session [MQTT-4.4.0-1]: a QoS 2 message whose PUBREC came gets its PUBREL
// again, in PUBREC order; every other message in flight goes back to the
// head of the queue in send order and is resent with DUP under its packet
// identifier (it stays in live: the window counts it). The upstream still
// holds our subscriptions: the changes queued meanwhile stand, and one sent
// without its acknowledgement goes again first. Inbound QoS 2 state (in2)
// is kept, so a PUBLISH the upstream resends is not imported twice.
func (k *link) resumeSession() {
	u := k.u
	k.mu.Lock()
	var again, rel []*entry
	for _, e := range k.order {
		switch {
		case e.done:
		case e.rec:
			rel = append(rel, e)
		default:
			again = append(again, e)
		}
	}
	clear(k.order)
	k.order = append(k.order[:0], rel...)
	k.ctrl = k.ctrl[:0]
	for _, e := range rel {
		k.ctrl = mqttcodec.AppendAck(k.ctrl, u.version, &mqttcodec.Ack{Type: mqttcodec.PUBREL, PacketID: e.id})
	}
	if len(again) > 0 {
		k.queue = append(again, k.queue[k.qhead:]...)
		k.qhead = 0
	}
	if k.opID != 0 {
		redo := make([]subOp, 0, len(k.opSent)+len(k.ops))
		for _, f := range k.opSent {
			redo = append(redo, subOp{unsub: k.opUns, filter: f})
		}
		k.ops = append(redo, k.ops...)
	}
	k.opID, k.opSent = 0, nil
	k.mu.Unlock()
	u.m.resumed.Inc()
	u.log.Info("relay session resumed", "conn", k.idx, "resend", len(again), "pubrel", len(rel))
	k.signal()
}

// flush writes what is pending: acknowledgements of imports, a PINGREQ
// when due, the next subscription batch, and publishes while the window
// allows; in chunks of writeChunk.
func (k *link) flush(nc net.Conn, ping bool) error {
	u := k.u
	for {
		now := time.Now().UnixNano()
		buf := k.wbuf[:0]
		if ping {
			buf = mqttcodec.AppendPingreq(buf)
			ping = false
		}
		k.mu.Lock()
		buf = append(buf, k.ctrl...)
		k.ctrl = k.ctrl[:0]
		if k.opID == 0 && len(k.ops) > 0 {
			buf = k.appendOp(buf)
		}
		take := k.take[:0]
		var drops []*entry
		budget := writeChunk
		for k.qhead < len(k.queue) && budget > 0 {
			e := k.queue[k.qhead]
			// e.id != 0: resent in a resumed session under its identifier,
			// counted in live already; it is sent whatever it has become
			// (the upstream may hold its QoS 2 state under that identifier).
			if e.id == 0 && len(k.live) >= k.window {
				break
			}
			k.queue[k.qhead] = nil
			k.qhead++
			if e.id == 0 {
				if e.msg.Expired(now) {
					drops = append(drops, e)
					continue
				}
				if mp := k.sess.maxPacket; mp > 0 && u.packetBound(e.msg) > mp {
					drops = append(drops, e) // [MQTT-3.2.2-15] it may not be sent
					continue
				}
				e.qos = min(e.qos, k.sess.maxQoS)
				if e.qos > 0 {
					e.id = k.allocID()
					k.live[e.id] = e
				}
			}
			// In send order, QoS 0 included: a QoS 0 message is done once
			// written, and resent after a reconnect if its write failed.
			k.order = append(k.order, e)
			take = append(take, e)
			budget -= e.msg.Size + 16
		}
		if k.qhead == len(k.queue) {
			clear(k.queue[:k.qhead])
			k.queue, k.qhead = k.queue[:0], 0
		} else if k.qhead > 1024 && k.qhead*2 > len(k.queue) {
			n := copy(k.queue, k.queue[k.qhead:])
			clear(k.queue[n:])
			k.queue, k.qhead = k.queue[:n], 0
		}
		if len(k.order) > 2*len(k.live)+64 {
			k.compactOrder()
		}
		retain := k.sess.retain
		k.mu.Unlock()
		k.take = take
		for _, e := range drops {
			r := dropExpired
			if !e.msg.Expired(now) {
				r = dropTooLarge
			}
			u.m.dropped[r].Inc()
			k.finish(e)
		}
		var resent uint64
		for _, e := range take {
			if e.sent {
				resent++
			}
			buf = k.appendPublish(buf, e, retain, now)
			e.sent = true
		}
		if resent > 0 {
			u.m.resent.Add(int(resent))
		}
		if len(buf) > 0 {
			_ = nc.SetWriteDeadline(time.Now().Add(k.sess.keepAlive + k.sess.keepAlive/2))
			_, err := nc.Write(buf)
			k.wbuf = buf[:0]
			k.lastWrite = time.Now()
			if err != nil {
				return wrap(downWrite, errWriteStalled.msg, err)
			}
		}
		// QoS 0 upstream publishes are done once written.
		var q0 int
		k.mu.Lock()
		for _, e := range take {
			if e.qos == 0 {
				e.done = true
				q0++
			}
		}
		k.mu.Unlock()
		if q0 > 0 {
			for _, e := range take {
				if e.qos == 0 {
					k.finish(e)
				}
			}
			u.m.forwarded.Add(q0)
		}
		k.deliverDones()
		clear(take)
		if len(take) == 0 || budget > 0 {
			return nil
		}
	}
}

// finish ends e's hold on the writer side (QoS 0 written, or dropped); its
// token goes out with the next deliverDones.
func (k *link) finish(e *entry) {
	k.u.release(e)
	if e.tok != nil {
		k.wdones = append(k.wdones, e.tok)
	}
}

// deliverDones hands the writer's finished tokens to Hooks.Done.
func (k *link) deliverDones() {
	if len(k.wdones) == 0 {
		return
	}
	if k.u.hooks.Done != nil {
		k.u.hooks.Done(k.wdones)
	}
	clear(k.wdones)
	k.wdones = k.wdones[:0]
}

// appendPublish encodes e for the current connection.
func (k *link) appendPublish(dst []byte, e *entry, retain bool, now int64) []byte {
	u := k.u
	m := e.msg
	k.tbuf = append(append(k.tbuf[:0], u.prefix...), m.Topic...)
	p := mqttcodec.Publish{Dup: e.sent && e.qos > 0, QoS: e.qos, Retain: m.Retain && retain, Topic: k.tbuf, PacketID: e.id, Payload: m.Payload}
	if u.version == mqttcodec.V5 {
		p.Props = m.Props
		if m.ExpiresAt != 0 {
			left := (m.ExpiresAt - now + 999_999_999) / 1e9
			p.Props.MessageExpiry = uint32(max(left, 1)) // [MQTT-3.3.2-6] the remaining lifetime
			p.Props.Set(mqttcodec.PropMessageExpiry)
		}
	}
	return mqttcodec.AppendPublish(dst, u.version, &p)
}

// packetBound is an upper bound of the size of m's PUBLISH towards u: the
// largest fixed header, topic with prefix, packet identifier, payload and
// v5 properties with the Message Expiry Interval the relay may add.
func (u *Upstream) packetBound(m *session.Message) int {
	n := 5 + 2 + len(u.prefix) + len(m.Topic) + 2 + len(m.Payload)
	if u.version == mqttcodec.V5 {
		n += 4 + m.Props.Len() + 5
	}
	return n
}

// allocID returns a free publish packet identifier (1..0x7FFF). Under mu.
func (k *link) allocID() uint16 {
	for {
		k.nextID++
		if k.nextID == 0 || k.nextID > 0x7FFF {
			k.nextID = 1
		}
		if _, used := k.live[k.nextID]; !used {
			return k.nextID
		}
	}
}

// compactOrder drops the tombstones of link.order. Under mu.
func (k *link) compactOrder() {
	n := 0
	for _, e := range k.order {
		if !e.done {
			k.order[n] = e
			n++
		}
	}
	clear(k.order[n:])
	k.order = k.order[:n]
}

// appendOp encodes the next batch of subscription changes (consecutive
// operations of one kind, at most subBatch). Under mu.
func (k *link) appendOp(dst []byte) []byte {
	u := k.u
	unsub := k.ops[0].unsub
	n := 0
	for n < len(k.ops) && n < subBatch && k.ops[n].unsub == unsub {
		n++
	}
	k.nextOp++
	k.opID = 0x8000 | (k.nextOp & 0x7FFF)
	k.opSent, k.opUns = k.opSent[:0], unsub
	for _, op := range k.ops[:n] {
		k.opSent = append(k.opSent, op.filter)
	}
	if unsub {
		p := mqttcodec.Unsubscribe{PacketID: k.opID, Filters: k.opSent}
		dst = mqttcodec.AppendUnsubscribe(dst, u.version, &p)
	} else {
		p := mqttcodec.Subscribe{PacketID: k.opID}
		for _, f := range k.opSent {
			// v5 No Local: our own forwards never come back on this
			// connection [MQTT-3.8.3-3].
			p.Filters = append(p.Filters, mqttcodec.Subscription{Filter: f, QoS: u.maxQoS, NoLocal: u.version == mqttcodec.V5})
		}
		dst = mqttcodec.AppendSubscribe(dst, u.version, &p)
	}
	k.ops = append(k.ops[:0], k.ops[n:]...)
	return dst
}

// hasPrefix reports whether topic starts with the remote prefix.
func (u *Upstream) hasPrefix(topic []byte) bool { return bytes.HasPrefix(topic, u.prefix) }
