package gateway

import (
	"context"
	"sync/atomic"
	"time"

	"edgegw/mqttcodec"
	"edgegw/session"
)

// Drain phases. Shutdown moves every loop through them in order; a phase is
// done on every loop (drainStep is its barrier) before the next begins.
const (
	drainRunning int32 = iota
	// drainStop: no PUBLISH is read and no acknowledgement sent from here
	// on (Gateway.draining, set before the phase is posted: conn.handle,
	// sendAck). Connections without a session are closed and paused
	// publishers read again (their PUBLISHes are ignored now, their
	// acknowledgements of our deliveries are not).
	drainStop
	// drainSettle: every loop passed drainStop, so every delivery routed
	// before it is in its target's inbox ahead of this phase's item (the
	// inbox is FIFO): from here each loop closes, at once and at every tick,
	// the connections that have nothing left to deliver.
	drainSettle
	// drainEnd: everything was delivered, or drain.timeout ran out: what is
	// left is counted by reason and every connection closed.
	drainEnd
)

// drainCtl is Shutdown's hold on the loops. Safe for concurrent use.
type drainCtl struct {
	step atomic.Pointer[drainStep]
	lost [numDrainReasons]atomic.Int64 // acknowledged messages not delivered, by reason
}

// drainStep is one phase posted to every loop, and its barrier: done is
// closed when every loop applied it.
type drainStep struct {
	phase int32
	left  atomic.Int32
	done  chan struct{}
}

func (s *drainStep) arrive() {
	if s.left.Add(-1) == 0 {
		close(s.done)
	}
}

// Shutdown drains the gateway. It stops accepting, stops reading PUBLISH
// packets and sends no acknowledgement from its first instruction on (a
// publisher resends what was not acknowledged), delivers what it holds
// (session queues, inflight messages, deliveries on their way between
// loops, messages whose acknowledgement was withheld) to the connected
// subscribers, waiting for their acknowledgements, and closes each
// connection once it has nothing left to deliver: v5 clients get DISCONNECT
// 0x8B (0x9C with the Server Reference when drain.server_reference is set),
// v3 clients are closed. When ctx expires first, it counts and logs the
// acknowledged messages it could not deliver (edgegw_drain_undelivered_total
// by reason), closes the rest and returns ctx's error. Messages held for
// offline sessions are counted too: nothing persists them past the exit.
// The engine is stopped either way.
func (g *Gateway) Shutdown(ctx context.Context) error {
	select {
	case <-g.booted:
	default:
		return nil // never started (or Start failed): nothing to drain
	}
	if !g.draining.CompareAndSwap(false, true) {
		return errShutdownInProgress
	}
	close(g.reclaimStop)
	g.stopRelay() // nothing is acknowledged from here on: what the relay holds stays unacknowledged (relay.go)
	werr := g.drainTo(ctx, drainStop)
	if werr == nil {
		werr = g.drainTo(ctx, drainSettle)
	}
	if werr == nil {
		werr = g.waitClosed(ctx)
	}
	endCtx := ctx
	if werr != nil {
		var cancel context.CancelFunc
		endCtx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
	}
	_ = g.drainTo(endCtx, drainEnd)
	_ = g.waitClosed(endCtx)
	g.logUndelivered(werr)
	// Engine.Stop polls every 500 ms; gnet.Rotate returning (g.done) is the
	// earlier signal that the engine stopped.
	stopErr := make(chan error, 1)
	go func() { stopErr <- g.eng.Stop(endCtx) }()
	select {
	case <-g.done:
	case err := <-stopErr:
		if err != nil && werr == nil {
			werr = err
		}
	}
	if g.httpSrv != nil {
		g.httpSrv.Close()
	}
	g.closeProtect()
	// Write the log lines the loops queued (the drain's closes among them).
	logCtx, cancel := context.WithTimeout(context.Background(), time.Second)
	g.alog.Stop(logCtx)
	cancel()
	return werr
}

// drainTo posts phase to every loop and waits until all applied it, or ctx
// expires.
func (g *Gateway) drainTo(ctx context.Context, phase int32) error {
	loops := g.allLoops()
	s := &drainStep{phase: phase, done: make(chan struct{})}
	if len(loops) == 0 {
		return nil
	}
	s.left.Store(int32(len(loops)))
	g.drain.step.Store(s)
	for _, l := range loops {
		postNow(l, inItem{kind: inDrain})
	}
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitClosed waits until every connection closed, or ctx expires.
func (g *Gateway) waitClosed(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for g.m.conns.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// logUndelivered logs what the drain could not deliver (werr: why it ended
// early, nil when every connection was done).
func (g *Gateway) logUndelivered(werr error) {
	q := g.drain.lost[undeliveredQueued].Load()
	f := g.drain.lost[undeliveredInflight].Load()
	o := g.drain.lost[undeliveredOffline].Load()
	if werr == nil && q+f+o == 0 {
		g.log.Info("drain delivered every acknowledged message")
		return
	}
	g.log.Warn("drain ended with acknowledged messages not delivered",
		"undelivered", q+f, "queued", q, "inflight", f,
		"offline", o, "offline_note", "held for offline sessions: lost at exit, nothing persists them",
		"cause", errText(werr))
}

func errText(err error) string {
	if err == nil {
		return "all connections done"
	}
	return err.Error()
}

// drain applies the current drain phase on l (an inDrain item), once.
func (l *loop) drain() {
	s := l.g.drain.step.Load()
	if s == nil || s.phase <= l.drainPhase {
		return // applied already (an item that came late, after a phase timed out)
	}
	l.drainPhase = s.phase
	l.flushHeld() // nothing waits for engine.flush_delay in a drain (coalesce.go)
	switch s.phase {
	case drainStop:
		l.stopReading()
	case drainSettle:
		l.closeDelivered()
	case drainEnd:
		l.countUndelivered()
		l.closeAll()
	}
	l.wakeRemote() // what this wake routed so far is posted before Shutdown goes on
	l.st.fold(l.g.m)
	s.arrive()
}

// stopReading (drainStop) closes the connections that have no session yet
// and resumes paused publishers, so that their acknowledgements are read.
func (l *loop) stopReading() {
	for i := l.conns.n - 1; i >= 0; i-- {
		c := l.conns.at(i)
		switch {
		case c.state == stConnecting || c.state == stWaiting:
			c.kick(0, closeShutdown, nil)
		case c.paused:
			c.paused = false
			_ = c.gc.Wake(nil)
		}
	}
}

// closeDelivered (drainSettle, then every tick) closes the connections
// whose session has nothing queued and nothing unacknowledged.
func (l *loop) closeDelivered() {
	rc, ref := l.drainCode()
	for i := l.conns.n - 1; i >= 0; i-- {
		c := l.conns.at(i)
		if c.state != stConnected {
			continue
		}
		if rec := c.rec; rec != nil && rec.st != nil {
			if n, _ := rec.st.Queued(); n > 0 || rec.st.Inflight() > 0 {
				continue
			}
		}
		c.kickRef(v5Code(c, rc), closeShutdown, nil, ref)
	}
}

// closeAll (drainEnd) closes every connection left.
func (l *loop) closeAll() {
	rc, ref := l.drainCode()
	for i := l.conns.n - 1; i >= 0; i-- {
		c := l.conns.at(i)
		if c.state == stConnected {
			c.kickRef(v5Code(c, rc), closeShutdown, nil, ref)
		} else {
			c.kick(0, closeShutdown, nil)
		}
	}
}

// v5Code is rc for a v5 client and 0 for a v3 one, which gets no DISCONNECT:
// its close is logged without a v5 reason code.
func v5Code(c *conn, rc mqttcodec.ReasonCode) mqttcodec.ReasonCode {
	if c.version != mqttcodec.V5 {
		return 0
	}
	return rc
}

// drainCode is the DISCONNECT reason (and Server Reference) of a drain.
func (l *loop) drainCode() (mqttcodec.ReasonCode, string) {
	if ref := l.g.cfg.Drain.ServerReference; ref != "" {
		return mqttcodec.UseAnotherServer, ref
	}
	return mqttcodec.ServerShuttingDown, ""
}

// ackedToPublisher reports whether m is a message whose publisher was sent
// its PUBACK/PUBREC (wills and retained copies count: nobody resends them).
func ackedToPublisher(m *session.Message) bool { return m != nil && m.QoS > 0 && !m.AckHeld() }

// countUndelivered (drainEnd) counts, for every session l owns, the
// acknowledged messages not delivered: queued or unacknowledged for a
// connected subscriber, or held for an offline session. It walks the
// registry under its shard locks, once, at the end of a shutdown.
func (l *loop) countUndelivered() {
	var lost [numDrainReasons]int64
	r := l.g.reg
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for _, rec := range sh.t.slots {
			if rec == nil || !rec.ownedBy(l) {
				continue
			}
			if rec.st != nil {
				q, f := rec.st.Undelivered(ackedToPublisher)
				if rec.conn != nil {
					lost[undeliveredQueued] += int64(q)
					lost[undeliveredInflight] += int64(f)
				} else {
					lost[undeliveredOffline] += int64(q + f)
				}
			}
			if rec.x != nil {
				for j := range rec.x.early { // on their way with the session (takeover)
					if it := &rec.x.early[j]; it.kind == inDeliver && ackedToPublisher(it.msg) {
						lost[undeliveredQueued]++
					}
				}
			}
		}
		sh.mu.Unlock()
	}
	for i, n := range lost {
		if n > 0 {
			l.g.drain.lost[i].Add(n)
			l.g.m.undelivered[i].AddInt64(n)
		}
	}
}
