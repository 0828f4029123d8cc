package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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

// clientSocketConfig gives TLS clients the dead-peer detection of the
// event-loop listeners (engine.tcp_keepalive): keepalive probes after ka idle,
// every ka/5, 5 of them, and TCP_USER_TIMEOUT 2 x ka set on the listening
// socket, which Linux hands on to every accepted one. ka = 0 turns both off
// (Go would otherwise enable its own 15 s keepalive).
func clientSocketConfig(ka time.Duration) net.ListenConfig {
	if ka <= 0 {
		return net.ListenConfig{KeepAlive: -1}
	}
	return net.ListenConfig{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: ka, Interval: max(time.Second, (ka / 5).Truncate(time.Second)), Count: 5},
		Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(2*ka/time.Millisecond))
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
}

// keepAliveInterval is the time between keepalive probes for idle time ka:
// ka/5 in whole seconds, at least one.
func keepAliveInterval(ka time.Duration) time.Duration {
	return max(time.Second, (ka / 5).Truncate(time.Second))
}

// keepAliveProbes unanswered probes close a connection.
const keepAliveProbes = 5

func (g *Gateway) listenTLS(addr string) (*tlsTerminator, error) {
	cert, err := tls.LoadX509KeyPair(g.cfg.Listeners.TLSCert, g.cfg.Listeners.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("cannot load TLS certificate %q / key %q: %w", g.cfg.Listeners.TLSCert, g.cfg.Listeners.TLSKey, err)
	}
	ln, err := listenConfig(clientSocketConfig(g.cfg.Engine.TCPKeepAlive.D()), addr)
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
