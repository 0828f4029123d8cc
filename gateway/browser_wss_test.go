package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// browserCert is a throwaway server certificate for 127.0.0.1 that the test
// writes to files for the gateway's wss listener.
type browserCert struct {
	certFile, keyFile string
	spki              string // base64 SHA-256 of the certificate's SubjectPublicKeyInfo
}

// chromiumFlags make Chromium trust the certificate by its public key (a
// self-signed certificate no CA vouches for): --ignore-certificate-errors-spki-list
// takes effect with a --user-data-dir, which runBrowserMQTTJS always gives.
func (c *browserCert) chromiumFlags() []string {
	return []string{"--ignore-certificate-errors-spki-list=" + c.spki}
}

func newBrowserCert(t *testing.T) *browserCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kd, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	c := &browserCert{certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem")}
	if err := os.WriteFile(c.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	c.spki = base64.StdEncoding.EncodeToString(sum[:])
	return c
}

// TestBrowserMQTTJSOverWSS runs the MQTT.js page of TestBrowserMQTTJS in
// headless Chromium over wss:// (listeners.wss: WebSocket over the loops'
// TLS) with every check of the ws run. Chromium trusts the test's
// self-signed certificate through --ignore-certificate-errors-spki-list
// with the certificate's SPKI hash; nothing is installed in a trust store.
func TestBrowserMQTTJSOverWSS(t *testing.T) {
	runBrowserMQTTJS(t, newBrowserCert(t))
}
