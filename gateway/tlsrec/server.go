package tlsrec

import (
	"crypto/tls"
	"sync/atomic"
)

// Server holds what all TLS connections of a listener share: the
// credentials (swapped by Reload), the handshake pool's bounds and its
// counters. Safe for concurrent use.
type Server struct {
	cfg    Config
	gen    atomic.Pointer[generation]
	active atomic.Int64  // handshakes holding a slot
	cpu    chan struct{} // handshake CPU turns, cfg.HandshakeCPU
	stats  counters
}

// generation is the crypto/tls configuration of one set of credentials.
// root is given to tls.Server and owns the session ticket keys, so a
// Reload also retires the tickets issued under the old credentials (a
// resumed session never outlives the CA that verified it); tmpl is what
// each handshake clones to attach its own key log.
type generation struct {
	root, tmpl *tls.Config
}

// NewServer validates cfg and cred and returns a Server with no handshake
// running. It starts no goroutine.
func NewServer(cfg Config, cred Credentials) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg.withDefaults()}
	s.cpu = make(chan struct{}, s.cfg.HandshakeCPU)
	if err := s.Reload(cred); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload makes cred the credentials of every handshake that starts after
// it returns; handshakes in progress and established connections keep what
// they had. Safe to call from a SIGHUP handler while loops run.
func (s *Server) Reload(cred Credentials) error {
	if err := cred.validate(s.cfg.ClientAuth); err != nil {
		return err
	}
	tmpl := &tls.Config{
		Certificates: cred.Certificates,
		ClientCAs:    cred.ClientCAs,
		ClientAuth:   s.cfg.ClientAuth.tls(),
		MinVersion:   s.cfg.MinVersion,
		MaxVersion:   tls.VersionTLS13,
		CipherSuites: tls12Suites,
		// An allow-list: crypto/tls picks from it in its own order.
		CurvePreferences: s.cfg.KeyExchange,
	}
	root := tmpl.Clone()
	root.GetConfigForClient = forClient
	s.gen.Store(&generation{root: root, tmpl: tmpl})
	return nil
}

// forClient gives each handshake a clone of its generation's template with
// the handshake's own key log (crypto/tls calls it on the pool goroutine).
// Session tickets still use the root's keys: crypto/tls takes them from the
// Config given to tls.Server when the clone sets none.
func forClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	h, ok := hello.Conn.(*handshake)
	if !ok {
		return nil, ErrInternal
	}
	cfg := h.gen.tmpl.Clone()
	cfg.KeyLogWriter = (*keyLog)(h)
	cfg.UnwrapSession = h.unwrapSession
	return cfg, nil
}

// NewConn returns the state of one accepted connection, before its first
// byte. wake is called from a pool goroutine, never from the loop, when the
// Conn has something for its loop (handshake output, room for more input,
// the handshake's end): it must not block, and should make the loop call
// Feed soon (gnet: Conn.Wake). It may be called after Close.
func (s *Server) NewConn(wake func()) *Conn {
	return &Conn{srv: s, wake: wake}
}

// Stats is a snapshot of the handshake pool's counters.
//
// Every handshake that took a slot (Started) ends in exactly one of
// Completed, Timeout, Failed, ClientCert, PeerAlert, NotTLS, Abandoned or
// Internal; Busy and NotTLS also count connections refused on the loop
// before a slot was taken.
type Stats struct {
	InProgress int64  // handshakes holding a slot now
	Started    uint64 // slots taken
	Completed  uint64
	Resumed    uint64 // of Completed, by session ticket
	Busy       uint64 // refused: MaxHandshakes in progress
	NotTLS     uint64 // first record not a TLS handshake
	Timeout    uint64 // HandshakeTimeout passed
	Failed     uint64 // refused by crypto/tls (ErrHandshake)
	ClientCert uint64 // client certificate missing or not verified
	PeerAlert  uint64 // the client sent a fatal alert
	Abandoned  uint64 // the loop closed the connection mid-handshake
	Internal   uint64 // ErrInternal: never expected
}

type counters struct {
	started, completed, resumed, busy, notTLS, timeout, failed, clientCert, peerAlert, abandoned, internal atomic.Uint64
}

// Stats returns the counters. Safe for concurrent use.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		InProgress: s.active.Load(),
		Started:    c.started.Load(), Completed: c.completed.Load(), Resumed: c.resumed.Load(),
		Busy: c.busy.Load(), NotTLS: c.notTLS.Load(), Timeout: c.timeout.Load(), Failed: c.failed.Load(),
		ClientCert: c.clientCert.Load(), PeerAlert: c.peerAlert.Load(), Abandoned: c.abandoned.Load(),
		Internal: c.internal.Load(),
	}
}

// count adds one to the counter of a handshake failure.
func (s *Server) count(e *Error) {
	c := &s.stats
	switch e {
	case ErrBusy:
		c.busy.Add(1)
	case ErrNotTLS:
		c.notTLS.Add(1)
	case ErrHandshakeTimeout:
		c.timeout.Add(1)
	case ErrClientCert:
		c.clientCert.Add(1)
	case ErrPeerAlert:
		c.peerAlert.Add(1)
	case ErrInternal:
		c.internal.Add(1)
	default:
		c.failed.Add(1)
	}
}

// acquire takes a handshake slot, or reports that MaxHandshakes are taken.
func (s *Server) acquire() bool {
	if s.active.Add(1) > int64(s.cfg.MaxHandshakes) {
		s.active.Add(-1)
		return false
	}
	s.stats.started.Add(1)
	return true
}
