package tune

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// fakeMachine assembles one fake root from the testdata trees: the v1
// cgroup with a 32 MiB limit, low sysctls, the second signals sample and
// a meminfo.
func fakeMachine(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, src := range []string{"testdata/v1_limit", "testdata/sysctl_low", "testdata/signals_b", "testdata/proc_host"} {
		err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(filepath.Join(root, filepath.Dir(rel)), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(root, rel), b, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestInspectFakeMachine: the whole report over a fake machine, as text
// and JSON, with apply = "off": the budget follows the cgroup, the low
// sysctls are warnings with their exact commands, nothing is written.
func TestInspectFakeMachine(t *testing.T) {
	root := fakeMachine(t)
	rep := Inspect(Options{Root: root, Config: Config{Apply: ApplyOff}, Targets: Targets{MaxConnections: 200000}})
	b := rep.Budget
	if b.Source != SourceCgroup || b.Limit != 32<<20 || b.Baseline != 9<<20 || b.Capacity != (32<<20/100*90-9<<20)/DefaultConnectionCost {
		t.Errorf("budget %+v", b)
	}
	if rep.Apply != ApplyOff || rep.Targets.Backlog != 20000 || len(rep.Sysctls) != 10 {
		t.Errorf("apply %q targets %+v sysctls %d", rep.Apply, rep.Targets, len(rep.Sysctls))
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	for _, want := range []string{
		"memory v1 /sys/fs/cgroup/memory/process_api/e9deb: limit 32.0 MiB",
		"cpu v1: quota 1.50 cores (period 100000us), cpuset 0-1,3 (3 CPUs)",
		`sysctl -w net.core.somaxconn="20000"`,
		"net.ipv4.tcp_rmem                4096 131072 6291456 (ok; recommended 4096 16384 4194304)",
		"conntrack: 60000 of 65536 entries",
		"eth0: rx drops 10, errors 1; tx drops 2, errors 1",
		"memory holds about 8110 connections, fewer than the 200000 targeted",
		"conntrack table 91% full",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Budget != rep.Budget || len(back.Sysctls) != 10 || back.Signals.ConntrackCount != 60000 {
		t.Errorf("JSON round trip: %v\n%s", err, js.String())
	}
	if got, _ := os.ReadFile(filepath.Join(root, "proc/sys/net/core/somaxconn")); string(got) != "128\n" {
		t.Errorf("Inspect wrote somaxconn: %q", got)
	}
	if len(rep.Summary())%2 != 0 {
		t.Error("Summary is not key-value pairs")
	}
}

// TestApplyFakeMachine: Apply with "raise" over a fake machine raises the
// low sysctls in the fake tree (logging before and after each), sets
// GOMEMLIMIT from the cgroup's 32 MiB minus the headroom and the kernel's
// share, and leaves "off" alone.
func TestApplyFakeMachine(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	root := fakeMachine(t)
	var logged []string
	noEnv := func(string) string { return "" }
	rep := Apply(Options{Root: root, Targets: Targets{MaxConnections: 200000}, Getenv: noEnv}, func(msg string, a ...any) { logged = append(logged, msg) })
	if got, _ := os.ReadFile(filepath.Join(root, "proc/sys/net/core/somaxconn")); string(got) != "20000\n" {
		t.Errorf("somaxconn after apply: %q", got)
	}
	if n := strings.Count(strings.Join(logged, "\n"), "raising sysctl"); n != 6 {
		t.Errorf("%d sysctls logged as raised, want 6: %q", n, logged)
	}
	// v1_limit: working set 9 MiB, total_rss absent (anon 0): unmanaged 9 MiB.
	want := int64(32<<20/100*95 - 9<<20)
	if rep.Runtime.GOMEMLIMIT != want || debug.SetMemoryLimit(-1) != want {
		t.Errorf("GOMEMLIMIT %d (runtime %d), want %d", rep.Runtime.GOMEMLIMIT, debug.SetMemoryLimit(-1), want)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	root = fakeMachine(t)
	rep = Apply(Options{Root: root, Config: Config{Apply: ApplyOff}, Targets: Targets{MaxConnections: 200000},
		Getenv: func(k string) string {
			if k == "GOMEMLIMIT" {
				return "64MiB"
			}
			return ""
		}}, nil)
	if got, _ := os.ReadFile(filepath.Join(root, "proc/sys/net/core/somaxconn")); string(got) != "128\n" {
		t.Errorf("apply = off wrote somaxconn: %q", got)
	}
	if debug.SetMemoryLimit(-1) != math.MaxInt64 || rep.Runtime.GOMEMLIMITSource != "GOMEMLIMIT env" {
		t.Errorf("GOMEMLIMIT in the environment, yet tune set %d (%s)", debug.SetMemoryLimit(-1), rep.Runtime.GOMEMLIMITSource)
	}
}
