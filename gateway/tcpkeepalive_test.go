package gateway

import (
	"crypto/tls"
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
// accepted client socket, on the event-loop listener (keepalive set on the
// listeners and inherited, or by listener.KeepAliveCheck on a socket accepted while
// gnet was still setting its loops' listeners up, as this client may be:
// it connects as soon as Start returns; the user timeout, 2 x
// tcp_keepalive, set per socket) and on the TLS listener (both set on the
// listener).
func TestTCPKeepAliveOnAcceptedSockets(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	g := newTestGateway(t, func(c *Config) {
		c.Engine.TCPKeepAlive = Duration(10 * time.Second)
		c.Listeners.TLS, c.Listeners.TLSCert, c.Listeners.TLSKey = "127.0.0.1:0", certFile, keyFile
	})
	c := rawV5(t, g, "ka-opts")
	checkKeepAlive(t, "tcp", serverSideFD(t, c.LocalAddr().String()))
	tc, err := net.Dial("tcp", g.Addr("tls"))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	// The accepted socket is in /proc/self/fd as soon as the kernel's
	// accept4 returns, but net's Accept sets the keepalive options only
	// after that. The handshake runs on the relay goroutine, which starts
	// once Accept has returned: when it completes, the options are set.
	tlc := tls.Client(tc, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	_ = tlc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tlc.Handshake(); err != nil {
		t.Fatal("TLS handshake:", err)
	}
	checkKeepAlive(t, "tls", serverSideFD(t, tc.LocalAddr().String()))
}

func checkKeepAlive(t *testing.T, listener string, fd int) {
	t.Helper()
	for _, o := range []struct {
		name       string
		level, opt int
		want       int
	}{
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 10},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 2},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 5},
		{"TCP_USER_TIMEOUT", unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 20000},
	} {
		if v, err := unix.GetsockoptInt(fd, o.level, o.opt); err != nil || v != o.want {
			t.Errorf("%s: %s on the accepted socket = %d (%v), want %d", listener, o.name, v, err, o.want)
		}
	}
}

// serverSideFD finds, among this process's descriptors, the gateway's end
// of the connection whose client end is at local (both live in the test).
func serverSideFD(t *testing.T, local string) int {
	t.Helper()
	fd := findServerSideFD(local)
	if fd < 0 {
		t.Fatalf("no accepted socket with peer %s", local)
	}
	return fd
}

// findServerSideFD is serverSideFD without the test: -1 when none.
func findServerSideFD(local string) int {
	ents, _ := os.ReadDir("/proc/self/fd")
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
	return -1
}

// TestHalfOpenClientClosed: a client that asked for MQTT keep alive 0
// (nothing the gateway can time out) vanishes without FIN or RST: the link
// of its network namespace goes down. idle: the socket is silent, the
// kernel's keepalive probes go unanswered. inflight: it had subscribed and
// QoS 1 messages to it are unacknowledged on the wire, so keepalive never
// probes and only TCP_USER_TIMEOUT ends the retransmissions. Either way the
// gateway closes it, counted as "network". Without engine.tcp_keepalive both
// connections stay (tried: still connected after 20 s).
func TestHalfOpenClientClosed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		inflight bool
	}{{"idle", false}, {"inflight", true}} {
		t.Run(tc.name, func(t *testing.T) {
			g, fd, vanish := clientInNetns(t, func(c *Config) { c.Engine.TCPKeepAlive = Duration(time.Second) })
			if _, err := unix.Write(fd, connectPacket(4, "vanishing", 0, true)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5)
			if n, err := unix.Read(fd, buf[:4]); err != nil || n != 4 || buf[0] != 0x20 {
				t.Fatalf("CONNACK %x %v", buf[:max(n, 0)], err)
			}
			if tc.inflight {
				sub := append([]byte{0, 1, 0, 4}, "ho/t"...)
				if _, err := unix.Write(fd, frame(0x82, append(sub, 1))); err != nil {
					t.Fatal(err)
				}
				if n, err := unix.Read(fd, buf); err != nil || n != 5 || buf[0] != 0x90 {
					t.Fatalf("SUBACK %x %v", buf[:max(n, 0)], err)
				}
			}
			eventually(t, "connected", func() bool { return metric(t, g, "edgegw_connections") == 1 })
			vanish()
			if tc.inflight {
				pub := v3Client(t, g, "pub", nil)
				for i := 0; i < 5; i++ {
					pub.Publish("ho/t", 1, false, "to nowhere")
				}
				eventually(t, "publisher connected", func() bool { return metric(t, g, "edgegw_connections") == 2 })
			}
			want := 0.0
			if tc.inflight {
				want = 1 // the publisher stays
			}
			deadline := time.Now().Add(20 * time.Second)
			for metric(t, g, "edgegw_connections") != want {
				if time.Now().After(deadline) {
					t.Fatal("a vanished client with keep alive 0 is still connected after 20 s")
				}
				time.Sleep(100 * time.Millisecond)
			}
			eventually(t, "close counted", func() bool {
				return metric(t, g, `edgegw_connections_closed_total{reason="network"}`) == 1
			})
		})
	}
}

// clientInNetns starts a gateway listening on one end of a veth pair and
// returns a TCP socket, connected to it, from a network namespace of its
// own on the other end, and a function that takes that end's link down (the
// client vanishes: no FIN, no RST, nothing answers).
func clientInNetns(t *testing.T, mutate func(*Config)) (*Gateway, int, func()) {
	t.Helper()
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
		if mutate != nil {
			mutate(c)
		}
	})
	fd := socketInNetns(t, ns)
	t.Cleanup(func() { unix.Close(fd) })
	ap, _ := net.ResolveTCPAddr("tcp", g.Addr("tcp"))
	sa := &unix.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	if err := unix.Connect(fd, sa); err != nil {
		t.Fatal("connect from the namespace:", err)
	}
	return g, fd, func() {
		if err := ip("-n", ns, "link", "set", nsIf, "down"); err != nil {
			t.Fatal(err)
		}
	}
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
