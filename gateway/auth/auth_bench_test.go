package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

// BenchmarkVerifyBcrypt10: password file, bcrypt cost 10 (the default), on
// all cores.
func BenchmarkVerifyBcrypt10(b *testing.B) {
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), 10)
	a := newAuth(b, Config{PasswordFile: writeFile(b, b.TempDir(), "pw", "alice:"+string(h)+"\n")})
	req := userReq("alice", "pw")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !a.Verify(context.Background(), req).Allowed {
				b.Error("refused")
			}
		}
	})
	reportRate(b)
}

func benchJWT(b *testing.B, m jwt.SigningMethod, sk any, keyFile string) {
	a := newAuth(b, Config{JWTKeys: []string{keyFile}})
	req := userReq("dev", sign(b, m, sk, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix(), "acl": []any{"user %u allow publish d/%u/#"}}))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !a.Verify(context.Background(), req).Allowed {
				b.Error("refused")
			}
		}
	})
	reportRate(b)
}

func BenchmarkVerifyJWT(b *testing.B) {
	testKeys(b)
	dir := b.TempDir()
	b.Run("HS256", func(b *testing.B) {
		benchJWT(b, jwt.SigningMethodHS256, hmacSecret, writeFile(b, dir, "h", string(hmacSecret)))
	})
	b.Run("ES256", func(b *testing.B) {
		benchJWT(b, jwt.SigningMethodES256, ecKey, writeFile(b, dir, "e", pemPublic(b, &ecKey.PublicKey)))
	})
	b.Run("RS256", func(b *testing.B) {
		benchJWT(b, jwt.SigningMethodRS256, rsaKey, writeFile(b, dir, "r", pemPublic(b, &rsaKey.PublicKey)))
	})
}

// BenchmarkVerifyHTTPCached: every verification after the first is a
// positive cache hit (the backend is called once).
func BenchmarkVerifyHTTPCached(b *testing.B) {
	bk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"allow":true}`))
	}))
	defer bk.Close()
	a := newAuth(b, Config{HTTP: HTTPConfig{URL: bk.URL}})
	req := userReq("allow", "pw")
	a.Verify(context.Background(), req)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := a.Verify(context.Background(), req); r.Cause != CauseHTTPCached {
				b.Error(r.Cause)
			}
		}
	})
	reportRate(b)
	if c := a.Stats().HTTPCalls; c != 1 {
		b.Fatalf("backend called %d times", c)
	}
}

// BenchmarkSubmit: the pool's overhead per request (Submit to callback)
// with a trivial verifier.
func BenchmarkSubmit(b *testing.B) {
	st := &counters{}
	p := newPool(4, 4096, time.Minute, st, func(context.Context, *Request) Result { return resultOf(CauseAnonymous) })
	defer p.close()
	req := userReq("u", "p")
	var wg sync.WaitGroup
	done := func(Result) { wg.Done() }
	b.ReportAllocs()
	for b.Loop() {
		wg.Add(1)
		for p.submit(req, done) != nil {
			wg.Done()
			wg.Wait() // queue full: let it drain
			wg.Add(1)
		}
	}
	wg.Wait()
	reportRate(b)
}
