package tlsrec

import (
	"crypto/tls"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestConfigDefaults: the zero Config is valid and gets the documented
// defaults.
func TestConfigDefaults(t *testing.T) {
	var c Config
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := c.withDefaults()
	procs := runtime.GOMAXPROCS(0)
	if d.MinVersion != tls.VersionTLS12 || d.MaxHandshakes != DefaultHandshakesPerCore*procs ||
		d.HandshakeCPU != max(1, procs/2) || d.HandshakeTimeout != DefaultHandshakeTimeout || d.ClientAuth != ClientAuthNone {
		t.Fatalf("%+v", d)
	}
}

// TestConfigValidate names the bad field.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{ClientAuth: 3}, "client auth"},
		{Config{MinVersion: tls.VersionTLS11}, "min version"},
		{Config{MaxHandshakes: -1}, "max tls handshakes"},
		{Config{HandshakeCPU: -1}, "handshake cpu"},
		{Config{HandshakeTimeout: -time.Second}, "handshake timeout"},
	} {
		if err := tc.c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
		if _, err := NewServer(tc.c, Credentials{Certificates: []tls.Certificate{getPKI(t).server}}); err == nil {
			t.Errorf("%+v: NewServer accepted it", tc.c)
		}
	}
	if _, err := NewServer(Config{}, Credentials{}); err == nil || !strings.Contains(err.Error(), "no server certificate") {
		t.Errorf("no certificate: %v", err)
	}
	if _, err := NewServer(Config{ClientAuth: ClientAuthRequire}, Credentials{Certificates: []tls.Certificate{getPKI(t).server}}); err == nil || !strings.Contains(err.Error(), "client CA") {
		t.Errorf("require without CA: %v", err)
	}
}

// TestParseClientAuth reads the configuration spellings and refuses others.
func TestParseClientAuth(t *testing.T) {
	for s, want := range map[string]ClientAuth{"": ClientAuthNone, "none": ClientAuthNone, "request": ClientAuthRequest, "require": ClientAuthRequire} {
		if got, err := ParseClientAuth(s); err != nil || got != want {
			t.Errorf("%q: %v %v", s, got, err)
		}
		if s != "" && want.String() != s {
			t.Errorf("String %q, want %q", want.String(), s)
		}
	}
	if _, err := ParseClientAuth("optional"); err == nil || !strings.Contains(err.Error(), "tls_client_auth") {
		t.Errorf("optional: %v", err)
	}
}

// TestLoadCredentials reads PEM files, and names the file that is wrong.
func TestLoadCredentials(t *testing.T) {
	p := getPKI(t)
	dir := t.TempDir()
	write := func(name, typ string, der ...[]byte) string {
		var b []byte
		for _, d := range der {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cert := write("server.pem", "CERTIFICATE", p.server.Certificate...)
	keyDER, err := x509MarshalKey(p.server)
	if err != nil {
		t.Fatal(err)
	}
	key := write("server.key", "PRIVATE KEY", keyDER)
	ca := write("ca.pem", "CERTIFICATE", p.client.Leaf.Raw) // any certificate parses
	cred, err := LoadCredentials(cert, key, ca)
	if err != nil || len(cred.Certificates) != 1 || cred.ClientCAs == nil {
		t.Fatalf("%+v %v", cred, err)
	}
	if _, err := LoadCredentials(cert, filepath.Join(dir, "missing.key"), ""); err == nil || !strings.Contains(err.Error(), "missing.key") {
		t.Errorf("missing key: %v", err)
	}
	if _, err := LoadCredentials(cert, key, key); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("CA file with a key: %v", err)
	}
}
