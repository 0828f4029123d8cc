package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// TLS transport. gnet has no TLS, so each TLS client costs two goroutines
// and one AF_UNIX socketpair: the dialer goroutine dials TCP, runs the TLS
// handshake with crypto/tls (counted in the connect latency), then two copy
// goroutines relay between the tls.Conn and one end of a socketpair whose
// other end is enrolled into the gnet loop like a TCP connection. When
// either side closes, both goroutines end and both sockets are closed.

// isTLS reports whether transport t runs over TLS.
func isTLS(t string) bool { return t == "tls" || t == "wss" }

// tlsClientConfig builds the client tls.Config of cfg: --tls-ca trusted
// (system roots otherwise), --tls-server-name or the broker's host name.
func tlsClientConfig(cfg *Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.TLSInsecure}
	if cfg.TLSCA != "" {
		pem, err := os.ReadFile(cfg.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca: no PEM certificate in %s", cfg.TLSCA)
		}
		tc.RootCAs = pool
	}
	tc.ServerName = cfg.TLSServerName
	if tc.ServerName == "" {
		host, _, err := net.SplitHostPort(cfg.Broker)
		if err != nil {
			return nil, fmt.Errorf("--broker: %w", err)
		}
		tc.ServerName = host
	}
	return tc, nil
}

// tlsHandshake runs the client handshake on nc, bounded by deadline.
func tlsHandshake(nc net.Conn, tc *tls.Config, deadline time.Time) (*tls.Conn, error) {
	c := tls.Client(nc, tc)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS handshake with %s failed: %w", nc.RemoteAddr(), err)
	}
	return c, nil
}

// tlsBridge relays between a handshaken TLS connection and a fresh
// socketpair; it returns the local end to enroll into gnet (the caller
// closes it after enrolling: gnet dups the descriptor). wg counts the two
// copy goroutines.
func tlsBridge(tc *tls.Conn, wg *sync.WaitGroup) (net.Conn, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	inner, err := fdConn(fds[0], "tls-relay")
	if err != nil {
		syscall.Close(fds[1])
		return nil, err
	}
	outer, err := fdConn(fds[1], "tls-client")
	if err != nil {
		inner.Close()
		return nil, err
	}
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			inner.Close()
			tc.Close() // close_notify is bounded by crypto/tls's 5s write deadline
		})
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer closeBoth()
		_, _ = io.Copy(inner, tc)
	}()
	go func() {
		defer wg.Done()
		defer closeBoth()
		_, _ = io.Copy(tc, inner)
	}()
	return outer, nil
}

// fdConn wraps a socket descriptor into a net.Conn (net.FileConn dups it;
// the original is closed here).
func fdConn(fd int, name string) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), name)
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	return c, nil
}
