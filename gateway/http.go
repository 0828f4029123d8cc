package gateway

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// httpServer serves /metrics (Prometheus text format with # HELP and # TYPE)
// and /healthz on net/http: one goroutine per HTTP connection, bounded by
// httpLimits.maxConns and the timeouts below.
type httpServer struct {
	srv  *http.Server
	ln   *limitListener
	addr string
}

// httpLimits bounds the HTTP endpoint. The endpoint answers small GETs from
// a scraper or a health checker, so every phase of a request has a deadline
// and an idle keep-alive connection is closed after a while.
type httpLimits struct {
	readHeader time.Duration // request line and headers
	read       time.Duration // the whole request, from its start
	write      time.Duration // the answer, from the end of the request headers
	idle       time.Duration // a keep-alive connection between requests
	maxConns   int           // open connections (http.max_connections)
}

// defaultHTTPLimits are the limits config.toml documents under [http]. The idle
// timeout is longer than Prometheus' default 1m scrape interval, so a scraper
// keeps its connection.
func defaultHTTPLimits(maxConns int) httpLimits {
	return httpLimits{readHeader: 5 * time.Second, read: 10 * time.Second, write: 10 * time.Second,
		idle: 90 * time.Second, maxConns: maxConns}
}

func (g *Gateway) startHTTP(addr string) (*httpServer, error) {
	return g.startHTTPWith(addr, defaultHTTPLimits(g.cfg.HTTP.MaxConnections))
}

// startHTTPWith listens on addr and serves the endpoint under lim (tests give
// short limits).
func (g *Gateway) startHTTPWith(addr string, lim httpLimits) (*httpServer, error) {
	ln, err := listen(addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		var body bytes.Buffer
		g.m.set.WritePrometheus(&body)
		// The open-file limit caps connections; it is read per scrape because an
		// operator may raise it with prlimit while we run. (Not WriteFDMetrics:
		// counting /proc/self/fd is O(connections) per scrape.)
		var lim syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
			metrics.WriteGaugeUint64(&body, "process_max_fds", lim.Cur)
		}
		writeRuntimeMetrics(&body)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_ = writeExposition(w, body.Bytes())
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if g.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	ll := &limitListener{Listener: ln, max: int64(lim.maxConns), open: &g.m.httpConns, refused: g.m.httpRefused}
	hs := &httpServer{srv: &http.Server{Handler: onlyGetHead(mux), ReadHeaderTimeout: lim.readHeader,
		ReadTimeout: lim.read, WriteTimeout: lim.write, IdleTimeout: lim.idle, MaxHeaderBytes: 8 << 10},
		ln: ll, addr: ln.Addr().String()}
	go func() { _ = hs.srv.Serve(ll) }()
	return hs, nil
}

// onlyGetHead answers 405 with "Allow: GET, HEAD" to any other method, and
// closes the connection after it without reading the request body (net/http
// would otherwise read up to 256 kB of it after the handler, so a client that
// sends one slowly would hold the connection until the read timeout).
func onlyGetHead(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now()) // the body is not read
			w.Header().Set("Allow", "GET, HEAD")
			w.Header().Set("Connection", "close")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (hs *httpServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = hs.srv.Shutdown(ctx)
}

// limitListener is a net.Listener that keeps at most max accepted
// connections open. A connection accepted beyond that is closed at once and
// counted, rather than left waiting in the backlog: a health checker gets a
// quick failure, and a flood of idle connections costs no goroutines. Safe for
// concurrent use.
type limitListener struct {
	net.Listener
	max     int64
	open    *atomic.Int64 // the edgegw_http_connections gauge
	refused *metrics.Counter
}

// Accept returns the next connection under the limit.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitConn{Conn: c, open: l.open}, nil
		}
		l.open.Add(-1)
		l.refused.Inc()
		_ = c.Close()
	}
}

// limitConn gives its slot back on the first Close. Safe for concurrent use.
type limitConn struct {
	net.Conn
	open *atomic.Int64
	once sync.Once
}

// CloseWrite lets net/http half-close before it closes (it then waits a
// little for the client's unread bytes, so that its last answer, a 405 to a
// request with a body, is not lost to a reset).
func (c *limitConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.open.Add(-1) })
	return err
}

// httpMethodPrefix reports whether buf starts like an HTTP request line: a
// method of 1 to 16 upper-case letters then a space, or a prefix of one. The
// WebSocket listener uses it to tell a request it must answer (405 for a
// method other than GET) from bytes that are not HTTP at all.
func httpMethodPrefix(buf []byte) bool {
	for i, b := range buf {
		switch {
		case b == ' ':
			return i > 0
		case b < 'A' || b > 'Z' || i == 16:
			return false
		}
	}
	return true
}
