package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// selfSigned writes a throwaway certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "edgegw-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestTLS: a paho client over tls:// exchanges QoS 1 messages with a TCP
// client through the TLS terminator.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.TLS, c.Listeners.TLSCert, c.Listeners.TLSKey = "127.0.0.1:0", certFile, keyFile
	})
	if g.Addr("tls") == "" {
		t.Fatal("no tls address")
	}
	col, colTCP := newCollector(), newCollector()
	tc := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tls://" + g.Addr("tls")).SetClientID("tls-1").
		SetTLSConfig(&tls.Config{RootCAs: pool}).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	waitTok(t, tc.Connect(), "tls connect")
	defer tc.Disconnect(0)
	tcp := v3Client(t, g, "tcp-2", nil)
	waitTok(t, tc.Subscribe("tls/in", 1, col.handler), "tls subscribe")
	waitTok(t, tcp.Subscribe("tls/out", 1, colTCP.handler), "tcp subscribe")
	waitTok(t, tcp.Publish("tls/in", 1, false, "to tls"), "tcp publish")
	col.expect(t, "tls/in", "to tls")
	waitTok(t, tc.Publish("tls/out", 1, false, "from tls"), "tls publish")
	colTCP.expect(t, "tls/out", "from tls")
}

// TestTLSBadCertificate: Start reports an unreadable certificate.
func TestTLSBadCertificate(t *testing.T) {
	cfg := Default()
	cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "127.0.0.1:0", "", ""
	cfg.Listeners.TLS, cfg.Listeners.TLSCert, cfg.Listeners.TLSKey = "127.0.0.1:0", "/nonexistent.pem", "/nonexistent.key"
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err == nil {
		t.Fatal("Start accepted a missing certificate")
	}
}

// TestTLSKeyExchange: listeners.tls_key_exchange is what the TLS listener
// negotiates. A Go client offers X25519MLKEM768 and X25519 key shares; the
// default takes the hybrid, ["X25519"] takes X25519, and ["P-384"] makes the
// client retry with a P-384 share (HelloRetryRequest). A client that offers
// only groups outside the list is refused.
func TestTLSKeyExchange(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	for _, tc := range []struct {
		groups []string
		client []tls.CurveID
		want   tls.CurveID // 0: the handshake fails
	}{
		{nil, nil, tls.X25519MLKEM768},
		{[]string{"X25519"}, nil, tls.X25519},
		{[]string{"P-384"}, nil, tls.CurveP384},
		{[]string{"X25519"}, []tls.CurveID{tls.CurveP256}, 0},
	} {
		g := newTestGateway(t, func(c *Config) {
			c.Listeners.TLS, c.Listeners.TLSCert, c.Listeners.TLSKey = "127.0.0.1:0", certFile, keyFile
			if tc.groups != nil {
				c.Listeners.TLSKeyExchange = tc.groups
			}
		})
		nc, err := net.DialTimeout("tcp", g.Addr("tls"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
		cc := tls.Client(nc, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", CurvePreferences: tc.client})
		err = cc.Handshake()
		got := cc.ConnectionState().CurveID
		nc.Close()
		switch {
		case tc.want == 0 && err == nil:
			t.Errorf("groups %v, client %v: handshake succeeded with %v, want a refusal", tc.groups, tc.client, got)
		case tc.want != 0 && err != nil:
			t.Errorf("groups %v: handshake: %v", tc.groups, err)
		case tc.want != 0 && got != tc.want:
			t.Errorf("groups %v: negotiated %v, want %v", tc.groups, got, tc.want)
		}
	}
}
