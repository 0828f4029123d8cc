package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"

	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// signedPair writes a CA-signed server certificate for 127.0.0.1 (and its
// key) to certFile and keyFile, and returns a pool holding its CA.
func signedPair(t *testing.T, serial int64, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: fmt.Sprint("ca-", serial)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(serial + 1), Subject: pkix.Name{CommonName: "edgegw"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

// TestBinaryTLSReloadOnSIGHUP: the binary re-reads its TLS certificate on
// SIGHUP: a connection made before keeps working, a new one gets the new
// certificate (a client that trusts only the old CA is refused), and the
// gateway still drains and exits 0 on SIGTERM.
func TestBinaryTLSReloadOnSIGHUP(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	before := signedPair(t, 100, certFile, keyFile)
	tlsPort, httpPort := freePort(t), freePort(t)
	cfgPath := filepath.Join(dir, "tls.toml")
	writeFile(t, cfgPath, fmt.Sprintf(`[listeners]
tcp = ""
ws = ""
tls = "127.0.0.1:%d"
tls_cert = %q
tls_key = %q

[http]
addr = "127.0.0.1:%d"

[drain]
timeout = "2s"

[tune]
apply = "off"
`, tlsPort, certFile, keyFile, httpPort))
	cmd, stderr, exited := startBinary(t, bin, cfgPath, httpPort)
	addr := fmt.Sprintf("127.0.0.1:%d", tlsPort)

	// An MQTT client connected before the swap.
	old, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: before})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	_ = old.SetDeadline(time.Now().Add(10 * time.Second))
	exchange := func(what string, pkt, want []byte) {
		t.Helper()
		if _, err := old.Write(pkt); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got := make([]byte, len(want))
		if _, err := io.ReadFull(old, got); err != nil || string(got) != string(want) {
			t.Fatalf("%s: got %x, %v; want %x", what, got, err, want)
		}
	}
	connect := []byte{0x10, 16, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 4, 'o', 'l', 'd', '1'}
	exchange("CONNECT", connect, []byte{0x20, 2, 0, 0})

	after := signedPair(t, 200, certFile, keyFile)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: after})
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection with the new certificate after SIGHUP: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: before}); err == nil {
		c.Close()
		t.Fatal("a new connection still got the old certificate")
	}
	exchange("PINGREQ after the reload", []byte{0xC0, 0}, []byte{0xD0, 0})
	if !strings.Contains(stderr.String(), "TLS credentials reloaded") {
		t.Error("the reload is not logged")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v (want exit status 0)", err)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("still running after SIGTERM")
	}
}
