package tlsrec

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHandshakeSuites: every suite the server offers works with a real
// client, both ways: the six TLS 1.2 AEAD suites with crypto/tls clients
// (ECDSA and RSA certificates), the three TLS 1.3 suites with openssl
// s_client (crypto/tls does not let a client choose a TLS 1.3 suite).
func TestHandshakeSuites(t *testing.T) {
	p := getPKI(t)
	srv, err := NewServer(Config{}, Credentials{Certificates: []tls.Certificate{p.server, p.serverRSA}})
	if err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	msg := strings.Repeat("mqtt over tls 1.3 ", 2000) + "\n"
	results := serve(t, srv, ln, loopOpts{echo: true, closeAfter: len(msg)})
	for _, id := range tls12Suites {
		t.Run(tls.CipherSuiteName(id), func(t *testing.T) {
			cfg := clientConfig(t, tls.VersionTLS12)
			cfg.CipherSuites = []uint16{id}
			tc := dial(t, ln, cfg)
			exchange(t, tc, pattern(len(msg), 3))
			tc.Close()
			if res := <-results; res.err != errServerDone || res.suite != id || res.vers != tls.VersionTLS12 {
				t.Fatalf("end %v suite %x version %x", res.err, res.suite, res.vers)
			}
		})
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl not installed (.ci/run installs it)")
		}
		t.Skip("openssl not installed: TLS 1.3 AES-256-GCM and ChaCha20-Poly1305 untested")
	}
	for _, name := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
		t.Run(name, func(t *testing.T) {
			// -quiet keeps s_client reading after its stdin ends, until the
			// server's close_notify.
			cmd := exec.Command("openssl", "s_client", "-connect", ln.Addr().String(), "-tls1_3",
				"-ciphersuites", name, "-quiet")
			cmd.Stdin = strings.NewReader(msg)
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			done := make(chan error, 1)
			go func() { done <- cmd.Run() }()
			var res loopResult
			select {
			case res = <-results:
			case <-time.After(20 * time.Second):
				t.Fatal("no result from the loop")
			}
			<-done
			if string(res.plain) != msg {
				t.Fatalf("server received %d bytes, want %d (end %v, cause %v)", len(res.plain), len(msg), res.err, res.cause)
			}
			if tls.CipherSuiteName(res.suite) != name || res.vers != tls.VersionTLS13 {
				t.Fatalf("suite %s version %x", tls.CipherSuiteName(res.suite), res.vers)
			}
			if stdout.String() != msg {
				t.Fatalf("openssl read back %d bytes", stdout.Len())
			}
		})
	}
}

// TestHandshakeResumption: a client with a session cache resumes with the
// ticket of its first connection (TLS 1.2 and 1.3), and a Reload retires
// the tickets issued before it.
func TestHandshakeResumption(t *testing.T) {
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(vers), func(t *testing.T) {
			srv := newServer(t, Config{})
			ln := listen(t)
			results := serve(t, srv, ln, loopOpts{echo: true})
			cfg := clientConfig(t, vers)
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			for i, want := range []bool{false, true, true, false} {
				if i == 3 {
					if err := srv.Reload(Credentials{Certificates: []tls.Certificate{getPKI(t).server}}); err != nil {
						t.Fatal(err)
					}
				}
				tc := dial(t, ln, cfg)
				exchange(t, tc, []byte("ping"))
				if tc.ConnectionState().DidResume != want {
					t.Fatalf("connection %d: client resumed %v, want %v", i, !want, want)
				}
				tc.Close()
				if res := <-results; res.resumed != want || res.err != ErrPeerClosed {
					t.Fatalf("connection %d: server resumed %v end %v", i, res.resumed, res.err)
				}
			}
			if st := srv.Stats(); st.Resumed != 2 || st.Completed != 4 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestHandshakeClientAuth: mTLS with client_auth none, request and require,
// with no client certificate, one from the client CA and one from another
// CA: accepted with the certificate's CN and SANs, or refused with
// ErrClientCert and counted.
func TestHandshakeClientAuth(t *testing.T) {
	p := getPKI(t)
	certs := map[string][]tls.Certificate{"none": nil, "good": {p.client}, "wrong-ca": {p.wrongClient}}
	cases := []struct {
		auth   ClientAuth
		cert   string
		accept bool
	}{
		{ClientAuthNone, "none", true},
		{ClientAuthNone, "good", true}, // not asked for: not sent
		{ClientAuthRequest, "none", true},
		{ClientAuthRequest, "good", true},
		{ClientAuthRequest, "wrong-ca", false},
		{ClientAuthRequire, "none", false},
		{ClientAuthRequire, "good", true},
		{ClientAuthRequire, "wrong-ca", false},
	}
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tc := range cases {
			t.Run(tls.VersionName(vers)+"/"+tc.auth.String()+"/"+tc.cert, func(t *testing.T) {
				srv := newServer(t, Config{ClientAuth: tc.auth})
				ln := listen(t)
				results := serve(t, srv, ln, loopOpts{echo: true})
				cfg := clientConfig(t, vers)
				// Sent whenever asked for, even when the server's CA list
				// does not name its issuer (crypto/tls would not send it).
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					if c := certs[tc.cert]; c != nil {
						return &c[0], nil
					}
					return &tls.Certificate{}, nil
				}
				nc, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				cl := tls.Client(nc, cfg)
				cl.SetDeadline(time.Now().Add(10 * time.Second))
				// In TLS 1.3 the client learns of a refusal at its first read.
				err = cl.Handshake()
				if err == nil {
					_, err = cl.Write([]byte("hello"))
				}
				if err == nil {
					_, err = io.ReadFull(cl, make([]byte, 5))
				}
				cl.Close()
				res := <-results
				st := srv.Stats()
				if !tc.accept {
					// The client may close before the loop has the handshake's
					// verdict (it comes from the pool): the loop then ends on
					// the close, and the refusal is still counted.
					waitFor(5*time.Second, func() bool { return srv.Stats().ClientCert == 1 })
					st = srv.Stats()
					if err == nil || res.err != ErrClientCert && res.err != nil && res.err != ErrPeerClosed || st.ClientCert != 1 {
						t.Fatalf("client err %v, server end %v (cause %v), stats %+v", err, res.err, res.cause, st)
					}
					return
				}
				if err != nil || res.err != ErrPeerClosed || st.Completed != 1 {
					t.Fatalf("client err %v, server end %v (cause %v)", err, res.err, res.cause)
				}
				if tc.cert == "good" && tc.auth != ClientAuthNone {
					want := []string{"device-1.example", "ops@example.com", "spiffe://edgegw/device-1"}
					if res.peer == nil || res.peer.CommonName != "device-1" || strings.Join(res.peer.SANs, ",") != strings.Join(want, ",") {
						t.Fatalf("peer %+v", res.peer)
					}
				} else if res.peer != nil {
					t.Fatalf("peer %+v without a client certificate", res.peer)
				}
			})
		}
	}
}

// TestHandshakeNotTLS: bytes that are not a TLS ClientHello are refused on
// the loop, with no slot taken and nothing sent; a handshake record with a
// garbage body is refused by crypto/tls with an alert.
func TestHandshakeNotTLS(t *testing.T) {
	cases := []struct {
		name  string
		in    []byte
		want  *Error
		alert bool
	}{
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ErrNotTLS, false},
		{"mqtt-connect", []byte{0x10, 0x10, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 4, 'd', 'e', 'v', '1'}, ErrNotTLS, false},
		{"sslv2-hello", []byte{0x80, 0x2e, 0x01, 0x00, 0x02}, ErrNotTLS, false},
		{"version-2", []byte{0x16, 0x02, 0x00, 0x00, 0x04, 1, 2, 3, 4}, ErrNotTLS, false},
		{"garbage-hello", append([]byte{0x16, 0x03, 0x01, 0x00, 0x20}, pattern(32, 9)...), ErrHandshake, true},
		{"oversized-record", []byte{0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3}, ErrHandshake, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, Config{})
			ln := listen(t)
			results := serve(t, srv, ln, loopOpts{})
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.Write(tc.in)
			res := <-results
			if res.err != tc.want {
				t.Fatalf("end %v (cause %v), want %v", res.err, res.cause, tc.want)
			}
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, _ := io.ReadAll(nc)
			if tc.alert != (len(got) == 7 && got[0] == typeAlert && got[5] == alertFatal) {
				t.Fatalf("client received % x", got)
			}
			st := srv.Stats()
			if tc.want == ErrNotTLS && (st.NotTLS != 1 || st.Started != 0) || tc.want == ErrHandshake && st.Failed != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestHandshakeTruncated: a client that sends part of its ClientHello and
// closes takes no slot; the loop keeps the partial record.
func TestHandshakeTruncated(t *testing.T) {
	srv := newServer(t, Config{})
	ln := listen(t)
	results := serve(t, srv, ln, loopOpts{})
	hello := clientHello(t, clientConfig(t, 0))
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc.Write(hello[:len(hello)/2])
	time.Sleep(50 * time.Millisecond)
	nc.Close()
	res := <-results
	if res.err != nil || res.pending != len(hello)/2 {
		t.Fatalf("end %v, %d bytes pending", res.err, res.pending)
	}
	if st := srv.Stats(); st.Started != 0 || st.InProgress != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestHandshakeTimeout: a client that sends its ClientHello and then
// nothing is ended with ErrHandshakeTimeout after Config.HandshakeTimeout,
// counted, its slot and goroutine freed.
func TestHandshakeTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := newServer(t, Config{HandshakeTimeout: timeout})
	ln := listen(t)
	results := serve(t, srv, ln, loopOpts{})
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	nc.Write(clientHello(t, clientConfig(t, 0)))
	var res loopResult
	select {
	case res = <-results:
	case <-time.After(10 * time.Second):
		t.Fatal("the handshake never timed out")
	}
	if took := time.Since(start); res.err != ErrHandshakeTimeout || took < timeout {
		t.Fatalf("end %v after %v", res.err, took)
	}
	if !errors.Is(res.cause, errTimeout) {
		t.Fatalf("cause %v", res.cause)
	}
	// The server answered the ClientHello, then closed.
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(nc)
	if err != nil || len(got) < 100 || got[0] != typeHandshake {
		t.Fatalf("client received %d bytes, err %v", len(got), err)
	}
	if st := srv.Stats(); st.Timeout != 1 || st.InProgress != 0 || st.Started != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestHandshakeStorm: 2,000 clients send a ClientHello at once and never
// go on. At most MaxHandshakes take a slot (and a goroutine); the others are
// refused at once with an alert and counted. When the clients leave, every
// handshake is counted abandoned and the goroutine count returns to where it
// was.
func TestHandshakeStorm(t *testing.T) {
	const clients, maxHS = 2000, 200
	srv := newServer(t, Config{MaxHandshakes: maxHS})
	hello := clientHello(t, clientConfig(t, 0))
	runtime.GC()
	baseline := runtime.NumGoroutine()
	ln := listen(t)
	results := serve(t, srv, ln, loopOpts{})
	conns := make([]net.Conn, 0, clients)
	for range clients {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
		nc.Write(hello)
	}
	if !waitFor(30*time.Second, func() bool { st := srv.Stats(); return st.Started+st.Busy == clients }) {
		t.Fatalf("stats %+v", srv.Stats())
	}
	st := srv.Stats()
	if st.Started != maxHS || st.InProgress != maxHS || st.Busy != clients-maxHS {
		t.Fatalf("stats %+v", st)
	}
	busy := 0
	for range clients - maxHS {
		if res := <-results; res.err == ErrBusy {
			busy++
		}
	}
	if busy != clients-maxHS {
		t.Fatalf("%d loops ended busy", busy)
	}
	// A refused client reads the alert, then EOF.
	refused := 0
	for _, nc := range conns {
		nc.SetReadDeadline(time.Now().Add(time.Millisecond))
		b := make([]byte, 16)
		if n, _ := io.ReadFull(nc, b[:7]); n == 7 && bytes.Equal(b[:7], []byte{typeAlert, 3, 1, 0, 2, alertFatal, byte(AlertInternalError)}) {
			refused++
		}
	}
	if refused < (clients-maxHS)/2 {
		t.Fatalf("only %d clients read the busy alert", refused)
	}
	for _, nc := range conns {
		nc.Close()
	}
	for range maxHS {
		<-results
	}
	if !waitFor(30*time.Second, func() bool { return srv.Stats().InProgress == 0 }) {
		t.Fatalf("stats %+v", srv.Stats())
	}
	ln.Close()
	if !waitFor(10*time.Second, func() bool { return runtime.NumGoroutine() <= baseline }) {
		t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), baseline)
	}
	if st := srv.Stats(); st.Abandoned != maxHS {
		t.Fatalf("stats %+v", st)
	}
}

// TestHandshakeLeftover: a TLS 1.3 client's Finished and first data in one
// segment: crypto/tls reads only up to the Finished, and the data record is
// decrypted by the record layer in the Feed that ends the handshake.
func TestHandshakeLeftover(t *testing.T) {
	srv := newServer(t, Config{})
	ln := listen(t)
	results := serve(t, srv, ln, loopOpts{echo: true})
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	hc := &holdConn{Conn: nc}
	tc := tls.Client(hc, clientConfig(t, tls.VersionTLS13))
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	hc.release = true // the next write sends the held Finished with it
	exchange(t, tc, []byte("CONNECT"))
	tc.Close()
	res := <-results
	if string(res.plain) != "CONNECT" || res.err != ErrPeerClosed || hc.held == 0 {
		t.Fatalf("plain %q end %v, held %d writes", res.plain, res.err, hc.held)
	}
}

// holdConn sends its first write (the ClientHello) and holds the next ones
// until release is set, then sends them with the next write, in one segment.
type holdConn struct {
	net.Conn
	mu      sync.Mutex
	writes  int
	held    int
	buf     []byte
	release bool
}

func (h *holdConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes++
	if h.writes > 1 && !h.release {
		h.held++
		h.buf = append(h.buf, p...)
		return len(p), nil
	}
	_, err := h.Conn.Write(append(h.buf, p...))
	h.buf = nil
	return len(p), err
}

// TestReload: after Reload, a new connection gets the new certificate while
// a connection made before keeps working.
func TestReload(t *testing.T) {
	p := getPKI(t)
	srv := newServer(t, Config{})
	ln := listen(t)
	results := serve(t, srv, ln, loopOpts{echo: true})
	old := dial(t, ln, clientConfig(t, 0))
	exchange(t, old, []byte("before"))
	if err := srv.Reload(Credentials{Certificates: []tls.Certificate{p.serverRSA}}); err != nil {
		t.Fatal(err)
	}
	fresh := dial(t, ln, clientConfig(t, 0))
	exchange(t, fresh, []byte("new"))
	if got := fresh.ConnectionState().PeerCertificates[0].PublicKeyAlgorithm.String(); got != "RSA" {
		t.Fatalf("new connection got a %s certificate", got)
	}
	if got := old.ConnectionState().PeerCertificates[0].PublicKeyAlgorithm.String(); got != "ECDSA" {
		t.Fatalf("old connection has a %s certificate", got)
	}
	exchange(t, old, []byte("after"))
	old.Close()
	fresh.Close()
	<-results
	<-results
	if err := srv.Reload(Credentials{}); err == nil {
		t.Fatal("Reload accepted no certificate")
	}
}

// TestHandshakeHelloRetry: a TLS 1.3 client whose key share the server
// does not take gets a HelloRetryRequest (and a compatibility
// change_cipher_spec) before the real ServerHello; the adapter still finds
// the suite and the keys.
func TestHandshakeHelloRetry(t *testing.T) {
	srv := newServer(t, Config{})
	g := srv.gen.Load()
	g.tmpl.CurvePreferences = []tls.CurveID{tls.X25519}
	g.root.CurvePreferences = g.tmpl.CurvePreferences
	ln := listen(t)
	results := serve(t, srv, ln, loopOpts{echo: true})
	cfg := clientConfig(t, tls.VersionTLS13)
	cfg.CurvePreferences = []tls.CurveID{tls.CurveP256, tls.X25519} // a P-256 share only
	tc := dial(t, ln, cfg)
	exchange(t, tc, []byte("after a retry"))
	if tc.ConnectionState().CurveID != tls.X25519 {
		t.Fatalf("curve %v: no HelloRetryRequest", tc.ConnectionState().CurveID)
	}
	tc.Close()
	if res := <-results; res.err != ErrPeerClosed {
		t.Fatalf("end %v (cause %v)", res.err, res.cause)
	}
}
