package gateway

// A session that moves to another loop (a takeover by a connection on that
// loop) must keep each publisher's order [MQTT-4.6.0-6]. Deliveries travel
// per loop pair in order, but a loop that read the old owner just before the
// move still posts to it, and the old owner forwards those to the new one,
// while later messages of the same publisher go to the new owner directly
// and could overtake them.
//
// The fence closes that window. The old owner (req.from), once it has set
// the new owner and sent the state (inAttach), posts inFence to every other
// loop. A loop answers (inFenceAck) in a later wake than any in which it
// could have read the old owner, so its answer reaches the old owner after
// everything it posted there. When all have answered, the old owner has
// forwarded every stale delivery (marked fwd) and sends inFenceDone behind
// them. Until then the new owner delivers forwarded items at once and holds
// every other delivery (from any loop, its own publishers included) and any
// takeover in rec.x.held, in arrival order, and replays them at inFenceDone.
//
// Cost: 2 x (loops - 1) + 1 inbox items per cross-loop takeover, batched per
// wake like any delivery. Loop-only, like the session record.

// fence starts the fence for a session that l handed to req.l.
func (l *loop) fence(req *takeoverReq) {
	req.from = l
	loops := l.g.allLoops()
	req.waiting = len(loops) - 1
	for _, x := range loops {
		if x != l {
			l.send(x, inItem{kind: inFence, req: req})
		}
	}
	if req.waiting == 0 {
		l.send(req.l, inItem{kind: inFenceDone, req: req})
	}
}

// fenceAck counts one loop's answer on the old owner.
func (l *loop) fenceAck(req *takeoverReq) {
	if req.waiting--; req.waiting == 0 {
		l.send(req.l, inItem{kind: inFenceDone, req: req})
	}
}

// fenceDone ends the fence on the new owner: what was held is applied in
// the order it arrived (a takeover among it may move the session on; the
// items behind it follow it there).
func (l *loop) fenceDone(req *takeoverReq) {
	rec := req.rec
	if rec.x == nil || !rec.x.fenced || rec.x.fence != req {
		return // not the handover this session waits for (cannot happen: takeovers wait for the fence)
	}
	rec.x.fenced, rec.x.fence = false, nil
	held := rec.x.held
	rec.x.held = nil
	for i := range held {
		l.process(&held[i])
		held[i] = inItem{}
	}
}
