package limit

import (
	"math"
	"sync/atomic"
)

// Rate is a token bucket's parameters: a step (nanoseconds per token) and
// a tolerance (the burst, in nanoseconds). The zero Rate is off: every
// Allow passes. It is an immutable value, safe to share.
type Rate struct {
	step, tol int64
}

// NewRate returns the rate perSec with a burst of burst tokens; perSec <= 0
// (or NaN) is off. burst < 1 is 1.
func NewRate(perSec, burst float64) Rate {
	if !(perSec > 0) {
		return Rate{}
	}
	step := int64(1)
	if perSec < 1e9 {
		step = int64(math.Ceil(1e9 / perSec))
	}
	burst = max(1, math.Min(burst, float64(math.MaxInt64/4)/float64(step)))
	return Rate{step: step, tol: int64(burst * float64(step))}
}

// perSecond is the package's rate: a burst of one second's worth.
func perSecond(perSec float64) Rate { return NewRate(perSec, math.Max(1, perSec)) }

// Off reports whether r is the zero Rate.
func (r Rate) Off() bool { return r.step == 0 }

// next returns the bucket's new theoretical arrival time after a cost of n
// tokens at now, and whether the bucket allows it; tat is the current one.
// A full bucket (tat <= now) always admits one request, even one that costs
// more than the burst, and then owes the difference.
func (r Rate) next(tat, now, n int64) (int64, bool) {
	cost := min(max(n, 0), math.MaxInt64/4/r.step) * r.step // no overflow
	if tat > now && tat-now+cost > r.tol {
		return tat, false
	}
	return max(tat, now) + cost, true
}

// Bucket is a token bucket's state, one int64, for a value that one
// goroutine owns (a connection on its loop). The zero Bucket is full.
// Loop-only.
type Bucket struct {
	tat int64
}

// Allow takes n tokens at now under r and reports whether they were
// there; a refusal takes nothing.
func (b *Bucket) Allow(now, n int64, r Rate) bool {
	if r.Off() {
		return true
	}
	t, ok := r.next(b.tat, now, n)
	b.tat = t
	return ok
}

// SharedBucket is a token bucket safe for concurrent use (the gateway-wide
// connect rate): a CAS loop on one atomic, never a lock. The zero value is
// full.
type SharedBucket struct {
	tat atomic.Int64
}

// Allow takes one token at now under r and reports whether it was there.
func (b *SharedBucket) Allow(now int64, r Rate) bool {
	if r.Off() {
		return true
	}
	for {
		old := b.tat.Load()
		t, ok := r.next(old, now, 1)
		if !ok {
			return false
		}
		if b.tat.CompareAndSwap(old, t) {
			return true
		}
	}
}
