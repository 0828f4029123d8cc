package gateway

// timed is something with deadlines on a loop's wheel: connections (CONNECT
// timeout, keep alive) and offline sessions (expiry, will delay).
type timed interface {
	// fire runs on the loop at or after the deadline it was scheduled for.
	// It checks its real deadline (which may have moved later, e.g. keep
	// alive after each packet) and returns the next one (unix nanos), or 0.
	fire(l *loop, now int64) int64
	// slotAt points at the deadline of the object's live wheel entry (0 = none).
	slotAt() *int64
	// ownedBy reports whether l still owns the object (a session may move to
	// another loop; its entries here are then dropped unread).
	ownedBy(l *loop) bool
}

type wheelEntry struct {
	t  timed
	at int64
}

// wheel is a loop's coarse timing wheel: wheelSlots slots of one tick each.
// An object keeps one live entry; entries made stale by an earlier deadline
// are skipped when reached. Loop-only.
type wheel struct {
	tick  int64 // slot width, nanos
	slots [wheelSlots][]wheelEntry
	cur   int64 // last tick number processed
}

const wheelSlots = 1024

func (w *wheel) init(tick int64, now int64) {
	w.tick = tick
	w.cur = now / tick
}

// schedule arms t for deadline at (unix nanos). An existing earlier entry
// is kept: when it fires, t returns its real next deadline.
func (w *wheel) schedule(t timed, at int64) {
	if at <= 0 {
		return
	}
	p := t.slotAt()
	if *p != 0 && *p <= at {
		return
	}
	*p = at
	w.insert(wheelEntry{t, at})
}

func (w *wheel) insert(e wheelEntry) {
	n := e.at/w.tick + 1
	if n <= w.cur {
		n = w.cur + 1
	}
	if n-w.cur >= wheelSlots {
		n = w.cur + wheelSlots - 1 // beyond the horizon: re-inserted when reached
	}
	s := &w.slots[n%wheelSlots]
	*s = append(*s, e)
}

// advance fires every entry due at now.
func (w *wheel) advance(l *loop, now int64) {
	end := now / w.tick
	for w.cur < end {
		w.cur++
		s := &w.slots[w.cur%wheelSlots]
		due := *s
		*s = nil
		for i, e := range due {
			due[i] = wheelEntry{}
			if !e.t.ownedBy(l) {
				continue
			}
			p := e.t.slotAt()
			if *p != e.at {
				continue // stale: superseded by an earlier entry, or already fired
			}
			if e.at > now {
				w.insert(e)
				continue
			}
			*p = 0
			if next := e.t.fire(l, now); next > 0 {
				w.schedule(e.t, next)
			}
		}
		if len(*s) == 0 && cap(due) <= 256 {
			*s = due[:0]
		}
	}
}
