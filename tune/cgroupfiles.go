package tune

import (
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
)

// unlimited: v1 writes "no limit" as PAGE_COUNTER_MAX pages
// (9223372036854771712 on 4 KiB pages); anything this large is no limit.
const unlimited = int64(1) << 62

// Cgroup is what the process's cgroups allow it and what they charge it.
// Sizes are bytes; 0 means no limit, or not known (Problems says which).
// A value, safe to copy and share.
type Cgroup struct {
	MemoryVersion    int    `json:"memory_version"` // 1, 2, or 0: no memory controller found
	MemoryDir        string `json:"memory_dir,omitempty"`
	MemoryLimit      int64  `json:"memory_limit_bytes"`          // the lowest limit on the path (v1 hierarchical, v2 memory.max/high of every ancestor)
	MemoryLimitFrom  string `json:"memory_limit_from,omitempty"` // the file that set it
	MemoryUsage      int64  `json:"memory_usage_bytes"`          // charged now: usage_in_bytes (v1), memory.current (v2)
	MemoryWorkingSet int64  `json:"memory_working_set_bytes"`    // usage minus inactive file pages: what reclaim cannot free
	KernelMemory     int64  `json:"kernel_memory_bytes"`         // v1 memory.kmem.usage_in_bytes, v2 memory.stat kernel
	SocketMemory     int64  `json:"socket_memory_bytes"`         // v1 memory.kmem.tcp.usage_in_bytes, v2 memory.stat sock
	FailCount        int64  `json:"fail_count"`                  // v1 memory.failcnt, v2 memory.events max
	OOMKills         int64  `json:"oom_kills"`                   // oom_control / memory.events oom_kill

	CPUVersion  int     `json:"cpu_version"`
	CPUDir      string  `json:"cpu_dir,omitempty"`
	CPUQuota    float64 `json:"cpu_quota_cores"` // quota / period; 0 = no quota
	CPUPeriodUs int64   `json:"cpu_period_us,omitempty"`
	Cpuset      string  `json:"cpuset,omitempty"` // e.g. "0-3,6"
	CpusetCount int     `json:"cpuset_count"`     // CPUs in Cpuset; 0 = not known

	mtop string // memory hierarchy's mount point (nested walks stop there)
}

// ReadCgroup reads the process's cgroups below root ("" = this machine):
// /proc/self/cgroup and /proc/self/mountinfo to find them, then the CPU,
// cpuset and memory files. What cannot be read is returned as problems,
// one line each; the fields it would have filled stay 0.
func ReadCgroup(root string) (Cgroup, []string) {
	r := &reader{root: root}
	cg := r.cgroup()
	return cg, r.p
}

func (r *reader) cgroup() Cgroup {
	var cg Cgroup
	self, err := r.read("/proc/self/cgroup")
	if err != nil {
		r.p.add("cgroup: %v (not in a cgroup, or not Linux)", err)
		return cg
	}
	mi, err := r.read("/proc/self/mountinfo")
	if err != nil {
		r.p.add("cgroup: %v", err)
		return cg
	}
	mb, mounts := parseProcCgroup(self), parseMountinfo(mi)
	if len(mounts) == 0 {
		r.p.add("cgroup: no cgroup or cgroup2 file system in /proc/self/mountinfo")
		return cg
	}
	dir, top, v := r.controllerDir("memory", "memory.max", mb, mounts)
	cg.MemoryVersion, cg.MemoryDir, cg.mtop = v, dir, top
	switch v {
	case 1:
		r.memoryV1(&cg)
	case 2:
		r.memoryV2(&cg)
	default:
		r.p.add("cgroup: no memory controller for this process")
	}
	dir, top, v = r.controllerDir("cpu", "cpu.max", mb, mounts)
	cg.CPUVersion, cg.CPUDir = v, dir
	switch v {
	case 1:
		r.cpuV1(&cg)
	case 2:
		r.cpuV2(&cg, top)
	}
	dir, _, v = r.controllerDir("cpuset", "cpuset.cpus.effective", mb, mounts)
	switch v {
	case 1:
		r.cpuset(&cg, path.Join(dir, "cpuset.effective_cpus"), path.Join(dir, "cpuset.cpus"))
	case 2:
		r.cpuset(&cg, path.Join(dir, "cpuset.cpus.effective"))
	}
	return cg
}

// limitValue parses a limit file's text: "max" (v2) and v1's huge
// "unlimited" value are 0.
func limitValue(p, s string) (int64, error) {
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// v1 may print values past int64 on some kernels: no limit either.
		if u, uerr := strconv.ParseUint(s, 10, 64); uerr == nil && u >= uint64(unlimited) {
			return 0, nil
		}
		return 0, fmt.Errorf("cannot parse %s: %q is neither a number nor \"max\"", p, s)
	}
	if v < 0 || v >= unlimited {
		return 0, nil
	}
	return v, nil
}

func (r *reader) limit(p string) (int64, bool) {
	s, err := r.line(p)
	if err != nil {
		r.p.add("cgroup: %v", err)
		return 0, false
	}
	v, err := limitValue(p, s)
	if err != nil {
		r.p.add("cgroup: %v", err)
		return 0, false
	}
	return v, true
}

// lower keeps the smaller non-zero limit in cg, and where it came from.
func lower(cg *Cgroup, v int64, from string) {
	if v > 0 && (cg.MemoryLimit == 0 || v < cg.MemoryLimit) {
		cg.MemoryLimit, cg.MemoryLimitFrom = v, from
	}
}

func (r *reader) memoryV1(cg *Cgroup) {
	d := cg.MemoryDir
	p := path.Join(d, "memory.limit_in_bytes")
	if v, ok := r.limit(p); ok {
		lower(cg, v, p)
	}
	// An ancestor's lower limit applies too (use_hierarchy); the kernel
	// sums it up in memory.stat.
	stat, err := r.keyed(path.Join(d, "memory.stat"))
	if err != nil {
		r.p.add("cgroup: %v", err)
	} else if v, ok := stat["hierarchical_memory_limit"]; ok && v > 0 && v < unlimited {
		lower(cg, v, path.Join(d, "memory.stat")+" hierarchical_memory_limit")
	}
	cg.MemoryUsage = r.optInt(path.Join(d, "memory.usage_in_bytes"), true)
	cg.MemoryWorkingSet = workingSet(cg.MemoryUsage, stat, 1)
	cg.KernelMemory = r.optInt(path.Join(d, "memory.kmem.usage_in_bytes"), false)
	cg.SocketMemory = r.optInt(path.Join(d, "memory.kmem.tcp.usage_in_bytes"), false)
	cg.FailCount = r.optInt(path.Join(d, "memory.failcnt"), false)
	if oc, err := r.keyed(path.Join(d, "memory.oom_control")); err == nil {
		cg.OOMKills = oc["oom_kill"]
	}
}

func (r *reader) memoryV2(cg *Cgroup) {
	d := cg.MemoryDir
	// Nested cgroups: every ancestor's memory.max (and memory.high, past
	// which the kernel throttles the group hard) bounds this one.
	for x := d; ; x = path.Dir(x) {
		for _, f := range []string{"memory.max", "memory.high"} {
			p := path.Join(x, f)
			if !r.exists(p) {
				continue
			}
			if v, ok := r.limit(p); ok {
				lower(cg, v, p)
			}
		}
		if x == cg.mtop || x == "/" || x == "." {
			break
		}
	}
	stat, err := r.keyed(path.Join(d, "memory.stat"))
	if err != nil && r.exists(path.Join(d, "memory.max")) {
		r.p.add("cgroup: %v", err)
	}
	if r.exists(path.Join(d, "memory.current")) {
		cg.MemoryUsage = r.optInt(path.Join(d, "memory.current"), true)
	}
	cg.MemoryWorkingSet = workingSet(cg.MemoryUsage, stat, 2)
	cg.KernelMemory = stat["kernel"]
	if cg.KernelMemory == 0 {
		cg.KernelMemory = stat["slab"] + stat["kernel_stack"] + stat["pagetables"] + stat["sock"]
	}
	cg.SocketMemory = stat["sock"]
	if ev, err := r.keyed(path.Join(d, "memory.events")); err == nil {
		cg.FailCount, cg.OOMKills = ev["max"], ev["oom_kill"]
	}
}

// workingSet is usage minus the inactive file pages that reclaim frees
// before anything is killed.
func workingSet(usage int64, stat map[string]int64, v int) int64 {
	inactive := stat["inactive_file"]
	if v == 1 {
		if t, ok := stat["total_inactive_file"]; ok {
			inactive = t
		}
	}
	if inactive > usage {
		return 0
	}
	return usage - inactive
}

// optInt reads an integer file; a missing file is a problem only if must.
func (r *reader) optInt(p string, must bool) int64 {
	v, err := r.int64(p)
	if err != nil {
		if must || r.exists(p) {
			r.p.add("cgroup: %v", err)
		}
		return 0
	}
	return v
}

func (r *reader) cpuV1(cg *Cgroup) {
	q, err := r.int64(path.Join(cg.CPUDir, "cpu.cfs_quota_us"))
	if err != nil {
		r.p.add("cgroup: %v", err)
		return
	}
	if q <= 0 {
		return // -1: no quota
	}
	per, err := r.int64(path.Join(cg.CPUDir, "cpu.cfs_period_us"))
	if err != nil || per <= 0 {
		r.p.add("cgroup: cpu quota %d without a usable cpu.cfs_period_us: %v", q, err)
		return
	}
	cg.CPUQuota, cg.CPUPeriodUs = float64(q)/float64(per), per
}

func (r *reader) cpuV2(cg *Cgroup, top string) {
	for x := cg.CPUDir; ; x = path.Dir(x) {
		p := path.Join(x, "cpu.max")
		if r.exists(p) {
			s, err := r.line(p)
			if err != nil {
				r.p.add("cgroup: %v", err)
			} else if q, per, err := parseCPUMax(p, s); err != nil {
				r.p.add("cgroup: %v", err)
			} else if q > 0 && (cg.CPUQuota == 0 || q < cg.CPUQuota) {
				cg.CPUQuota, cg.CPUPeriodUs = q, per
			}
		}
		if x == top || x == "/" || x == "." {
			break
		}
	}
}

// parseCPUMax parses cpu.max: "max 100000" (no quota) or "50000 100000".
func parseCPUMax(p, s string) (cores float64, period int64, err error) {
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 2 {
		return 0, 0, fmt.Errorf("cannot parse %s: %q", p, s)
	}
	period = 100000
	if len(f) == 2 {
		if period, err = strconv.ParseInt(f[1], 10, 64); err != nil || period <= 0 {
			return 0, 0, fmt.Errorf("cannot parse %s: bad period in %q", p, s)
		}
	}
	if f[0] == "max" {
		return 0, period, nil
	}
	q, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || q <= 0 {
		return 0, 0, fmt.Errorf("cannot parse %s: bad quota in %q", p, s)
	}
	return float64(q) / float64(period), period, nil
}

// cpuset reads the first of files that exists and is not empty.
func (r *reader) cpuset(cg *Cgroup, files ...string) {
	for _, p := range files {
		s, err := r.line(p)
		if err != nil || s == "" {
			continue
		}
		n, err := countCPUs(s)
		if err != nil {
			r.p.add("cgroup: cannot parse %s: %v", p, err)
			return
		}
		cg.Cpuset, cg.CpusetCount = s, n
		return
	}
}

// countCPUs counts a cpu list such as "0-3,6,8-9".
func countCPUs(s string) (int, error) {
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("%q is not a cpu list", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0, fmt.Errorf("%q is not a cpu list", s)
			}
		}
		n += b - a + 1
		if n > math.MaxInt32 {
			return 0, fmt.Errorf("%q is not a cpu list", s)
		}
	}
	return n, nil
}

// MemorySample is one reading of the memory a limit applies to, in bytes.
type MemorySample struct {
	Usage      int64 // charged: usage_in_bytes (v1), memory.current (v2), VmRSS (no cgroup)
	WorkingSet int64 // Usage minus inactive file pages: what reclaim cannot free
	Anon       int64 // anonymous memory (the Go heap, stacks, runtime): memory.stat total_rss / anon, RssAnon
}

// Unmanaged is the part of the working set the Go runtime does not
// manage: kernel memory (sockets), active file pages.
func (m MemorySample) Unmanaged() int64 { return max(m.WorkingSet-m.Anon, 0) }

// MemoryProbe reads one cgroup's memory use, for a sampler goroutine.
// The zero value (no memory controller) reads nothing. Safe for concurrent
// use; each call reads two small files.
type MemoryProbe struct {
	root, dir string
	version   int
}

// Probe returns the probe for cg's memory controller, below root.
func (cg Cgroup) Probe(root string) MemoryProbe {
	return MemoryProbe{root: root, dir: cg.MemoryDir, version: cg.MemoryVersion}
}

// Sample reads the memory use now. ok is false when there is nothing to
// read or a read failed.
func (m MemoryProbe) Sample() (MemorySample, bool) {
	if m.version == 0 {
		return MemorySample{}, false
	}
	r := &reader{root: m.root}
	f, anon := "memory.usage_in_bytes", "total_rss"
	if m.version == 2 {
		f, anon = "memory.current", "anon"
	}
	u, err := r.int64(path.Join(m.dir, f))
	if err != nil {
		return MemorySample{}, false
	}
	stat, _ := r.keyed(path.Join(m.dir, "memory.stat"))
	return MemorySample{Usage: u, WorkingSet: workingSet(u, stat, m.version), Anon: stat[anon]}, true
}
