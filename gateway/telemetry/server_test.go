package telemetry

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHTTPIdleKeepAliveClosed: 500 keep-alive connections that went idle
// after one request are all closed by the idle timeout, and the open
// connection gauge returns to 0 (before: held open forever, a goroutine each).
func TestHTTPIdleKeepAliveClosed(t *testing.T) {
	const n = 500
	s := testServer(t, Config{ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
		IdleTimeout: 300 * time.Millisecond, MaxConnections: n}, nil)
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i], readers[i] = c, bufio.NewReader(c)
		if resp := httpGet(t, c, readers[i], "GET", "/healthz"); resp.StatusCode != 200 || resp.Close {
			t.Fatalf("conn %d: %s close=%v, want a kept-alive 200", i, resp.Status, resp.Close)
		}
	}
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	for i, c := range conns {
		if !closedBy(c, readers[i], deadline) {
			t.Fatalf("idle keep-alive connection %d still open after %v", i, time.Since(start))
		}
	}
	t.Logf("%d idle keep-alive connections closed within %v of the last request", n, time.Since(start))
	eventually(t, "edgegw_http_connections back to 0", func() bool { return s.conns.Load() == 0 })
}

// TestHTTPSlowBodyPOST: POST /healthz with a 100 kB body sent slowly gets 405
// with "Allow: GET, HEAD" at once, and the connection is closed at once too,
// well before the read timeout (before: 200, and the body read for as long as
// it trickled).
func TestHTTPSlowBodyPOST(t *testing.T) {
	s := testServer(t, Config{ReadHeaderTimeout: time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: time.Second,
		IdleTimeout: time.Second, MaxConnections: 64}, nil)
	const clients = 20
	for i := 0; i < clients; i++ {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		_, _ = io.WriteString(c, "POST /healthz HTTP/1.1\r\nHost: edgegw\r\nContent-Length: 100000\r\n\r\nx")
		stop := make(chan struct{})
		go func() { // the rest of the body at 100 bytes a second, until the server hangs up
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}()
		r := bufio.NewReader(c)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(r, &http.Request{Method: "POST"})
		if err != nil {
			close(stop)
			t.Fatalf("client %d: %v", i, err)
		}
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			close(stop)
			t.Fatalf("client %d: %s Allow=%q, want 405 with Allow: GET, HEAD", i, resp.Status, resp.Header.Get("Allow"))
		}
		if time.Since(start) > 500*time.Millisecond {
			t.Errorf("client %d: 405 after %v, want at once", i, time.Since(start))
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if !closedBy(c, r, start.Add(2*time.Second)) {
			t.Errorf("client %d: connection still open %v after the request", i, time.Since(start))
		}
		close(stop)
	}
	eventually(t, "edgegw_http_connections back to 0", func() bool { return s.conns.Load() == 0 })
}

// TestHTTPPipelinedNeverRead: 20,000 pipelined GET /metrics from a client
// that never reads: the write timeout closes the connection (before: the
// server goroutine stayed blocked writing).
func TestHTTPPipelinedNeverRead(t *testing.T) {
	s := testServer(t, Config{ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: 300 * time.Millisecond,
		IdleTimeout: 5 * time.Second, MaxConnections: 64}, nil)
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := strings.Repeat("GET /metrics HTTP/1.1\r\nHost: edgegw\r\n\r\n", 20000)
	wrote := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, req)
		wrote <- err
	}()
	eventually(t, "the endpoint took the connection", func() bool { return s.conns.Load() == 1 })
	start := time.Now()
	eventually(t, "the never-reading connection closed", func() bool { return s.conns.Load() == 0 })
	t.Logf("closed %v after the first request", time.Since(start))
	c.Close() // ends the writer if the server's close left it blocked
	<-wrote
}

// TestHTTPConnectionCap: with 4 connections open a fifth is closed without
// an answer and counted; once one of the four closes, a new one is served.
func TestHTTPConnectionCap(t *testing.T) {
	s := testServer(t, Config{ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
		IdleTimeout: time.Minute, MaxConnections: 4}, nil)
	var held []net.Conn
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if resp := httpGet(t, c, bufio.NewReader(c), "GET", "/healthz"); resp.StatusCode != 200 {
			t.Fatalf("conn %d: %s", i, resp.Status)
		}
		held = append(held, c)
	}
	extra, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_, _ = io.WriteString(extra, "GET /healthz HTTP/1.1\r\nHost: edgegw\r\n\r\n")
	_ = extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(extra); len(b) > 0 || isTimeout(err) {
		t.Fatalf("fifth connection: got %q, %v; want closed without an answer", b, err)
	}
	if got := s.refused.Get(); got != 1 {
		t.Fatalf("edgegw_http_connections_refused_total = %d, want 1", got)
	}
	held[0].Close()
	eventually(t, "a slot freed", func() bool { return s.conns.Load() == 3 })
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if resp := httpGet(t, c, bufio.NewReader(c), "GET", "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("after a slot freed: %s", resp.Status)
	}
}

// TestHTTPHealth: /healthz answers 200 "ok" while the health function
// returns nil and 503 with the error's text while it returns one (the
// gateway's "draining").
func TestHTTPHealth(t *testing.T) {
	errDraining := errors.New("draining")
	var draining atomic.Bool
	s := testServer(t, Config{}, func() error {
		if draining.Load() {
			return errDraining
		}
		return nil
	})
	for _, tc := range []struct {
		name     string
		draining bool
		code     int
		body     string
	}{
		{"healthy", false, 200, "ok\n"},
		{"draining", true, 503, "draining\n"},
	} {
		draining.Store(tc.draining)
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: edgegw\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode != tc.code || string(b) != tc.body {
			t.Errorf("%s: %s %q, want %d %q", tc.name, resp.Status, b, tc.code, tc.body)
		}
	}
}

// TestConfigValidate: a negative field is refused by name; the zero value
// takes the defaults.
func TestConfigValidate(t *testing.T) {
	if _, err := NewServer(Config{WriteTimeout: -time.Second}, nil, nil, nil); !errors.Is(err, ErrConfig) ||
		!strings.Contains(err.Error(), "write_timeout") {
		t.Fatalf("negative write timeout: %v, want ErrConfig naming write_timeout", err)
	}
	if _, err := NewServer(Config{MaxConnections: -1}, nil, nil, nil); !errors.Is(err, ErrConfig) ||
		!strings.Contains(err.Error(), "max_connections") {
		t.Fatalf("negative max connections: %v, want ErrConfig naming max_connections", err)
	}
	s, err := NewServer(Config{}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{ReadHeaderTimeout: DefaultReadHeaderTimeout, ReadTimeout: DefaultReadTimeout,
		WriteTimeout: DefaultWriteTimeout, IdleTimeout: DefaultIdleTimeout, MaxConnections: DefaultMaxConnections}
	if s.cfg != want || s.srv.ReadHeaderTimeout != want.ReadHeaderTimeout || s.srv.IdleTimeout != want.IdleTimeout {
		t.Fatalf("zero Config: %+v, want %+v", s.cfg, want)
	}
}
