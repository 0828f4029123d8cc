package tune

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestReadCgroup reads fake cgroup v1 and v2 trees (testdata/<name>) and
// checks every figure and every problem line.
func TestReadCgroup(t *testing.T) {
	tests := []struct {
		name     string
		want     Cgroup
		problems []string // substrings, one per expected problem line, in order
	}{
		{name: "v1_limit", want: Cgroup{
			MemoryVersion: 1, MemoryDir: "/sys/fs/cgroup/memory/process_api/e9deb",
			MemoryLimit: 32 << 20, MemoryLimitFrom: "/sys/fs/cgroup/memory/process_api/e9deb/memory.limit_in_bytes",
			MemoryUsage: 10 << 20, MemoryWorkingSet: 9 << 20, KernelMemory: 3 << 20, SocketMemory: 65536, FailCount: 7, OOMKills: 2,
			CPUVersion: 1, CPUDir: "/sys/fs/cgroup/cpu,cpuacct/gw", CPUQuota: 1.5, CPUPeriodUs: 100000,
			Cpuset: "0-1,3", CpusetCount: 3,
		}},
		{name: "v1_unlimited", want: Cgroup{
			MemoryVersion: 1, MemoryDir: "/sys/fs/cgroup/memory/process_api/e9deb",
			MemoryUsage: 2546487296, MemoryWorkingSet: 2000000000,
			CPUVersion: 1, CPUDir: "/sys/fs/cgroup/cpu,cpuacct/gw", Cpuset: "0-1", CpusetCount: 2,
		}},
		{name: "v1_nested", want: Cgroup{
			MemoryVersion: 1, MemoryDir: "/sys/fs/cgroup/memory/process_api/e9deb",
			MemoryLimit: 64 << 20, MemoryLimitFrom: "/sys/fs/cgroup/memory/process_api/e9deb/memory.stat hierarchical_memory_limit",
			MemoryUsage: 1 << 20, MemoryWorkingSet: 1 << 20,
		}, problems: []string{
			"cgroup v1 cpu: /sys/fs/cgroup/cpu,cpuacct/gw does not exist",
			"cgroup v1 cpuset: /sys/fs/cgroup/cpuset does not exist",
		}},
		{name: "v1_container", want: Cgroup{
			MemoryVersion: 1, MemoryDir: "/sys/fs/cgroup/memory",
			MemoryLimit: 24 << 20, MemoryLimitFrom: "/sys/fs/cgroup/memory/memory.limit_in_bytes",
			MemoryUsage: 4 << 20, MemoryWorkingSet: 4 << 20,
			CPUVersion: 1, CPUDir: "/sys/fs/cgroup/cpu,cpuacct", CPUQuota: 2, CPUPeriodUs: 100000,
		}},
		{name: "v2_limit", want: Cgroup{
			MemoryVersion: 2, MemoryDir: "/sys/fs/cgroup/kubepods/pod1/ctr",
			MemoryLimit: 256 << 20, MemoryLimitFrom: "/sys/fs/cgroup/kubepods/pod1/ctr/memory.max",
			MemoryUsage: 100 << 20, MemoryWorkingSet: 96 << 20, KernelMemory: 8 << 20, SocketMemory: 1 << 20, FailCount: 3, OOMKills: 1,
			CPUVersion: 2, CPUDir: "/sys/fs/cgroup/kubepods/pod1/ctr", CPUQuota: 0.5, CPUPeriodUs: 100000,
			Cpuset: "2-3", CpusetCount: 2,
		}},
		{name: "v2_nested", want: Cgroup{
			MemoryVersion: 2, MemoryDir: "/sys/fs/cgroup/kubepods/pod1/ctr",
			MemoryLimit: 128 << 20, MemoryLimitFrom: "/sys/fs/cgroup/kubepods/pod1/memory.max",
			MemoryUsage: 1 << 20, MemoryWorkingSet: 1 << 20,
			CPUVersion: 2, CPUDir: "/sys/fs/cgroup/kubepods/pod1/ctr", CPUQuota: 2, CPUPeriodUs: 100000,
		}},
		{name: "v2_namespace", want: Cgroup{
			MemoryVersion: 2, MemoryDir: "/sys/fs/cgroup",
			MemoryLimit: 512 << 20, MemoryLimitFrom: "/sys/fs/cgroup/memory.max",
			MemoryUsage: 5 << 20, MemoryWorkingSet: 5 << 20, CPUVersion: 2, CPUDir: "/sys/fs/cgroup",
		}},
		{name: "v2_max", want: Cgroup{
			MemoryVersion: 2, MemoryDir: "/sys/fs/cgroup/user.slice/gw.service",
			MemoryUsage: 3 << 20, MemoryWorkingSet: 2 << 20, CPUVersion: 2, CPUDir: "/sys/fs/cgroup/user.slice/gw.service",
		}},
		{name: "v2_odd_mount", want: Cgroup{
			MemoryVersion: 2, MemoryDir: "/run/my cg",
			MemoryLimit: 96 << 20, MemoryLimitFrom: "/run/my cg/memory.max",
			MemoryUsage: 1 << 20, MemoryWorkingSet: 1 << 20,
		}},
		{name: "v2_nocontroller", want: Cgroup{}, problems: []string{"no memory controller"}},
		{name: "malformed", want: Cgroup{
			MemoryVersion: 2, MemoryDir: "/sys/fs/cgroup/gw", CPUVersion: 2, CPUDir: "/sys/fs/cgroup/gw",
		}, problems: []string{
			`cannot parse /sys/fs/cgroup/gw/memory.max: "lots" is neither a number nor "max"`,
			`cannot parse /sys/fs/cgroup/gw/memory.current: "12x" is not an integer`,
			`cannot parse /sys/fs/cgroup/gw/cpu.max: bad quota in "abc 100000"`,
			`cannot parse /sys/fs/cgroup/gw/cpuset.cpus.effective: "x-y" is not a cpu list`,
		}},
		{name: "missing", want: Cgroup{}, problems: []string{"cannot read /proc/self/cgroup: no such file or directory (not in a cgroup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join("testdata", tt.name)
			got, probs := ReadCgroup(root)
			got.mtop = ""
			if got != tt.want {
				t.Errorf("ReadCgroup(%s)\n got %+v\nwant %+v", root, got, tt.want)
			}
			want := tt.problems
			if len(probs) != len(want) {
				t.Fatalf("problems %q, want %d matching %q", probs, len(want), want)
			}
			for i, p := range probs {
				if !strings.Contains(p, want[i]) || strings.Contains(p, "testdata") {
					t.Errorf("problem %d = %q, want it to contain %q and name the logical path only", i, p, want[i])
				}
			}
		})
	}
}

func TestCountCPUs(t *testing.T) {
	for s, want := range map[string]int{"0": 1, "0-3": 4, "0-1,3": 3, "0-3,8-11,15": 9} {
		if n, err := countCPUs(s); err != nil || n != want {
			t.Errorf("countCPUs(%q) = %d, %v; want %d", s, n, err, want)
		}
	}
	for _, s := range []string{"", "a", "3-1", "0-", "1,,2"} {
		if _, err := countCPUs(s); err == nil {
			t.Errorf("countCPUs(%q): no error", s)
		}
	}
}

func TestMemoryProbe(t *testing.T) {
	cg, _ := ReadCgroup("testdata/v1_limit")
	ms, ok := cg.Probe("testdata/v1_limit").Sample()
	if !ok || ms != (MemorySample{Usage: 10 << 20, WorkingSet: 9 << 20}) {
		t.Errorf("v1 Sample = %+v, %v; want 10 MiB, 9 MiB", ms, ok)
	}
	cg, _ = ReadCgroup("testdata/v2_limit")
	ms, ok = cg.Probe("testdata/v2_limit").Sample()
	if !ok || ms != (MemorySample{Usage: 100 << 20, WorkingSet: 96 << 20, Anon: 80 << 20}) || ms.Unmanaged() != 16<<20 {
		t.Errorf("v2 Sample = %+v, %v; want 100 MiB, 96 MiB, anon 80 MiB", ms, ok)
	}
	if _, ok := (MemoryProbe{}).Sample(); ok {
		t.Error("zero MemoryProbe sampled something")
	}
	ms, ok = ResidentProbe("testdata/proc_host")()
	if !ok || ms != (MemorySample{Usage: 12 << 20, WorkingSet: 12 << 20, Anon: 8 << 20}) {
		t.Errorf("ResidentProbe = %+v, %v", ms, ok)
	}
}
