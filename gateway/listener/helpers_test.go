package listener

import (
	"net"
	"testing"
)

// acceptPair dials ln and returns the client end and a duplicate of the
// accepted socket's descriptor (closed with the test).
func acceptPair(t testing.TB, ln net.Listener) (net.Conn, int) {
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
	return c, int(f.Fd())
}
