package tune

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// The network-namespace tests run a copy of this test binary in a network
// namespace of its own (clone(CLONE_NEWNET), root only): there it applies
// namespaced sysctls and drives the ring ioctl on a veth pair it creates.
// Everything it changes vanishes with the namespace when it exits; the
// machine's own values are read before and after and must not move.

const helperEnv = "TUNE_NETNS_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(netnsHelper(mode))
	}
	os.Exit(m.Run())
}

// netnsHelper runs in the child. It refuses to change anything unless it
// is in another network namespace than its parent.
func netnsHelper(mode string) int {
	self, _ := os.Readlink("/proc/self/ns/net")
	if self == "" || self == os.Getenv("TUNE_PARENT_NETNS") {
		fmt.Fprintln(os.Stderr, "helper: not in a network namespace of its own; refusing")
		return 3
	}
	var out any
	switch mode {
	case "sysctl":
		// Only these two: per network namespace since Linux 4.x
		// (somaxconn 4.4, ip_local_port_range 3.x). Others in the list
		// (fs.*, netdev_max_backlog) are machine-wide and are not touched.
		var mine []Sysctl
		for _, s := range ReadSysctls("", Targets{MaxConnections: 300000, RelayConnections: 40000}) {
			if s.Name == "net.core.somaxconn" || s.Name == "net.ipv4.ip_local_port_range" {
				mine = append(mine, s)
			}
		}
		out = ApplySysctls("", mine, nil)
	case "rings":
		if b, err := exec.Command("ip", "link", "add", "tunea", "type", "veth", "peer", "name", "tuneb").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "helper: ip link add: %v %s\n", err, b)
			return 4
		}
		e, err := OpenEthtool()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 5
		}
		defer e.Close()
		before := ReadRings(e, []string{"tunea", "lo"})
		after := ApplyRings(e, before)
		var text strings.Builder
		writeRings(&text, after)
		out = map[string]any{"before": before, "after": after, "text": text.String()}
	default:
		return 2
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

// inNetns runs the helper mode in a fresh network namespace and decodes
// its output into v.
func inNetns(t *testing.T, mode string, v any) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creating a network namespace (CLONE_NEWNET) needs CAP_SYS_ADMIN")
	}
	parent, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Skipf("no /proc/self/ns/net: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "TUNE_PARENT_NETNS="+parent)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if code := cmd.ProcessState.ExitCode(); code == 4 && strings.Contains(stderr.String(), "executable file not found") {
			t.Skipf("no ip command to create a veth pair: %s", stderr.String())
		}
		t.Fatalf("helper %s in a new network namespace: %v\n%s", mode, err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
}

func hostValue(t *testing.T, name string) string {
	b, err := os.ReadFile(sysctlPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// TestApplySysctlInNetns raises net.core.somaxconn and
// net.ipv4.ip_local_port_range inside a network namespace the test creates,
// reads them back there, and checks that this machine's values did not move.
func TestApplySysctlInNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creating a network namespace (CLONE_NEWNET) needs CAP_SYS_ADMIN")
	}
	hostBefore := []string{hostValue(t, "net.core.somaxconn"), hostValue(t, "net.ipv4.ip_local_port_range")}
	var got []Sysctl
	inNetns(t, "sysctl", &got)
	want := map[string]string{"net.core.somaxconn": "30000", "net.ipv4.ip_local_port_range": "1024 65535"}
	if len(got) != 2 {
		t.Fatalf("helper judged %d sysctls, want 2: %+v", len(got), got)
	}
	for _, s := range got {
		// A fresh namespace starts from the kernel defaults (4096 and
		// 32768 60999 on Linux 5.4+), below both recommendations.
		if s.Status != StatusRaised || s.After != want[s.Name] {
			t.Errorf("%s in the namespace: status %s, %q -> %q (%s), want raised to %q", s.Name, s.Status, s.Current, s.After, s.Err, want[s.Name])
		}
	}
	hostAfter := []string{hostValue(t, "net.core.somaxconn"), hostValue(t, "net.ipv4.ip_local_port_range")}
	if hostAfter[0] != hostBefore[0] || hostAfter[1] != hostBefore[1] {
		t.Fatalf("the machine's own values moved: %v -> %v", hostBefore, hostAfter)
	}
}

// TestRingsOnVeth drives the real ethtool ioctl on a veth pair and on
// loopback inside a network namespace the test creates. Loopback answers
// EOPNOTSUPP; veth either does too, or reports rings (Linux 6.x: up to
// 16384 rx/tx for XDP) and may allow raising them: whichever path the
// kernel takes, the ring's status and its report line must say so.
func TestRingsOnVeth(t *testing.T) {
	var got struct {
		Before, After []Ring
		Text          string
	}
	inNetns(t, "rings", &got)
	if len(got.After) != 2 {
		t.Fatalf("rings: %+v", got)
	}
	lo, veth := got.After[1], got.After[0]
	if lo.Status != RingUnsupported || !strings.Contains(got.Text, "lo: no ring settings (the driver reports no ring sizes (EOPNOTSUPP))") {
		t.Errorf("loopback: %+v; report:\n%s", lo, got.Text)
	}
	t.Logf("veth before %+v after %+v\n%s", got.Before[0], veth, got.Text)
	switch veth.Status {
	case RingUnsupported:
		if !strings.Contains(got.Text, "tunea: no ring settings") {
			t.Errorf("veth unsupported, but the report says:\n%s", got.Text)
		}
	case RingRaised:
		if veth.Rx != veth.RxMax || veth.Tx != veth.TxMax || got.Before[0].Status != RingLow ||
			!strings.Contains(got.Text, fmt.Sprintf("tunea: rx %d/%d tx %d/%d raised", veth.Rx, veth.RxMax, veth.Tx, veth.TxMax)) {
			t.Errorf("veth raised: %+v; report:\n%s", veth, got.Text)
		}
	case RingMax:
		if veth.Rx != veth.RxMax || !strings.Contains(got.Text, "tunea: rx") {
			t.Errorf("veth at max: %+v; report:\n%s", veth, got.Text)
		}
	case RingCannot:
		if veth.Err == "" || !strings.Contains(got.Text, "tunea: rx") || !strings.Contains(got.Text, veth.Err) {
			t.Errorf("veth cannot: %+v; report:\n%s", veth, got.Text)
		}
	default:
		t.Errorf("veth: unexpected %+v", veth)
	}
}
