package listener

import (
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// memInfo is what the kernel charges one socket (SO_MEMINFO, linux/sock_diag.h):
// the bytes queued for reading and for sending plus the forward allocation,
// all of them counted in /proc/net/sockstat's TCP mem and in the memory
// cgroup's socket memory.
type memInfo struct{ rmem, rcvbuf, wmemQueued, sndbuf, fwd int }

func (m memInfo) charged() int { return m.rmem + m.wmemQueued + m.fwd }

func socketMemInfo(tb testing.TB, fd int) memInfo {
	tb.Helper()
	var v [9]uint32 // SK_MEMINFO_VARS
	l := uint32(unsafe.Sizeof(v))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO, uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		tb.Fatal("SO_MEMINFO:", e)
	}
	// SK_MEMINFO_RMEM_ALLOC, RCVBUF, WMEM_ALLOC, SNDBUF, FWD_ALLOC, WMEM_QUEUED
	return memInfo{rmem: int(v[0]), rcvbuf: int(v[1]), sndbuf: int(v[3]), fwd: int(v[4]), wmemQueued: int(v[5])}
}

// sockstatTCPPages reads the pages TCP sockets hold in the whole kernel
// (/proc/net/sockstat "TCP: ... mem N"). Shared by every process: only a
// cross-check for large differences.
func sockstatTCPPages(tb testing.TB) int {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		tb.Skip("no /proc/net/sockstat:", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "TCP:" {
			for i := 1; i+1 < len(f); i++ {
				if f[i] == "mem" {
					n, _ := strconv.Atoi(f[i+1])
					return n
				}
			}
		}
	}
	tb.Fatal("no TCP mem in /proc/net/sockstat")
	return 0
}

// holdSockets accepts n connections from a ListenClients(o) listener; each
// client sends a 32-byte CONNECT-sized message that the server reads and
// answers with 4 bytes (what an idle MQTT client leaves behind). Then, by
// load: loadStall: the client stops reading and the server writes until the
// kernel refuses more (a subscriber that vanished or fell behind);
// loadUnread: the server stops reading and the client writes until the
// kernel refuses more (a publisher held back by backpressure). The client
// ends have fixed 4 KiB buffers so that they weigh the same with every o.
// It returns the server ends' SO_MEMINFO and a function that closes both
// ends of every connection.
func holdSockets(tb testing.TB, o Options, n int, load load) (_ []memInfo, release func()) {
	tb.Helper()
	ln, err := ListenClients("127.0.0.1:0", o)
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
		})
	}}
	msg, chunk := make([]byte, 32), make([]byte, 64<<10)
	out := make([]memInfo, 0, n)
	var held []io.Closer
	release = func() {
		for _, c := range held {
			c.Close()
		}
	}
	defer func() {
		if tb.Failed() {
			release()
		}
	}()
	for range n {
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		held = append(held, c)
		s, err := ln.Accept()
		if err != nil {
			tb.Fatal(err)
		}
		held = append(held, s)
		f, err := s.(*net.TCPConn).File()
		if err != nil {
			tb.Fatal(err)
		}
		held = append(held, f)
		fd := int(f.Fd())
		if _, err := c.Write(msg); err != nil {
			tb.Fatal(err)
		}
		if _, err := s.Read(msg); err != nil {
			tb.Fatal(err)
		}
		if _, err := s.Write(msg[:4]); err != nil {
			tb.Fatal(err)
		}
		if _, err := c.Read(msg[:4]); err != nil {
			tb.Fatal(err)
		}
		if load != loadIdle {
			wfd := fd
			if load == loadUnread {
				cf, err := c.(*net.TCPConn).File()
				if err != nil {
					tb.Fatal(err)
				}
				held = append(held, cf)
				wfd = int(cf.Fd())
			}
			if err := unix.SetNonblock(wfd, true); err != nil {
				tb.Fatal(err)
			}
			// Until EAGAIN: the writer's send buffer is full, the
			// reader's receive buffer too (its window is closed).
			for stuck := 0; stuck < 3; {
				if _, err := unix.Write(wfd, chunk); err != nil {
					stuck++
					time.Sleep(time.Millisecond) // let loopback deliver what it holds
				}
			}
		}
		out = append(out, socketMemInfo(tb, fd))
	}
	return out, release
}

type load int

const (
	loadIdle   load = iota
	loadStall       // the client does not read
	loadUnread      // the server does not read
)

// TestSmallBuffersBoundStalledSocket: a 4 KiB SO_SNDBUF bounds what the
// kernel holds for a client that stopped reading to about twice the value
// set (the kernel's doubling), where the default lets the send queue grow
// by autotuning to megabytes (on loopback), and an idle connection is
// charged nothing beyond its forward allocation with either setting.
func TestSmallBuffersBoundStalledSocket(t *testing.T) {
	small := Options{RecvBuffer: 4096, SendBuffer: 4096}
	ms, release := holdSockets(t, small, 4, loadStall)
	defer release()
	for _, m := range ms {
		if m.sndbuf != 8192 || m.rcvbuf != 8192 {
			t.Fatalf("buffers %d/%d, want 8192/8192", m.rcvbuf, m.sndbuf)
		}
		if m.wmemQueued == 0 || m.wmemQueued > 2*m.sndbuf {
			t.Errorf("small buffers, stalled: %d bytes queued, want 1..%d", m.wmemQueued, 2*m.sndbuf)
		}
	}
	ms, release = holdSockets(t, Options{}, 1, loadStall)
	defer release()
	for _, m := range ms {
		if m.wmemQueued <= 8*8192 {
			t.Errorf("default buffers, stalled: only %d bytes queued (sndbuf %d); the comparison says nothing", m.wmemQueued, m.sndbuf)
		}
	}
	for _, o := range []Options{{}, small} {
		ms, release := holdSockets(t, o, 4, loadIdle)
		defer release()
		for _, m := range ms {
			if m.rmem != 0 || m.wmemQueued != 0 || m.fwd > 64<<10 {
				t.Errorf("%+v idle: %+v, want nothing queued", o, m)
			}
		}
	}
}
