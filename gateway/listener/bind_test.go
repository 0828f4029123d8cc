package listener

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
)

// TestResolve: port 0 becomes one concrete free port with the host kept as
// written (":0" stays on every interface), and that port can be bound again.
func TestResolve(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", ":0"} {
		got, err := Resolve(addr)
		if err != nil {
			t.Fatal(addr, err)
		}
		host, port, err := net.SplitHostPort(got)
		wantHost, _, _ := net.SplitHostPort(addr)
		if p, _ := strconv.Atoi(port); err != nil || host != wantHost || p == 0 {
			t.Fatalf("Resolve(%q) = %q, want host %q and a concrete port", addr, got, wantHost)
		}
		ln, err := Listen(got)
		if err != nil {
			t.Fatalf("the resolved %q cannot be bound: %v", got, err)
		}
		ln.Close()
	}
}

// TestOpenError: a port in use fails Resolve, Listen and ListenClients with
// the setup error's exact text (the system call's wrapper dropped) and an
// error that unwraps to EADDRINUSE; a bad address names it too.
func TestOpenError(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	want := `cannot open listener "` + addr + `": address already in use`
	_, err1 := Resolve(addr)
	_, err2 := Listen(addr)
	_, err3 := ListenClients(addr, Options{RecvBuffer: 4096})
	for i, err := range []error{err1, err2, err3} {
		var oe *OpenError
		if err == nil || err.Error() != want || !errors.Is(err, syscall.EADDRINUSE) || !errors.As(err, &oe) || oe.Addr != addr {
			t.Errorf("%d: err = %v, want %q unwrapping to EADDRINUSE", i, err, want)
		}
	}
	if _, err := Listen("nohost.invalid:x"); err == nil || !errors.As(err, new(*OpenError)) {
		t.Errorf("bad address: %v", err)
	}
}
