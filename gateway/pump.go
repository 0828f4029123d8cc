package gateway

import "edgegw/session"

// A connected session queues what its connection cannot take now: messages
// beyond the inflight window, and messages beyond the output budget of a
// wake (session.Out.Limit, set from limits.max_outbound_bytes by conn.o).
// The budget is what keeps one SUBSCRIBE that matches many retained
// messages, or a resumed session with a long queue, from putting them all in
// gnet's outbound buffer in one wake: the rest waits in the session's queue
// (shared messages, one Delivery each) and goes out in slices as the socket
// drains. Live deliveries queue behind it, so the order holds.
//
// pumpQueues runs at the end of every wake of the loop while some
// connection waits; a connection whose socket backlog is at the budget waits
// for a later wake (the loop's tick at the latest); one that is not gets
// another slice, and the loop wakes itself (inPump) to send the next one
// soon.

// wantPump lists c for pumpQueues when its session has queued messages it
// could send were its output budget not spent. Loop-only.
func (c *conn) wantPump() {
	if c.pumping || c.rec == nil || c.rec.st == nil || !c.rec.st.CanSend() {
		return
	}
	c.pumping = true
	c.l.pump = append(c.l.pump, c)
}

// pumpQueues gives each waiting connection that is below its output budget
// one more slice of its queue, and drops from the list those with nothing
// left to send (or gone).
func (l *loop) pumpQueues() {
	k := 0
	for i, c := range l.pump {
		l.pump[i] = nil
		if c.closed || c.state != stConnected || c.rec == nil || c.rec.st == nil || !c.rec.st.CanSend() {
			c.pumping = false
			continue
		}
		if c.canPump() {
			var ss session.SendStats
			c.rec.st.Pump(l.now, c.o(), &ss)
			l.countSend(ss)
			if c.pending() > 0 {
				c.markDirty()
			}
			c.armRetry()
			if !c.rec.st.CanSend() {
				c.pumping = false
				continue
			}
		}
		l.pump[k] = c
		k++
	}
	l.pump = l.pump[:k]
}

// pumpReady reports whether a waiting connection could take a slice now.
func (l *loop) pumpReady() bool {
	for _, c := range l.pump {
		if c.canPump() {
			return true
		}
	}
	return false
}

// canPump reports whether c's socket side has room under
// limits.max_outbound_bytes for another slice of its queue.
func (c *conn) canPump() bool {
	return !c.closed && c.writeBacklog() < c.l.g.cfg.Limits.MaxOutboundBytes
}
