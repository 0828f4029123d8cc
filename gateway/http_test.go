package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

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
