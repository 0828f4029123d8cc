package bench

import (
	"sort"
	"sync"
	"sync/atomic"
)

// counters are one loop's running totals; written by the loop, read by the sampler.
type counters struct {
	sent       atomic.Uint64 // PUBLISH packets written
	expected   atomic.Uint64 // deliveries those publishes should cause
	acked      atomic.Uint64 // PUBACK / PUBCOMP with success
	pubErrors  atomic.Uint64 // acks with a failure reason code
	received   atomic.Uint64 // PUBLISH packets received (duplicates included)
	duplicates atomic.Uint64 // (publisher, sequence) seen twice by one subscriber
	outOfOrder atomic.Uint64 // sequence below the highest seen and not seen before
	foreign    atomic.Uint64 // received payloads not written by this run
	throttled  atomic.Uint64 // publish slots skipped: in-flight window full
	lagged     atomic.Uint64 // publishers that fell more than 1s behind their rate
	connOK     atomic.Uint64 // CONNACK success
	connFail   atomic.Uint64 // failed connects (any reason)
	attempts   atomic.Uint64 // dials started
	closed     atomic.Uint64 // connections closed by the broker or the network
	pings      atomic.Uint64 // PINGREQ sent
}

// totals is a plain copy of counters.
type totals struct {
	Sent, Expected, Acked, PubErrors, Received, Duplicates, OutOfOrder, Foreign uint64
	Throttled, Lagged, ConnOK, ConnFail, Attempts, Closed, Pings                uint64
}

func (c *counters) addTo(t *totals) {
	t.Sent += c.sent.Load()
	t.Expected += c.expected.Load()
	t.Acked += c.acked.Load()
	t.PubErrors += c.pubErrors.Load()
	t.Received += c.received.Load()
	t.Duplicates += c.duplicates.Load()
	t.OutOfOrder += c.outOfOrder.Load()
	t.Foreign += c.foreign.Load()
	t.Throttled += c.throttled.Load()
	t.Lagged += c.lagged.Load()
	t.ConnOK += c.connOK.Load()
	t.ConnFail += c.connFail.Load()
	t.Attempts += c.attempts.Load()
	t.Closed += c.closed.Load()
	t.Pings += c.pings.Load()
}

func (t *totals) add(o *totals) {
	t.Sent += o.Sent
	t.Expected += o.Expected
	t.Acked += o.Acked
	t.PubErrors += o.PubErrors
	t.Received += o.Received
	t.Duplicates += o.Duplicates
	t.OutOfOrder += o.OutOfOrder
	t.Foreign += o.Foreign
	t.Throttled += o.Throttled
	t.Lagged += o.Lagged
	t.ConnOK += o.ConnOK
	t.ConnFail += o.ConnFail
	t.Attempts += o.Attempts
	t.Closed += o.Closed
	t.Pings += o.Pings
}

func (t *totals) sub(o *totals) totals {
	return totals{
		Sent: t.Sent - o.Sent, Expected: t.Expected - o.Expected, Acked: t.Acked - o.Acked,
		PubErrors: t.PubErrors - o.PubErrors, Received: t.Received - o.Received,
		Duplicates: t.Duplicates - o.Duplicates, OutOfOrder: t.OutOfOrder - o.OutOfOrder,
		Foreign: t.Foreign - o.Foreign, Throttled: t.Throttled - o.Throttled, Lagged: t.Lagged - o.Lagged,
		ConnOK: t.ConnOK - o.ConnOK, ConnFail: t.ConnFail - o.ConnFail, Attempts: t.Attempts - o.Attempts,
		Closed: t.Closed - o.Closed, Pings: t.Pings - o.Pings,
	}
}

// failures counts connect failures by reason (CONNACK code name, "refused",
// "timeout", ...). Rare path: a plain mutex.
type failures struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (f *failures) add(reason string) {
	f.mu.Lock()
	if f.m == nil {
		f.m = map[string]uint64{}
	}
	f.m[reason]++
	f.mu.Unlock()
}

func (f *failures) snapshot() map[string]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]uint64, len(f.m))
	for k, v := range f.m {
		out[k] = v
	}
	return out
}

func mergeCounts(dst, src map[string]uint64) map[string]uint64 {
	if dst == nil {
		dst = map[string]uint64{}
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// seqTrack follows one publisher's sequence numbers at one subscriber: the
// highest sequence seen and a 64-wide window of the ones below it.
type seqTrack struct {
	hi   uint32 // highest sequence seen + 1 (0: none yet)
	seen uint64 // bit i: sequence hi-1-i seen
}

// observe classifies seq: 0 new in order (or after a gap), 1 duplicate, 2 out of order.
func (t *seqTrack) observe(seq uint32) int {
	s := seq + 1
	switch {
	case s > t.hi:
		shift := s - t.hi
		if shift >= 64 {
			t.seen = 0
		} else {
			t.seen <<= shift
		}
		t.seen |= 1
		t.hi = s
		return 0
	case t.hi-s < 64:
		bit := uint64(1) << (t.hi - s)
		if t.seen&bit != 0 {
			return 1
		}
		t.seen |= bit
		return 2
	default:
		// Older than the window: cannot tell a duplicate from a late
		// message; count it out of order.
		return 2
	}
}
