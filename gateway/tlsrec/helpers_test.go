package tlsrec

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// pki is a test CA with a server certificate for localhost and 127.0.0.1
// and a client certificate (CN device-1, SANs), plus a second CA with a
// client certificate that the first CA does not vouch for.
type pki struct {
	caPool, otherPool   *x509.CertPool
	server, serverRSA   tls.Certificate
	client, wrongClient tls.Certificate
}

var (
	pkiOnce sync.Once
	testPKI *pki
)

func getPKI(t testing.TB) *pki {
	pkiOnce.Do(func() {
		ca, caKey := newCA("edgegw test CA")
		other, otherKey := newCA("someone else's CA")
		p := &pki{caPool: x509.NewCertPool(), otherPool: x509.NewCertPool()}
		p.caPool.AddCert(ca)
		p.otherPool.AddCert(other)
		serverTmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		p.server = leaf(serverTmpl, ca, caKey, ecKey())
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		p.serverRSA = leaf(serverTmpl, ca, caKey, rsaKey)
		u, _ := url.Parse("spiffe://edgegw/device-1")
		clientTmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "device-1"}, DNSNames: []string{"device-1.example"},
			EmailAddresses: []string{"ops@example.com"}, URIs: []*url.URL{u}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		p.client = leaf(clientTmpl, ca, caKey, ecKey())
		p.wrongClient = leaf(clientTmpl, other, otherKey, ecKey())
		testPKI = p
	})
	return testPKI
}

func ecKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

var serial int64

func newCA(name string) (*x509.Certificate, crypto.Signer) {
	k := ecKey()
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		panic(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, k
}

func leaf(tmpl, ca *x509.Certificate, caKey crypto.Signer, key crypto.Signer) tls.Certificate {
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		panic(err)
	}
	c, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}
}

// newServer returns a Server with the test server certificate.
func newServer(t testing.TB, cfg Config) *Server {
	p := getPKI(t)
	cred := Credentials{Certificates: []tls.Certificate{p.server}}
	if cfg.ClientAuth != ClientAuthNone {
		cred.ClientCAs = p.caPool
	}
	s, err := NewServer(cfg, cred)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// clientConfig trusts the test CA; vers 0 leaves the version to negotiation.
func clientConfig(t testing.TB, vers uint16) *tls.Config {
	return &tls.Config{RootCAs: getPKI(t).caPool, ServerName: "localhost", MinVersion: vers, MaxVersion: vers}
}

// listen returns a TCP listener on 127.0.0.1:0, closed at the end of t.
func listen(t testing.TB) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// loopResult is what a test loop saw over one connection.
type loopResult struct {
	err      error  // what ended the Conn (nil: the socket closed first)
	cause    error  // Conn.Cause
	plain    []byte // application data received
	peer     *Identity
	vers     uint16
	suite    uint16
	resumed  bool
	feeds    int // Feed calls
	pending  int // bytes left unconsumed at the end
	maxHold  int // most bytes the loop had to hold unconsumed
	leftover bool
}

// loopOpts shapes a test loop.
type loopOpts struct {
	split func() int // bytes per Feed as they arrive; nil: as read
	echo  bool       // send every plaintext byte back in one record per Feed
	// after, if set, runs on the loop after each Feed once established.
	after func(c *Conn, out []byte) []byte
	// closeAfter > 0: once that many bytes arrived (and were echoed), send
	// close_notify and end with errServerDone.
	closeAfter int
}

var errServerDone = errors.New("test loop: closeAfter reached")

// runLoop plays a gnet event loop for one accepted socket: bytes arrive
// (in pieces of opts.split bytes), Feed takes what it can, the rest stays
// in front; wake brings the loop back to Feed with nothing new, as
// gnet.Conn.Wake would; out is written to the socket. It returns when the
// Conn ends or the socket closes.
func runLoop(srv *Server, nc net.Conn, opts loopOpts) loopResult {
	defer nc.Close()
	wake := make(chan struct{}, 1)
	c := srv.NewConn(func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	defer c.Close()
	chunks := make(chan []byte, 64)
	go func() {
		defer close(chunks)
		buf := make([]byte, 32<<10)
		for {
			n, err := nc.Read(buf)
			b := bytes.Clone(buf[:n])
			for len(b) > 0 {
				k := len(b)
				if opts.split != nil {
					k = min(max(opts.split(), 1), len(b))
				}
				chunks <- b[:k]
				b = b[k:]
			}
			if err != nil {
				return
			}
		}
	}()
	var res loopResult
	var pending, plain, out []byte
	for {
		select {
		case b, ok := <-chunks:
			if !ok {
				res.pending = len(pending)
				res.err = c.Err()
				return res
			}
			pending = append(pending, b...)
		case <-wake:
		}
		// A fresh copy each time: a Conn that kept a reference to in
		// would be caught by the comparisons.
		in := bytes.Clone(pending)
		var n int
		var err error
		start := len(plain)
		n, plain, out, err = c.Feed(in, plain, out[:0])
		res.feeds++
		if !bytes.Equal(in, pending) {
			panic("Feed modified its input")
		}
		pending = pending[n:]
		res.maxHold = max(res.maxHold, len(pending))
		if opts.echo && c.Established() && len(plain) > start {
			out, _ = c.AppendRecord(out, plain[start:])
		}
		if opts.after != nil && c.Established() {
			out = opts.after(c, out)
		}
		if opts.closeAfter > 0 && len(plain) >= opts.closeAfter && err == nil {
			out = c.AppendCloseNotify(out)
			err = errServerDone
		}
		if len(out) > 0 {
			if _, werr := nc.Write(out); werr != nil && err == nil {
				err = werr
			}
		}
		if c.Established() || err != nil {
			res.peer, res.vers, res.suite, res.resumed = c.Peer(), c.Version(), c.CipherSuite(), c.DidResume()
		}
		if err != nil {
			res.err, res.cause, res.plain, res.pending = err, c.Cause(), plain, len(pending)
			return res
		}
		res.plain = plain
	}
}

// serve accepts connections on ln and runs a test loop for each; each
// result goes to the returned channel.
func serve(t testing.TB, srv *Server, ln net.Listener, opts loopOpts) <-chan loopResult {
	results := make(chan loopResult, 4096)
	var wg sync.WaitGroup
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- runLoop(srv, nc, opts)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return results
}

// dial connects a crypto/tls client to ln and completes the handshake.
func dial(t testing.TB, ln net.Listener, cfg *tls.Config) *tls.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() }) // lets serve's cleanup end the loop when a test fails
	tc := tls.Client(nc, cfg)
	tc.SetDeadline(time.Now().Add(20 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	return tc
}

// exchange writes msg and reads the echo back.
func exchange(t testing.TB, tc *tls.Conn, msg []byte) {
	t.Helper()
	if _, err := tc.Write(msg); err != nil {
		t.Fatalf("client write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(tc, got); err != nil {
		t.Fatalf("client read: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo differs: %d bytes", len(msg))
	}
}

// pattern returns n bytes that differ from their neighbours' positions.
func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) + seed
	}
	return p
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// isErr reports whether err is target.
func isErr(err, target error) bool { return errors.Is(err, target) }

func byteAtATime() func() int { return func() int { return 1 } }

// establish completes a handshake between a crypto/tls client dialled to ln
// and a Conn driven here, as a loop would, and returns both ends and the
// server's socket, quiet: nothing is left unread or unconsumed.
func establish(t testing.TB, srv *Server, ln net.Listener, ccfg *tls.Config) (*Conn, *tls.Conn, net.Conn) {
	t.Helper()
	c, tc, nc := establishRaw(t, srv, ln, ccfg)
	t.Cleanup(func() { tc.Close(); nc.Close(); c.Close() })
	return c, tc, nc
}

// establishRaw is establish without the cleanup; the caller closes.
func establishRaw(t testing.TB, srv *Server, ln net.Listener, ccfg *tls.Config) (*Conn, *tls.Conn, net.Conn) {
	t.Helper()
	done := make(chan error, 1)
	var tc *tls.Conn
	go func() {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			done <- err
			return
		}
		tc = tls.Client(nc, ccfg)
		tc.SetDeadline(time.Now().Add(20 * time.Second))
		done <- tc.Handshake()
	}()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	wake := make(chan struct{}, 1)
	c := srv.NewConn(func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	chunks := make(chan []byte, 16)
	go func() {
		defer close(chunks)
		buf := make([]byte, 32<<10)
		for {
			n, err := nc.Read(buf)
			if n > 0 {
				chunks <- bytes.Clone(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	var pending, out []byte
	for !c.Established() {
		select {
		case b, ok := <-chunks:
			if !ok {
				t.Fatalf("socket closed mid-handshake: %v", c.Err())
			}
			pending = append(pending, b...)
		case <-wake:
		}
		var n int
		n, _, out, err = c.Feed(pending, nil, out[:0])
		pending = pending[n:]
		if len(out) > 0 {
			nc.Write(out)
		}
		if err != nil {
			t.Fatalf("server: %v (cause %v)", err, c.Cause())
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("client: %v", err)
	}
	// Stop the reader: it returns on the deadline, and the socket is ours.
	nc.SetReadDeadline(time.Now())
	for b := range chunks {
		pending = append(pending, b...)
	}
	nc.SetReadDeadline(time.Time{})
	if len(pending) != 0 {
		t.Fatalf("%d bytes unconsumed after the handshake", len(pending))
	}
	return c, tc, nc
}

// synthConn returns an established Conn of suite id with random keys, and
// its mirror, for record-layer tests that need no handshake.
func synthConn(id uint16) (c, m *Conn) {
	s := suiteByID(id)
	c = &Conn{suite: s, vers: tls.VersionTLS12}
	if s.tls13 {
		c.vers = tls.VersionTLS13
	}
	for _, h := range []*halfConn{&c.in, &c.out} {
		secret := make([]byte, s.hash().Size())
		rand.Read(secret)
		if s.tls13 {
			if err := h.setSecret(s, secret); err != nil {
				panic(err)
			}
			continue
		}
		key, iv := make([]byte, s.keyLen), make([]byte, s.ivLen)
		rand.Read(key)
		rand.Read(iv)
		if err := h.setKey(s, key, iv); err != nil {
			panic(err)
		}
	}
	return c, mirror(c)
}

// readRecords reads from nc until it holds k whole records and returns them.
func readRecords(t testing.TB, nc net.Conn, k int) []byte {
	t.Helper()
	var b []byte
	buf := make([]byte, 64<<10)
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer nc.SetReadDeadline(time.Time{})
	for {
		off, got := 0, 0
		for len(b)-off >= recordHeaderLen {
			size := recordHeaderLen + (int(b[off+3])<<8 | int(b[off+4]))
			if len(b)-off < size {
				break
			}
			off += size
			got++
		}
		if got >= k {
			return b
		}
		n, err := nc.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			t.Fatalf("read records: %v (have %d of %d)", err, got, k)
		}
	}
}

// clientHello returns the first flight of a crypto/tls client: one record
// holding its ClientHello.
func clientHello(t testing.TB, cfg *tls.Config) []byte {
	a, b := net.Pipe()
	defer a.Close()
	go func() { _ = tls.Client(b, cfg).Handshake(); b.Close() }()
	buf := make([]byte, 4096)
	n, err := a.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf[:n])
}

// cloneConn copies an established Conn's record state, so that the same
// ciphertext can be fed to several copies.
func cloneConn(c *Conn) *Conn {
	d := *c
	d.in.secret = bytes.Clone(c.in.secret)
	d.out.secret = bytes.Clone(c.out.secret)
	return &d
}

// mirror returns the client's side of an established Conn: its write side
// is c's read side and the other way round, so that it writes what c reads
// (records a crypto/tls client could not be made to send) and reads what c
// writes.
func mirror(c *Conn) *Conn {
	m := &Conn{suite: c.suite, vers: c.vers}
	m.in, m.out = c.out, c.in
	m.in.secret = bytes.Clone(c.out.secret)
	m.out.secret = bytes.Clone(c.in.secret)
	return m
}

// record encrypts one record of type typ with content p on m's write side.
func (m *Conn) record(typ byte, p []byte) []byte {
	dst := m.out.beginRecord(m.suite, nil, typ)
	dst = append(dst, p...)
	return m.out.seal(m.suite, dst, 0, typ)
}

func x509MarshalKey(c tls.Certificate) ([]byte, error) {
	return x509.MarshalPKCS8PrivateKey(c.PrivateKey)
}
