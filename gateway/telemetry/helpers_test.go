package telemetry

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// testServer starts an endpoint under cfg on 127.0.0.1:0 with a set of its
// own and the package's help table, and closes it at cleanup.
func testServer(t *testing.T, cfg Config, health func() error) *Server {
	t.Helper()
	s, err := NewServer(cfg, metrics.NewSet(), MetricHelp(), health)
	if err != nil {
		t.Fatal(err)
	}
	s.Serve(listenLocal(t))
	t.Cleanup(s.Close)
	return s
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
	return !isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func listenLocal(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
