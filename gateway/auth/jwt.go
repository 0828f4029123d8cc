package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWT key files. Each file in jwt_keys holds one key:
//
//   - a PEM "PUBLIC KEY" (PKIX) block with an RSA or ECDSA key, or a
//     "RSA PUBLIC KEY" (PKCS #1) block, or a "CERTIFICATE" whose key is one;
//   - otherwise, the whole file (trailing newline trimmed) is an HMAC secret
//     of at least MinHMACSecret bytes.
//
// Algorithms are pinned by key type, so a token's alg header can never pick
// how its own signature is checked: an HMAC secret verifies HS256/384/512
// only; an RSA key RS256/384/512 and PS256/384/512 only; an ECDSA key only
// the ES algorithm of its curve (P-256 ES256, P-384 ES384, P-521 ES512).
// "none" matches no key, and an HS* token is never checked against a public
// key (the RS/HS confusion attack). A private key in a key file is refused.
//
// A token must carry exp; exp and nbf are checked against the clock with
// Config.JWTLeeway. When the token has "sub" and the CONNECT has a user name
// they must be equal (else 0x87). The claim Config.JWTACLClaim ("acl"), when
// present, must be a list of strings: ACL rule lines for this client.

// MinHMACSecret is the shortest HMAC secret accepted (256 bits, RFC 7518
// 3.2 for HS256).
const MinHMACSecret = 32

type jwtKey struct {
	file    string
	key     any // []byte, *rsa.PublicKey or *ecdsa.PublicKey
	methods []string
}

// KeySet is the loaded jwt_keys. Immutable once built; safe for concurrent use.
type KeySet struct {
	keys []jwtKey
}

// LoadKeys reads the key files. An error names the file that failed.
func LoadKeys(files []string) (*KeySet, error) {
	ks := &KeySet{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("cannot load JWT key: %w", err)
		}
		k, err := parseKey(data)
		if err != nil {
			return nil, fmt.Errorf("cannot load JWT key %q: %w", f, err)
		}
		k.file = f
		ks.keys = append(ks.keys, k)
	}
	return ks, nil
}

var (
	hmacMethods = []string{"HS256", "HS384", "HS512"}
	rsaMethods  = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)

func parseKey(data []byte) (jwtKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		if bytes.Contains(data, []byte("-----BEGIN")) {
			return jwtKey{}, ErrKeyFile // broken PEM: never fall back to using it as a secret
		}
		secret := bytes.TrimRight(data, "\r\n")
		if len(secret) < MinHMACSecret {
			return jwtKey{}, ErrWeakSecret
		}
		return jwtKey{key: bytes.Clone(secret), methods: hmacMethods}, nil
	}
	var pub any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = c.PublicKey
		}
	default:
		return jwtKey{}, fmt.Errorf("%w (PEM block %q)", ErrKeyFile, block.Type)
	}
	if err != nil {
		return jwtKey{}, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return jwtKey{key: k, methods: rsaMethods}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jwtKey{key: k, methods: []string{"ES256"}}, nil
		case elliptic.P384():
			return jwtKey{key: k, methods: []string{"ES384"}}, nil
		case elliptic.P521():
			return jwtKey{key: k, methods: []string{"ES512"}}, nil
		}
	}
	return jwtKey{}, fmt.Errorf("%w (unsupported key type %T)", ErrKeyFile, pub)
}

// Len is the number of keys.
func (ks *KeySet) Len() int { return len(ks.keys) }

// looksLikeJWT: three base64url segments separated by two dots.
func looksLikeJWT(p []byte) bool {
	if len(p) < 5 || bytes.Count(p, []byte{'.'}) != 2 {
		return false
	}
	for _, c := range p {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '=') {
			return false
		}
	}
	return true
}

// verify decides req when keys are configured and its password looks like a
// JWT; ok is false otherwise. now is the clock (tests fix it).
func (ks *KeySet) verify(req *Request, aclClaim string, leeway time.Duration, now func() time.Time) (Result, bool) {
	if ks == nil || len(ks.keys) == 0 || !looksLikeJWT(req.Password) {
		return Result{}, false
	}
	tok := string(req.Password)
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := decodeHeader(tok, &hdr); err != nil {
		return resultOf(CauseJWTMalformed), true
	}
	cause := CauseJWTAlgorithm
	for i := range ks.keys {
		k := &ks.keys[i]
		if !contains(k.methods, hdr.Alg) {
			continue
		}
		p := jwt.NewParser(jwt.WithValidMethods(k.methods), jwt.WithExpirationRequired(),
			jwt.WithLeeway(leeway), jwt.WithTimeFunc(now))
		claims := jwt.MapClaims{}
		_, err := p.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return k.key, nil })
		switch {
		case err == nil:
			return claimsResult(req, claims, aclClaim), true
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			cause = CauseJWTSignature // try the next key of this family
			continue
		case errors.Is(err, jwt.ErrTokenExpired):
			return resultOf(CauseJWTExpired), true // signature was valid (checked first)
		case errors.Is(err, jwt.ErrTokenNotValidYet):
			return resultOf(CauseJWTNotYetValid), true
		case errors.Is(err, jwt.ErrTokenRequiredClaimMissing), errors.Is(err, jwt.ErrTokenInvalidClaims):
			return resultOf(CauseJWTClaims), true
		default:
			return resultOf(CauseJWTMalformed), true
		}
	}
	return resultOf(cause), true
}

func claimsResult(req *Request, claims jwt.MapClaims, aclClaim string) Result {
	if sub, ok := claims["sub"]; ok && req.HasUsername && req.Username != "" {
		if s, _ := sub.(string); s != req.Username {
			return resultOf(CauseJWTSubject)
		}
	}
	r := resultOf(CauseJWT)
	if raw, ok := claims[aclClaim]; ok {
		list, ok := raw.([]any)
		if !ok {
			return resultOf(CauseJWTClaims)
		}
		r.ACL = make([]string, 0, len(list))
		for _, v := range list {
			s, ok := v.(string)
			if !ok {
				return resultOf(CauseJWTClaims)
			}
			r.ACL = append(r.ACL, s)
		}
	}
	return r
}

func decodeHeader(tok string, dst any) error {
	seg, _, _ := strings.Cut(tok, ".")
	b, err := jwt.NewParser().DecodeSegment(seg)
	if err != nil {
		return err
	}
	return jsonUnmarshal(b, dst)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
