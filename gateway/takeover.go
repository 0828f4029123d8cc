package gateway

// Takeover: a CONNECT that claims a session another connection (or no
// connection) holds: the old connection is closed, clean start applied, the
// state handed to the claiming connection's loop (fence.go keeps the order of
// what was on its way), and attached there. Loop-only.

import (
	"edgegw/mqttcodec"
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
	if req.c.gone() {
		// The claiming connection closed while its CONNECT travelled here:
		// it must not take the session from a newer live connection (a
		// CONNECT delayed behind a fence would otherwise kick the client
		// that reconnected after it, found by TestOrderAcrossTakeovers).
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
