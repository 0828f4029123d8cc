package tlsrec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// suite is what the record layer needs of a negotiated cipher suite. Only
// AEAD suites exist here: TLS 1.3 has no others, and the server offers TLS 1.2
// clients only ECDHE with AES-GCM or ChaCha20-Poly1305 (tls12Suites).
type suite struct {
	id       uint16
	tls13    bool
	keyLen   int
	ivLen    int  // 12, or 4 for TLS 1.2 AES-GCM: the implicit salt (RFC 5288 3)
	explicit bool // TLS 1.2 AES-GCM: an 8-byte explicit nonce leads each record
	hash     func() hash.Hash
	aead     func(key []byte) (cipher.AEAD, error)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

var suites = [...]suite{
	{id: tls.TLS_AES_128_GCM_SHA256, tls13: true, keyLen: 16, ivLen: 12, hash: sha256.New, aead: newGCM},
	{id: tls.TLS_AES_256_GCM_SHA384, tls13: true, keyLen: 32, ivLen: 12, hash: sha512.New384, aead: newGCM},
	{id: tls.TLS_CHACHA20_POLY1305_SHA256, tls13: true, keyLen: 32, ivLen: 12, hash: sha256.New, aead: chacha20poly1305.New},
	{id: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, keyLen: 16, ivLen: 4, explicit: true, hash: sha256.New, aead: newGCM},
	{id: tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, keyLen: 16, ivLen: 4, explicit: true, hash: sha256.New, aead: newGCM},
	{id: tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, keyLen: 32, ivLen: 4, explicit: true, hash: sha512.New384, aead: newGCM},
	{id: tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, keyLen: 32, ivLen: 4, explicit: true, hash: sha512.New384, aead: newGCM},
	{id: tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, keyLen: 32, ivLen: 12, hash: sha256.New, aead: chacha20poly1305.New},
	{id: tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, keyLen: 32, ivLen: 12, hash: sha256.New, aead: chacha20poly1305.New},
}

// tls12Suites is the TLS 1.2 cipher suite list given to crypto/tls: the
// AEAD suites with forward secrecy (Mozilla "intermediate"). TLS 1.3 suites
// are not configurable in crypto/tls and all three are AEAD.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

func suiteByID(id uint16) *suite {
	for i := range suites {
		if suites[i].id == id {
			return &suites[i]
		}
	}
	return nil
}

// expandLabel is HKDF-Expand-Label (RFC 8446 section 7.1) with an empty context.
func expandLabel(h func() hash.Hash, secret []byte, label string, length int) ([]byte, error) {
	info := make([]byte, 0, 4+6+len(label))
	info = binary.BigEndian.AppendUint16(info, uint16(length))
	info = append(info, byte(6+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, 0) // context: empty
	return hkdf.Expand(h, secret, string(info), length)
}

// prf12 is the TLS 1.2 PRF, P_hash(secret, label + seed) (RFC 5246 section 5).
func prf12(h func() hash.Hash, secret []byte, label string, seed []byte, n int) []byte {
	labelSeed := append([]byte(label), seed...)
	mac := hmac.New(h, secret)
	mac.Write(labelSeed)
	a := mac.Sum(nil) // A(1)
	out := make([]byte, 0, n+mac.Size())
	for len(out) < n {
		mac.Reset()
		mac.Write(a)
		mac.Write(labelSeed)
		out = mac.Sum(out)
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0])
	}
	return out[:n]
}

// keyBlock12 derives the TLS 1.2 write keys and IVs of both sides from the
// master secret (RFC 5246 section 6.3; AEAD suites have no MAC keys).
func keyBlock12(s *suite, master, clientRandom, serverRandom []byte) (clientKey, serverKey, clientIV, serverIV []byte) {
	seed := make([]byte, 0, 64)
	seed = append(seed, serverRandom...)
	seed = append(seed, clientRandom...)
	kb := prf12(s.hash, master, "key expansion", seed, 2*s.keyLen+2*s.ivLen)
	clientKey, kb = kb[:s.keyLen], kb[s.keyLen:]
	serverKey, kb = kb[:s.keyLen], kb[s.keyLen:]
	clientIV, kb = kb[:s.ivLen], kb[s.ivLen:]
	serverIV = kb[:s.ivLen]
	return
}
