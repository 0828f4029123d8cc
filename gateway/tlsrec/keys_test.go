package tlsrec

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"net"
	"sync"
	"testing"
)

// TestExpandLabel: the TLS 1.3 traffic key and IV of RFC 8448 section 3
// ({server} derive write traffic keys for handshake data).
func TestExpandLabel(t *testing.T) {
	secret, _ := hex.DecodeString("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
	key, err := expandLabel(sha256.New, secret, "key", 16)
	if err != nil || hex.EncodeToString(key) != "3fce516009c21727d0f2e4e86ee403bc" {
		t.Fatalf("key %x %v", key, err)
	}
	iv, err := expandLabel(sha256.New, secret, "iv", 12)
	if err != nil || hex.EncodeToString(iv) != "5d313eb2671276ee13000b30" {
		t.Fatalf("iv %x %v", iv, err)
	}
}

// TestPRF12: prf12 agrees with crypto/tls's TLS 1.2 keying material
// exporter (RFC 5705: PRF(master, label, client_random + server_random)),
// over a real handshake whose master secret the key log gives.
func TestPRF12(t *testing.T) {
	for _, id := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384} {
		t.Run(tls.CipherSuiteName(id), func(t *testing.T) {
			h := &handshake{}
			var lines bytes.Buffer
			scfg := &tls.Config{Certificates: []tls.Certificate{getPKI(t).server}, KeyLogWriter: &lines}
			ccfg := clientConfig(t, tls.VersionTLS12)
			ccfg.CipherSuites = []uint16{id}
			a, b := net.Pipe()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); tls.Client(b, ccfg).Handshake() }()
			sc := tls.Server(&tapConn{Conn: a, tap: h.inspect}, scfg)
			if err := sc.Handshake(); err != nil {
				t.Fatal(err)
			}
			if _, err := (*keyLog)(h).Write(lines.Bytes()); err != nil || h.master == nil {
				t.Fatalf("key log %q: %v", lines.String(), err)
			}
			cs := sc.ConnectionState()
			want, err := cs.ExportKeyingMaterial("EXPORTER-edgegw", nil, 40)
			if err != nil {
				t.Fatal(err)
			}
			got := prf12(suiteByID(id).hash, h.master, "EXPORTER-edgegw", append(h.cr[:], h.serverRandom...), 40)
			if !bytes.Equal(got, want) {
				t.Fatalf("prf12 %x, crypto/tls %x", got, want)
			}
			a.Close()
			wg.Wait()
		})
	}
}

// tapConn shows every write to tap before sending it.
type tapConn struct {
	net.Conn
	tap func([]byte)
}

func (c *tapConn) Write(p []byte) (int, error) {
	c.tap(p)
	return c.Conn.Write(p)
}
