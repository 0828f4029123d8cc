package tune

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sysctlByName(list []Sysctl) map[string]Sysctl {
	m := map[string]Sysctl{}
	for _, s := range list {
		m[s.Name] = s
	}
	return m
}

// TestReadSysctls judges fake /proc/sys trees against the recommendations
// for 200,000 connections and 40,000 outgoing ones.
func TestReadSysctls(t *testing.T) {
	tg := Targets{MaxConnections: 200000, RelayConnections: 40000}
	tests := []struct {
		root string
		want map[string][3]string // name -> current, recommended, status
	}{
		{"testdata/sysctl_low", map[string][3]string{
			"net.core.somaxconn":             {"128", "20000", StatusLow},
			"net.ipv4.tcp_max_syn_backlog":   {"256", "20000", StatusLow},
			"net.core.netdev_max_backlog":    {"1000", "6250", StatusLow},
			"net.ipv4.ip_local_port_range":   {"32768 60999", "1024 65535", StatusLow},
			"net.netfilter.nf_conntrack_max": {"65536", "400000", StatusLow},
			"fs.file-max":                    {"100000", "465536", StatusLow},
			"fs.nr_open":                     {"1048576", "1048576", StatusOK},
			"net.ipv4.tcp_rmem":              {"4096 131072 6291456", "4096 16384 4194304", StatusOK},
			"net.ipv4.tcp_wmem":              {"4096 8192 65536", "4096 16384 4194304", StatusLow},
			"net.ipv4.tcp_fin_timeout":       {"60", "30", StatusAdvice},
		}},
		{"testdata/sysctl_ok", map[string][3]string{
			"net.core.somaxconn":             {"65535", "20000", StatusOK},
			"net.ipv4.ip_local_port_range":   {"1024 65535", "1024 65535", StatusOK},
			"fs.file-max":                    {"9223372036854775807", "465536", StatusOK},
			"net.netfilter.nf_conntrack_max": {"garbage", "400000", StatusUnreadable},
			"net.ipv4.tcp_fin_timeout":       {"15", "30", StatusOK},
		}},
		{"testdata/missing", map[string][3]string{
			"net.core.somaxconn": {"", "20000", StatusUnreadable},
		}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.root), func(t *testing.T) {
			got := sysctlByName(ReadSysctls(tt.root, tg))
			if len(got) != 10 {
				t.Errorf("%d sysctls, want 10", len(got))
			}
			for name, w := range tt.want {
				s := got[name]
				if s.Current != w[0] || s.Recommended != w[1] || s.Status != w[2] {
					t.Errorf("%s: current %q rec %q status %s, want %q %q %s", name, s.Current, s.Recommended, s.Status, w[0], w[1], w[2])
				}
				if s.Status == StatusUnreadable && w[0] == "" && !strings.Contains(s.Err, "cannot read /proc/sys/net/core/somaxconn") {
					t.Errorf("%s: error %q", name, s.Err)
				}
			}
		})
	}
	if c := sysctlByName(ReadSysctls("testdata/sysctl_low", tg))["net.ipv4.tcp_wmem"].Command(); c != `sysctl -w net.ipv4.tcp_wmem="4096 16384 4194304"` {
		t.Errorf("Command() = %s", c)
	}
}

// copyTree copies the fake tree src into a temporary directory.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestApplySysctls raises the low values of a copy of a fake tree: each
// field raised, none lowered (tcp_rmem's larger max, fin_timeout's 60 kept),
// the port range only widened; a file that cannot be written is "cannot".
func TestApplySysctls(t *testing.T) {
	root := copyTree(t, "testdata/sysctl_low")
	ro := filepath.Join(root, "proc/sys/fs/file-max")
	// A value that reads but cannot be written, as root too: a read-only
	// sysctl (mode 0444: the kernel refuses the open for writing).
	if err := os.Remove(ro); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/sys/kernel/ngroups_max", ro); err != nil {
		t.Fatal(err)
	}
	tg := Targets{MaxConnections: 200000, RelayConnections: 40000}
	list := ReadSysctls(root, tg)
	var logged []string
	after := sysctlByName(ApplySysctls(root, list, func(s Sysctl, before bool) {
		logged = append(logged, s.Name+map[bool]string{true: " before", false: " after"}[before])
	}))
	want := map[string][2]string{ // name -> file contents after, status
		"net.core.somaxconn":             {"20000", StatusRaised},
		"net.core.netdev_max_backlog":    {"6250", StatusRaised},
		"net.ipv4.ip_local_port_range":   {"1024 65535", StatusRaised},
		"net.netfilter.nf_conntrack_max": {"400000", StatusRaised},
		"net.ipv4.tcp_rmem":              {"4096 131072 6291456", StatusOK},
		"net.ipv4.tcp_wmem":              {"4096 16384 4194304", StatusRaised},
		"net.ipv4.tcp_fin_timeout":       {"60", StatusAdvice},
	}
	for name, w := range want {
		b, _ := os.ReadFile(filepath.Join(root, sysctlPath(name)))
		if got := strings.Join(strings.Fields(string(b)), " "); got != w[0] || after[name].Status != w[1] {
			t.Errorf("%s: file %q status %s, want %q %s", name, got, after[name].Status, w[0], w[1])
		}
	}
	if s := after["fs.file-max"]; s.Status != StatusCannot || !strings.Contains(s.Err, "cannot write /proc/sys/fs/file-max") {
		t.Errorf("fs.file-max: %+v, want cannot with the path", s)
	}
	if len(logged) != 2*7 { // 7 low values, each logged before and after
		t.Errorf("logged %d lines: %v", len(logged), logged)
	}
}

func TestRaised(t *testing.T) {
	for _, c := range []struct {
		r             rule
		cur, rec, out string
	}{
		{ruleAtLeast, "128", "4096", "4096"},
		{ruleAtLeast, "4096 87380 65536", "4096 16384 4194304", "4096 87380 4194304"},
		{ruleAtLeast, "1 1 1", "4096 16384 8192", "4096 16384 16384"}, // default <= max kept
		{ruleRange, "40000 50000", "32768 60999", "32768 60999"},
		{ruleRange, "1024 50000", "32768 60999", "1024 60999"},
	} {
		if got := raised(c.r, c.cur, c.rec); got != c.out {
			t.Errorf("raised(%q, %q) = %q, want %q", c.cur, c.rec, got, c.out)
		}
	}
}

func TestConntrackUsage(t *testing.T) {
	if c, m, ok := ConntrackUsage("testdata/sysctl_low"); !ok || c != 60000 || m != 65536 {
		t.Errorf("ConntrackUsage = %d %d %v", c, m, ok)
	}
	if _, _, ok := ConntrackUsage("testdata/sysctl_ok"); ok {
		t.Error("no nf_conntrack_count: ok")
	}
}
