package relay

import (
	"math/rand/v2"
	"time"
)

// backoff is exponential backoff with full jitter: the n-th consecutive
// failure waits a uniform random time in [0, min(max, min<<n)). It is
// reset only when a connection was healthy: CONNACK accepted and the first
// PINGRESP received (link.go). A reset on TCP connect would turn an upstream
// that accepts and then drops connections into a reconnect storm. Owned by
// one link's writer goroutine.
type backoff struct {
	min, max time.Duration
	n        int // consecutive failures since the last reset
	rnd      func() float64
}

// next returns the wait before the next attempt and counts one failure.
func (b *backoff) next() time.Duration {
	ceil := b.max
	if b.n < 30 {
		if d := b.min << b.n; d > 0 && d < ceil {
			ceil = d
		}
	}
	b.n++
	r := b.rnd
	if r == nil {
		r = rand.Float64
	}
	return time.Duration(r() * float64(ceil))
}

// reset starts over from min: the last connection was healthy.
func (b *backoff) reset() { b.n = 0 }
