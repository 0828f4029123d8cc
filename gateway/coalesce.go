package gateway

import "time"

// Write coalescing (engine.flush_delay). At about one message per wake, a
// subscriber's CPU cost is one write() per delivery; with flush_delay > 0 the
// output that deliveries produce for a connection may wait up to that long,
// so that the messages of several wakes leave in one writev.
//
// What is held: only bytes written by deliveries (deliverLocal: messages
// routed on this loop or posted by another one), on every transport.
// Everything the client waits on directly goes at the end of the wake, as
// with flush_delay 0, and takes the held bytes before it, so order holds:
// CONNACK, SUBACK/UNSUBACK and the retained messages of a SUBSCRIBE,
// PINGRESP, PUBACK/PUBREC/PUBREL/PUBCOMP, messages a client's PUBACK let out
// of its queue, pumped queue slices, retries, DISCONNECT and every close.
// WebSocket frames and TLS records are cut when the output is flushed, not
// when it is written: held messages leave in one WebSocket message (one
// permessage-deflate compression) and one run of TLS records, so holding
// saves their per-frame and per-record costs too. A pong is written at once
// and may pass held data frames (RFC 6455 5.4 lets control frames go between
// messages); the echo of a client's close frame goes after them, since no
// data frame may follow a close (feedWS flushes first).
//
// Held bytes stay in the connection's session.Out (conn.out), so they count
// in conn.pending, writeBacklog, over() and the output budget exactly as the
// bytes of an unflushed wake do; the loop's arena, which holds their
// headers, is not reset while any connection of the loop is held. A close
// (closeSocket, kick) or a drain flushes them first; a held connection whose
// output reaches coalesceMaxBytes flushes at the end of the wake.
//
// No timer per connection: held connections join the loop's list (coalescer)
// and all of them are flushed together at the list's deadline, the first
// listing plus flush_delay: by the first wake that ends past it (a busy loop
// needs nothing else), or by the loop's one timer, which posts inFlush to
// the loop's inbox. Flushes are counted by trigger (edgegw_flushes_total).

// coalesceMaxBytes is the held output past which a connection flushes at
// the end of the wake: writes this large cost little per byte already.
const coalesceMaxBytes = 64 << 10

// coalescer is a loop's list of connections with held output. Loop-only,
// but for timer, whose function runs on its own goroutine and only posts to
// the loop's inbox.
type coalescer struct {
	conns   []*conn     // connections with held output (conn.coalescing), in listing order
	due     int64       // unix nanos: flush the list at the first wake that ends past it
	armed   bool        // timer is set and its inFlush not yet processed
	delayed bool        // inside flushHeld: flushes count as trigger "delay"
	timer   *time.Timer // the loop's one flush timer; nil until the first hold
}

// Flush triggers, the label of edgegw_flushes_total.
const (
	flushWake  = iota // at the end of the wake that produced the output (flush_delay 0, replies, closes)
	flushDelay        // held output, at its deadline
	numFlushTriggers
)

var flushLabels = [numFlushTriggers]string{"wake", "delay"}

// trigger is the label of the flush in progress.
func (co *coalescer) trigger() int {
	if co.delayed {
		return flushDelay
	}
	return flushWake
}

// settleDelivery is settle for output a delivery produced: with
// engine.flush_delay > 0 a connection that is not already due for this
// wake's flush is held instead (see above). Loop-only.
func (c *conn) settleDelivery() {
	l := c.l
	d := l.g.cfg.Engine.FlushDelay.D()
	if d <= 0 || c.dirty || c.state != stConnected || c.pending() == 0 ||
		c.pending() >= coalesceMaxBytes || l.g.draining.Load() {
		c.settle()
		return
	}
	c.wantPump()
	if c.coalescing {
		return
	}
	c.coalescing = true
	if len(l.co.conns) == 0 {
		l.co.due = l.now + int64(d)
		l.armFlush(d)
	}
	l.co.conns = append(l.co.conns, c)
}

// unhold makes c's held output part of this wake's flush (a close is
// coming, and must follow it). Loop-only.
func (c *conn) unhold() {
	if c.coalescing && c.pending() > 0 {
		c.markDirty()
	}
}

// armFlush sets the loop's timer to post inFlush after d, unless it is set
// already (its inFlush then re-arms it for what is left). Loop-only.
func (l *loop) armFlush(d time.Duration) {
	if l.co.armed {
		return
	}
	l.co.armed = true
	if l.co.timer == nil {
		l.co.timer = time.AfterFunc(d, func() { postNow(l, inItem{kind: inFlush}) })
		return
	}
	l.co.timer.Reset(d)
}

// flushTimer applies the timer's inFlush: the list is flushed when due,
// else the timer is set again for the rest. Loop-only.
func (l *loop) flushTimer() {
	l.co.armed = false
	if len(l.co.conns) == 0 {
		return
	}
	if l.now >= l.co.due {
		l.flushHeld()
		return
	}
	l.armFlush(time.Duration(l.co.due - l.now))
}

// flushHeld writes the output of every held connection and empties the
// list. Loop-only, inside a wake.
func (l *loop) flushHeld() {
	l.co.delayed = true
	for i, c := range l.co.conns {
		l.co.conns[i] = nil
		c.coalescing = false
		if c.out != nil && !c.closed {
			c.flush()
		}
	}
	l.co.delayed = false
	l.co.conns = l.co.conns[:0]
	if cap(l.co.conns) > 4096 {
		l.co.conns = nil
	}
}
