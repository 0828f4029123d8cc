package telemetry

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

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
