package tlsrec

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"
)

// Defaults for the zero values of Config.
const (
	// DefaultHandshakesPerCore times GOMAXPROCS is MaxHandshakes when it is 0.
	// A handshake mostly waits for the client's round trips; 256 per core keep
	// the cores busy in a reconnect storm at 250 ms RTT while a storm of stalled
	// handshakes holds at most this many goroutines, each until its timeout.
	DefaultHandshakesPerCore = 256
	// DefaultHandshakeTimeout is HandshakeTimeout when it is 0.
	DefaultHandshakeTimeout = 10 * time.Second
)

// ClientAuth says whether the server asks for a client certificate (mTLS).
type ClientAuth uint8

// Client certificate policies. The zero value asks for none.
const (
	// ClientAuthNone never asks for a client certificate.
	ClientAuthNone ClientAuth = iota
	// ClientAuthRequest asks for one; a client may send none, but one it sends
	// must verify against Credentials.ClientCAs (tls.VerifyClientCertIfGiven).
	ClientAuthRequest
	// ClientAuthRequire refuses clients without a certificate that verifies
	// against Credentials.ClientCAs (tls.RequireAndVerifyClientCert).
	ClientAuthRequire
)

// String returns the configuration spelling: "none", "request" or "require".
func (a ClientAuth) String() string {
	switch a {
	case ClientAuthNone:
		return "none"
	case ClientAuthRequest:
		return "request"
	case ClientAuthRequire:
		return "require"
	}
	return fmt.Sprintf("ClientAuth(%d)", uint8(a))
}

// ParseClientAuth reads the configuration spelling of a ClientAuth; "" is none.
func ParseClientAuth(s string) (ClientAuth, error) {
	switch s {
	case "", "none":
		return ClientAuthNone, nil
	case "request":
		return ClientAuthRequest, nil
	case "require":
		return ClientAuthRequire, nil
	}
	return 0, fmt.Errorf("tls_client_auth = %q: want \"none\", \"request\" or \"require\"", s)
}

func (a ClientAuth) tls() tls.ClientAuthType {
	switch a {
	case ClientAuthRequest:
		return tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		return tls.RequireAndVerifyClientCert
	}
	return tls.NoClientCert
}

// Config tunes a Server. Its zero value works: TLS 1.2 and 1.3, no client
// certificates, 256 x GOMAXPROCS concurrent handshakes, half the cores for
// handshake CPU, a 10 s handshake timeout.
type Config struct {
	// ClientAuth asks for client certificates; any value but none needs
	// Credentials.ClientCAs.
	ClientAuth ClientAuth
	// MinVersion is tls.VersionTLS12 (the default, when 0) or tls.VersionTLS13.
	// The maximum is TLS 1.3.
	MinVersion uint16
	// MaxHandshakes bounds the handshakes in progress, each on a goroutine of
	// the pool for at most HandshakeTimeout; a connection that would exceed it
	// is refused with ErrBusy. 0 means DefaultHandshakesPerCore x GOMAXPROCS.
	MaxHandshakes int
	// HandshakeCPU bounds the handshakes computing at the same time (the rest
	// wait for their client or for a turn), so that a connect storm leaves
	// cores to the event loops. 0 means max(1, GOMAXPROCS/2).
	HandshakeCPU int
	// HandshakeTimeout bounds one handshake, from its first whole record to
	// its completion; 0 means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// KeyExchange lists the key exchange groups the server accepts
	// (crypto/tls CurvePreferences: an allow-list, chosen from in crypto/tls's
	// own preference order, the hybrid first); nil means
	// DefaultKeyExchange. The hybrid post-quantum X25519MLKEM768 costs the
	// server about twice the CPU of X25519 per full handshake.
	KeyExchange []tls.CurveID
}

// DefaultKeyExchange is crypto/tls's own default order: the hybrid
// post-quantum group first, then X25519 and P-256.
var DefaultKeyExchange = []string{"X25519MLKEM768", "X25519", "P-256"}

// keyExchangeNames spells the groups a configuration may name.
var keyExchangeNames = map[string]tls.CurveID{
	"X25519MLKEM768": tls.X25519MLKEM768,
	"X25519":         tls.X25519,
	"P-256":          tls.CurveP256,
	"P-384":          tls.CurveP384,
	"P-521":          tls.CurveP521,
}

// ParseKeyExchange reads the configuration spelling of Config.KeyExchange:
// group names from DefaultKeyExchange, "P-384" and "P-521", each at most
// once; an empty list means the default.
func ParseKeyExchange(names []string) ([]tls.CurveID, error) {
	if len(names) == 0 {
		names = DefaultKeyExchange
	}
	ids := make([]tls.CurveID, 0, len(names))
	for _, n := range names {
		id, ok := keyExchangeNames[n]
		if !ok {
			return nil, fmt.Errorf("unknown key exchange group %q: want X25519MLKEM768, X25519, P-256, P-384 or P-521", n)
		}
		if slices.Contains(ids, id) {
			return nil, fmt.Errorf("key exchange group %q named twice", n)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	switch {
	case c.ClientAuth > ClientAuthRequire:
		return fmt.Errorf("tls client auth %d: want none, request or require", c.ClientAuth)
	case c.MinVersion != 0 && c.MinVersion != tls.VersionTLS12 && c.MinVersion != tls.VersionTLS13:
		return fmt.Errorf("tls min version %#x: want TLS 1.2 or 1.3", c.MinVersion)
	case c.MaxHandshakes < 0:
		return fmt.Errorf("max tls handshakes %d: must not be negative", c.MaxHandshakes)
	case c.HandshakeCPU < 0:
		return fmt.Errorf("tls handshake cpu %d: must not be negative", c.HandshakeCPU)
	case c.HandshakeTimeout < 0:
		return fmt.Errorf("tls handshake timeout %v: must not be negative", c.HandshakeTimeout)
	}
	return nil
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	procs := runtime.GOMAXPROCS(0)
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	if c.MaxHandshakes == 0 {
		c.MaxHandshakes = DefaultHandshakesPerCore * procs
	}
	if c.HandshakeCPU == 0 {
		c.HandshakeCPU = max(1, procs/2)
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.KeyExchange == nil {
		c.KeyExchange, _ = ParseKeyExchange(nil)
	}
	return c
}

// Credentials are what a certificate reload swaps: the server's certificate
// chains and the CAs that sign client certificates. Immutable once given to
// NewServer or Reload.
type Credentials struct {
	// Certificates holds at least one chain; crypto/tls picks by SNI and by
	// the client's signature algorithms (an ECDSA and an RSA chain may coexist).
	Certificates []tls.Certificate
	// ClientCAs verifies client certificates; required unless ClientAuth is none.
	ClientCAs *x509.CertPool
}

func (c *Credentials) validate(auth ClientAuth) error {
	if len(c.Certificates) == 0 {
		return errors.New("tls credentials: no server certificate")
	}
	if auth != ClientAuthNone && c.ClientCAs == nil {
		return fmt.Errorf("tls client auth %q needs a client CA file", auth)
	}
	return nil
}

// LoadCredentials reads a PEM certificate chain and key, and, when caFile is
// not empty, the PEM client CA bundle. Errors name the file.
func LoadCredentials(certFile, keyFile, caFile string) (Credentials, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return Credentials{}, fmt.Errorf("cannot load TLS certificate %q / key %q: %w", certFile, keyFile, err)
	}
	cred := Credentials{Certificates: []tls.Certificate{cert}}
	if caFile == "" {
		return cred, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return Credentials{}, fmt.Errorf("cannot read TLS client CA %q: %w", caFile, err)
	}
	cred.ClientCAs = x509.NewCertPool()
	if !cred.ClientCAs.AppendCertsFromPEM(pem) {
		return Credentials{}, fmt.Errorf("cannot load TLS client CA %q: no PEM certificate in it", caFile)
	}
	return cred, nil
}
