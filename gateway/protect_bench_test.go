package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"edgegw/gateway/auth"
	"edgegw/session"
)

// acl100 is an ACL file of 100 rules: 98 named users' publish rules, a
// deny for $SYS and the rule that lets the benchmark's clients through, last.
func acl100(t testing.TB) string {
	var b strings.Builder
	for i := 0; i < 98; i++ {
		fmt.Fprintf(&b, "user user%d allow publish devices/%d/#\n", i, i)
	}
	b.WriteString("client * deny both $SYS/#\nclient * allow both p2p/#\n")
	return writeFile(t, "acl100", b.String())
}

// BenchmarkPublishACL: one publisher, one subscriber, QoS 0, through the
// gateway without protection and with an ACL file of 100 rules
// (acl_default deny, the allowing rule last); the bound is 10%.
//
//	go test -run '^$' -bench PublishACL -count 6 ./gateway/ | benchstat -
func BenchmarkPublishACL(b *testing.B) {
	for _, v := range []struct {
		name   string
		mutate func(*Config)
	}{
		{"none", nil},
		{"acl100", func(c *Config) { c.Auth.ACLFile, c.Auth.ACLDefault = acl100(b), "deny" }},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			g := benchGateway(b, v.mutate)
			sub := benchDial(b, g, "acl-sub", "p2p/t", 0)
			pub := benchDial(b, g, "acl-pub", "", 0)
			var got atomic.Int64
			go sub.consume(&got, false)
			payload := make([]byte, 64)
			b.SetBytes(int64(len(payload)))
			b.ResetTimer()
			start := time.Now()
			pub.publishN(b, b.N, 0, "p2p/t", payload)
			waitCount(b, &got, int64(b.N))
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// guardLoop is a gateway built (not started) with cfg's protection and a
// loop holding one connection c with its guard compiled for client id.
func guardLoop(t testing.TB, mutate func(*Config)) (*loop, *conn, *guard) {
	cfg := Default()
	cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "127.0.0.1:0", "", ""
	mutate(&cfg)
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.closeProtect)
	l := newLoop(g, nil, 0)
	c := &conn{gc: &fakeGnetConn{addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}}, l: l, state: stConnected}
	gd := l.newGuard(c)
	gd.acl = g.prot.acl.Current().Compile("", "pub-1", nil)
	return l, c, gd
}

// BenchmarkPublishCheck is the per-PUBLISH cost protection adds on the
// loop: the guard lookup, the publish rate buckets and the ACL lookup of a
// topic with 100 rules (the allowing one last).
func BenchmarkPublishCheck(b *testing.B) {
	l, c, _ := guardLoop(b, func(cfg *Config) {
		cfg.Auth.ACLFile, cfg.Auth.ACLDefault = acl100(b), "deny"
		cfg.Limits.PublishRatePerClient = 1e9
	})
	ev := session.Event{Kind: session.EvPublish, Msg: &session.Message{Topic: []byte("p2p/devices/42/temp")}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.now = int64(i)
		gd, ok := c.publishGuard(100)
		if !ok || !c.mayPublish(gd, &ev) {
			b.Fatal("refused")
		}
	}
}

// TestPublishCheckAllocs: the protection checks of an allowed PUBLISH and
// SUBSCRIBE filter allocate nothing.
func TestPublishCheckAllocs(t *testing.T) {
	l, c, _ := guardLoop(t, func(cfg *Config) {
		cfg.Auth.ACLFile, cfg.Auth.ACLDefault = acl100(t), "deny"
		cfg.Limits.PublishRatePerClient = 1e9
		cfg.Limits.PublishBytesPerClient = 1e9
	})
	ev := session.Event{Kind: session.EvPublish, Msg: &session.Message{Topic: []byte("p2p/devices/42/temp")}}
	filter := []byte("p2p/devices/+/temp")
	var now int64
	n := testing.AllocsPerRun(1000, func() {
		now += 1000
		l.now = now
		gd, ok := c.publishGuard(100)
		if !ok || !c.mayPublish(gd, &ev) || !c.maySubscribe(filter) {
			t.Fatal("refused")
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations per check, want 0", n)
	}
}

// BenchmarkConnectAuth: CONNECT to CONNACK (and close) over loopback, 8 at
// a time, authenticated by a bcrypt password file (cost 10), an HS256 JWT,
// and the HTTP backend's cached allow.
//
//	go test -run '^$' -bench ConnectAuth -benchtime 3s ./gateway/
func BenchmarkConnectAuth(b *testing.B) {
	secret := "0123456789abcdef0123456789abcdef-secret"
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "dev", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"allow":true}`)) }))
	defer srv.Close()
	for _, v := range []struct {
		name   string
		pass   string
		fixed  bool // the same client ID every time (the HTTP cache key includes it)
		mutate func(testing.TB, *Config)
	}{
		{"anonymous", "", false, func(testing.TB, *Config) {}},
		{"bcrypt10", "pw", false, func(t testing.TB, c *Config) {
			f := writePasswd(t, nil)
			if err := auth.SetPassword(f, "dev", "pw", 10); err != nil {
				t.Fatal(err)
			}
			c.Auth.PasswordFile = f
		}},
		{"jwt", tok, false, func(t testing.TB, c *Config) { c.Auth.JWTKeys = []string{writeFile(t, "k", secret)} }},
		{"http_cached", "pw", true, func(t testing.TB, c *Config) { c.Auth.HTTPURL = srv.URL }},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			g := benchGateway(b, func(c *Config) { v.mutate(b, c); c.Auth.AllowAnonymous = v.pass == "" })
			addr := g.Addr("tcp")
			pkt := func(i int64) []byte {
				id := "bench-cached"
				if !v.fixed {
					id = fmt.Sprintf("bench-%d", i)
				}
				return connectAuth(4, id, "dev", v.pass, v.pass != "", v.pass != "", "")
			}
			if got := protoConnack(b, addr, nil, pkt(-1)); got != 0 {
				b.Fatalf("CONNACK %#x", got)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if got := protoConnack(b, addr, nil, pkt(i)); got != 0 {
							b.Errorf("CONNACK %#x", got)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "connects/s")
		})
	}
}
