package tlsrec

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
	"strings"
	"sync"
	"time"
)

// pipeCap bounds the ciphertext a handshake holds from its loop: one record
// of the largest size, or any number of whole smaller records up to it.
const pipeCap = MaxRecord

// handshake is one TLS handshake run by crypto/tls on a goroutine of the
// pool. The loop and that goroutine meet only in the fields under mu: the
// loop pushes whole records into in and takes what crypto/tls wrote from out;
// the goroutine reads in one record at a time and appends to out. Nothing
// here blocks the loop: its side takes mu for a copy and signals notify
// without waiting. The goroutine calls wake, at most once per pending event,
// whenever the loop has something to do (output, room for input, the end).
type handshake struct {
	srv  *Server
	gen  *generation
	wake func()

	mu      sync.Mutex
	in      []byte // whole records from the loop; in[off:] not yet read
	off     int
	rec     int    // bytes of the record at in[off:] not yet given to crypto/tls
	out     []byte // records crypto/tls wrote, for the loop to send
	waiting bool   // the loop holds whole records that did not fit in
	woken   bool   // wake was called and the loop has not fed since
	closed  bool   // the loop closed the Conn
	done    bool
	res     result // valid once done
	notify  chan struct{}

	// Goroutine-only: the record stream crypto/tls reads and writes, seen
	// by the adapter to find the keys and sequence numbers it leaves behind.
	timer        *time.Timer
	timedOut     bool
	hasCPU       bool
	inCCS        bool   // TLS 1.2: the client's change_cipher_spec was read
	outCCS       bool   // TLS 1.2: ours was written
	clientFin    []byte // TLS 1.2: the client's Finished record, encrypted
	serverFin    []byte // TLS 1.2: ours
	serverRandom []byte
	cr           [32]byte // client random, from the ClientHello or the key log
	sawHello     bool
	suiteID      uint16 // from our ServerHello
	broken       bool   // crypto/tls wrote a partial record: keys unverifiable
	master       []byte // TLS 1.2 master secret, from the key log
	clientSecret []byte // TLS 1.3 application traffic secrets, from the key log
	serverSecret []byte
	out13        halfConn // TLS 1.3 write side, keyed once the secret and suite are known
	out13Keyed   bool
}

// result is what a finished handshake hands to its Conn.
type result struct {
	err     *Error
	cause   error
	suite   *suite
	vers    uint16
	resumed bool
	peer    *Identity
	in, out halfConn
}

// run drives crypto/tls over the handshake's pipe. It holds a slot of
// srv.active from before it starts until finish.
func (h *handshake) run() {
	h.timer = time.NewTimer(h.srv.cfg.HandshakeTimeout)
	defer h.timer.Stop()
	var res result
	var err error
	if h.acquireCPU() {
		tc := tls.Server(h, h.gen.root)
		if err = tc.Handshake(); err == nil {
			err = h.establish(tc, &res)
		}
		h.releaseCPU()
	} else {
		// Timed out or closed while waiting for a turn: never a success
		// (finish classifies it as a timeout, or as abandoned).
		err = errNoTurn
	}
	h.finish(res, err)
}

// establish reads the negotiated parameters and sets up both directions of
// the record layer from the secrets crypto/tls logged, checking them against
// the records crypto/tls itself encrypted with them.
func (h *handshake) establish(tc *tls.Conn, res *result) error {
	cs := tc.ConnectionState()
	s := suiteByID(cs.CipherSuite)
	if s == nil || s.tls13 != (cs.Version == tls.VersionTLS13) || h.broken {
		return ErrInternal
	}
	res.suite, res.vers, res.resumed = s, cs.Version, cs.DidResume
	if len(cs.PeerCertificates) > 0 {
		res.peer = identityOf(cs.PeerCertificates[0])
	}
	if s.tls13 {
		if h.clientSecret == nil || h.serverSecret == nil || !h.keyOut13() {
			return ErrInternal
		}
		// out13.seq counts the session tickets sent under the key; finish
		// clears h's copy of the client secret.
		res.out = h.out13
		return res.in.setSecret(s, bytes.Clone(h.clientSecret))
	}
	if h.master == nil || h.serverRandom == nil || h.clientFin == nil || h.serverFin == nil {
		return ErrInternal
	}
	ck, sk, civ, siv := keyBlock12(s, h.master, h.clientRandom(), h.serverRandom)
	clear(h.master)
	if res.in.setKey(s, ck, civ) != nil || res.out.setKey(s, sk, siv) != nil {
		return ErrInternal
	}
	// Each side's Finished is the first record under its new key (RFC 5246
	// 7.4.9): decrypting both proves the keys and leaves seq at 1.
	for _, v := range []struct {
		h   *halfConn
		rec []byte
	}{{&res.in, h.clientFin}, {&res.out, h.serverFin}} {
		p, typ, err := v.h.open(s, v.rec, nil)
		if err != nil || typ != typeHandshake || len(p) != 16 || p[0] != 20 {
			return ErrInternal
		}
	}
	return nil
}

// errNoTurn: the handshake ended before it got a turn to compute.
var errNoTurn = errors.New("tlsrec: handshake ended waiting for a turn")

// clientRandom is the random of the client's ClientHello.
func (h *handshake) clientRandom() []byte { return h.cr[:] }

// finish publishes the outcome to the loop, counts it, frees the slot and
// wakes the loop.
func (h *handshake) finish(res result, err error) {
	s := h.srv
	h.mu.Lock()
	closed := h.closed
	switch {
	case err == nil:
		s.stats.completed.Add(1)
		if res.resumed {
			s.stats.resumed.Add(1)
		}
	case closed && (err == errNoTurn || errors.Is(err, net.ErrClosed)):
		// The loop's close ended it. A handshake that failed for a reason
		// of its own (a missing client certificate, say) and whose client
		// then closed is counted by that reason, below, whichever of the
		// two the loop saw first.
		res.err = ErrClosed
		s.stats.abandoned.Add(1)
	default:
		res = result{err: classify(err, h.timedOut), cause: err}
		s.count(res.err)
	}
	h.res = res
	h.done = true
	wake := !h.woken && !closed
	h.woken = true
	h.mu.Unlock()
	clear(h.clientSecret)
	clear(h.serverSecret)
	s.active.Add(-1)
	if wake {
		h.wake()
	}
}

// classify maps a failed handshake to the error the Conn ends with.
func classify(err error, timedOut bool) *Error {
	var rhe tls.RecordHeaderError
	var cve *tls.CertificateVerificationError
	var uae x509.UnknownAuthorityError
	var op *net.OpError
	switch {
	case timedOut:
		return ErrHandshakeTimeout
	case errors.Is(err, ErrInternal):
		return ErrInternal
	case errors.As(err, &rhe) && rhe.Conn != nil:
		// crypto/tls sets Conn only for "does not look like a TLS handshake".
		return ErrNotTLS
	case errors.As(err, &cve), errors.As(err, &uae),
		// crypto/tls has no type for a missing required certificate; the
		// test TestHandshakeClientCert pins this message.
		strings.Contains(err.Error(), "client didn't provide a certificate"):
		return ErrClientCert
	case errors.As(err, &op) && op.Op == "remote error":
		return ErrPeerAlert
	}
	return ErrHandshake
}

// acquireCPU waits for a turn to compute; false when the handshake timed out
// or the loop closed it meanwhile.
func (h *handshake) acquireCPU() bool {
	for {
		select {
		case h.srv.cpu <- struct{}{}:
			h.hasCPU = true
			return true
		case <-h.timer.C:
			h.timedOut = true
			return false
		case <-h.notify:
			h.mu.Lock()
			closed := h.closed
			h.mu.Unlock()
			if closed {
				// Keep the signal for Read, which reports the close.
				select {
				case h.notify <- struct{}{}:
				default:
				}
				return false
			}
		}
	}
}

func (h *handshake) releaseCPU() {
	if h.hasCPU {
		h.hasCPU = false
		<-h.srv.cpu
	}
}

// errTimeout is what Read returns when the handshake timer fired: a
// net.Error that is not temporary, so crypto/tls fails the handshake.
var errTimeout error = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string   { return "tlsrec: handshake timed out" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return false }

// Read gives crypto/tls the bytes of at most one record, so that it never
// holds bytes past the record that completes the handshake: those stay in
// in and become the record layer's first input. It waits for the loop
// without holding a CPU turn.
func (h *handshake) Read(p []byte) (int, error) {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return 0, net.ErrClosed
		}
		if h.off < len(h.in) {
			if h.rec == 0 {
				h.startRecord(h.in[h.off:])
			}
			k := copy(p, h.in[h.off:h.off+h.rec])
			h.off += k
			h.rec -= k
			if h.off == len(h.in) {
				h.in, h.off = h.in[:0], 0
			}
			wake := h.waiting && !h.woken
			if h.waiting {
				h.waiting = false
				h.woken = true
			}
			h.mu.Unlock()
			if wake {
				h.wake()
			}
			return k, nil
		}
		h.mu.Unlock()
		h.releaseCPU()
		select {
		case <-h.notify:
		case <-h.timer.C:
			h.timedOut = true
			return 0, errTimeout
		}
		if !h.acquireCPU() {
			if h.timedOut {
				return 0, errTimeout
			}
			return 0, net.ErrClosed
		}
	}
}

// startRecord notes the record at the head of b (whole: the loop pushes
// whole records, push clips an oversized one to its header): its size, and
// in TLS 1.2 the client's first record under its new key.
func (h *handshake) startRecord(b []byte) {
	size := recordHeaderLen + (int(b[3])<<8 | int(b[4]))
	h.rec = min(size, len(b))
	switch {
	case b[0] == typeHandshake && !h.sawHello && size == h.rec && size >= recordHeaderLen+4+2+32 && b[5] == hsClientHello:
		// The client random, for TLS 1.2 keys: crypto/tls logs it with the
		// master secret, except on resumption.
		h.sawHello = true
		copy(h.cr[:], b[recordHeaderLen+4+2:])
	case b[0] == typeCCS:
		h.inCCS = true
	case b[0] == typeHandshake && h.inCCS && h.clientFin == nil && size == h.rec:
		h.clientFin = bytes.Clone(b[:size])
	}
}

// Write takes what crypto/tls sends. crypto/tls writes whole records, and
// each Write holds whole records; the adapter checks, and a handshake
// that breaks this ends with ErrInternal rather than with guessed keys.
func (h *handshake) Write(p []byte) (int, error) {
	h.inspect(p)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return 0, net.ErrClosed
	}
	h.out = append(h.out, p...)
	wake := !h.woken
	h.woken = true
	h.mu.Unlock()
	if wake {
		h.wake()
	}
	return len(p), nil
}

// inspect reads the records crypto/tls writes: our ServerHello (random and
// suite), in TLS 1.2 our Finished, and in TLS 1.3 the records sent under
// the application key before the handshake completes (session tickets),
// recognised by decrypting them, which sets the sequence number to go on from.
func (h *handshake) inspect(p []byte) {
	for len(p) > 0 {
		if len(p) < recordHeaderLen {
			h.broken = true
			return
		}
		size := recordHeaderLen + (int(p[3])<<8 | int(p[4]))
		if len(p) < size {
			h.broken = true
			return
		}
		rec := p[:size]
		p = p[size:]
		body := rec[recordHeaderLen:]
		switch {
		case rec[0] == typeHandshake && h.serverRandom == nil && h.serverHello(body):
		case rec[0] == typeCCS:
			h.outCCS = true
		case rec[0] == typeHandshake && h.outCCS && h.serverFin == nil:
			h.serverFin = bytes.Clone(rec)
		case rec[0] == typeAppData && h.keyOut13():
			if _, _, err := h.out13.open(suiteByID(h.suiteID), rec, nil); err == nil {
				continue // a record under the application key: out13.seq counted it
			}
		}
	}
}

// helloRetryRandom marks a HelloRetryRequest (RFC 8446 4.1.3).
var helloRetryRandom = []byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// serverHello reads the random and cipher suite of our ServerHello
// (RFC 8446 4.1.3, RFC 5246 7.4.1.3) from the handshake record body b, and
// reports whether b was one. A HelloRetryRequest gives only the suite (the
// same as the ServerHello's, RFC 8446 4.1.4).
func (h *handshake) serverHello(b []byte) bool {
	const sidAt = 4 + 2 + 32 // type, length, legacy_version, random
	if len(b) < sidAt+1 || b[0] != 2 || b[4] != 3 || b[5] != 3 {
		return false
	}
	suiteAt := sidAt + 1 + int(b[sidAt])
	if len(b) < suiteAt+2 || len(b) < 4+(int(b[1])<<16|int(b[2])<<8|int(b[3])) {
		return false
	}
	h.suiteID = uint16(b[suiteAt])<<8 | uint16(b[suiteAt+1])
	if random := b[4+2 : sidAt]; !bytes.Equal(random, helloRetryRandom) {
		h.serverRandom = bytes.Clone(random)
	}
	return true
}

// keyOut13 keys out13 once the server traffic secret and the suite are
// known; it reports whether out13 is keyed.
func (h *handshake) keyOut13() bool {
	if h.out13Keyed {
		return true
	}
	s := suiteByID(h.suiteID)
	if h.serverSecret == nil || s == nil || !s.tls13 {
		return false
	}
	if h.out13.setSecret(s, bytes.Clone(h.serverSecret)) != nil {
		return false
	}
	h.out13Keyed = true
	return true
}

// keyLog receives crypto/tls's key log lines (NSS key log format) for one
// handshake: the only public way crypto/tls tells the secrets it derived.
type keyLog handshake

// Write parses "LABEL <client random hex> <secret hex>\n".
func (k *keyLog) Write(line []byte) (int, error) {
	h := (*handshake)(k)
	f := bytes.Fields(line)
	if len(f) != 3 || hex.DecodedLen(len(f[1])) != 32 {
		return 0, ErrInternal
	}
	secret := make([]byte, hex.DecodedLen(len(f[2])))
	if _, err := hex.Decode(secret, f[2]); err != nil {
		return 0, ErrInternal
	}
	if _, err := hex.Decode(h.cr[:], f[1]); err != nil {
		return 0, ErrInternal
	}
	switch string(f[0]) {
	case "CLIENT_RANDOM":
		h.master = secret
	case "CLIENT_TRAFFIC_SECRET_0":
		h.clientSecret = secret
	case "SERVER_TRAFFIC_SECRET_0":
		h.serverSecret = secret
	}
	return len(line), nil
}

// unwrapSession decrypts a session ticket as crypto/tls would by default
// (with the generation's ticket keys). A TLS 1.2 resumption derives no new
// master secret and crypto/tls logs none, so the master secret is read from
// the session's own encoding (SessionState.Bytes). That encoding is opaque
// and may change between Go versions: when it does not look as expected the
// ticket is declined and the client does a full handshake, and a misread
// secret would fail the Finished check in establish (ErrInternal), never
// yield wrong keys. TestHandshakeResumption pins the format.
func (h *handshake) unwrapSession(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
	ss, err := h.gen.root.DecryptTicket(identity, cs)
	if err != nil || ss == nil || cs.Version != tls.VersionTLS12 {
		return ss, err
	}
	b, err := ss.Bytes()
	if err != nil {
		return nil, nil
	}
	// version(2) type(1) cipher_suite(2) created_at(8) secret<1..255>.
	const at = 2 + 1 + 2 + 8
	if len(b) < at+1+48 || b[0] != 3 || b[1] != 3 || b[2] != 1 || b[at] != 48 {
		return nil, nil
	}
	h.master = bytes.Clone(b[at+1 : at+1+48])
	clear(b)
	return ss, nil
}

// net.Conn for crypto/tls. Deadlines are the handshake timer's business.

func (h *handshake) Close() error                     { return nil }
func (h *handshake) LocalAddr() net.Addr              { return pipeAddr{} }
func (h *handshake) RemoteAddr() net.Addr             { return pipeAddr{} }
func (h *handshake) SetDeadline(time.Time) error      { return nil }
func (h *handshake) SetReadDeadline(time.Time) error  { return nil }
func (h *handshake) SetWriteDeadline(time.Time) error { return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "tlsrec" }
func (pipeAddr) String() string  { return "tlsrec" }

// Identity is what the client certificate says of the client, copied out of
// it at the end of the handshake so that the certificate itself is freed.
// Immutable.
type Identity struct {
	// CommonName is the subject's CN.
	CommonName string
	// SANs are the subject alternative names: DNS names, then e-mail
	// addresses, URIs and IP addresses, in certificate order.
	SANs []string
}

func identityOf(c *x509.Certificate) *Identity {
	id := &Identity{CommonName: strings.Clone(c.Subject.CommonName)}
	for _, s := range c.DNSNames {
		id.SANs = append(id.SANs, strings.Clone(s))
	}
	for _, s := range c.EmailAddresses {
		id.SANs = append(id.SANs, strings.Clone(s))
	}
	for _, u := range c.URIs {
		id.SANs = append(id.SANs, u.String())
	}
	for _, ip := range c.IPAddresses {
		id.SANs = append(id.SANs, ip.String())
	}
	return id
}
