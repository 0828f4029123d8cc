package tune

import (
	"sync/atomic"
	"time"
)

// Every lets one event through per interval and counts the rest, for logs
// that a storm would otherwise flood (a refused connection each, a warning
// each sample). The zero value lets one through per second. Safe for
// concurrent use; Allow never blocks (an event loop may call it).
type Every struct {
	Interval time.Duration // 0 = one second
	next     atomic.Int64  // unix nanos before which events are suppressed
	held     atomic.Int64  // suppressed since the last one let through
}

// Allow reports whether the event at now may be logged and, if so, how
// many were suppressed since the last one that was.
func (e *Every) Allow(now time.Time) (ok bool, suppressed int64) {
	n := now.UnixNano()
	next := e.next.Load()
	iv := e.Interval
	if iv <= 0 {
		iv = time.Second
	}
	if n < next || !e.next.CompareAndSwap(next, n+int64(iv)) {
		e.held.Add(1)
		return false, 0
	}
	return true, e.held.Swap(0)
}
