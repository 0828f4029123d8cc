package auth

import "sync/atomic"

// counters are the package's plain atomics, bumped by workers and Submit.
type counters struct {
	byCause        [numCauses]atomic.Uint64
	httpCalls      atomic.Uint64
	cacheHits      atomic.Uint64
	negativeHits   atomic.Uint64
	reloads        atomic.Uint64
	reloadFailures atomic.Uint64
}

func (c *counters) count(r Result) { c.byCause[r.Cause].Add(1) }

// Stats is a snapshot of an Authenticator's counters, each monotonic.
type Stats struct {
	// ByCause counts verdicts by Cause (index with a Cause; CauseQueueFull
	// counts Submits refused with ErrQueueFull).
	ByCause        [numCauses]uint64
	HTTPCalls      uint64 // requests sent to the backend
	CacheHits      uint64 // positive cache hits
	NegativeHits   uint64 // negative cache hits
	Reloads        uint64 // successful Reloads
	ReloadFailures uint64 // Reloads that kept the previous version
}

// Count is s.ByCause[c].
func (s *Stats) Count(c Cause) uint64 {
	if c >= numCauses {
		return 0
	}
	return s.ByCause[c]
}

// NumCauses is the number of Causes, for iterating Stats.ByCause.
const NumCauses = int(numCauses)

func (c *counters) snapshot() Stats {
	var s Stats
	for i := range c.byCause {
		s.ByCause[i] = c.byCause[i].Load()
	}
	s.HTTPCalls = c.httpCalls.Load()
	s.CacheHits = c.cacheHits.Load()
	s.NegativeHits = c.negativeHits.Load()
	s.Reloads = c.reloads.Load()
	s.ReloadFailures = c.reloadFailures.Load()
	return s
}
