package gateway

import (
	"runtime/debug"
	"time"
)

// Memory given back after connection churn. A storm of connects and closes
// (a reconnect storm, clients taking over one client ID) leaves the heap
// full of garbage that no collection is about to free: once the storm ends
// nothing allocates, so the heap never reaches its GC goal, and the
// runtime's forced collection comes only after two minutes. Meanwhile the
// resident memory of an idle gateway reads 5-25x its size, which misleads
// operators and every admission decision based on memory. So a goroutine of
// ours watches the churn the loops fold into the metrics and, when it stops
// after a burst, collects and returns the free memory to the OS once
// (debug.FreeOSMemory: a garbage collection, then a scavenge of every free
// page). It runs off the event loops; the loops only feel the collection's
// short stop-the-world phases and the scavenger taking the heap lock.
// TestChurnGivesMemoryBack measures it.
const (
	// reclaimSample is how often the churn is sampled.
	reclaimSample = time.Second
	// reclaimMinChurn is the number of connection opens plus closes since the
	// last reclaim below which a burst is not worth a collection.
	reclaimMinChurn = 1000
	// reclaimQuietDiv: the churn stopped when the last sample saw less than
	// 1/reclaimQuietDiv of the busiest sample since the last reclaim. A
	// steady rate of churn is never "quiet": there the heap reaches its goal
	// and the ordinary collections keep it in check.
	reclaimQuietDiv = 10
	// reclaimMinGap is the least time between two reclaims; past it the
	// gap is reclaimCostRatio times what the last one took, so reclaims
	// never cost more than 5% of a core (a collection of a heap holding
	// millions of connections takes much longer than one of an idle one).
	reclaimMinGap    = 2 * time.Second
	reclaimCostRatio = 20
)

// churnWatch decides when to reclaim from successive samples of the total
// connection churn (opens plus closes). Owned by the reclaim goroutine.
type churnWatch struct {
	last  uint64    // total at the previous sample
	since uint64    // churn since the last reclaim
	peak  uint64    // busiest sample since the last reclaim
	next  time.Time // no reclaim before
}

// observe takes the total churn at now and reports whether to reclaim.
func (w *churnWatch) observe(total uint64, now time.Time) bool {
	d := total - w.last
	w.last = total
	w.since += d
	w.peak = max(w.peak, d)
	if w.since < reclaimMinChurn || d*reclaimQuietDiv >= w.peak || now.Before(w.next) {
		return false
	}
	w.since, w.peak = 0, 0
	return true
}

// done records a reclaim that ended at now and took took.
func (w *churnWatch) done(now time.Time, took time.Duration) {
	w.next = now.Add(max(reclaimMinGap, took*reclaimCostRatio))
}

// churnTotal is the connections opened plus closed so far (as folded by the
// loops at each tick).
func (m *metricSet) churnTotal() uint64 {
	n := m.opened.Get()
	for _, c := range m.closed {
		n += c.Get()
	}
	return n
}

// reclaimLoop samples the churn until stop is closed and gives memory back
// after bursts. It runs on its own goroutine, started by Start.
func (g *Gateway) reclaimLoop(stop <-chan struct{}) {
	t := time.NewTicker(reclaimSample)
	defer t.Stop()
	w := churnWatch{last: g.m.churnTotal()}
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			if !w.observe(g.m.churnTotal(), now) {
				continue
			}
			start := time.Now()
			debug.FreeOSMemory()
			took := time.Since(start)
			w.done(time.Now(), took)
			g.m.reclaims.Inc()
			g.log.Info("memory given back after connection churn", "took", took.String())
		}
	}
}
