package listener

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKeepAliveCheck: on real accepted sockets, Ensure sets the four
// keepalive options where a socket lacks any of them (none; all but
// TCP_KEEPCNT, as seen when a client connects while gnet configures its
// listener), and once a socket from a listener carries them all it trusts
// that listener and checks no more.
func TestKeepAliveCheck(t *testing.T) {
	ka := Options{KeepAliveIdle: 10 * time.Second, KeepAliveInterval: 2 * time.Second, KeepAliveCount: 5}.KeepAlive()
	if ka != (KeepAlive{Idle: 10, Interval: 2, Count: 5}) {
		t.Fatalf("settings for 10s: %+v", ka)
	}
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	accept := func(preset func(fd int)) int {
		t.Helper()
		_, fd := acceptPair(t, ln)
		if preset != nil {
			preset(fd)
		}
		return fd
	}
	set := func(opts ...[3]int) func(int) {
		return func(fd int) {
			for _, o := range opts {
				if err := unix.SetsockoptInt(fd, o[0], o[1], o[2]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	on := [3]int{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1}
	idle := [3]int{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 10}
	intvl := [3]int{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 2}
	cnt := [3]int{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 5}

	var k KeepAliveCheck
	for _, tc := range []struct {
		name          string
		preset        func(int)
		fixed, marked bool
	}{
		{"none", nil, true, false},
		{"all but TCP_KEEPCNT", set(on, idle, intvl), true, false},
		{"SO_KEEPALIVE off", set(idle, intvl, cnt), true, false},
		{"all four", set(on, idle, intvl, cnt), false, true},
		// Trusted from here on: sockets leave the accept queue in the order
		// they were made, so no later one can predate the listener's options.
		{"after a configured one", set(on, idle, intvl, cnt), false, true},
	} {
		fd := accept(tc.preset)
		if fixed := k.Ensure(fd, port, ka); fixed != tc.fixed {
			t.Errorf("%s: Ensure fixed=%v, want %v", tc.name, fixed, tc.fixed)
		}
		if !ka.On(fd) {
			t.Errorf("%s: the socket lacks keepalive options after Ensure", tc.name)
		}
		if marked := len(k.ok) == 1 && k.ok[0] == port && k.Trusted(port); marked != tc.marked {
			t.Errorf("%s: listener trusted=%v (%v), want %v", tc.name, marked, k.ok, tc.marked)
		}
	}
}

// TestListenClientsSocketOptions: a socket accepted from ListenClients
// carries the options: keepalive (idle, interval, probes), TCP_USER_TIMEOUT,
// and SO_RCVBUF/SO_SNDBUF as given (the kernel reports twice the value
// set); with zero Options none of them
// (keepalive off although Go enables its own by default, buffers at the
// kernel's default, which autotuning may grow, not the configured ones).
func TestListenClientsSocketOptions(t *testing.T) {
	type opt struct {
		name       string
		level, opt int
	}
	var (
		keepalive = opt{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE}
		idle      = opt{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE}
		intvl     = opt{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}
		cnt       = opt{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT}
		user      = opt{"TCP_USER_TIMEOUT", unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT}
		rcvbuf    = opt{"SO_RCVBUF", unix.SOL_SOCKET, unix.SO_RCVBUF}
		sndbuf    = opt{"SO_SNDBUF", unix.SOL_SOCKET, unix.SO_SNDBUF}
	)
	for _, tc := range []struct {
		name string
		o    Options
		want map[opt]int
	}{
		{"zero", Options{}, map[opt]int{keepalive: 0, user: 0}},
		{"keepalive 10s", Options{KeepAliveIdle: 10 * time.Second, KeepAliveInterval: 2 * time.Second, KeepAliveCount: 5, UserTimeout: 20 * time.Second},
			map[opt]int{keepalive: 1, idle: 10, intvl: 2, cnt: 5, user: 20000}},
		{"buffers 4096/8192", Options{RecvBuffer: 4096, SendBuffer: 8192},
			map[opt]int{keepalive: 0, user: 0, rcvbuf: 8192, sndbuf: 16384}},
		{"all", Options{KeepAliveIdle: 60 * time.Second, KeepAliveInterval: 12 * time.Second, KeepAliveCount: 5, UserTimeout: 120 * time.Second, RecvBuffer: 16384, SendBuffer: 4096},
			map[opt]int{keepalive: 1, idle: 60, intvl: 12, cnt: 5, user: 120000, rcvbuf: 32768, sndbuf: 8192}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := ListenClients("127.0.0.1:0", tc.o)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			_, fd := acceptPair(t, ln)
			for o, want := range tc.want {
				if v, err := unix.GetsockoptInt(fd, o.level, o.opt); err != nil || v != want {
					t.Errorf("%s on the accepted socket = %d (%v), want %d", o.name, v, err, want)
				}
			}
			if tc.o.RecvBuffer == 0 {
				// Unset: the kernel's default, never what a small setting gives.
				if v, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); v <= 2*16384 {
					t.Errorf("SO_RCVBUF = %d without RecvBuffer: expected the kernel default (tcp_rmem[1])", v)
				}
			}
		})
	}
}
