package gateway

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"
	"time"
)

// TestProtectTLSIdentity: with listeners.tls_username_from = "cn", a client
// whose certificate verified is admitted by it, without a user name or
// password, although anonymous clients are refused; the certificate's CN is
// its user name for the ACL (%u) and for max_connections_per_user. A TLS
// client without a certificate (tls_client_auth = "request") goes through
// the password file as any other: refused without credentials (v5 0x87).
func TestProtectTLSIdentity(t *testing.T) {
	ca := newTestCA(t, "tlsid")
	devCert, devKey := ca.issue("device-7", "device-7.example", false)
	kp, err := tls.LoadX509KeyPair(devCert, devKey)
	if err != nil {
		t.Fatal(err)
	}
	g := tlsGateway(t, ca, nil, func(c *Config) {
		c.Listeners.TLSClientAuth, c.Listeners.TLSClientCA, c.Listeners.TLSUsernameFrom = "request", ca.file, "cn"
		c.Auth.AllowAnonymous = false
		c.Auth.PasswordFile = writePasswd(t, map[string]string{"alice": "secret"})
		c.Auth.ACLFile = writeFile(t, "acl", "user * allow publish devices/%u/#\nuser alice allow subscribe devices/#\n")
		c.Auth.ACLDefault = "deny"
		c.Limits.MaxConnectionsPerUser = 1
	})
	dial := func(withCert bool) (*rawConn, func()) {
		cfg := &tls.Config{RootCAs: ca.pool, ServerName: "127.0.0.1"}
		if withCert {
			cfg.Certificates = []tls.Certificate{kp}
		}
		nc, err := net.DialTimeout("tcp", g.Addr("tls"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		tc := tls.Client(nc, cfg)
		return &rawConn{Conn: tc, r: bufio.NewReader(tc)}, func() { tc.Close() }
	}
	connack := func(c *rawConn, pkt []byte) int {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		h, body, err := c.readPacket(10 * time.Second)
		if err != nil || h != 0x20 || len(body) < 2 {
			t.Fatalf("CONNACK: %#x % x %v", h, body, err)
		}
		return int(body[1])
	}

	// alice subscribes over TCP with her password.
	_, alice := pahoConnect(t, g, "alice-sub", "alice", "secret")
	alice.sub(t, "devices/#", 1)

	dev, closeDev := dial(true)
	defer closeDev()
	if rc := connack(dev, connectPacket(5, "dev-7", 30, true)); rc != 0 {
		t.Fatalf("a client with a verified certificate and no credentials: CONNACK %#x, want 0", rc)
	}
	if v := metric(t, g, `edgegw_auth_results_total{cause="certificate_loop"}`); v != 1 {
		t.Errorf(`edgegw_auth_results_total{cause="certificate_loop"} = %v, want 1`, v)
	}
	// %u is the certificate's CN: its own tree is allowed, another is not.
	if rc := publishRawV5(t, dev, "devices/device-7/t", 1); rc != 0 {
		t.Errorf("PUBLISH to devices/device-7/t: PUBACK %#x, want 0", rc)
	}
	if rc := publishRawV5(t, dev, "devices/other/t", 2); rc != 0x87 {
		t.Errorf("PUBLISH to devices/other/t: PUBACK %#x, want 0x87", rc)
	}
	alice.expect(t, "devices/device-7/t", "m")
	// The CN is the user name for max_connections_per_user (1).
	dev2, closeDev2 := dial(true)
	defer closeDev2()
	if rc := connack(dev2, connectPacket(5, "dev-7b", 30, true)); rc != 0x97 {
		t.Errorf("a second connection with the same certificate identity: CONNACK %#x, want 0x97", rc)
	}
	// Without a certificate a TLS client needs credentials.
	anon, closeAnon := dial(false)
	defer closeAnon()
	if rc := connack(anon, connectPacket(5, "no-cert", 30, true)); rc != 0x87 {
		t.Errorf("a TLS client without a certificate or credentials: CONNACK %#x, want 0x87", rc)
	}
}

// publishRawV5 sends a v5 QoS 1 PUBLISH (payload "m") with packet id on c
// and returns its PUBACK's reason code.
func publishRawV5(t *testing.T, c *rawConn, topic string, id uint16) int {
	t.Helper()
	body := append([]byte{byte(len(topic) >> 8), byte(len(topic))}, topic...)
	body = append(body, byte(id>>8), byte(id), 0, 'm')
	if _, err := c.Write(frame(0x32, body)); err != nil {
		t.Fatal(err)
	}
	h, ack, err := c.readPacket(10 * time.Second)
	if err != nil || h != 0x40 || len(ack) < 2 || int(ack[0])<<8|int(ack[1]) != int(id) {
		t.Fatalf("PUBACK for %s: %#x % x %v", topic, h, ack, err)
	}
	if len(ack) == 2 {
		return 0
	}
	return int(ack[2])
}
