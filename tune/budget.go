package tune

import (
	"fmt"
)

// Where a Budget's limit came from.
const (
	SourceCgroup = "cgroup"
	SourceConfig = "tune.memory_limit"
	SourceRAM    = "RAM"
)

// Budget is the memory the gateway may use and the connections it holds.
// A value.
//
// Capacity is (HighWatermark - Baseline) / ConnectionCost: what is left
// under the high watermark once the gateway's fixed memory (Baseline: the
// runtime, loops, buffers, the cgroup's other tenants) is paid, divided by
// what one idle connection costs the cgroup. The cost counts both sides of
// the charge: the Go heap and stacks per connection (the gateway's and
// gnet's state, read buffers) and the kernel memory of the socket (struct
// sock and tcp_sock, the file and dentry, epoll item), which a memory
// cgroup charges too (RSS alone misses it).
//
// DefaultConnectionCost (2,560 B) was measured with idle MQTT 3.1.1
// connections from `edgegw bench --scenario conn` against the gateway in a
// child memory cgroup of its own (v1): the growth of memory.usage_in_bytes
// per connection was 2,330 B at 10,000 and 2,270 B at 18,000 (no limit),
// 2,525 B under a 24 MiB limit; memory.kmem.usage_in_bytes, the kernel's
// part, was 1,500 B of it. README "Memory budget and tuning" has the
// figures, TestCgroupAdmission (package main) checks them.
type Budget struct {
	Limit          int64  `json:"limit_bytes"`          // the memory limit in force
	Source         string `json:"source"`               // SourceCgroup, SourceConfig or SourceRAM
	HighWatermark  int64  `json:"high_watermark_bytes"` // Limit x memory_high_watermark %
	Baseline       int64  `json:"baseline_bytes"`       // memory used before the first connection
	ConnectionCost int64  `json:"connection_cost_bytes"`
	Capacity       int64  `json:"capacity_connections"` // >= 1
}

// NewBudget picks the memory limit (the cgroup's; a lower
// tune.memory_limit wins; else tune.memory_limit; else the machine's RAM,
// memTotal) and sizes the capacity for a gateway already using baseline
// bytes.
func NewBudget(cg Cgroup, memTotal int64, c Config, baseline int64) Budget {
	b := Budget{ConnectionCost: c.cost(), Baseline: max(baseline, 0)}
	switch {
	case cg.MemoryLimit > 0 && (memTotal == 0 || cg.MemoryLimit < memTotal) && (c.MemoryLimit == 0 || cg.MemoryLimit <= c.MemoryLimit):
		b.Limit, b.Source = cg.MemoryLimit, SourceCgroup
	case c.MemoryLimit > 0:
		b.Limit, b.Source = c.MemoryLimit, SourceConfig
	default:
		b.Limit, b.Source = memTotal, SourceRAM
	}
	b.HighWatermark = b.Limit / 100 * c.watermark()
	b.Capacity = max((b.HighWatermark-b.Baseline)/b.ConnectionCost, 1)
	return b
}

// String is one line for the log: "24.0 MiB (cgroup), 2,345 connections".
func (b Budget) String() string {
	return fmt.Sprintf("limit %s (%s), high watermark %s, baseline %s, %d B per connection: capacity %d connections",
		mib(b.Limit), b.Source, mib(b.HighWatermark), mib(b.Baseline), b.ConnectionCost, b.Capacity)
}

func mib(v int64) string { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }

// ReadMemTotal returns MemTotal from /proc/meminfo below root, in bytes.
func ReadMemTotal(root string) (int64, error) {
	r := &reader{root: root}
	m, err := r.keyed("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	kb, ok := m["MemTotal"]
	if !ok || kb <= 0 {
		return 0, fmt.Errorf("cannot parse /proc/meminfo: no MemTotal")
	}
	return kb << 10, nil
}

// ReadResident returns the resident memory of the process (VmRSS from
// /proc/self/status below root), in bytes: the baseline and the usage
// where no cgroup limit applies.
func ReadResident(root string) (int64, error) {
	r := &reader{root: root}
	m, err := r.keyed("/proc/self/status")
	if err != nil {
		return 0, err
	}
	kb, ok := m["VmRSS"]
	if !ok {
		return 0, fmt.Errorf("cannot parse /proc/self/status: no VmRSS")
	}
	return kb << 10, nil
}
