package gateway

// Lingering close: when the gateway ends a connection after telling the
// client why (a v5 DISCONNECT with a reason code, a refusing CONNACK), a
// plain close with unread input makes the kernel answer with RST, and the
// client's read fails with ECONNRESET before it reads the reason. Instead
// the reason is flushed, the write side is shut down (FIN follows the
// reason), input is read and discarded for at most lingerTimeout and
// lingerMaxBytes, and then the socket is closed. Loop-only.
//
// Bounded in count: a loop keeps at most maxLingering connections
// lingering; past that a told close closes at once (linger_full), so a
// storm of refusals cannot pile up half-closed sockets. Every lingering
// close ends with one counted outcome (edgegw_linger_closes_total).
//
// Plain TCP only: WebSocket connections end with their close frame and
// wsShutdown, TLS connections with their own record layer's close.

import (
	"syscall"
	"time"
)

const (
	// lingerTimeout is how long a lingering connection waits for the
	// client's FIN after its own, discarding input. It is rounded up to
	// the loop's tick (engine.tick_interval).
	lingerTimeout = int64(2 * time.Second)
	// lingerMaxBytes is how much input a lingering connection discards
	// before it is closed anyway.
	lingerMaxBytes = 64 << 10
)

// maxLingering bounds the lingering connections per loop. A variable only
// so that a test can lower it before it starts a gateway.
var maxLingering = 1024

// lingerOutcome is how a lingering close ended, a label of
// edgegw_linger_closes_total.
type lingerOutcome uint8

const (
	lingerEOF       lingerOutcome = iota // the client closed its side in time: the clean end
	lingerTimedOut                       // lingerTimeout passed: closed
	lingerBytes                          // lingerMaxBytes discarded: closed
	lingerFull                           // maxLingering on the loop: closed at once, without lingering
	lingerUnflushed                      // the reason did not fit the socket buffer: gnet flushes and closes
	numLingerOutcomes
)

var lingerLabels = [numLingerOutcomes]string{"eof", "timeout", "bytes", "full", "unflushed"}

func (o lingerOutcome) String() string { return lingerLabels[o] }

// lingerState is one lingering connection's progress, in loop.lingers from
// the told close until the socket closes.
type lingerState struct {
	deadline int64 // unix nanos; 0 until the write side is shut down
	bytes    int   // input discarded so far
}

// closeTold closes c after the reason it was just given (already in c's
// pending output) is flushed: the flush starts the lingering close
// (lingerFlushed). Connections that cannot linger close as before.
func (c *conn) closeTold() {
	l := c.l
	if c.closed || c.ws || c.tls || c.reason == closeShutdown || c.pending() == 0 {
		// A drain closes every connection and waits for them: no
		// lingering there (drain.go).
		c.closeSocket()
		return
	}
	if len(l.lingers) >= maxLingering {
		l.g.m.lingers[lingerFull].Inc()
		c.closeSocket()
		return
	}
	if l.lingers == nil {
		l.lingers = make(map[*conn]lingerState)
	}
	l.lingers[c] = lingerState{}
	c.markDirty()
}

// lingerFlushed runs after c's pending output was written (flush): a
// connection waiting to linger shuts down its write side, so FIN follows
// the reason, and arms its deadline.
func (c *conn) lingerFlushed() {
	l := c.l
	ls, ok := l.lingers[c]
	if !ok || ls.deadline != 0 || c.closed {
		return
	}
	if c.gc.OutboundBuffered() > 0 {
		// gnet holds part of the reason: it writes what it can and
		// closes; no FIN can be sent before the rest.
		delete(l.lingers, c)
		l.g.m.lingers[lingerUnflushed].Inc()
		c.closeSocket()
		return
	}
	if err := syscall.Shutdown(c.gc.Fd(), syscall.SHUT_WR); err != nil {
		delete(l.lingers, c) // the peer is gone already
		c.closeSocket()
		return
	}
	ls.deadline = l.now + lingerTimeout
	l.lingers[c] = ls
	// Before CONNECT completes wheelAt holds the open time, not a wheel
	// entry; after it, an entry it names goes stale and is skipped.
	c.wheelAt = 0
	l.wheel.schedule(c, ls.deadline)
}

// lingerRead discards n bytes of input that arrived while c lingers and
// closes c once lingerMaxBytes were discarded. It reports whether c is
// lingering.
func (c *conn) lingerRead(n int) bool {
	l := c.l
	ls, ok := l.lingers[c]
	if !ok || ls.deadline == 0 {
		return ok
	}
	ls.bytes += n
	if ls.bytes < lingerMaxBytes {
		l.lingers[c] = ls
		return true
	}
	c.endLinger(lingerBytes)
	c.closeSocket()
	return true
}

// lingerFire is c's timer while it lingers: past the deadline it closes.
// It returns the next deadline, or 0.
func (c *conn) lingerFire(now int64) int64 {
	ls, ok := c.l.lingers[c]
	if !ok || ls.deadline == 0 {
		return 0
	}
	if now < ls.deadline {
		return ls.deadline
	}
	c.endLinger(lingerTimedOut)
	c.closeSocket()
	return 0
}

// endLinger takes c off the loop's lingering set, counting outcome o.
// onClose calls it with lingerEOF: a close while c lingers that neither
// bound caused is the client's own.
func (c *conn) endLinger(o lingerOutcome) {
	l := c.l
	ls, ok := l.lingers[c]
	if !ok {
		return
	}
	delete(l.lingers, c)
	if ls.deadline != 0 {
		l.g.m.lingers[o].Inc()
	}
}
