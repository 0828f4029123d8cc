package tune

import (
	"math"
	"runtime"
	"runtime/debug"
	"strconv"
)

// Runtime is how the Go runtime was sized for this process.
type Runtime struct {
	GOMAXPROCS       int    `json:"gomaxprocs"`
	GOMAXPROCSSource string `json:"gomaxprocs_source"` // "GOMAXPROCS env", "cgroup CPU quota" or "cores"
	NumCPU           int    `json:"num_cpu"`           // CPUs this process may run on (affinity, cpuset)
	GOMEMLIMIT       int64  `json:"gomemlimit_bytes"`  // 0 = none (math.MaxInt64 in the runtime)
	GOMEMLIMITSource string `json:"gomemlimit_source"` // "GOMEMLIMIT env", "memory limit minus N%" or "none"
}

// gomaxprocsSource says where procs came from. The runtime (Go 1.25+)
// derives GOMAXPROCS itself, from the GOMAXPROCS environment variable, else
// from the CPUs it may use and the cgroup CPU quota, and follows changes
// to the quota while running; tune does not redo that, it only explains
// the value: quota is the cgroup's in cores (0: none).
func gomaxprocsSource(env string, quota float64, numCPU, procs int) string {
	switch {
	case env != "":
		return "GOMAXPROCS env"
	case quota > 0 && procs < numCPU:
		return "cgroup CPU quota"
	}
	return "cores"
}

// ReadRuntime reports GOMAXPROCS and GOMEMLIMIT as they are now.
// getenv is os.Getenv (tests pass their own).
func ReadRuntime(cg Cgroup, getenv func(string) string) Runtime {
	rt := Runtime{GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU()}
	rt.GOMAXPROCSSource = gomaxprocsSource(getenv("GOMAXPROCS"), cg.CPUQuota, rt.NumCPU, rt.GOMAXPROCS)
	rt.GOMEMLIMITSource = "none"
	if v := getenv("GOMEMLIMIT"); v != "" {
		rt.GOMEMLIMITSource = "GOMEMLIMIT env"
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		rt.GOMEMLIMIT = l
		if rt.GOMEMLIMITSource == "none" {
			rt.GOMEMLIMITSource = "set at run time"
		}
	}
	return rt
}

// GoMemLimit is the GOMEMLIMIT for budget b: its limit minus the
// headroom percentage, minus unmanaged, the memory the cgroup charges that
// the Go runtime does not see (kernel socket memory, file pages; from the
// last MemorySample). A connection costs the kernel about twice what it
// costs the heap (budget.go), so a fixed percentage would let the heap
// grow with garbage into the kernel's share. Never below an eighth of the
// limit; 0 when there is no limit.
func GoMemLimit(b Budget, c Config, unmanaged int64) int64 {
	if b.Limit <= 0 {
		return 0
	}
	return max(b.Limit/100*(100-c.headroom())-max(unmanaged, 0), b.Limit/8)
}

// SetGoMemLimit sets the runtime's soft memory limit (GoMemLimit) from
// the memory budget (the cgroup limit or tune.memory_limit, not the
// machine's RAM, which other processes share), unless the GOMEMLIMIT
// environment variable is set: the runtime honours that itself and tune
// leaves it alone. It returns the limit in force afterwards (0: none) and
// where it came from. Process-wide: main calls it once at start, and the
// gateway's sampler again as the unmanaged memory changes (FollowGoMemLimit).
func SetGoMemLimit(b Budget, c Config, getenv func(string) string, unmanaged int64) (limit int64, source string) {
	if FollowGoMemLimit(b, getenv) {
		if l := GoMemLimit(b, c, unmanaged); l > 0 {
			debug.SetMemoryLimit(l)
			return l, "memory limit (" + b.Source + ") minus " + strconv.FormatInt(c.headroom(), 10) + "% minus kernel and file memory"
		}
	}
	rt := ReadRuntime(Cgroup{}, getenv)
	return rt.GOMEMLIMIT, rt.GOMEMLIMITSource
}

// FollowGoMemLimit reports whether tune sets GOMEMLIMIT for budget b: not
// when the environment sets it, nor when the limit is the machine's RAM.
func FollowGoMemLimit(b Budget, getenv func(string) string) bool {
	return getenv("GOMEMLIMIT") == "" && b.Source != SourceRAM && b.Limit > 0
}
