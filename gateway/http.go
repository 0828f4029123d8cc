package gateway

import (
	"edgegw/gateway/listener"
	"edgegw/gateway/telemetry"
)

// startHTTP opens addr and serves the /metrics and /healthz endpoint on it
// (gateway/telemetry): the samples of g's metric set with the help texts of
// metricHelp, http.max_connections open at most, and /healthz answering 503
// "draining" once Shutdown began. The endpoint registers its own metrics on
// g's set, so a gateway starts one.
func (g *Gateway) startHTTP(addr string) (*telemetry.Server, error) {
	hs, err := telemetry.NewServer(telemetry.Config{MaxConnections: g.cfg.HTTP.MaxConnections}, g.m.set, helpTable(), g.health)
	if err != nil {
		return nil, err
	}
	ln, err := listener.Listen(addr)
	if err != nil {
		return nil, err
	}
	hs.Serve(ln)
	return hs, nil
}

// health is /healthz: errDraining once Shutdown began. Safe for concurrent use.
func (g *Gateway) health() error {
	if g.draining.Load() {
		return errDraining
	}
	return nil
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
