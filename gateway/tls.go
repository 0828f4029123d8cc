package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// tlsTerminator serves the TLS listener. gnet has no TLS, so each TLS
// client is handshaken and decrypted by two goroutines of ours and relayed
// over loopback to an internal plain listener of the engine (bound to
// 127.0.0.1), where it is an ordinary MQTT
// connection. This costs two goroutines and one extra socket pair per TLS
// client; plain TCP and WebSocket clients are not affected.
type tlsTerminator struct {
	g        *Gateway
	ln       net.Listener
	internal string // host:port of the engine's internal listener
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
}

// handshakeTimeout bounds a TLS handshake (it runs on our goroutine, never
// on an event loop).
const handshakeTimeout = 10 * time.Second

func (g *Gateway) listenTLS(addr string) (*tlsTerminator, error) {
	cert, err := tls.LoadX509KeyPair(g.cfg.Listeners.TLSCert, g.cfg.Listeners.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("cannot load TLS certificate %q / key %q: %w", g.cfg.Listeners.TLSCert, g.cfg.Listeners.TLSKey, err)
	}
	ln, err := listen(addr)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return &tlsTerminator{g: g, ln: tls.NewListener(ln, cfg), conns: map[net.Conn]struct{}{}}, nil
}

// serve accepts TLS clients until close.
func (t *tlsTerminator) serve() {
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		if !t.track(c, true) {
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

// relay handshakes one client and copies bytes both ways until either side
// closes.
func (t *tlsTerminator) relay(c *tls.Conn) {
	defer t.wg.Done()
	defer t.track(c, false)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := c.Handshake(); err != nil {
		t.g.log.Info("TLS handshake failed", "addr", c.RemoteAddr().String(), "err", err.Error())
		return
	}
	_ = c.SetDeadline(time.Time{})
	up, err := net.Dial("tcp", t.internal)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, up) // gateway -> client
		_ = c.CloseWrite()
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
