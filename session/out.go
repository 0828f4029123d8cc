package session

// Out collects the bytes a State wants written to its connection during one
// wake: small packets are encoded into Arena (owned by the event loop and
// shared by every Out on it for the duration of the wake), payloads are
// referenced, not copied. The gateway sends Iov with one writev and then
// calls Reset. Loop-only.
type Out struct {
	Arena *[]byte  // loop-owned scratch; appended to, never rewritten before the flush
	Iov   [][]byte // segments to write, in order
	Bytes int      // total bytes in Iov
	// Limit is the byte budget for queued messages in this wake: the
	// session stops draining its queue once Bytes reaches it (direct
	// replies and acknowledgements are never held back). 0 = no budget.
	Limit int

	prevStart int   // arena offset where the last Iov segment starts, if it is an arena segment
	prevEnd   int   // arena offset where it ends; -1 when the last segment is not from the arena
	prevBase  *byte // arena backing array of the last segment
}

// Reset empties o after a flush. The arena itself is reset by its loop.
func (o *Out) Reset() {
	clear(o.Iov)
	o.Iov = o.Iov[:0]
	o.Bytes = 0
	o.Limit = 0
	o.prevEnd = -1
}

// full reports whether o reached its byte budget for queued messages.
func (o *Out) full() bool { return o.Limit > 0 && o.Bytes >= o.Limit }

// begin returns the arena offset where the next packet starts.
func (o *Out) begin() int { return len(*o.Arena) }

// commit appends arena[start:] to Iov, merging with the previous segment when
// the two are adjacent in the same backing array (one iovec per run of small
// packets). Appending to the arena may move it; earlier segments stay valid
// because they point into the old array, which is never written again.
func (o *Out) commit(start int) {
	a := *o.Arena
	if len(a) == start {
		return
	}
	seg := a[start:len(a):len(a)]
	o.Bytes += len(seg)
	if n := len(o.Iov); n > 0 && o.prevEnd == start && o.prevBase == &a[0] {
		o.Iov[n-1] = a[o.prevStart:len(a):len(a)]
	} else {
		o.Iov = append(o.Iov, seg)
		o.prevStart = start
	}
	o.prevEnd = len(a)
	o.prevBase = &a[0]
}

// rollback drops what was appended to the arena since start (a packet that
// turned out not to be sendable).
func (o *Out) rollback(start int) { *o.Arena = (*o.Arena)[:start] }

// ref appends a shared, immutable segment (a payload).
func (o *Out) ref(b []byte) {
	if len(b) == 0 {
		return
	}
	o.Iov = append(o.Iov, b)
	o.Bytes += len(b)
	o.prevEnd = -1
}
