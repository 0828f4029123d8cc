package gateway

import (
	"context"
	"net/http"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// httpServer serves /metrics (VictoriaMetrics text format) and /healthz.
type httpServer struct {
	srv  *http.Server
	addr string
}

func (g *Gateway) startHTTP(addr string) (*httpServer, error) {
	ln, err := listen(addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		g.m.set.WritePrometheus(w)
		// The open-file limit caps connections; it is read per scrape because an
		// operator may raise it with prlimit while we run. (Not WriteFDMetrics:
		// counting /proc/self/fd is O(connections) per scrape.)
		var lim syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
			metrics.WriteGaugeUint64(w, "process_max_fds", lim.Cur)
		}
		writeRuntimeMetrics(w)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if g.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	hs := &httpServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, addr: ln.Addr().String()}
	go func() { _ = hs.srv.Serve(ln) }()
	return hs, nil
}

func (hs *httpServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = hs.srv.Shutdown(ctx)
}
