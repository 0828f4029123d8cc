package gateway

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"edgegw/gateway/listener"
)

// tlsTerminator serves the TLS listener. gnet has no TLS, so each TLS
// client is handshaken and decrypted by two goroutines of ours and relayed
// over loopback to an internal plain listener of the engine (bound to
// 127.0.0.1), where it is an ordinary MQTT
// connection. This costs two goroutines and one extra socket pair per TLS
// client; plain TCP and WebSocket clients are not affected. A relay lives
// exactly as long as its engine connection: when the engine closes its side,
// the relay closes the client's (see relay).
type tlsTerminator struct {
	g        *Gateway
	ln       net.Listener
	internal string // host:port of the engine's internal listener
	// maxHandshakes bounds the handshakes in progress (g.m.tlsHandshakes);
	// limits.max_tls_handshakes, or 256 x GOMAXPROCS. Set before serve.
	maxHandshakes int64
	// handshakeTimeout bounds one handshake: limits.connect_timeout, the time
	// a plain client has for its CONNECT.
	handshakeTimeout time.Duration
	wg               sync.WaitGroup
	mu               sync.Mutex
	conns            map[net.Conn]struct{}
	closed           bool
}

// tlsHandshakesPerCore is the default bound on handshakes in progress per
// GOMAXPROCS. A core completes about 1,000 handshakes a second and a
// handshake mostly waits for the client's round trips, so 256 per core keep
// the cores busy in a reconnect storm at 250 ms RTT, while handshakes that
// stall (a client that connects and sends nothing: about 7 KB each with its
// goroutine, measured with 500) hold at most this many goroutines and sockets
// per core, each for at most connect_timeout.
const tlsHandshakesPerCore = 256

func (g *Gateway) listenTLS(addr string) (*tlsTerminator, error) {
	cert, err := tls.LoadX509KeyPair(g.cfg.Listeners.TLSCert, g.cfg.Listeners.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("cannot load TLS certificate %q / key %q: %w", g.cfg.Listeners.TLSCert, g.cfg.Listeners.TLSKey, err)
	}
	ln, err := listener.ListenClients(addr, g.sock)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	maxHS := int64(g.cfg.Limits.MaxTLSHandshakes)
	if maxHS == 0 {
		maxHS = int64(tlsHandshakesPerCore * runtime.GOMAXPROCS(0))
	}
	return &tlsTerminator{g: g, ln: tls.NewListener(ln, cfg), conns: map[net.Conn]struct{}{},
		maxHandshakes: maxHS, handshakeTimeout: g.cfg.Limits.ConnectTimeout.D()}, nil
}

// serve accepts TLS clients until close. A client accepted while
// maxHandshakes handshakes are in progress is closed at once and counted.
func (t *tlsTerminator) serve() {
	hs := &t.g.m.tlsHandshakes
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		if hs.Add(1) > t.maxHandshakes {
			hs.Add(-1)
			t.g.m.tlsRefused.Inc()
			_ = c.Close()
			continue
		}
		if !t.track(c, true) {
			hs.Add(-1)
			c.Close()
			return
		}
		t.wg.Add(1)
		go t.relay(c.(*tls.Conn))
	}
}

func (t *tlsTerminator) track(c net.Conn, add bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if add {
		if t.closed {
			return false
		}
		t.conns[c] = struct{}{}
	} else {
		delete(t.conns, c)
	}
	return true
}

// relay handshakes one client (counted in g.m.tlsHandshakes until the
// handshake ends) and copies bytes both ways until either side ends. The engine side decides:
// when the engine closes the internal connection (refused, timed out, kicked,
// drained) the client's connection is closed, which ends the client -> engine
// copy too; when the client ends, the engine sees EOF and closes, which ends
// the other copy. Runs on its own goroutine.
func (t *tlsTerminator) relay(c *tls.Conn) {
	defer t.wg.Done()
	defer t.track(c, false)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(t.handshakeTimeout))
	err := c.Handshake()
	t.g.m.tlsHandshakes.Add(-1)
	if err != nil {
		if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
			t.g.m.tlsTimeout.Inc()
		} else {
			t.g.m.tlsFailed.Inc()
		}
		t.g.log.Info("TLS handshake failed", "addr", c.RemoteAddr().String(), "err", err.Error())
		return
	}
	_ = c.SetDeadline(time.Time{})
	up, err := net.DialTimeout("tcp", t.internal, t.handshakeTimeout)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, up) // gateway -> client
		_ = c.Close()         // the engine closed its side: end the client's, and the copy below
		close(done)
	}()
	_, _ = io.Copy(up, c) // client -> gateway
	_ = up.(*net.TCPConn).CloseWrite()
	<-done
}

// close stops accepting and ends every relay.
func (t *tlsTerminator) close() {
	_ = t.ln.Close()
	t.mu.Lock()
	t.closed = true
	for c := range t.conns {
		_ = c.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
}
