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
// pumpQueues runs in a wake of the loop's own (inPump) when a connection was
// listed or the last round made progress, and at every tick: a connection
// whose socket backlog is at the budget waits for a later round (the tick
// notices when its socket drained: gnet has no writable callback); one that
// is not gets another slice. A wake of any other kind does no pump work, so
// connections waiting on full sockets cost nothing per packet, one check
// each per tick.

// wantPump lists c for pumpQueues when its session has queued messages it
// could send were its output budget not spent. Loop-only.
func (c *conn) wantPump() {
	if c.pumping || c.rec == nil || c.rec.st == nil || !c.rec.st.CanSend() {
		return
	}
	c.pumping = true
	c.l.pump = append(c.l.pump, c)
	c.l.pumpDue = true
}

// pumpQueues gives each waiting connection that is below its output budget
// one more slice of its queue, and drops from the list those with nothing
// left to send (or gone). A connection that got a slice and has more makes
// another round due (pumpDue): its slice is flushed at the end of this wake.
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
			l.pumpDue = true
		}
		l.pump[k] = c
		k++
	}
	l.pump = l.pump[:k]
}

// canPump reports whether c's socket side has room under
// limits.max_outbound_bytes for another slice of its queue.
func (c *conn) canPump() bool {
	return !c.closed && c.writeBacklog() < c.l.g.cfg.Limits.MaxOutboundBytes
}
