package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/golang-jwt/jwt/v5"
)

// pahoConnect connects a Paho v5 client with user and password and returns
// the CONNACK reason code, and the client when accepted.
func pahoConnect(t *testing.T, g *Gateway, id, user, pass string) (byte, *v5) {
	t.Helper()
	nc, err := net.Dial("tcp", g.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	c := &v5{msgs: make(chan *paho.Publish, 100), discon: make(chan *paho.Disconnect, 1)}
	c.Client = paho.NewClient(paho.ClientConfig{ClientID: id, Conn: nc, OnClientError: func(error) {},
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case c.discon <- d:
			default:
			}
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30,
		Username: user, UsernameFlag: user != "", Password: []byte(pass), PasswordFlag: pass != ""})
	if ack == nil {
		nc.Close()
		t.Fatalf("connect %s: no CONNACK: %v", id, err)
	}
	if err != nil || ack.ReasonCode != 0 {
		nc.Close()
		return ack.ReasonCode, nil
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return 0, c
}

// TestProtectJWT: Paho v5 clients with a JWT in the password, checked with
// an HMAC secret and an ECDSA public key: valid tokens are accepted,
// expired and forged ones (signed with another key, or alg "none") are
// refused 0x86, a token for another subject 0x87; the JWT's acl claim
// becomes the client's rules (PUBACK 0x87 outside them, acl_default deny).
func TestProtectJWT(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef-secret")
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	pemFile := writeFile(t, "ec.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	hmacFile := writeFile(t, "hmac.key", string(secret))
	aclFile := writeFile(t, "acl", "user * allow subscribe #\n")
	g := newTestGateway(t, func(c *Config) {
		c.Auth.AllowAnonymous = false
		c.Auth.JWTKeys = []string{hmacFile, pemFile}
		c.Auth.ACLFile = aclFile
		c.Auth.ACLDefault = "deny"
	})
	now := time.Now()
	claims := func(sub string, exp time.Time, acl ...string) jwt.MapClaims {
		m := jwt.MapClaims{"sub": sub, "exp": exp.Unix()}
		if len(acl) > 0 {
			m["acl"] = acl
		}
		return m
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	none := sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims("dev1", now.Add(time.Hour)))
	for _, tc := range []struct {
		name, user, token string
		want              byte
	}{
		{"hmac valid", "dev1", sign(jwt.SigningMethodHS256, secret, claims("dev1", now.Add(time.Hour))), 0},
		{"ecdsa valid", "dev1", sign(jwt.SigningMethodES256, ecKey, claims("dev1", now.Add(time.Hour))), 0},
		{"expired", "dev1", sign(jwt.SigningMethodHS256, secret, claims("dev1", now.Add(-time.Minute))), 0x86},
		{"forged hmac", "dev1", sign(jwt.SigningMethodHS256, []byte("another-secret-of-32-bytes-or-more!!"), claims("dev1", now.Add(time.Hour))), 0x86},
		{"forged ecdsa", "dev1", sign(jwt.SigningMethodES256, otherEC, claims("dev1", now.Add(time.Hour))), 0x86},
		{"alg none", "dev1", none, 0x86},
		{"other subject", "dev2", sign(jwt.SigningMethodHS256, secret, claims("dev1", now.Add(time.Hour))), 0x87},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rc, _ := pahoConnect(t, g, uniq("jwt"), tc.user, tc.token); rc != tc.want {
				t.Fatalf("CONNACK %#x, want %#x", rc, tc.want)
			}
		})
	}
	t.Run("acl claim", func(t *testing.T) {
		tok := sign(jwt.SigningMethodHS256, secret, claims("dev1", now.Add(time.Hour), "user dev1 allow publish devices/%u/#"))
		rc, c := pahoConnect(t, g, uniq("jwtacl"), "dev1", tok)
		if rc != 0 {
			t.Fatalf("CONNACK %#x", rc)
		}
		c.sub(t, "devices/#", 1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if r, err := c.Publish(ctx, &paho.Publish{Topic: "devices/dev1/t", QoS: 1, Payload: []byte("ok")}); err != nil || r.ReasonCode != 0 {
			t.Fatalf("allowed publish: %v %+v", err, r)
		}
		c.expect(t, "devices/dev1/t", "ok")
		r, _ := c.Publish(ctx, &paho.Publish{Topic: "devices/dev2/t", QoS: 1, Payload: []byte("no")})
		if r == nil || r.ReasonCode != 0x87 {
			t.Fatalf("denied publish: PUBACK %+v, want 0x87", r)
		}
		select {
		case m := <-c.msgs:
			t.Fatalf("denied message delivered: %s", m.Topic)
		case <-time.After(100 * time.Millisecond):
		}
	})
}

// TestProtectHTTPBackend: the HTTP backend allows, denies (401, 403),
// caches an allow, and a backend that hangs or answers garbage refuses with
// 0x88 (v3 0x03) within http_timeout, without stalling other clients.
func TestProtectHTTPBackend(t *testing.T) {
	var calls atomic.Int64
	hang := make(chan struct{})
	defer close(hang)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req struct {
			Username string `json:"username"`
			Password string `json:"password"`
			IP       string `json:"ip"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		switch req.Username {
		case "good":
			if req.Password == "pw" && req.IP == "127.0.0.1" {
				_, _ = w.Write([]byte(`{"allow":true}`))
				return
			}
			_, _ = w.Write([]byte(`{"allow":false}`))
		case "forbidden":
			w.WriteHeader(http.StatusForbidden)
		case "garbage":
			_, _ = w.Write([]byte(`<html>oops`))
		case "hang":
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	g := newTestGateway(t, func(c *Config) {
		c.Auth.AllowAnonymous = false
		c.Auth.HTTPURL = srv.URL
		c.Auth.HTTPTimeout = Duration(300 * time.Millisecond)
	})
	for _, tc := range []struct {
		name, user, pass string
		v5, v3           int
	}{
		{"allow", "good", "pw", 0, 0},
		{"deny", "good", "bad", 0x86, 0x04},
		{"401", "stranger", "x", 0x86, 0x04},
		{"403", "forbidden", "x", 0x87, 0x05},
		{"garbage", "garbage", "x", 0x88, 0x03},
		{"hang", "hang", "x", 0x88, 0x03},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			if got := connackOn(t, g, connectAuth(5, uniq("h5"), tc.user, tc.pass, true, true, "")); got != tc.v5 {
				t.Errorf("v5 CONNACK %#x, want %#x", got, tc.v5)
			}
			if got := connackOn(t, g, connectAuth(4, uniq("h3"), tc.user, tc.pass, true, true, "")); got != tc.v3 {
				t.Errorf("v3 CONNACK %#x, want %#x", got, tc.v3)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
	t.Run("hang does not stall others", func(t *testing.T) {
		hung := make(chan int, 1)
		go func() { hung <- connackOn(t, g, connectAuth(5, uniq("hh"), "hang", "x", true, true, "")) }()
		id := uniq("cached")
		if got := connackOn(t, g, connectAuth(5, id, "good", "pw", true, true, "")); got != 0 {
			t.Errorf("first allow: %#x", got)
		}
		before := calls.Load()
		if got := connackOn(t, g, connectAuth(5, id, "good", "pw", true, true, "")); got != 0 {
			t.Errorf("cached allow: %#x", got)
		}
		if calls.Load() != before {
			t.Errorf("a cached allow called the backend")
		}
		if got := <-hung; got != 0x88 {
			t.Errorf("hung: %#x", got)
		}
	})
}

// TestProtectCloseWhileWaiting: a client that closes while its CONNECT
// waits for the backend's verdict is forgotten: the late verdict neither
// panics nor takes a slot of max_connections_per_user, and the loop goes on.
func TestProtectCloseWhileWaiting(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-release
		}
		_, _ = w.Write([]byte(`{"allow":true}`))
	}))
	defer srv.Close()
	g := newTestGateway(t, func(c *Config) {
		c.Auth.AllowAnonymous = false
		c.Auth.HTTPURL = srv.URL
		c.Limits.MaxConnectionsPerUser = 1
	})
	nc, err := net.Dial("tcp", g.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write(connectAuth(5, "gone-1", "u", "p", true, true, "")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the backend called", func() bool { return calls.Load() == 1 })
	nc.Close()
	eventually(t, "the close seen", func() bool { return metric(t, g, "edgegw_connections") == 0 })
	close(release) // the verdict arrives for a connection that is gone
	eventually(t, "the verdict reached", func() bool { return verdicts(g) == 1 })
	if rc, c := pahoConnect(t, g, "gone-2", "u", "p"); rc != 0 || c == nil {
		t.Fatalf("the same user after the late verdict: %#x", rc)
	}
}
