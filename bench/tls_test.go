package bench

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// selfSigned returns a server certificate for 127.0.0.1 and the path of its
// PEM file (it is its own CA).
func selfSigned(t *testing.T, cn string) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), cn+".pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// startMochiTLS runs Mochi with a TLS listener (TCP, or WebSocket when ws)
// on 127.0.0.1; it returns the address and the CA file to trust.
func startMochiTLS(t *testing.T, ws bool) (string, string) {
	t.Helper()
	cert, caFile := selfSigned(t, "broker")
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	var addr string
	var tcp *listeners.TCP
	if ws {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close() // Mochi's WebSocket listener does not report a :0 port
		if err := s.AddListener(listeners.NewWebsocket(listeners.Config{ID: "wss", Address: addr, TLSConfig: cfg})); err != nil {
			t.Fatal(err)
		}
	} else {
		tcp = listeners.NewTCP(listeners.Config{ID: "tls", Address: "127.0.0.1:0", TLSConfig: cfg})
		if err := s.AddListener(tcp); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeMochi(s) })
	if ws {
		waitListening(t, addr)
	} else {
		addr = tcp.Address()
	}
	return addr, caFile
}

// TestTLSAgainstMochi runs p2p QoS 1 over --transport tls (and wss, and tls
// with two worker processes) against
// Mochi's TLS listeners: counts add up exactly and no relay goroutine
// outlives the run.
func TestTLSAgainstMochi(t *testing.T) {
	for _, tc := range []struct {
		transport string
		procs     int
	}{{"tls", 1}, {"wss", 1}, {"tls", 2}} {
		t.Run(tc.transport+"/procs"+strconv.Itoa(tc.procs), func(t *testing.T) {
			addr, ca := startMochiTLS(t, tc.transport == "wss")
			before := runtime.NumGoroutine()
			c := small(addr, ScenarioP2P)
			c.Transport, c.TLSCA, c.QoS, c.Clients, c.Procs = tc.transport, ca, 1, 10, tc.procs
			r := run(t, c)
			checkExact(t, &c, r)
			if r.Sent == 0 || r.Received != r.Sent || r.DeliveryRatio != 1 {
				t.Errorf("sent %d received %d delivery %v, want equal and 1", r.Sent, r.Received, r.DeliveryRatio)
			}
			// Mochi ends its per-client goroutines asynchronously: wait a little.
			after := runtime.NumGoroutine()
			for i := 0; i < 300 && after > before; i++ {
				time.Sleep(10 * time.Millisecond)
				after = runtime.NumGoroutine()
			}
			if after > before {
				buf := make([]byte, 1<<16)
				t.Errorf("goroutines %d before, %d after the run:\n%s", before, after, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// TestTLSWrongCA: a CA that did not sign the broker's certificate fails the
// run before any load with one line naming the TLS problem and exit 1.
func TestTLSWrongCA(t *testing.T) {
	addr, _ := startMochiTLS(t, false)
	_, otherCA := selfSigned(t, "other")
	var out, errb bytes.Buffer
	code := Main([]string{"--broker", addr, "--transport", "tls", "--tls-ca", otherCA,
		"--scenario", "p2p", "--clients", "2", "--qos", "1", "--duration", "1s"}, &out, &errb)
	if code == 0 {
		t.Fatalf("exit 0 with a wrong CA; stdout %q", out.String())
	}
	msg := errb.String()
	if strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "TLS handshake") || !strings.Contains(msg, "certificate") {
		t.Errorf("want one line naming the TLS problem, got %q", msg)
	}
	t.Logf("exit %d: %s", code, msg)
}

// TestTLSFlags: TLS flags are checked and need a TLS transport.
func TestTLSFlags(t *testing.T) {
	c := Defaults()
	c.TLSInsecure = true
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--transport") {
		t.Errorf("--tls-insecure with tcp: %v", err)
	}
	c.Transport = "tls"
	if err := c.Validate(); err != nil {
		t.Errorf("tls --tls-insecure: %v", err)
	}
	c.TLSCA = filepath.Join(t.TempDir(), "missing.pem")
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--tls-ca") {
		t.Errorf("missing CA file: %v", err)
	}
}

// TestTLSBridgeCloses: closing either side of a relay ends both copy
// goroutines, even when the other side would stay open forever.
func TestTLSBridgeCloses(t *testing.T) {
	cert, ca := selfSigned(t, "bridge")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := Defaults()
	cfg.Broker, cfg.Transport, cfg.TLSCA = ln.Addr().String(), "tls", ca
	tc, err := tlsClientConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, serverCloses := range []bool{false, true} {
		before := runtime.NumGoroutine()
		accepted := make(chan net.Conn, 1)
		go func() {
			defer close(accepted)
			if c, err := ln.Accept(); err == nil {
				_ = c.(*tls.Conn).Handshake()
				accepted <- c
			}
		}()
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c, err := tlsHandshake(nc, tc, time.Now().Add(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		srv := <-accepted
		if srv == nil {
			t.Fatal("no server connection")
		}
		var wg sync.WaitGroup
		out, err := tlsBridge(c, &wg)
		if err != nil {
			t.Fatal(err)
		}
		// Bytes flow both ways through the socketpair.
		if _, err := out.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(srv, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("server read %q, %v", buf, err)
		}
		if _, err := srv.Write([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "pong" {
			t.Fatalf("client read %q, %v", buf, err)
		}
		if serverCloses {
			srv.Close()
			_ = out.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := out.Read(buf); err != io.EOF {
				t.Errorf("after the server closed: read %d, %v; want EOF", n, err)
			}
			out.Close()
		} else {
			out.Close() // the server never closes on its own
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("serverCloses=%v: relay goroutines still running", serverCloses)
		}
		srv.Close()
		after := runtime.NumGoroutine()
		for i := 0; i < 200 && after > before; i++ {
			time.Sleep(5 * time.Millisecond)
			after = runtime.NumGoroutine()
		}
		if after > before {
			t.Errorf("serverCloses=%v: goroutines %d before, %d after", serverCloses, before, after)
		}
	}
}
