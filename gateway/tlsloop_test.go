package gateway

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// testCA is a throwaway certificate authority whose certificates the tests
// write to files (PEM) for the gateway and for mosquitto's clients.
type testCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // the CA certificate, PEM
	pool *x509.CertPool
}

var testSerial atomic.Int64

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(testSerial.Add(1)), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{t: t, dir: t.TempDir(), cert: cert, key: key, pool: x509.NewCertPool()}
	ca.pool.AddCert(cert)
	ca.file = filepath.Join(ca.dir, name+"-ca.pem")
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// issue signs a certificate for cn (a server certificate for 127.0.0.1 when
// server, else a client certificate with the DNS SAN san) and returns its
// certificate and key files.
func (ca *testCA) issue(cn, san string, server bool) (certFile, keyFile string) {
	t := ca.t
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(testSerial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if san != "" {
		tpl.DNSNames = []string{san}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(ca.dir, cn+".pem"), filepath.Join(ca.dir, cn+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kd)
	return certFile, keyFile
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsGateway starts a gateway with a TLS listener whose certificate the CA
// signs; mutate may change the rest.
func tlsGateway(t *testing.T, ca *testCA, logw *lockedLog, mutate func(*Config)) *Gateway {
	t.Helper()
	cert, key := ca.issue("server-"+strconv.FormatInt(testSerial.Load(), 10), "", true)
	m := func(c *Config) {
		c.Listeners.TLS, c.Listeners.TLSCert, c.Listeners.TLSKey = "127.0.0.1:0", cert, key
		if mutate != nil {
			mutate(c)
		}
	}
	if logw == nil {
		return newTestGateway(t, m)
	}
	return newTestGatewayLog(t, m, slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo})))
}

// tlsPaho connects a Paho client over tls:// (or wss:// when scheme says so).
func tlsPaho(t *testing.T, url, id string, cfg *tls.Config) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).
		SetTLSConfig(cfg).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	waitTok(t, c.Connect(), id+" connect")
	return c
}

// TestTLSLoopPaho: Paho clients over TLS 1.2 and TLS 1.3 exchange QoS 0, 1
// and 2 messages with a TCP client through the loop-driven record layer;
// the close is logged with the client's real address (its own port, not a
// relay's), and the handshakes are counted.
func TestTLSLoopPaho(t *testing.T) {
	ca := newTestCA(t, "loop")
	logw := &lockedLog{}
	g := tlsGateway(t, ca, logw, nil)
	for _, v := range []struct {
		name string
		ver  uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			id := "paho-" + strings.ReplaceAll(v.name, ".", "")
			var local atomic.Value
			cfg := &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1", MinVersion: v.ver, MaxVersion: v.ver,
				VerifyConnection: func(cs tls.ConnectionState) error {
					if cs.Version != v.ver {
						return fmt.Errorf("negotiated %x, want %x", cs.Version, v.ver)
					}
					return nil
				}}
			dialer := &net.Dialer{}
			cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tls://" + g.Addr("tls")).SetClientID(id).
				SetTLSConfig(cfg).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).
				SetCustomOpenConnectionFn(func(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
					raw, err := dialer.Dial("tcp", uri.Host)
					if err != nil {
						return nil, err
					}
					local.Store(raw.LocalAddr().String())
					tc := tls.Client(raw, o.TLSConfig)
					return tc, tc.Handshake()
				}))
			waitTok(t, cl.Connect(), "tls connect")
			col, colTCP := newCollector(), newCollector()
			tcp := v3Client(t, g, id+"-tcp", nil)
			waitTok(t, cl.Subscribe(id+"/in", 2, col.handler), "tls subscribe")
			waitTok(t, tcp.Subscribe(id+"/out", 2, colTCP.handler), "tcp subscribe")
			for q := byte(0); q <= 2; q++ {
				waitTok(t, tcp.Publish(id+"/in", q, false, "to tls "+strconv.Itoa(int(q))), "tcp publish")
				col.expect(t, id+"/in", "to tls "+strconv.Itoa(int(q)))
				waitTok(t, cl.Publish(id+"/out", q, false, "from tls "+strconv.Itoa(int(q))), "tls publish")
				colTCP.expect(t, id+"/out", "from tls "+strconv.Itoa(int(q)))
			}
			big := strings.Repeat("x", 100<<10) // several records each way
			waitTok(t, tcp.Publish(id+"/in", 1, false, big), "tcp publish big")
			col.expect(t, id+"/in", big)
			waitTok(t, cl.Publish(id+"/out", 1, false, big), "tls publish big")
			colTCP.expect(t, id+"/out", big)
			cl.Disconnect(100)
			addr := "addr=" + local.Load().(string)
			eventually(t, "close logged with the client's address", func() bool {
				for _, line := range strings.Split(logw.String(), "\n") {
					if strings.Contains(line, "client_id="+id+" ") && strings.Contains(line, addr) {
						return true
					}
				}
				return false
			})
		})
	}
	eventually(t, "handshakes counted", func() bool {
		return metric(t, g, "edgegw_tls_handshakes_completed_total") >= 2
	})
}

// TestTLSLoopWSS: a Paho client over wss:// (MQTT over WebSocket over TLS,
// listeners.wss) exchanges QoS 1 messages with a TCP client: the TLS
// plaintext feeds the WebSocket reader on the loop.
func TestTLSLoopWSS(t *testing.T) {
	ca := newTestCA(t, "wss")
	g := tlsGateway(t, ca, nil, func(c *Config) { c.Listeners.WSS = "127.0.0.1:0" })
	if g.Addr("wss") == "" {
		t.Fatal("no wss address")
	}
	cl := tlsPaho(t, "wss://"+g.Addr("wss")+"/mqtt", "wss-1", &tls.Config{RootCAs: ca.pool})
	defer cl.Disconnect(0)
	col, colTCP := newCollector(), newCollector()
	tcp := v3Client(t, g, "wss-tcp", nil)
	waitTok(t, cl.Subscribe("wss/in", 1, col.handler), "wss subscribe")
	waitTok(t, tcp.Subscribe("wss/out", 1, colTCP.handler), "tcp subscribe")
	big := strings.Repeat("w", 70<<10)
	for _, p := range []string{"to wss", big} {
		waitTok(t, tcp.Publish("wss/in", 1, false, p), "tcp publish")
		col.expect(t, "wss/in", p)
		waitTok(t, cl.Publish("wss/out", 1, false, p), "wss publish")
		colTCP.expect(t, "wss/out", p)
	}
}

// TestTLSLoopClientAuth: mTLS. With tls_client_auth = "require" a client
// certificate signed by tls_client_ca is accepted (its CN logged as
// tls_user, tls_username_from = "cn"), one from another CA and none at all
// are refused and counted; with "request" a client without a certificate
// is accepted too.
func TestTLSLoopClientAuth(t *testing.T) {
	ca, other := newTestCA(t, "mtls"), newTestCA(t, "other")
	goodCert, goodKey := ca.issue("device-7", "device-7.example", false)
	badCert, badKey := other.issue("intruder", "", false)
	// forced sends the certificate whatever CAs the server names (a Go client
	// would otherwise send none that the server's CA did not sign).
	forced := func(c, k string) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		kp, err := tls.LoadX509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &kp, nil }
	}
	for _, mode := range []string{"require", "request"} {
		t.Run(mode, func(t *testing.T) {
			logw := &lockedLog{}
			g := tlsGateway(t, ca, logw, func(c *Config) {
				c.Listeners.TLSClientAuth, c.Listeners.TLSClientCA, c.Listeners.TLSUsernameFrom = mode, ca.file, "cn"
			})
			url := "tls://" + g.Addr("tls")
			ok := tlsPaho(t, url, "mtls-good-"+mode, &tls.Config{RootCAs: ca.pool, GetClientCertificate: forced(goodCert, goodKey)})
			ok.Disconnect(100)
			eventually(t, "tls_user logged", func() bool {
				return strings.Contains(logw.String(), "tls_user=device-7")
			})
			try := func(id string, cert func(*tls.CertificateRequestInfo) (*tls.Certificate, error)) error {
				cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetProtocolVersion(4).
					SetTLSConfig(&tls.Config{RootCAs: ca.pool, GetClientCertificate: cert}).SetAutoReconnect(false).
					SetConnectTimeout(5 * time.Second))
				tok := cl.Connect()
				if !tok.WaitTimeout(10 * time.Second) {
					t.Fatalf("%s: connect neither done nor refused", id)
				}
				if tok.Error() == nil {
					cl.Disconnect(0)
				}
				return tok.Error()
			}
			if err := try("mtls-bad-"+mode, forced(badCert, badKey)); err == nil {
				t.Error("a client certificate from another CA was accepted")
			}
			err := try("mtls-none-"+mode, nil)
			if mode == "require" && err == nil {
				t.Error("a client without a certificate was accepted")
			}
			if mode == "request" && err != nil {
				t.Errorf("a client without a certificate was refused: %v", err)
			}
			want := 1.0
			if mode == "require" {
				want = 2
			}
			eventually(t, "client_cert failures counted", func() bool {
				return metric(t, g, `edgegw_tls_handshakes_failed_total{reason="client_cert"}`) == want
			})
			if !strings.Contains(logw.String(), "reason=tls_error err=\"tlsrec: client certificate refused") {
				t.Errorf("no close line for the refused certificate:\n%s", logw.String())
			}
		})
	}
}

// TestTLSLoopMosquittoClients: mosquitto_pub and mosquitto_sub over TLS 1.2
// and 1.3 with --cafile, and with --cert/--key against tls_client_auth =
// "require"; a certificate from another CA is refused.
func TestTLSLoopMosquittoClients(t *testing.T) {
	pub, err := exec.LookPath("mosquitto_pub")
	if err != nil {
		t.Fatal("mosquitto_pub is part of the test environment:", err)
	}
	sub, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		t.Fatal("mosquitto_sub is part of the test environment:", err)
	}
	ca, other := newTestCA(t, "mosq"), newTestCA(t, "mosq-other")
	goodCert, goodKey := ca.issue("mosq-client", "", false)
	badCert, badKey := other.issue("mosq-intruder", "", false)
	for _, tc := range []struct {
		name string
		auth string
		cert []string // --cert/--key
	}{{"cafile", "none", nil}, {"mtls", "require", []string{"--cert", goodCert, "--key", goodKey}}} {
		t.Run(tc.name, func(t *testing.T) {
			g := tlsGateway(t, ca, nil, func(c *Config) {
				if tc.auth != "none" {
					c.Listeners.TLSClientAuth, c.Listeners.TLSClientCA = tc.auth, ca.file
				}
			})
			host, port, _ := net.SplitHostPort(g.Addr("tls"))
			base := []string{"-h", host, "-p", port, "--cafile", ca.file}
			for _, ver := range []string{"tlsv1.2", "tlsv1.3"} {
				topic := "mosq/" + tc.name + "/" + ver
				args := append(append(append([]string{}, base...), tc.cert...), "--tls-version", ver)
				out, err := exec.Command(pub, append(args, "-q", "1", "-r", "-t", topic, "-m", "hello "+ver)...).CombinedOutput()
				if err != nil {
					t.Fatalf("mosquitto_pub %s: %v\n%s", ver, err, out)
				}
				out, err = exec.Command(sub, append(args, "-q", "1", "-t", topic, "-C", "1", "-W", "10")...).CombinedOutput()
				if err != nil || strings.TrimSpace(string(out)) != "hello "+ver {
					t.Fatalf("mosquitto_sub %s: %v, got %q", ver, err, out)
				}
			}
			if tc.auth == "require" {
				args := append(append([]string{}, base...), "--cert", badCert, "--key", badKey)
				out, err := exec.Command(pub, append(args, "-t", "mosq/bad", "-m", "x")...).CombinedOutput()
				if err == nil {
					t.Fatalf("mosquitto_pub with a certificate from another CA succeeded: %s", out)
				}
			}
		})
	}
}

// TestTLSLoopReload: ReloadTLS (SIGHUP) swaps the server certificate for new
// connections while an established one keeps working: after the files are
// replaced by a certificate of another CA, a new client that trusts only
// the old CA is refused, one that trusts the new CA is served, and the old
// connection still exchanges messages.
func TestTLSLoopReload(t *testing.T) {
	ca1, ca2 := newTestCA(t, "before"), newTestCA(t, "after")
	g := tlsGateway(t, ca1, nil, nil)
	url := "tls://" + g.Addr("tls")
	old := tlsPaho(t, url, "reload-old", &tls.Config{RootCAs: ca1.pool})
	defer old.Disconnect(0)
	col := newCollector()
	waitTok(t, old.Subscribe("reload/t", 1, col.handler), "subscribe")

	cert, key := ca2.issue("server-after", "", true)
	for src, dst := range map[string]string{cert: g.cfg.Listeners.TLSCert, key: g.cfg.Listeners.TLSKey} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.ReloadTLS(); err != nil {
		t.Fatal("ReloadTLS:", err)
	}
	c, err := tls.Dial("tcp", g.Addr("tls"), &tls.Config{RootCAs: ca1.pool})
	if err == nil {
		c.Close()
		t.Fatal("a new connection still got the old certificate")
	}
	fresh := tlsPaho(t, url, "reload-new", &tls.Config{RootCAs: ca2.pool})
	defer fresh.Disconnect(0)
	waitTok(t, fresh.Publish("reload/t", 1, false, "after reload"), "publish")
	col.expect(t, "reload/t", "after reload")
	waitTok(t, old.Publish("reload/t", 1, false, "old still works"), "old publish")
	col.expect(t, "reload/t", "old still works")

	// A broken file keeps the current credentials.
	if err := os.WriteFile(g.cfg.Listeners.TLSKey, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.ReloadTLS(); err == nil {
		t.Fatal("ReloadTLS accepted a broken key")
	}
	again := tlsPaho(t, url, "reload-again", &tls.Config{RootCAs: ca2.pool})
	again.Disconnect(0)
}

// TestTLSLoopGoroutinesFlat: 5,000 TLS clients connect (handshake and MQTT
// CONNECT, 16 at a time) and stay connected: the gateway's goroutines
// (go_goroutines) are back at their baseline once they are all in, and
// during the storm never exceed the handshakes in progress (at most one per
// dialing worker) plus the workers: no goroutine and no relay per client.
func TestTLSLoopGoroutinesFlat(t *testing.T) {
	const clients, workers = 5000, 16
	ca := newTestCA(t, "flat")
	g := tlsGateway(t, ca, nil, nil)
	cfg := &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1", ClientSessionCache: nil}
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()
	var peak atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := int64(runtime.NumGoroutine()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	conns := make([]*tls.Conn, clients)
	var next atomic.Int64
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= clients {
					return
				}
				c, err := tls.Dial("tcp", g.Addr("tls"), cfg)
				if err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					return
				}
				conns[i] = c
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write(connectPacket(4, "flat-"+strconv.Itoa(i), 0, true)); err != nil {
					errs <- fmt.Errorf("client %d CONNECT: %w", i, err)
					return
				}
				var ack [4]byte
				if _, err := io.ReadFull(c, ack[:]); err != nil || ack != [4]byte{0x20, 2, 0, 0} {
					errs <- fmt.Errorf("client %d CONNACK %x: %v", i, ack, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if n := g.m.conns.Load(); n != clients {
		t.Fatalf("edgegw_connections = %d, want %d", n, clients)
	}
	var after int
	eventually(t, "goroutines back at the baseline", func() bool {
		after = runtime.NumGoroutine()
		return after <= base+4
	})
	// The sampler and the workers are the test's; each worker has at most
	// one handshake in progress, which holds one goroutine of the pool.
	if p := int(peak.Load()); p > base+1+2*workers+4 {
		t.Errorf("goroutines peaked at %d during the storm (baseline %d, %d workers)", p, base, workers)
	}
	t.Logf("%d TLS clients connected: goroutines %d (baseline %d, peak %d)", clients, after, base, peak.Load())
}

// TestTLSLoopSplitConnect: the TLS record that carries a CONNECT arrives
// in two reads, split at every byte boundary (TLS 1.2 and 1.3): the
// gateway answers with CONNACK each time.
func TestTLSLoopSplitConnect(t *testing.T) {
	ca := newTestCA(t, "split")
	g := tlsGateway(t, ca, nil, nil)
	for _, ver := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		name := map[uint16]string{tls.VersionTLS12: "TLS1.2", tls.VersionTLS13: "TLS1.3"}[ver]
		t.Run(name, func(t *testing.T) {
			for i := 1; ; i++ {
				raw, err := net.Dial("tcp", g.Addr("tls"))
				if err != nil {
					t.Fatal(err)
				}
				rc := &recordingConn{Conn: raw}
				c := tls.Client(rc, &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1", MinVersion: ver, MaxVersion: ver})
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				if err := c.Handshake(); err != nil {
					t.Fatal(err)
				}
				rc.hold = true
				if _, err := c.Write(connectPacket(4, "split", 0, true)); err != nil {
					t.Fatal(err)
				}
				rec := rc.held.Bytes()
				if i >= len(rec) {
					c.Close()
					return
				}
				if rec[0] != 23 { // application_data
					t.Fatalf("captured record type %d, want 23", rec[0])
				}
				if _, err := raw.Write(rec[:i]); err != nil {
					t.Fatal(err)
				}
				time.Sleep(3 * time.Millisecond) // two reads on the gateway's side
				if _, err := raw.Write(rec[i:]); err != nil {
					t.Fatal(err)
				}
				var ack [4]byte
				if _, err := io.ReadFull(c, ack[:]); err != nil || ack != [4]byte{0x20, 2, 0, 0} {
					t.Fatalf("split at %d of %d: CONNACK %x, %v", i, len(rec), ack, err)
				}
				c.Close()
			}
		})
	}
}

// recordingConn holds back what is written once hold is set.
type recordingConn struct {
	net.Conn
	hold bool
	held bytes.Buffer
}

func (c *recordingConn) Write(p []byte) (int, error) {
	if c.hold {
		return c.held.Write(p)
	}
	return c.Conn.Write(p)
}

// TestTLSLoopNotTLS: plain MQTT and HTTP on the TLS port are refused on
// the loop before any handshake slot is taken: closed, counted as not_tls
// and as tls_error closes, and logged once each with the client's address.
func TestTLSLoopNotTLS(t *testing.T) {
	ca := newTestCA(t, "nottls")
	logw := &lockedLog{}
	g := tlsGateway(t, ca, logw, nil)
	for _, junk := range [][]byte{connectPacket(4, "plain", 0, true), []byte("GET / HTTP/1.1\r\n\r\n")} {
		c, err := net.Dial("tcp", g.Addr("tls"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write(junk); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := io.Copy(io.Discard, c); isTimeout(err) || n != 0 {
			t.Fatalf("%q: not closed (read %d bytes, %v)", junk[:4], n, err)
		}
		addr := "addr=" + c.LocalAddr().String()
		eventually(t, "close logged with the address", func() bool {
			return strings.Contains(logw.String(), addr+" reason=tls_error")
		})
	}
	eventually(t, "counted", func() bool {
		return metric(t, g, `edgegw_tls_handshakes_failed_total{reason="not_tls"}`) == 2 &&
			metric(t, g, `edgegw_connections_closed_total{reason="tls_error"}`) == 2 &&
			metric(t, g, "edgegw_tls_handshakes") == 0
	})
}

// slowConn delays the client's first writes: delays[i] before write i.
type slowConn struct {
	net.Conn
	delays []time.Duration
	n      int
}

func (c *slowConn) Write(p []byte) (int, error) {
	if c.n < len(c.delays) {
		time.Sleep(c.delays[c.n])
	}
	c.n++
	return c.Conn.Write(p)
}

// TestTLSLoopSlowHandshakeConnectTimeout: limits.connect_timeout bounds the
// handshake and then, again, the wait for CONNECT. A client whose handshake
// is still in progress when connect_timeout has passed since it connected
// (ClientHello at 0.7 s, Finished at 1.2 s, connect_timeout 1 s) is not
// closed; from the handshake's end it has connect_timeout for its CONNECT:
// one that sends it at 1.6 s gets CONNACK, one that sends nothing is closed
// about 1 s after its handshake, counted as connect_timeout.
func TestTLSLoopSlowHandshakeConnectTimeout(t *testing.T) {
	ca := newTestCA(t, "slow")
	g := tlsGateway(t, ca, nil, func(c *Config) { c.Limits.ConnectTimeout = Duration(time.Second) })
	var wg sync.WaitGroup
	for _, sendConnect := range []bool{true, false} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			raw, err := net.Dial("tcp", g.Addr("tls"))
			if err != nil {
				t.Error(err)
				return
			}
			defer raw.Close()
			c := tls.Client(&slowConn{Conn: raw, delays: []time.Duration{700 * time.Millisecond, 500 * time.Millisecond}},
				&tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13})
			_ = c.SetDeadline(start.Add(6 * time.Second))
			if err := c.Handshake(); err != nil {
				t.Errorf("slow handshake (connect %v): %v", sendConnect, err)
				return
			}
			done := time.Since(start)
			if sendConnect {
				time.Sleep(time.Until(start.Add(1600 * time.Millisecond)))
				if _, err := c.Write(connectPacket(4, "slow-hs", 0, true)); err != nil {
					t.Errorf("CONNECT at 1.6 s: %v", err)
					return
				}
				var ack [4]byte
				if _, err := io.ReadFull(c, ack[:]); err != nil || ack != [4]byte{0x20, 2, 0, 0} {
					t.Errorf("CONNECT at 1.6 s (handshake done at %v): CONNACK %x, %v", done, ack, err)
				}
				return
			}
			_, err = io.Copy(io.Discard, c)
			el := time.Since(start)
			if isTimeout(err) || el < done+800*time.Millisecond || el > done+2*time.Second {
				t.Errorf("idle after its handshake (done at %v): closed at %v (%v), want about 1 s after the handshake", done, el, err)
			}
		}()
	}
	wg.Wait()
	eventually(t, "connect_timeout counted", func() bool {
		return metric(t, g, `edgegw_connections_closed_total{reason="connect_timeout"}`) == 1
	})
}
