package gateway

import (
	"edgegw/mqttcodec"
	"edgegw/router"
	"edgegw/session"
)

// takeoverReq carries a CONNECT that claims an existing session to the loop
// that owns it, and the session state back to the connection's loop.
type takeoverReq struct {
	rec     *sessionRec
	c       *conn
	l       *loop // the connection's loop: the session's new owner
	pr      session.Params
	st      *session.State // filled by the previous owner
	present bool           // CONNACK session present
	from    *loop          // the previous owner, for a cross-loop handover (fence.go)
	waiting int            // loops whose fence answer from has yet to see (from's loop only)
}

// onConnect handles the first packet of a connection, which must be CONNECT.
func (c *conn) onConnect(frame []byte) {
	l := c.l
	g := l.g
	if mqttcodec.TypeOf(frame) != mqttcodec.CONNECT {
		// [MQTT-3.1.0-1] the first packet must be CONNECT: garbage is closed.
		c.kick(0, closeProtocol, errNotConnect)
		return
	}
	p := &l.connect
	if err := mqttcodec.DecodeConnect(frame, p); err != nil {
		rc := mqttcodec.ReasonOf(err)
		switch {
		case rc == mqttcodec.UnsupportedProtocolVersion:
			// [MQTT-3.1.2-2] CONNACK 0x01 (v3) / 0x84 (v5), then close.
			v := mqttcodec.V311
			if p.Version == mqttcodec.V5 {
				v = mqttcodec.V5
			}
			c.refuse(v, rc, err)
		case p.Version == mqttcodec.V5:
			c.refuse(mqttcodec.V5, rc, err)
		default:
			c.kick(0, closeReasonOf(rc), err)
		}
		return
	}
	pr, rc := session.ParseConnect(p, &g.lim, l.now, g.assignID)
	if rc != mqttcodec.Success {
		c.refuse(p.Version, rc, nil)
		return
	}
	if !c.admit(pr.Version, pr.ClientID) { // memory budget (admission.go)
		return
	}
	c.version = pr.Version
	c.bridge = pr.Bridge
	c.keepAlive = pr.KeepAlive
	c.wheelAt = 0 // it held the open time; from now on it is the wheel's
	// The request lives in the loop's scratch: a new session is attached
	// before claim returns, so the common CONNECT leaves no garbage behind
	// (a connect storm would otherwise grow the heap by the request's size
	// per client until the next GC). claim copies it to the heap when it
	// has to wait for another loop.
	l.req = takeoverReq{c: c, l: l, pr: pr}
	l.claim(&l.req)
	l.req = takeoverReq{}
}

// refuse answers CONNECT with a CONNACK reason code and closes.
func (c *conn) refuse(v mqttcodec.Version, rc mqttcodec.ReasonCode, err error) {
	session.AppendRefusal(c.o(), v, rc)
	c.l.st.pktOut[mqttcodec.CONNACK]++
	c.markDirty()
	c.version = v
	c.state = stClosing
	c.reason = closeRefused
	c.logClose(closeRefused, rc, err)
	c.closeSocket()
}

// claim looks the client ID up in the registry: a new session is attached
// at once; an existing one is claimed from its owner loop. req may be the
// loop's scratch (l.req): it is used only before claim returns, and copied
// to the heap when the claim has to wait.
func (l *loop) claim(req *takeoverReq) {
	rec, created := l.g.reg.acquire(req.pr.ClientID, l)
	req.rec = rec
	if created {
		l.g.m.sessions.Add(1)
		req.st = session.New(&req.pr, &l.g.lim)
		l.attach(req)
		return
	}
	if req == &l.req {
		h := new(takeoverReq)
		*h = *req
		req = h
	}
	req.c.state = stWaiting
	if owner := rec.owner(l.g); owner == l {
		l.takeover(req)
	} else {
		l.send(owner, inItem{kind: inTakeover, req: req})
	}
}

// retryConnect redoes claim after the claimed session ended meanwhile.
func (l *loop) retryConnect(req *takeoverReq) {
	if req.c.closed || req.c.state == stClosing {
		return
	}
	l.claim(req)
}

// takeover runs on the session's owner: it closes the old connection (v5
// DISCONNECT 0x8E [MQTT-3.1.4-3]), applies clean start, and hands the state
// to the claiming connection's loop.
func (l *loop) takeover(req *takeoverReq) {
	rec := req.rec
	if owner := rec.owner(l.g); owner != l {
		l.send(owner, inItem{kind: inTakeover, req: req}) // moved meanwhile
		return
	}
	if rec.fenced() {
		rec.x.held = append(rec.x.held, inItem{kind: inTakeover, req: req}) // after the handover completes
		return
	}
	if rec.dead() {
		if req.l == l {
			l.retryConnect(req)
		} else {
			l.send(req.l, inItem{kind: inRetry, req: req})
		}
		return
	}
	if rec.st == nil {
		rec.ext().early = append(rec.ext().early, inItem{kind: inTakeover, req: req}) // state still on its way here
		return
	}
	st := rec.st
	// The session ends here when the new connection starts clean or the
	// old one asked for none to be kept (expiry 0: v5 Session Expiry 0, or
	// a v3.1.1 clean session) [MQTT-3.1.2-4] [MQTT-3.1.2-6]; otherwise the
	// new connection resumes it.
	ends := req.pr.CleanStart || st.Expiry == 0
	var will *session.Will // the old connection's will, due now
	if old := rec.conn; old != nil {
		w := st.Will
		old.kick(mqttcodec.SessionTakenOver, closeTakeover, nil)
		// The old network connection closed: its will is published unless
		// the session goes on and the will waits for its delay, which the
		// new connection then cancels [MQTT-3.1.3-9] (v5 section 3.1.3.2.2:
		// a session that ends publishes the will at once).
		if w != nil && (w.Delay == 0 || ends) {
			will = w
		}
	}
	if rec.x != nil {
		// A delayed will of an earlier connection: cancelled by a new
		// connection to the same session [MQTT-3.1.3-9], due now when the
		// session ends. The session no longer expires.
		if rec.x.will != nil && ends {
			will = rec.x.will
		}
		rec.x.will, rec.x.expireAt = nil, 0
	}
	if will != nil {
		l.publishWill(rec, will)
	}
	l.releaseWaiters(rec)
	req.present = !ends
	if ends {
		l.resetSession(rec) // [MQTT-3.1.2-4]
	}
	req.st = st
	if req.l == l {
		l.attach(req)
		return
	}
	rec.st = nil
	if rec.x != nil {
		rec.x.wheelAt = 0 // the new owner schedules afresh; entries here are dropped (ownedBy)
	}
	rec.setOwner(req.l)
	l.send(req.l, inItem{kind: inAttach, req: req})
	l.fence(req)
}

// attach binds the session to the claiming connection on its loop: CONNACK,
// resend of unacknowledged messages with DUP, queued messages, keep alive.
func (l *loop) attach(req *takeoverReq) {
	rec, c := req.rec, req.c
	rec.st = req.st
	st := rec.st
	if req.from != nil {
		rec.ext().fenced = true // until fenceDone: see fence.go
		rec.x.fence = req
	}
	if c.closed || c.state == stClosing {
		// The client went away while its session travelled here.
		st.SetParams(&req.pr)
		l.offline(rec, nil)
	} else {
		c.rec = rec
		rec.conn = c
		rec.set(recOnline, true)
		c.state = stConnected
		session.AppendConnack(c.o(), &req.pr, &l.g.lim, req.present)
		l.st.pktOut[mqttcodec.CONNACK]++
		ss := st.Attach(&req.pr, l.now, c.o())
		l.countSend(ss)
		c.settle()
		c.lastActive = l.now
		if c.keepAlive > 0 {
			l.wheel.schedule(c, l.now+c.kaNanos())
		}
		c.armRetry()
		if !c.reading && (c.ws || c.gc.InboundBuffered() > 0) {
			_ = c.gc.Wake(nil) // packets that arrived while the session travelled here
		}
	}
	if rec.x != nil && len(rec.x.early) > 0 {
		early := rec.x.early
		rec.x.early = nil
		for i := range early {
			l.process(&early[i])
		}
	}
}

// detach unlinks c's session from c (close, DISCONNECT, takeover). keep:
// the state goes to a new connection (takeover), so the session neither
// ends nor goes offline here.
func (c *conn) detach(will bool, keep bool) {
	if c.detached || c.rec == nil {
		c.detached = true
		return
	}
	c.detached = true
	l := c.l
	rec := c.rec
	if rec.conn != c || !rec.ownedBy(l) || rec.st == nil {
		return
	}
	rec.conn = nil
	rec.set(recOnline, false)
	rec.st.Unlink() // until Detach or the next Attach, deliveries are queued, never written
	l.releaseWaiters(rec)
	if keep {
		return // takeover: it decides about the will (see takeover)
	}
	var w *session.Will
	if will {
		w = rec.st.Will
	}
	l.offline(rec, w)
}

// offline makes rec's session offline, or ends it when its expiry is 0; a
// will is published now or after its delay [MQTT-3.1.3-9].
func (l *loop) offline(rec *sessionRec, w *session.Will) {
	st := rec.st
	exp := st.Expiry
	if exp == 0 {
		l.endSession(rec)
		if w != nil {
			l.publishWill(rec, w)
		}
		return
	}
	var ss session.SendStats
	st.Detach(l.now, &ss)
	l.countSend(ss)
	x := rec.ext()
	if exp != 0xFFFFFFFF {
		x.expireAt = l.now + int64(exp)*1e9
	}
	if w != nil {
		if w.Delay == 0 {
			l.publishWill(rec, w)
		} else {
			x.will, x.willAt = w, l.now+int64(w.Delay)*1e9
		}
	}
	l.wheel.schedule(rec, rec.nextDeadline())
}

// slotAt is rec's wheel deadline; rec is scheduled only by offline, which
// allocates x.
func (rec *sessionRec) slotAt() *int64 { return &rec.ext().wheelAt }

func (rec *sessionRec) nextDeadline() int64 {
	x := rec.x
	if x == nil {
		return 0
	}
	d := x.expireAt
	if x.will != nil && (d == 0 || x.willAt < d) {
		d = x.willAt
	}
	return d
}

// fire publishes a delayed will and ends an expired offline session.
func (rec *sessionRec) fire(l *loop, now int64) int64 {
	if rec.dead() || rec.conn != nil || !rec.ownedBy(l) || rec.st == nil || rec.x == nil {
		return 0
	}
	x := rec.x
	if x.will != nil && now >= x.willAt {
		w := x.will
		x.will = nil
		l.publishWill(rec, w)
	}
	if x.expireAt != 0 && now >= x.expireAt {
		if w := x.will; w != nil {
			x.will = nil
			l.publishWill(rec, w) // the session ends before the will delay [MQTT-3.1.3-9]
		}
		l.endSession(rec)
		return 0
	}
	return rec.nextDeadline()
}

// endSession removes rec: registry, router subscriptions, gauges.
func (l *loop) endSession(rec *sessionRec) {
	if !l.g.reg.remove(rec) {
		return
	}
	l.g.m.sessions.Add(-1)
	l.resetSession(rec)
	l.releaseWaiters(rec)
}

// resetSession drops every subscription and message of rec (clean start).
//
// A session that ended (rec dead: its handle resolves to nothing any more)
// and holds more than unsubSlice filters leaves the router in slices, one
// per wake (l.unsubs), so that ending a huge session does not stall its loop;
// a session that goes on (clean start on takeover) is cleared at once, since
// its handle subscribes again.
func (l *loop) resetSession(rec *sessionRec) {
	st := rec.st
	if n := rec.subs.len(); n > 0 {
		filters := rec.subs.appendTo(make([][]byte, 0, n))
		if n > unsubSlice && rec.dead() {
			l.unsubs = append(l.unsubs, staleSubs{h: rec.handle, filters: filters})
		} else {
			l.g.router.UnsubscribeAll(rec.handle, filters)
		}
		l.st.subs -= int64(n)
	}
	rec.subs = nil
	var ss session.SendStats
	st.Reset(&ss)
	l.countSend(ss)
}

// unsubSlice is how many filters of an ended session leave the router per
// wake (about 1 ms of router work).
const unsubSlice = 1024

// staleSubs are the filters of an ended session still in the router.
type staleSubs struct {
	h       router.Subscriber
	filters [][]byte
}

// dropStaleSubs removes the next slice of ended sessions' filters.
func (l *loop) dropStaleSubs() {
	u := &l.unsubs[0]
	k := min(unsubSlice, len(u.filters))
	l.g.router.UnsubscribeAll(u.h, u.filters[:k])
	clear(u.filters[:k])
	u.filters = u.filters[k:]
	if len(u.filters) == 0 {
		copy(l.unsubs, l.unsubs[1:])
		l.unsubs[len(l.unsubs)-1] = staleSubs{}
		l.unsubs = l.unsubs[:len(l.unsubs)-1]
	}
}

// publishWill queues a will message for publication at the end of the
// current wake (see loop.end). A will is never published from inside the
// code that ends its session (detach, kick, takeover, expiry), which may
// itself run inside a publish (a subscriber kicked mid fan-out): publish is
// never re-entered, and the session is offline or gone before its own will
// reaches it [MQTT-3.1.2-8].
func (l *loop) publishWill(rec *sessionRec, w *session.Will) {
	l.wills = append(l.wills, pendingWill{rec: rec, msg: w.Message(l.now)})
}

// pendingWill is a will waiting for the end of the wake; msg is stamped with
// its expiry at the moment the will became due.
type pendingWill struct {
	rec *sessionRec
	msg *session.Message
}

// publishWills routes the wills that became due during this wake; wills
// that their publication makes due (a slow subscriber kicked) follow in the
// same call.
func (l *loop) publishWills() {
	for i := 0; i < len(l.wills); i++ {
		w := l.wills[i]
		l.wills[i] = pendingWill{}
		l.publish(w.msg, w.rec, nil, 0, 0)
	}
	l.wills = l.wills[:0]
}
