package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testHTTP starts a second HTTP endpoint of g on 127.0.0.1:0 under lim
// (the one Start opened keeps the default limits) and closes it at cleanup.
func testHTTP(t *testing.T, g *Gateway, lim httpLimits) string {
	t.Helper()
	hs, err := g.startHTTPWith("127.0.0.1:0", lim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hs.close)
	return hs.addr
}

// httpGet writes one keep-alive request on c and reads its answer.
func httpGet(t *testing.T, c net.Conn, r *bufio.Reader, method, path string) *http.Response {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, method+" "+path+" HTTP/1.1\r\nHost: edgegw\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_ = c.SetDeadline(time.Time{})
	return resp
}

// closedBy reports whether the peer closed c (EOF or reset) before d.
func closedBy(c net.Conn, r io.Reader, d time.Time) bool {
	_ = c.SetReadDeadline(d)
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestHTTPIdleKeepAliveClosed: 500 keep-alive connections that went idle
// after one request are all closed by the idle timeout, and the open
// connection gauge returns to 0 (before: held open forever, a goroutine each).
func TestHTTPIdleKeepAliveClosed(t *testing.T) {
	const n = 500
	g := newTestGateway(t, nil)
	addr := testHTTP(t, g, httpLimits{readHeader: time.Second, read: time.Second, write: time.Second,
		idle: 300 * time.Millisecond, maxConns: n})
	conns := make([]net.Conn, n)
	readers := make([]*bufio.Reader, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
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
	eventually(t, "edgegw_http_connections back to 0", func() bool { return g.m.httpConns.Load() == 0 })
}

// TestHTTPSlowBodyPOST: POST /healthz with a 100 kB body sent slowly gets 405
// with "Allow: GET, HEAD" at once, and the connection is closed at once too,
// well before the read timeout (before: 200, and the body read for as long as
// it trickled).
func TestHTTPSlowBodyPOST(t *testing.T) {
	g := newTestGateway(t, nil)
	addr := testHTTP(t, g, httpLimits{readHeader: time.Second, read: 5 * time.Second, write: time.Second,
		idle: time.Second, maxConns: 64})
	const clients = 20
	for i := 0; i < clients; i++ {
		c, err := net.Dial("tcp", addr)
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
	eventually(t, "edgegw_http_connections back to 0", func() bool { return g.m.httpConns.Load() == 0 })
}

// TestHTTPPipelinedNeverRead: 20,000 pipelined GET /metrics from a client
// that never reads: the write timeout closes the connection (before: the
// server goroutine stayed blocked writing).
func TestHTTPPipelinedNeverRead(t *testing.T) {
	g := newTestGateway(t, nil)
	addr := testHTTP(t, g, httpLimits{readHeader: time.Second, read: time.Second, write: 300 * time.Millisecond,
		idle: 5 * time.Second, maxConns: 64})
	c, err := net.Dial("tcp", addr)
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
	eventually(t, "the endpoint took the connection", func() bool { return g.m.httpConns.Load() == 1 })
	start := time.Now()
	eventually(t, "the never-reading connection closed", func() bool { return g.m.httpConns.Load() == 0 })
	t.Logf("closed %v after the first request", time.Since(start))
	c.Close() // ends the writer if the server's close left it blocked
	<-wrote
}

// TestHTTPConnectionCap: with 4 connections open a fifth is closed without
// an answer and counted; once one of the four closes, a new one is served.
func TestHTTPConnectionCap(t *testing.T) {
	g := newTestGateway(t, nil)
	addr := testHTTP(t, g, httpLimits{readHeader: time.Second, read: time.Second, write: time.Second,
		idle: time.Minute, maxConns: 4})
	var held []net.Conn
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if resp := httpGet(t, c, bufio.NewReader(c), "GET", "/healthz"); resp.StatusCode != 200 {
			t.Fatalf("conn %d: %s", i, resp.Status)
		}
		held = append(held, c)
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_, _ = io.WriteString(extra, "GET /healthz HTTP/1.1\r\nHost: edgegw\r\n\r\n")
	_ = extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(extra); len(b) > 0 || isTimeout(err) {
		t.Fatalf("fifth connection: got %q, %v; want closed without an answer", b, err)
	}
	if got := g.m.httpRefused.Get(); got != 1 {
		t.Fatalf("edgegw_http_connections_refused_total = %d, want 1", got)
	}
	held[0].Close()
	eventually(t, "a slot freed", func() bool { return g.m.httpConns.Load() == 3 })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if resp := httpGet(t, c, bufio.NewReader(c), "GET", "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("after a slot freed: %s", resp.Status)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestHTTPMethods: the default endpoint answers GET and HEAD, and 405 with
// "Allow: GET, HEAD" to anything else.
func TestHTTPMethods(t *testing.T) {
	g := newTestGateway(t, nil)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/healthz", 200}, {"HEAD", "/healthz", 200}, {"GET", "/metrics", 200}, {"HEAD", "/metrics", 200},
		{"POST", "/healthz", 405}, {"PUT", "/metrics", 405}, {"DELETE", "/metrics", 405}, {"OPTIONS", "/healthz", 405},
	} {
		c, err := net.Dial("tcp", g.Addr("http"))
		if err != nil {
			t.Fatal(err)
		}
		resp := httpGet(t, c, bufio.NewReader(c), tc.method, tc.path)
		c.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %s, want %d", tc.method, tc.path, resp.Status, tc.want)
		}
		if tc.want == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q, want \"GET, HEAD\"", tc.method, tc.path, resp.Header.Get("Allow"))
		}
	}
}

// TestHTTPWSUpgradeNonGET: an upgrade request with another method on the
// WebSocket listener gets 405 with "Allow: GET" (RFC 6455 4.1: the handshake
// is a GET) and is closed; bytes that are not HTTP are still closed without
// an answer (before: the 405 was built but never sent).
func TestHTTPWSUpgradeNonGET(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Listeners.WS = "127.0.0.1:0" })
	for _, method := range []string{"POST", "PUT", "OPTIONS"} {
		c, err := net.Dial("tcp", g.Addr("ws"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = io.WriteString(c, method+" /mqtt HTTP/1.1\r\nHost: edgegw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%s upgrade: no HTTP answer: %v", method, err)
		}
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
			t.Fatalf("%s upgrade: %s Allow=%q, want 405 with Allow: GET", method, resp.Status, resp.Header.Get("Allow"))
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if !closedBy(c, r, time.Now().Add(3*time.Second)) {
			t.Fatalf("%s upgrade: connection still open after the 405", method)
		}
	}
	c, err := net.Dial("tcp", g.Addr("ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write(connectPacket(4, "raw", 0, true)) // MQTT without the upgrade
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); len(b) > 0 || isTimeout(err) {
		t.Fatalf("MQTT bytes on the ws listener: got %q, %v; want closed without an answer", b, err)
	}
}

// TestHTTPMethodPrefix: what the ws listener treats as an HTTP request line.
func TestHTTPMethodPrefix(t *testing.T) {
	for in, want := range map[string]bool{
		"": true, "P": true, "POST": true, "POST ": true, "OPTIONS * HTTP/1.1": true, "GET ": true,
		"get ": false, " GET": false, "\x10\x12": false, "POST\x00": false, "ABCDEFGHIJKLMNOPQ ": false,
	} {
		if got := httpMethodPrefix([]byte(in)); got != want {
			t.Errorf("httpMethodPrefix(%q) = %v, want %v", in, got, want)
		}
	}
}
