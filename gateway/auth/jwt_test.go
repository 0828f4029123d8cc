package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testKeysOnce sync.Once
	rsaKey       *rsa.PrivateKey
	rsaOther     *rsa.PrivateKey
	ecKey        *ecdsa.PrivateKey
	ecOther      *ecdsa.PrivateKey
	hmacSecret   = []byte("0123456789abcdef0123456789abcdef-hmac")
)

func testKeys(t testing.TB) {
	testKeysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if rsaOther, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecOther, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
}

func pemPublic(t testing.TB, pub any) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// jwtNow is the fixed clock of the JWT tests.
var jwtNow = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func sign(t testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func valid(extra ...any) jwt.MapClaims {
	c := jwt.MapClaims{"exp": jwtNow.Add(time.Hour).Unix(), "nbf": jwtNow.Add(-time.Minute).Unix()}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

func jwtAuth(t testing.TB, keys ...string) *Authenticator {
	a := newAuth(t, Config{JWTKeys: keys, JWTLeeway: 5 * time.Second})
	a.now = func() time.Time { return jwtNow }
	return a
}

func TestJWTVerify(t *testing.T) {
	testKeys(t)
	dir := t.TempDir()
	hmacFile := writeFile(t, dir, "hmac.key", string(hmacSecret)+"\n")
	rsaPEM := pemPublic(t, &rsaKey.PublicKey)
	rsaFile := writeFile(t, dir, "rsa.pem", rsaPEM)
	ecFile := writeFile(t, dir, "ec.pem", pemPublic(t, &ecKey.PublicKey))
	all := jwtAuth(t, hmacFile, rsaFile, ecFile)
	publicOnly := jwtAuth(t, rsaFile, ecFile)

	noneTok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, valid()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs := sign(t, jwt.SigningMethodHS256, hmacSecret, valid("sub", "dev1"))
	tampered := strings.Split(hs, ".")
	tampered[1] = strings.Split(sign(t, jwt.SigningMethodHS256, []byte("x"), valid("sub", "admin")), ".")[1]

	for _, tc := range []struct {
		name  string
		a     *Authenticator
		user  string
		tok   string
		cause Cause
		acl   []string
	}{
		{"HS256 valid", all, "dev1", hs, CauseJWT, nil},
		{"HS512 valid with acl", all, "", sign(t, jwt.SigningMethodHS512, hmacSecret,
			valid("acl", []any{"user %u allow publish devices/%u/#", "client * deny subscribe #"})),
			CauseJWT, []string{"user %u allow publish devices/%u/#", "client * deny subscribe #"}},
		{"RS256 valid", all, "dev1", sign(t, jwt.SigningMethodRS256, rsaKey, valid()), CauseJWT, nil},
		{"PS384 valid", all, "dev1", sign(t, jwt.SigningMethodPS384, rsaKey, valid()), CauseJWT, nil},
		{"ES256 valid", all, "dev1", sign(t, jwt.SigningMethodES256, ecKey, valid()), CauseJWT, nil},
		{"expired", all, "dev1", sign(t, jwt.SigningMethodHS256, hmacSecret,
			valid("exp", jwtNow.Add(-time.Minute).Unix())), CauseJWTExpired, nil},
		{"expired within leeway", all, "dev1", sign(t, jwt.SigningMethodHS256, hmacSecret,
			valid("exp", jwtNow.Add(-2*time.Second).Unix())), CauseJWT, nil},
		{"expired RSA", all, "dev1", sign(t, jwt.SigningMethodRS256, rsaKey,
			valid("exp", jwtNow.Add(-time.Hour).Unix())), CauseJWTExpired, nil},
		{"not yet valid", all, "dev1", sign(t, jwt.SigningMethodES256, ecKey,
			valid("nbf", jwtNow.Add(time.Minute).Unix())), CauseJWTNotYetValid, nil},
		{"no exp", all, "dev1", sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "dev1"}), CauseJWTClaims, nil},
		{"forged HMAC", all, "dev1", sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-xx"), valid()), CauseJWTSignature, nil},
		{"forged RSA", all, "dev1", sign(t, jwt.SigningMethodRS256, rsaOther, valid()), CauseJWTSignature, nil},
		{"forged ECDSA", all, "dev1", sign(t, jwt.SigningMethodES256, ecOther, valid()), CauseJWTSignature, nil},
		{"tampered payload", all, "dev1", strings.Join(tampered, "."), CauseJWTSignature, nil},
		{"expired and forged", all, "dev1", sign(t, jwt.SigningMethodRS256, rsaOther,
			valid("exp", jwtNow.Add(-time.Hour).Unix())), CauseJWTSignature, nil},
		{"alg none", all, "dev1", noneTok, CauseJWTAlgorithm, nil},
		{"HS256 keyed with the RSA public key", publicOnly, "dev1",
			sign(t, jwt.SigningMethodHS256, []byte(rsaPEM), valid()), CauseJWTAlgorithm, nil},
		{"ES384 against a P-256 key", all, "dev1", sign(t, jwt.SigningMethodES384,
			mustEC(elliptic.P384()), valid()), CauseJWTAlgorithm, nil},
		{"HS256 with only public keys", publicOnly, "dev1", hs, CauseJWTAlgorithm, nil},
		{"sub differs from user name", all, "dev2", hs, CauseJWTSubject, nil},
		{"acl not a list", all, "", sign(t, jwt.SigningMethodHS256, hmacSecret, valid("acl", "x")), CauseJWTClaims, nil},
		{"acl not strings", all, "", sign(t, jwt.SigningMethodHS256, hmacSecret, valid("acl", []any{1})), CauseJWTClaims, nil},
		{"header not JSON", all, "dev1", "bm90anNvbg.e30.c2ln", CauseJWTMalformed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := NewRequest("c1", tc.user, tc.user != "", []byte(tc.tok), true, jwtNow0, "tcp", "", nil)
			r := verify(tc.a, req)
			if r.Cause != tc.cause || r.Allowed != (tc.cause == CauseJWT) || r.Reason != tc.cause.Reason() {
				t.Fatalf("got %+v (%v), want %v", r, r.Cause, tc.cause)
			}
			if strings.Join(r.ACL, "|") != strings.Join(tc.acl, "|") {
				t.Fatalf("acl %q, want %q", r.ACL, tc.acl)
			}
		})
	}
	// A password that is not a JWT falls through to the end of the chain.
	if r := verify(all, userReq("dev1", "plain password")); r.Cause != CauseUnknownUser {
		t.Fatalf("plain password: %v", r.Cause)
	}
}

var jwtNow0 = userReq("", "").RemoteIP

func mustEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func TestLoadKeysRefuses(t *testing.T) {
	testKeys(t)
	dir := t.TempDir()
	der, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	for _, tc := range []struct {
		name, content string
		want          error
	}{
		{"short secret", "short-TOPSECRET\n", ErrWeakSecret},
		{"private key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), ErrKeyFile},
		{"broken PEM", "-----BEGIN PUBLIC KEY-----\nTOPSECRET\n", ErrKeyFile},
		{"bad DER", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("TOPSECRET")})), ErrKeyFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeFile(t, dir, "k.pem", tc.content)
			_, err := LoadKeys([]string{f})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), f) || strings.Contains(err.Error(), "TOPSECRET") {
				t.Fatalf("got %v, want %v naming %s without content", err, tc.want, f)
			}
		})
	}
	// RSA PKCS #1 and certificates load.
	f := writeFile(t, dir, "rsa1.pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)})))
	if ks, err := LoadKeys([]string{f}); err != nil || ks.Len() != 1 {
		t.Fatalf("PKCS1: %v", err)
	}
}
