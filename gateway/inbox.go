package gateway

import (
	"context"
	"sync"
	"sync/atomic"

	"edgegw/router"
	"edgegw/session"
)

// inKind is the kind of an inbox item.
type inKind uint8

const (
	inDeliver   inKind = iota // deliver msg to sub
	inAck                     // a parked publisher ack was released: send it
	inTakeover                // a CONNECT elsewhere claims a session owned here
	inAttach                  // a session state handed over by its previous owner
	inRetry                   // the claimed session ended before the takeover: redo the CONNECT lookup
	inTick                    // timer tick
	inDrain                   // graceful shutdown
	inPump                    // this loop's own wake-up to send more queued messages (pumpQueues)
	inFence                   // a session moved off req.from: answer once your earlier items to it are posted
	inFenceAck                // one loop's answer to inFence (on req.from)
	inFenceDone               // every delivery sent to req.from before the move has reached the new owner
	inAuth                    // the verifier's verdict on req.c's CONNECT (authwait.go)
	inFlush                   // the loop's flush timer: held output is due (coalesce.go)
	inImport                  // a message from an upstream, to publish here (relay.go)
)

// inItem is one unit of cross-loop work.
type inItem struct {
	kind   inKind
	from   uint8 // inImport: 1 + the index of the upstream msg came from (relay.go)
	qos    byte
	retain bool
	fwd    bool // inDeliver forwarded by a loop the session left (older than direct ones)
	sub    router.Subscriber
	msg    *session.Message
	subIDs []uint32
	tok    *ackToken
	req    *takeoverReq
}

// inbox is a loop's bounded cross-loop queue (mutex + swapped slices). Safe
// for concurrent use by post; drained on the loop by run.
type inbox struct {
	mu    sync.Mutex
	items []inItem
	armed bool // an Execute is pending for this loop
	spare []inItem
	n     atomic.Int64 // len(items), readable without the lock
}

// post appends it. full reports that the inbox was at its bound (the item is
// still appended: callers check full first for what they may drop). wake
// reports that the caller must Execute the loop (once, after its batch).
func (b *inbox) post(it inItem, bound int) (full, wake bool) {
	b.mu.Lock()
	full = len(b.items) >= bound
	b.items = append(b.items, it)
	b.n.Store(int64(len(b.items)))
	wake = !b.armed
	b.armed = true
	b.mu.Unlock()
	return full, wake
}

// postBatch appends a batch under one lock and reports whether the caller
// must Execute the loop.
func (b *inbox) postBatch(items []inItem) (wake bool) {
	b.mu.Lock()
	b.items = append(b.items, items...)
	b.n.Store(int64(len(b.items)))
	wake = !b.armed
	b.armed = true
	b.mu.Unlock()
	return wake
}

// take swaps out the queued items. Loop-only.
func (b *inbox) take() []inItem {
	b.mu.Lock()
	items := b.items
	b.items = b.spare[:0]
	b.spare = nil
	b.armed = false
	b.n.Store(0)
	b.mu.Unlock()
	return items
}

// recycle hands back a drained slice. Loop-only.
func (b *inbox) recycle(items []inItem) {
	clear(items)
	b.mu.Lock()
	if b.spare == nil && cap(items) <= 1<<16 {
		b.spare = items[:0]
	}
	b.mu.Unlock()
}

// Run drains the loop's inbox: it is the gnet.Runnable behind every Execute.
func (l *loop) Run(context.Context) error {
	l.begin()
	for {
		items := l.in.take()
		if len(items) == 0 {
			break
		}
		for i := range items {
			l.process(&items[i])
		}
		l.in.recycle(items)
		if len(items) < 64 {
			break // what arrived meanwhile comes with its own Execute
		}
	}
	l.end()
	return nil
}

// wakeRemote hands each target loop the batch collected for it during this
// wake (one lock) and executes it (once, unless an Execute is pending).
func (l *loop) wakeRemote() {
	for i, t := range l.remote {
		ob := l.outbox[t]
		if t.in.postBatch(ob.items) {
			_ = t.el.Execute(context.Background(), t)
		}
		clear(ob.items)
		ob.items = ob.items[:0]
		ob.listed = false
		l.remote[i] = nil
	}
	l.remote = l.remote[:0]
}

// outbox collects one wake's items for one target loop. Loop-only (owner).
type outbox struct {
	items  []inItem
	listed bool
}

// send queues it for loop t; it is posted, and t woken, at the end of l's
// wake, together with everything else for t.
func (l *loop) send(t *loop, it inItem) {
	ob := l.outbox[t]
	if ob == nil {
		ob = &outbox{}
		l.outbox[t] = ob
	}
	ob.items = append(ob.items, it)
	if !ob.listed {
		ob.listed = true
		l.remote = append(l.remote, t)
	}
}

// inboxFull reports whether t's inbox, counting what l has collected for t
// in this wake and not yet posted, is at bound (a hint: t drains it
// concurrently).
func (l *loop) inboxFull(t *loop, bound int) bool {
	n := t.in.n.Load()
	if ob := l.outbox[t]; ob != nil {
		n += int64(len(ob.items))
	}
	return n >= int64(bound)
}

// postNow posts it to t from a goroutine that is not an event loop (ticker,
// Shutdown) and wakes t at once.
func postNow(t *loop, it inItem) {
	if _, wake := t.in.post(it, t.g.cfg.Engine.InboxSize); wake {
		_ = t.el.Execute(context.Background(), t)
	}
}
