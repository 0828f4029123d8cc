package gateway

import (
	"crypto/tls"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
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

// tlsRelays is the number of client connections the TLS terminator holds.
func tlsRelays(g *Gateway) int {
	g.tls.mu.Lock()
	defer g.tls.mu.Unlock()
	return len(g.tls.conns)
}

// TestTLSRelaysFollowConnections: with max_connections = 4, 30 idle TLS
// clients are refused or closed at connect_timeout by the engine, and every
// relay ends with its engine connection: no relay goroutine or socket is left
// while the clients keep theirs open (before: the client -> gateway copy
// stayed blocked reading the client, 30 relays and their sockets alive).
func TestTLSRelaysFollowConnections(t *testing.T) {
	const clients = 30
	certFile, keyFile, pool := selfSigned(t)
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.TLS, c.Listeners.TLSCert, c.Listeners.TLSKey = "127.0.0.1:0", certFile, keyFile
		c.Limits.MaxConnections = 4
		c.Limits.ConnectTimeout = Duration(500 * time.Millisecond)
	})
	time.Sleep(50 * time.Millisecond) // let the engine's goroutines settle
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	var cs []*tls.Conn
	for i := 0; i < clients; i++ {
		c, err := tls.Dial("tcp", g.Addr("tls"), &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer c.Close()
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
	// What is left of the 30 is the clients' own sockets; no relay.
	var gs, fds, relays int
	deadline = time.Now().Add(5 * time.Second)
	for {
		gs, fds, relays = runtime.NumGoroutine(), openFDs(t), tlsRelays(g)
		if gs <= baseG+2 && fds <= baseFD+clients+2 && relays == 0 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("after the gateway closed %d TLS clients: %d relays, goroutines %d (baseline %d), descriptors %d (baseline %d + %d client sockets)\n%s",
				clients, relays, gs, baseG, fds, baseFD, clients, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("goroutines %d (baseline %d), descriptors %d (baseline %d + %d client sockets), relays %d",
		gs, baseG, fds, baseFD, clients, relays)
	if n := g.m.conns.Load(); n != 0 {
		t.Errorf("edgegw_connections = %d, want 0", n)
	}
}

// TestTLSHandshakesBounded: with limits.max_tls_handshakes = 8, twelve
// clients that connect and never send a ClientHello hold 8 handshakes (the
// gauge reads 8), the other 4 are closed at once and counted, and the 8 end
// at connect_timeout, counted as timeouts; then a real client is served.
func TestTLSHandshakesBounded(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.TLS, c.Listeners.TLSCert, c.Listeners.TLSKey = "127.0.0.1:0", certFile, keyFile
		c.Limits.MaxTLSHandshakes = 8
		c.Limits.ConnectTimeout = Duration(time.Second)
	})
	var raw []net.Conn
	for i := 0; i < 12; i++ {
		c, err := net.Dial("tcp", g.Addr("tls"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
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
