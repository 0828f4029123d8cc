package gateway

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestTCPKeepAliveOnAcceptedSockets: engine.tcp_keepalive reaches every
// accepted client socket (set on the listeners, inherited by the kernel).
func TestTCPKeepAliveOnAcceptedSockets(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Engine.TCPKeepAlive = Duration(10 * time.Second) })
	c := rawV5(t, g, "ka-opts")
	fd := serverSideFD(t, c.LocalAddr().String())
	for _, o := range []struct {
		name       string
		level, opt int
		want       int
	}{
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 10},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 2},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 5},
	} {
		if v, err := unix.GetsockoptInt(fd, o.level, o.opt); err != nil || v != o.want {
			t.Errorf("%s on the accepted socket = %d (%v), want %d", o.name, v, err, o.want)
		}
	}
}

// serverSideFD finds, among this process's descriptors, the gateway's end
// of the connection whose client end is at local (both live in the test).
func serverSideFD(t *testing.T, local string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	for _, e := range ents {
		fd, _ := strconv.Atoi(e.Name())
		sa, err := unix.Getpeername(fd)
		if err != nil {
			continue
		}
		if in4, ok := sa.(*unix.SockaddrInet4); ok {
			if net.JoinHostPort(net.IP(in4.Addr[:]).String(), strconv.Itoa(in4.Port)) == local {
				return fd
			}
		}
	}
	t.Fatalf("no accepted socket with peer %s", local)
	return -1
}

// TestHalfOpenClientClosedByTCPKeepAlive: a client with MQTT keep alive 0
// (nothing the gateway can time out) vanishes without FIN or RST: its
// network namespace's link goes down. The kernel's keepalive probes go
// unanswered and the gateway closes the connection, counted as "network".
// Without engine.tcp_keepalive the connection would stay forever.
func TestHalfOpenClientClosedByTCPKeepAlive(t *testing.T) {
	ns := fmt.Sprintf("egwka%d", os.Getpid()%100000)
	hostIf, nsIf := ns+"h", ns+"n"
	net3 := 16 + os.Getpid()%200
	hostIP, nsIP := fmt.Sprintf("10.251.%d.1", net3), fmt.Sprintf("10.251.%d.2", net3)
	ip := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := ip("netns", "add", ns); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root with iproute2 (.ci/run installs it):", err)
		}
		t.Skip("needs root and iproute2 to create a network namespace:", err)
	}
	t.Cleanup(func() { _ = ip("link", "del", hostIf); _ = ip("netns", "del", ns) })
	for _, a := range [][]string{
		{"link", "add", hostIf, "type", "veth", "peer", "name", nsIf, "netns", ns},
		{"addr", "add", hostIP + "/30", "dev", hostIf},
		{"link", "set", hostIf, "up"},
		{"-n", ns, "addr", "add", nsIP + "/30", "dev", nsIf},
		{"-n", ns, "link", "set", nsIf, "up"},
	} {
		if err := ip(a...); err != nil {
			t.Fatal(err)
		}
	}
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.TCP = hostIP + ":0"
		c.Engine.TCPKeepAlive = Duration(time.Second)
	})
	fd := socketInNetns(t, ns)
	t.Cleanup(func() { unix.Close(fd) })
	ap, _ := net.ResolveTCPAddr("tcp", g.Addr("tcp"))
	sa := &unix.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	if err := unix.Connect(fd, sa); err != nil {
		t.Fatal("connect from the namespace:", err)
	}
	if _, err := unix.Write(fd, connectPacket(4, "vanishing", 0, true)); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if n, err := unix.Read(fd, ack); err != nil || n != 4 || ack[0] != 0x20 {
		t.Fatalf("CONNACK %x %v", ack[:max(n, 0)], err)
	}
	eventually(t, "connected", func() bool { return metric(t, g, "edgegw_connections") == 1 })
	if err := ip("-n", ns, "link", "set", nsIf, "down"); err != nil { // the device vanishes
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second) // 1s idle + 5 probes 1s apart, with slack
	for metric(t, g, "edgegw_connections") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a vanished client with keep alive 0 is still connected after 20 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	eventually(t, "close counted", func() bool {
		return metric(t, g, `edgegw_connections_closed_total{reason="network"}`) == 1
	})
}

// socketInNetns returns a TCP socket created inside network namespace ns
// (a socket stays in the namespace it was created in).
func socketInNetns(t *testing.T, ns string) int {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatal("setns:", err)
	}
	fd, sockErr := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is in the wrong namespace: let it die with the
		// goroutine rather than serve others (no UnlockOSThread).
		t.Fatal("setns back:", err)
	}
	runtime.UnlockOSThread()
	if sockErr != nil {
		t.Fatal(sockErr)
	}
	return fd
}
