package gateway

import (
	"hash/maphash"
	"sync/atomic"

	"edgegw/mqttcodec"
	"edgegw/router"
	"edgegw/session"
)

// ackToken is a publisher's PUBACK/PUBREC parked until every congested
// subscriber of the message drained below limits.max_outbound_bytes
// (lossless backpressure). pending counts the holds plus the publisher's
// own reference during fan-out; the ack goes out when it reaches 0.
type ackToken struct {
	pending atomic.Int32
	l       *loop            // the publisher's loop
	c       *conn            // the publisher's connection (on l)
	msg     *session.Message // marked AckHeld until the ack is sent (drain counts by it)
	qos     byte
	id      uint16
}

// publish routes msg (copied once, immutable) to every matching session.
// pub is the publishing connection (nil for wills); qos and id are its
// PUBLISH's, acknowledged here or, under backpressure, when the last
// congested subscriber drained.
func (l *loop) publish(msg *session.Message, from *sessionRec, pub *conn, qos byte, id uint16) {
	g := l.g
	l.st.published++
	if msg.Retain {
		l.retain(msg)
	}
	var pubH router.Subscriber
	var hash uint64
	if from != nil {
		pubH = from.handle
		if g.sticky {
			hash = maphash.String(g.reg.seed, from.id)
		}
	}
	// The matches are this call's own: the loop's slice is taken, not
	// shared, for the duration of the fan-out (a publish is never re-entered:
	// wills wait for the end of the wake, see publishWill; should that ever
	// change, a nested call would get a slice of its own, not clear ours).
	matches := g.router.Match(msg.Topic, pubH, hash, l.matches[:0])
	l.matches = nil
	canHold := pub != nil && qos > 0 && g.policy == policyBackpressure
	var tok *ackToken
	hold := func() *ackToken {
		if tok == nil {
			tok = &ackToken{l: l, c: pub, msg: msg, qos: qos, id: id}
			tok.pending.Store(1)
			msg.SetAckHeld(true)
		}
		tok.pending.Add(1)
		return tok
	}
	bound := g.cfg.Engine.InboxSize
	for i := range matches {
		d := &matches[i]
		rec := g.reg.resolve(d.Sub)
		if rec == nil {
			l.st.dropped[dropStale]++
			continue
		}
		q := min(msg.QoS, d.QoS)
		retain := msg.Retain && d.RetainAsPublished // [MQTT-3.3.1-12] [MQTT-3.3.1-9]
		owner := rec.owner(g)
		if owner == l && rec.st != nil && rec.fenced() {
			it := inItem{kind: inDeliver, sub: d.Sub, msg: msg, qos: d.QoS, retain: retain, subIDs: d.SubIDs}
			if canHold && q > 0 {
				it.tok = hold() // the publisher's ack waits for the delivery
			}
			rec.x.held = append(rec.x.held, it)
			continue
		}
		if owner == l && rec.st != nil {
			sd := session.Delivery{Msg: msg, QoS: d.QoS, Retain: retain, SubIDs: d.SubIDs}
			if l.deliverLocal(rec, sd) && canHold && q > 0 {
				rec.ext().waiters = append(rec.ext().waiters, hold())
			}
			continue
		}
		it := inItem{kind: inDeliver, sub: d.Sub, msg: msg, qos: d.QoS, retain: retain, subIDs: d.SubIDs}
		full := l.inboxFull(owner, bound)
		held := canHold && q > 0
		if full && !held {
			// The inbox is bounded: past the bound only a delivery whose
			// publisher's ack is withheld (backpressure) is accepted, and
			// that withheld ack is what bounds it. Anything else (QoS 0,
			// policies drop and disconnect, wills) is dropped and counted.
			l.st.dropped[dropInboxFull]++
			continue
		}
		if held && (full || rec.has(recCongested)) {
			it.tok = hold()
		}
		l.send(owner, it)
	}
	if len(g.relays) > 0 {
		l.forward(msg, pub, qos, hold) // to the upstreams whose forward rules match (relay.go)
	}
	clear(matches)
	l.matches = matches[:0]
	if pub == nil || qos == 0 {
		return
	}
	if tok != nil {
		pub.withheld++
		l.st.parked++
		l.release(tok)
		return
	}
	pub.rec.st.AckPublish(qos, id, pub.o())
	l.countAck(qos)
	pub.markDirty()
}

func (l *loop) countAck(qos byte) {
	if qos == 1 {
		l.st.pktOut[mqttcodec.PUBACK]++
	} else {
		l.st.pktOut[mqttcodec.PUBREC]++
	}
}

// deliverItem applies a delivery posted by another loop.
func (l *loop) deliverItem(it *inItem) {
	rec := l.g.reg.resolve(it.sub)
	if rec == nil {
		l.st.dropped[dropStale]++
		if it.tok != nil {
			l.release(it.tok)
		}
		return
	}
	if owner := rec.owner(l.g); owner != l {
		fw := *it
		fw.fwd = true
		l.send(owner, fw) // the session moved (takeover)
		return
	}
	if rec.st == nil {
		rec.ext().early = append(rec.ext().early, *it)
		return
	}
	if !it.fwd && rec.fenced() {
		rec.x.held = append(rec.x.held, *it) // behind what is still on its way from the old owner
		return
	}
	sd := session.Delivery{Msg: it.msg, QoS: it.qos, Retain: it.retain, SubIDs: it.subIDs}
	congested := l.deliverLocal(rec, sd)
	if it.tok != nil {
		if congested {
			rec.ext().waiters = append(rec.ext().waiters, it.tok)
		} else {
			l.release(it.tok)
		}
	}
}

// deliverLocal hands d to rec's session on this loop and applies the
// slow-consumer policy. It returns true when rec is congested after the
// delivery (backpressure: the publisher's ack must wait for it).
func (l *loop) deliverLocal(rec *sessionRec, d session.Delivery) bool {
	st := rec.st
	c := rec.conn
	var ss session.SendStats
	if c == nil || c.state != stConnected {
		st.Deliver(d, l.now, nil, &ss) // queued (QoS 1/2) or dropped and counted (QoS 0)
		l.countSend(ss)
		return false
	}
	g := l.g
	if c.over() {
		switch {
		case g.policy == policyDrop:
			l.st.dropped[dropSlowConsumer]++
			return false
		case g.policy == policyDisconnect:
			l.st.dropped[dropSlowConsumer]++
			c.kick(mqttcodec.QuotaExceeded, closeSlowConsumer, nil)
			return false
		case min(d.Msg.QoS, d.QoS) == 0:
			l.st.dropped[dropSlowConsumer]++ // backpressure covers QoS 1/2 only
			return false
		}
	}
	inf := st.Inflight()
	st.Deliver(d, l.now, c.o(), &ss)
	l.countSend(ss)
	c.settleDelivery() // may be held for engine.flush_delay (coalesce.go)
	if inf == 0 && st.Inflight() > 0 {
		c.armRetry()
	}
	if c.out != nil && len(c.out.Iov) >= 512 {
		c.flush()
	}
	if g.policy == policyBackpressure && c.over() {
		if !rec.has(recInCong) {
			rec.set(recInCong|recCongested, true)
			l.cong = append(l.cong, rec)
		}
		return true
	}
	return false
}

// countSend folds a session's SendStats into the loop's counters and the
// inflight and queued gauges: every path that changes a session's messages
// reports through here (session.SendStats.DInflight, DQueued).
func (l *loop) countSend(ss session.SendStats) {
	l.st.inflight += int64(ss.DInflight)
	l.st.queued += int64(ss.DQueued)
	l.st.queuedB += int64(ss.DQueuedBytes)
	l.st.dropped[dropQueueMemory] += uint64(ss.OverBudget)
	l.st.delivered += uint64(ss.Sent)
	l.st.pktOut[mqttcodec.PUBLISH] += uint64(ss.Sent)
	l.st.dropped[dropExpired] += uint64(ss.Expired)
	l.st.dropped[dropTooLarge] += uint64(ss.TooLarge)
	l.st.dropped[dropOfflineFull] += uint64(ss.QueueFull)
	l.st.dropped[dropOfflineQoS0] += uint64(ss.OfflineQoS)
}

// release drops one hold of t; the last one sends the ack on t's loop.
func (l *loop) release(t *ackToken) {
	if t.pending.Add(-1) != 0 {
		return
	}
	if t.l == l {
		l.acks = append(l.acks, t)
	} else {
		l.send(t.l, inItem{kind: inAck, tok: t})
	}
}

// sendAck sends a released PUBACK/PUBREC and resumes a paused v3 reader.
func (l *loop) sendAck(t *ackToken) {
	c := t.c
	c.withheld--
	if c.closed || c.state != stConnected || c.rec == nil || c.rec.st == nil || l.g.draining.Load() {
		// The publisher reconnects and resends [MQTT-4.4.0-1]; a draining
		// gateway acknowledges nothing more (drain.go).
		return
	}
	t.msg.SetAckHeld(false)
	st := c.rec.st
	st.AckPublish(t.qos, t.id, c.o())
	l.countAck(t.qos)
	c.markDirty()
	if c.paused && c.withheld < int32(l.g.lim.ReceiveMaximum) {
		c.paused = false
		_ = c.gc.Wake(nil)
	}
}

// checkDrained releases rec's parked acks once it is below its budget (or
// gone). It returns true when rec left the congested list.
func (l *loop) checkDrained(rec *sessionRec) bool {
	c := rec.conn
	if !rec.dead() && rec.ownedBy(l) && c != nil && c.over() {
		return false
	}
	l.releaseWaiters(rec)
	return true
}

// releaseWaiters releases every ack parked on rec and takes rec off the
// congested list.
func (l *loop) releaseWaiters(rec *sessionRec) {
	if rec.x != nil {
		w := rec.x.waiters
		rec.x.waiters = nil
		for _, t := range w {
			l.release(t)
		}
	}
	if rec.has(recInCong) {
		rec.set(recInCong|recCongested, false)
		for i, r := range l.cong {
			if r == rec {
				last := len(l.cong) - 1
				l.cong[i] = l.cong[last]
				l.cong[last] = nil
				l.cong = l.cong[:last]
				break
			}
		}
	}
}
