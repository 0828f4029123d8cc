package gateway

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

// tlsStates is the number of TLS connection states the loops hold.
func tlsStates(g *Gateway) int {
	n := 0
	for _, l := range g.allLoops() {
		done := make(chan int)
		_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error { done <- len(l.tls); return nil }))
		n += <-done
	}
	return n
}

// TestTLSConnectionsLeaveNothing: with max_connections = 4, 30 idle TLS
// clients are refused at accept (connection_limit) or closed at
// connect_timeout after their handshake, and nothing of them is left in the
// gateway: no goroutine, no descriptor, no TLS state, while the clients keep
// their sockets open.
func TestTLSConnectionsLeaveNothing(t *testing.T) {
	const clients = 30
	certFile, keyFile, pool := selfSigned(t)
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.TLS, c.Listeners.TLSCert, c.Listeners.TLSKey = "127.0.0.1:0", certFile, keyFile
		c.Limits.MaxConnections = 4
		c.Limits.ConnectTimeout = Duration(500 * time.Millisecond)
	})
	time.Sleep(50 * time.Millisecond) // let the engine's goroutines settle
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	var cs []net.Conn
	for i := 0; i < clients; i++ {
		// A refused client's handshake fails: the gateway closed its socket
		// at accept. It keeps its socket all the same.
		raw, err := net.Dial("tcp", g.Addr("tls"))
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer raw.Close()
		c := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := c.Handshake(); err != nil && isTimeout(err) {
			t.Fatalf("client %d: handshake neither done nor refused: %v", i, err)
		}
		cs = append(cs, c)
	}
	// Every client is closed by the gateway: 26 at once (connection_limit), 4
	// at connect_timeout. The clients send nothing and keep their sockets.
	deadline := time.Now().Add(10 * time.Second)
	for i, c := range cs {
		_ = c.SetReadDeadline(deadline)
		if _, err := io.Copy(io.Discard, c); isTimeout(err) {
			t.Fatalf("client %d not closed by the gateway", i)
		}
	}
	eventually(t, "closes counted", func() bool {
		return g.m.counterValue(`edgegw_connections_closed_total{reason="connection_limit"}`)+
			g.m.counterValue(`edgegw_connections_closed_total{reason="connect_timeout"}`) == clients
	})
	// What is left of the 30 is the clients' own sockets.
	var gs, fds, states int
	deadline = time.Now().Add(5 * time.Second)
	for {
		gs, fds, states = runtime.NumGoroutine(), openFDs(t), tlsStates(g)
		if gs <= baseG+2 && fds <= baseFD+clients+2 && states == 0 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("after the gateway closed %d TLS clients: %d TLS states, goroutines %d (baseline %d), descriptors %d (baseline %d + %d client sockets)\n%s",
				clients, states, gs, baseG, fds, baseFD, clients, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("goroutines %d (baseline %d), descriptors %d (baseline %d + %d client sockets), TLS states %d",
		gs, baseG, fds, baseFD, clients, states)
	if n := g.m.conns.Load(); n != 0 {
		t.Errorf("edgegw_connections = %d, want 0", n)
	}
}

// TestTLSHandshakesBounded: with limits.max_tls_handshakes = 8, twelve
// clients that send a ClientHello and nothing more hold 8 handshakes (the
// gauge reads 8), the other 4 are refused at once and counted, and the 8 end
// at connect_timeout, counted as timeouts; then a real client is served.
func TestTLSHandshakesBounded(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.TLS, c.Listeners.TLSCert, c.Listeners.TLSKey = "127.0.0.1:0", certFile, keyFile
		c.Limits.MaxTLSHandshakes = 8
		c.Limits.ConnectTimeout = Duration(time.Second)
	})
	hello := clientHello(t)
	var raw []net.Conn
	for i := 0; i < 12; i++ {
		c, err := net.Dial("tcp", g.Addr("tls"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		raw = append(raw, c)
	}
	eventually(t, "8 handshakes in progress, 4 refused", func() bool {
		return g.m.tlsHandshakes.Load() == 8 && g.m.tlsRefused.Get() == 4
	})
	if v := metric(t, g, "edgegw_tls_handshakes"); v != 8 {
		t.Errorf("/metrics edgegw_tls_handshakes = %v, want 8", v)
	}
	start := time.Now()
	for i, c := range raw {
		_ = c.SetReadDeadline(start.Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); isTimeout(err) {
			t.Fatalf("stalled handshake %d not closed", i)
		}
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("stalled handshakes closed after %v, want about connect_timeout (1s)", el)
	}
	eventually(t, "timeouts counted", func() bool {
		return g.m.tlsTimeout.Get() == 8 && g.m.tlsHandshakes.Load() == 0
	})
	c, err := tls.Dial("tcp", g.Addr("tls"), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatalf("a real client after the stalled ones: %v", err)
	}
	c.Close()
}

// clientHello returns the first flight of a crypto/tls client: one record
// with its ClientHello.
func clientHello(t *testing.T) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer b.Close()
	go func() {
		_ = tls.Client(a, &tls.Config{InsecureSkipVerify: true}).Handshake()
		a.Close()
	}()
	buf := make([]byte, 8<<10)
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := b.Read(buf)
	if err != nil {
		t.Fatal("capturing a ClientHello:", err)
	}
	return buf[:n]
}
