// Package tune fits the gateway to the machine and the container it runs in,
// and makes visible the kernel limits that silently lose messages.
//
// It owns:
//
//   - cgroup.go, cgroupfiles.go: cgroup v1 and v2 detection from
//     /proc/self/cgroup and /proc/self/mountinfo, CPU quota and cpuset,
//     memory limit and usage (ReadCgroup, MemoryProbe).
//   - runtime.go: where GOMAXPROCS came from (the runtime derives it; tune
//     only reports it) and GOMEMLIMIT, which tune sets from the budget.
//   - rlimit.go: RLIMIT_NOFILE, and the connection cap it implies (FDCap).
//   - budget.go, admission.go: the memory budget, the connections it holds
//     (Budget.Capacity), and the admission decision the gateway asks at
//     CONNECT (Admission), fed by a sampler goroutine.
//   - sysctl.go: the sysctl doctor and applier (raise, never lower).
//   - ring.go: NIC rings through the ethtool ioctl, behind RingIO.
//   - signals.go: kernel counters (TCP retransmits, listen overflows,
//     conntrack, interface drops, socket memory) and the warnings on them
//     (Watch).
//   - report.go: Inspect, Apply and the report `edgegw tune` prints.
//   - config.go: the [tune] section; fs.go, ratelimit.go: helpers.
//
// # Roots
//
// Every reader takes a root path that is prepended to /proc and /sys ("" or
// "/" for the real ones), the way VictoriaMetrics' lib/cgroup does, so tests
// feed fake trees from testdata/. Nothing here is required: a file that is
// missing, unreadable or malformed becomes one line in Report.Problems (what
// could not be read, and why) and the caller goes on.
//
// # Concurrency
//
// Readers and Inspect are plain functions, safe for concurrent use. Apply
// changes process-wide (rlimit, GOMEMLIMIT) and machine-wide (sysctls,
// rings) state: call it once, from main, before the gateway starts.
// Admission.Admit is safe for concurrent use and never blocks (it loads
// atomics): it is what an event loop may call. Sampling (Admission.Sample,
// Signals) reads files and runs on a goroutine the caller owns, off the
// event loops.
//
// Imports: the standard library and golang.org/x/sys/unix only; never the
// gateway or its sub-packages.
package tune
