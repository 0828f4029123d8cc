package telemetry

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Server is the /metrics and /healthz endpoint on net/http: one goroutine per
// HTTP connection, at most Config.MaxConnections of them, each phase of a
// request under a deadline. Safe for concurrent use. Its lifetime runs from
// Serve to Close.
type Server struct {
	cfg    Config
	set    *metrics.Set
	help   map[string]Help
	health func() error
	srv    *http.Server
	addr   string

	conns   atomic.Int64     // the edgegw_http_connections gauge
	refused *metrics.Counter // edgegw_http_connections_refused_total
}

// NewServer returns an endpoint, not yet serving, whose /metrics writes the
// samples of set, the process's open-file limit and the Go runtime figures,
// each family under the # HELP and # TYPE that help gives it (a family
// missing there is written as "untyped" with its name as help). help is read
// by every scrape and must not change afterwards. /healthz answers "ok" while
// health returns nil (health nil: always), else 503 with the error's text.
// It registers its own metrics on set (metrics.go); a nil set is a new one
// of its own. The error wraps ErrConfig.
func NewServer(cfg Config, set *metrics.Set, help map[string]Help, health func() error) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if set == nil {
		set = metrics.NewSet()
	}
	s := &Server{cfg: cfg.withDefaults(), set: set, help: help, health: health}
	s.refused = registerServer(set, &s.conns)
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", s.serveMetrics)
	mux.HandleFunc("/healthz", s.serveHealth)
	c := s.cfg
	s.srv = &http.Server{Handler: onlyGetHead(mux), ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout,
		MaxHeaderBytes: maxHeaderBytes}
	return s, nil
}

// Serve serves on ln, which the caller opened (binding and its error are the
// listener's business), on a goroutine of its own, and returns at once. Call
// it once; Close closes ln.
func (s *Server) Serve(ln net.Listener) {
	s.addr = ln.Addr().String()
	ll := &limitListener{Listener: ln, max: int64(s.cfg.MaxConnections), open: &s.conns, refused: s.refused}
	go func() { _ = s.srv.Serve(ll) }()
}

// Addr is the address Serve's listener is bound to ("" before Serve).
func (s *Server) Addr() string { return s.addr }

// Close stops accepting and closes idle connections at once, waits up to a
// second for requests in flight, then returns.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// serveMetrics writes the exposition. It runs per scrape on the HTTP
// connection's goroutine; the allocations are the scrape's own.
func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	var body bytes.Buffer
	s.set.WritePrometheus(&body)
	// The open-file limit caps connections; it is read per scrape because an
	// operator may raise it with prlimit while we run. (Not WriteFDMetrics:
	// counting /proc/self/fd is O(connections) per scrape.)
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		metrics.WriteGaugeUint64(&body, "process_max_fds", lim.Cur)
	}
	writeRuntimeMetrics(&body, s.cfg.Root)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_ = writeExposition(w, body.Bytes(), s.help)
}

func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	if s.health != nil {
		if err := s.health(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = w.Write([]byte("ok\n"))
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
