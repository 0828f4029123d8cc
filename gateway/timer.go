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
//
// A slot is a list of fixed-size blocks taken from the wheel's free list
// and given back once the slot is processed: a connect storm that puts
// thousands of deadlines into one slot leaves no garbage behind (a growing
// slice would, doubling after doubling; at two million connections that
// garbage is resident memory until the next GC; BenchmarkIdleConnections).
type wheel struct {
	tick  int64 // slot width, nanos
	slots [wheelSlots]*wheelBlock
	cur   int64 // last tick number processed
	free  *wheelBlock
	nfree int // blocks on free
	inUse int // blocks in slots
}

const (
	wheelSlots    = 1024
	wheelBlockLen = 42 // 42 entries of 24 B + n + next: 1,024 B, a size class exactly
)

// wheelBlock holds up to wheelBlockLen entries of one slot.
type wheelBlock struct {
	e    [wheelBlockLen]wheelEntry
	n    int
	next *wheelBlock
}

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
	b := *s
	if b == nil || b.n == wheelBlockLen {
		nb := w.get()
		nb.next = b
		*s, b = nb, nb
	}
	b.e[b.n] = e
	b.n++
}

// get returns an empty block, from the free list when it has one.
func (w *wheel) get() *wheelBlock {
	w.inUse++
	b := w.free
	if b == nil {
		return &wheelBlock{}
	}
	w.free, b.next = b.next, nil
	w.nfree--
	return b
}

// put gives an emptied block back. The free list keeps at most a quarter of
// the blocks in use plus 64 (64 KiB): enough for the churn of deadlines
// moving from the slot being processed to later ones, not a hoard after a
// mass disconnect.
func (w *wheel) put(b *wheelBlock) {
	w.inUse--
	if w.nfree >= w.inUse/4+64 {
		return
	}
	b.n, b.next = 0, w.free
	w.free = b
	w.nfree++
}

// advance fires every entry due at now. Entries it re-inserts land in later
// slots (insert never picks the slot being processed).
func (w *wheel) advance(l *loop, now int64) {
	end := now / w.tick
	for w.cur < end {
		w.cur++
		s := &w.slots[w.cur%wheelSlots]
		b := *s
		*s = nil
		for b != nil {
			for i := 0; i < b.n; i++ {
				e := b.e[i]
				b.e[i] = wheelEntry{}
				w.process(l, e, now)
			}
			next := b.next
			w.put(b)
			b = next
		}
	}
}

// process handles one entry taken from its slot.
func (w *wheel) process(l *loop, e wheelEntry, now int64) {
	if !e.t.ownedBy(l) {
		return
	}
	p := e.t.slotAt()
	if *p != e.at {
		return // stale: superseded by an earlier entry, or already fired
	}
	if e.at > now {
		w.insert(e)
		return
	}
	*p = 0
	if next := e.t.fire(l, now); next > 0 {
		w.schedule(e.t, next)
	}
}
