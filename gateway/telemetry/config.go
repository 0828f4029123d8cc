package telemetry

import (
	"fmt"
	"time"
)

// Defaults for the zero values of Config: the limits config.toml documents
// under [http]. DefaultIdleTimeout is longer than Prometheus' default 1m
// scrape interval, so a scraper keeps its connection.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultIdleTimeout       = 90 * time.Second
	DefaultMaxConnections    = 256
	// DefaultLogQueue is the records a Log holds for its writer when NewLog
	// is given 0. A channel touches every slot of its ring in turn, so this
	// is resident memory once that many lines were logged: 1,024 records of
	// ~300 B.
	DefaultLogQueue = 1024
)

// maxHeaderBytes bounds a request's header block: the endpoint answers small
// GETs from a scraper or a health checker.
const maxHeaderBytes = 8 << 10

// Config bounds the endpoint. Every phase of a request has a deadline and an
// idle keep-alive connection is closed after a while. The zero value works:
// a zero field takes its default above.
type Config struct {
	ReadHeaderTimeout time.Duration // request line and headers; default 5s
	ReadTimeout       time.Duration // the whole request, from its start; default 10s
	WriteTimeout      time.Duration // the answer, from the end of the request headers; default 10s
	IdleTimeout       time.Duration // a keep-alive connection between requests; default 90s
	MaxConnections    int           // open HTTP connections (http.max_connections); more are closed at accept and counted; default 256
	// Root is the file system root below which /proc/self/status is read for
	// process_resident_memory_bytes; "" or "/" is the machine's own (tests
	// give a tree in testdata/).
	Root string
}

// Validate reports the first negative field, by name.
func (c Config) Validate() error {
	for _, f := range []struct {
		key string
		v   time.Duration
	}{
		{"read_header_timeout", c.ReadHeaderTimeout}, {"read_timeout", c.ReadTimeout},
		{"write_timeout", c.WriteTimeout}, {"idle_timeout", c.IdleTimeout},
	} {
		if f.v < 0 {
			return fmt.Errorf("%w: %s must be >= 0, got %v", ErrConfig, f.key, f.v)
		}
	}
	if c.MaxConnections < 0 {
		return fmt.Errorf("%w: max_connections must be >= 0, got %d", ErrConfig, c.MaxConnections)
	}
	return nil
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&c.ReadTimeout, DefaultReadTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	return c
}
