package tune

import (
	"sync/atomic"
	"time"
)

// Verdict is the answer to a new connection's CONNECT.
type Verdict uint8

const (
	Admit          Verdict = iota
	OverCapacity           // the connections open reached Budget.Capacity
	MemoryPressure         // memory use is above the high watermark
)

func (v Verdict) String() string {
	switch v {
	case Admit:
		return "admit"
	case OverCapacity:
		return "over_capacity"
	case MemoryPressure:
		return "memory_pressure"
	}
	return "Verdict(?)"
}

// pressureOffPct: pressure ends once usage is back below this percentage of
// the high watermark, so that admission does not flap at the threshold.
const pressureOffPct = 97

// UsageProbe samples the memory the budget's limit applies to.
type UsageProbe func() (MemorySample, bool)

// Admission decides whether a new connection fits. Admit is what the
// gateway calls at each CONNECT, on its event loops: it only loads atomics.
// Sample reads the memory use (a file read) and runs on a goroutine the
// caller owns, off the loops, on a ticker. Safe for concurrent use.
type Admission struct {
	capacity atomic.Int64 // 0: no connection cap
	pressure atomic.Bool
	usage    atomic.Int64 // last sample's working set, bytes
	other    atomic.Int64 // last sample's unmanaged memory (MemorySample.Unmanaged), bytes
	high     atomic.Int64 // high watermark, bytes; 0: no memory check
	probe    UsageProbe
}

// NewAdmission admits up to b.Capacity connections, and none while what
// probe reads is at or above b.HighWatermark. probe may be nil (no memory
// check).
func NewAdmission(b Budget, probe UsageProbe) *Admission {
	a := &Admission{probe: probe}
	a.capacity.Store(b.Capacity)
	if probe != nil {
		a.high.Store(b.HighWatermark)
	}
	return a
}

// CgroupProbe samples the cgroup's working set (usage minus inactive file
// pages, what reclaim cannot free).
func CgroupProbe(m MemoryProbe) UsageProbe { return m.Sample }

// ResidentProbe samples the process's resident memory (no cgroup limit:
// tune.memory_limit bounds the process itself).
func ResidentProbe(root string) UsageProbe {
	return func() (MemorySample, bool) {
		r := &reader{root: root}
		m, err := r.keyed("/proc/self/status")
		if err != nil || m["VmRSS"] == 0 {
			return MemorySample{}, false
		}
		return MemorySample{Usage: m["VmRSS"] << 10, WorkingSet: m["VmRSS"] << 10, Anon: m["RssAnon"] << 10}, true
	}
}

// Admit answers a CONNECT when open connections are open now, this one
// included. Never blocks; allocation-free.
func (a *Admission) Admit(open int64) Verdict {
	if a.pressure.Load() {
		return MemoryPressure
	}
	if c := a.capacity.Load(); c > 0 && open > c {
		return OverCapacity
	}
	return Admit
}

// Sample reads the memory use once and updates the pressure flag. It
// returns the usage, whether pressure is on, and whether it changed. Off
// the event loops only.
func (a *Admission) Sample() (usage int64, pressure, changed bool) {
	high := a.high.Load()
	if a.probe == nil || high <= 0 {
		return 0, false, false
	}
	ms, ok := a.probe()
	if !ok {
		return a.usage.Load(), a.pressure.Load(), false
	}
	u := ms.WorkingSet
	a.usage.Store(u)
	a.other.Store(ms.Unmanaged())
	was := a.pressure.Load()
	now := was
	switch {
	case u >= high:
		now = true
	case u < high/100*pressureOffPct:
		now = false
	}
	if now != was {
		a.pressure.Store(now)
	}
	return u, now, now != was
}

// Run samples every interval until stop is closed, calling changed (if not
// nil) when pressure starts or ends. Run it on its own goroutine.
func (a *Admission) Run(stop <-chan struct{}, interval time.Duration, changed func(usage int64, pressure bool)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if u, p, ch := a.Sample(); ch && changed != nil {
				changed(u, p)
			}
		}
	}
}

// Capacity returns the connection cap (0: none).
func (a *Admission) Capacity() int64 { return a.capacity.Load() }

// SetCapacity changes the connection cap (0: none).
func (a *Admission) SetCapacity(n int64) { a.capacity.Store(n) }

// Usage returns the last sampled memory use, in bytes.
func (a *Admission) Usage() int64 { return a.usage.Load() }

// Unmanaged returns the last sample's memory that the Go runtime does not
// manage (MemorySample.Unmanaged), in bytes.
func (a *Admission) Unmanaged() int64 { return a.other.Load() }

// HighWatermark returns the usage at which new connections are refused.
func (a *Admission) HighWatermark() int64 { return a.high.Load() }

// UnderPressure reports whether the last sample was above the watermark.
func (a *Admission) UnderPressure() bool { return a.pressure.Load() }
