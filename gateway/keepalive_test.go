package gateway

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKeepAliveCheck: on real accepted sockets, ensure sets the four
// keepalive options where a socket lacks any of them (none; all but
// TCP_KEEPCNT, as seen when a client connects while gnet configures its
// listener), and once a socket from a listener carries them all it trusts
// that listener and checks no more.
func TestKeepAliveCheck(t *testing.T) {
	ka := keepAliveFor(10 * time.Second)
	if ka != (keepAliveSettings{idle: 10, intvl: 2, cnt: 5}) {
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
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f, err := s.(*net.TCPConn).File() // a duplicate of the socket's descriptor
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fd := int(f.Fd())
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

	var k keepAliveCheck
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
		if fixed := k.ensure(fd, port, ka); fixed != tc.fixed {
			t.Errorf("%s: ensure fixed=%v, want %v", tc.name, fixed, tc.fixed)
		}
		if !ka.on(fd) {
			t.Errorf("%s: the socket lacks keepalive options after ensure", tc.name)
		}
		if marked := len(k.ok) == 1 && k.ok[0] == port; marked != tc.marked {
			t.Errorf("%s: listener trusted=%v (%v), want %v", tc.name, marked, k.ok, tc.marked)
		}
	}
}
