package auth

import (
	"errors"
	"net/url"
	"runtime"
	"time"
)

// Config configures an Authenticator. The zero value works: no anonymous
// access, no verifiers (every CONNECT is refused 0x87/0x86), a pool of
// GOMAXPROCS workers (more with an HTTP backend) of which half compute
// bcrypt at once, with a queue of 1024 and a 5 s deadline per request.
type Config struct {
	// AllowAnonymous admits a CONNECT with neither user name nor password.
	// [auth] allow_anonymous. Default false.
	AllowAnonymous bool
	// PasswordFile is a file of "user:bcrypt-hash" lines (passwd.go).
	// [auth] password_file. Default "": no password verifier.
	PasswordFile string
	// JWTKeys are files holding one HMAC secret or PEM RSA/ECDSA public key
	// each (jwt.go). [auth] jwt_keys. Default none: no JWT verifier.
	JWTKeys []string
	// JWTACLClaim names the claim that may carry ACL rule lines (a list of
	// strings). Default "acl".
	JWTACLClaim string
	// JWTLeeway is the clock skew allowed on exp and nbf. Default 0.
	JWTLeeway time.Duration

	// HTTP configures the HTTP backend verifier; HTTP.URL "" disables it.
	HTTP HTTPConfig

	// Workers is the number of verification goroutines. Default GOMAXPROCS,
	// plus HTTP.Concurrency when an HTTP backend is configured: a backend
	// call mostly waits, and must not queue behind bcrypt.
	Workers int
	// CPU bounds the bcrypt comparisons computing at once, so that a storm
	// of password CONNECTs leaves cores to the event loops (as tlsrec's
	// HandshakeCPU does for TLS handshakes). Default max(1, GOMAXPROCS/2).
	CPU int
	// Queue bounds requests waiting for a worker; Submit beyond it fails
	// with ErrQueueFull. Default 1024.
	Queue int
	// CallTimeout bounds one request from Submit to verdict, queueing
	// included; past it the request is refused (busy or backend timeout).
	// Default 5 s.
	CallTimeout time.Duration
}

// HTTPConfig configures the HTTP backend (http.go).
type HTTPConfig struct {
	// URL receives a POST per uncached CONNECT. [auth] http_url.
	URL string
	// Timeout bounds one backend call. [auth] http_timeout. Default 2 s.
	Timeout time.Duration
	// Concurrency bounds backend calls in flight. [auth] http_concurrency.
	// Default 32.
	Concurrency int
	// CacheTTL keeps an allow this long. [auth] cache_ttl. Default 5 min;
	// negative disables the positive cache.
	CacheTTL time.Duration
	// NegativeTTL keeps a deny this long. Default 10 s; negative disables.
	// Backend failures (timeout, 5xx, garbage) are never cached.
	NegativeTTL time.Duration
	// CacheSize bounds the positive cache (entries). Default 65536.
	CacheSize int
	// NegativeSize bounds the negative cache (entries), so a flood of wrong
	// passwords cannot grow memory. Default 4096.
	NegativeSize int
}

const (
	defaultQueue        = 1024
	defaultCallTimeout  = 5 * time.Second
	defaultHTTPTimeout  = 2 * time.Second
	defaultConcurrency  = 32
	defaultCacheTTL     = 5 * time.Minute
	defaultNegativeTTL  = 10 * time.Second
	defaultCacheSize    = 65536
	defaultNegativeSize = 4096
	defaultACLClaim     = "acl"
)

// Validate reports the first invalid key, by its config name.
func (c *Config) Validate() error {
	switch {
	case c.Workers < 0:
		return errors.New("auth: workers must be >= 0")
	case c.CPU < 0:
		return errors.New("auth: cpu must be >= 0")
	case c.Queue < 0:
		return errors.New("auth: queue must be >= 0")
	case c.CallTimeout < 0:
		return errors.New("auth: call timeout must be >= 0")
	case c.JWTLeeway < 0:
		return errors.New("auth: jwt leeway must be >= 0")
	case c.HTTP.Timeout < 0:
		return errors.New("auth: http_timeout must be >= 0")
	case c.HTTP.Concurrency < 0:
		return errors.New("auth: http_concurrency must be >= 0")
	case c.HTTP.CacheSize < 0 || c.HTTP.NegativeSize < 0:
		return errors.New("auth: cache sizes must be >= 0")
	}
	if c.HTTP.URL != "" {
		u, err := url.Parse(c.HTTP.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("auth: http_url must be an http:// or https:// URL")
		}
	}
	return nil
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Workers == 0 {
		c.Workers = runtime.GOMAXPROCS(0)
		if c.HTTP.URL != "" {
			hc := c.HTTP.Concurrency
			if hc == 0 {
				hc = defaultConcurrency
			}
			c.Workers += hc
		}
	}
	if c.CPU == 0 {
		c.CPU = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if c.Queue == 0 {
		c.Queue = defaultQueue
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = defaultCallTimeout
	}
	if c.JWTACLClaim == "" {
		c.JWTACLClaim = defaultACLClaim
	}
	h := &c.HTTP
	if h.Timeout == 0 {
		h.Timeout = defaultHTTPTimeout
	}
	if h.Concurrency == 0 {
		h.Concurrency = defaultConcurrency
	}
	if h.CacheTTL == 0 {
		h.CacheTTL = defaultCacheTTL
	}
	if h.NegativeTTL == 0 {
		h.NegativeTTL = defaultNegativeTTL
	}
	if h.CacheSize == 0 {
		h.CacheSize = defaultCacheSize
	}
	if h.NegativeSize == 0 {
		h.NegativeSize = defaultNegativeSize
	}
	return c
}
