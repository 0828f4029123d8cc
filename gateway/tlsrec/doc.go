// Package tlsrec terminates TLS 1.2 and 1.3 for callers that own the socket
// and never block: the TLS record layer runs on the caller's goroutine (the
// gnet event loop) on borrowed bytes, and each handshake borrows a goroutine
// of a bounded pool for its few milliseconds.
//
// It owns three things and nothing else:
//
//   - Server: what a TLS listener shares. The credentials (certificate
//     chains, client CA) behind an atomic pointer that Reload swaps for new
//     handshakes only; the client-certificate policy (none, request,
//     require); the handshake pool's bounds (MaxHandshakes in progress,
//     HandshakeCPU computing at once, HandshakeTimeout each); its counters
//     by outcome (Stats).
//   - Conn: one connection. Feed takes the ciphertext the loop has and
//     returns the application bytes and what to send back; AppendRecord and
//     AppendRecordv encrypt into the caller's buffer. After the handshake a
//     Conn holds two AEAD states, their sequence numbers and the client
//     certificate's Identity (CN and SANs, copied out of the certificate):
//     about 2.1 KB, no buffer and no goroutine.
//   - The handshake pool: crypto/tls running the handshake of one Conn on a
//     goroutine, fed whole records by the loop through a small in-memory
//     pipe, its output and its end reported through the Conn's wake
//     function.
//
// # Concurrency
//
// Server is safe for concurrent use. Conn is Loop-only: one per connection,
// used by the goroutine that owns the socket, never shared; its handshake
// goroutine meets it under a mutex held for a copy, and calls the wake
// function given to NewConn, which must not block (gnet: Conn.Wake). Feed,
// AppendRecord and Close never block, never wait for the pool, and keep no
// reference to a buffer they were given. The only goroutines are those of
// handshakes in progress, at most MaxHandshakes, each ending at the
// handshake's end, its timeout, or the first read or write after Close.
//
// # Why the record layer is ours and the handshake is crypto/tls's
//
// crypto/tls cannot be driven without blocking: a handshake error is
// sticky (Conn.handshakeErr), so a handshake cannot return "would block" and
// resume; it needs a goroutine of its own while it waits for the client.
// After the handshake it could be (readRecordOrCCS keeps a net.Error that is
// Temporary() from becoming sticky, Go 1.26 conn.go), but a tls.Conn keeps its
// read buffers: rawInput is a bytes.Buffer that grows to the largest record
// read and never shrinks, and there is no API to release it. Measured by
// BenchmarkIdleConn (2,000 connections, after the handshake and one
// exchange each way, heap in use per connection):
//
//	                           TLS 1.3, 100 B   TLS 1.3, 16 KiB   TLS 1.2, 100 B
//	tlsrec Conn                    2.2 KB           2.1 KB            2.1 KB
//	crypto/tls server Conn         8.7 KB          16.6 KB            6.8 KB
//	lesismal/llib fork (nbio)     11.4 KB          16.5 KB            5.1 KB
//
// (crypto/tls and the fork include their closed *net.TCPConn, a few hundred
// bytes; the fork was measured by a throwaway program outside this module,
// non-blocking mode, ResetOrFreeBuffer after each read.) Mosquitto holds
// 18.1 KB of RSS per idle TLS client (issue 12); the budget here is half.
//
// So the handshake is crypto/tls's, unchanged, on a goroutine of the pool,
// and the record layer after it is this package's: crypto/tls logs the
// traffic secrets (TLS 1.3) or the master secret (TLS 1.2) to the per-
// handshake Config.KeyLogWriter, the only public way it tells them, and the
// adapter derives the AEAD keys from them (RFC 8446 7.3; RFC 5246 6.3 with
// the randoms of the two hellos). crypto/tls logs no master secret when a
// TLS 1.2 session resumes; the adapter then reads it from the decrypted
// ticket (SessionState.Bytes, whose encoding Go calls opaque: when it does
// not look as expected the ticket is declined and the client does a full
// handshake). The keys are checked against what crypto/tls itself encrypted
// with them: in TLS 1.2 both Finished records must decrypt, in TLS 1.3 the
// records sent under the application key before the handshake ends
// (session tickets) are found by decrypting them, which also gives the
// sequence number to continue from. A mismatch ends the connection with
// ErrInternal, never with guessed keys. The pipe gives crypto/tls at most
// one record per read, so it never holds bytes past the client's Finished:
// records that came with it (a TLS 1.3 client's first MQTT packet) are the
// record layer's first input.
//
// The record layer accepts only AEAD suites: the three of TLS 1.3, and for
// TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305 (Mozilla "intermediate";
// CBC and RSA key exchange are not offered). It follows crypto/tls on the
// edge cases (16 records in a row without data end the connection, TLS 1.3
// compatibility change_cipher_spec and user_canceled are ignored, warning
// alerts in TLS 1.2 are ignored), answers KeyUpdate (RFC 8446 4.6.3), sends
// its own KeyUpdate every 2^23 records (below the AES-GCM limit of RFC 8446
// 5.5), refuses TLS 1.2 renegotiation with no_renegotiation, and refuses a
// TLS 1.3 handshake message split across records (no client stack sends
// one; refusing it keeps the Conn free of a reassembly buffer). 0-RTT is
// not accepted (crypto/tls does not, over TCP).
//
// # Risk
//
// Security fixes to crypto/tls's handshake (certificate verification,
// resumption, key exchange) reach us with each Go release, as for any
// crypto/tls user. Fixes to its record layer do not: that part is ours, about
// 550 lines (record.go, keys.go) over the standard AEADs and HKDF, tested against crypto/tls
// and OpenSSL clients, by record, split at every byte, fuzzed, with every
// violation of RFC 8446 section 5 and RFC 5246 section 6 that a client can
// commit. It depends on three behaviours of crypto/tls that its tests pin,
// so a Go upgrade that changes them fails the tests, not the connections:
// the key log lines (NSS key log format), whole records per Write, and
// the session encoding for TLS 1.2 resumption. FIPS 140-3 mode
// (GODEBUG=fips140=only) is untested here.
//
// The fork github.com/lesismal/llib/std/crypto/tls (used by nbio) runs the
// handshake on the loop without a goroutine. It was not chosen: it holds
// more per idle connection than crypto/tls (table above), a handshake on
// the loop takes its CPU (about half of the 1 ms both ends of a TLS 1.3
// handshake cost here) from every established client of that loop during a
// connect storm, its handshake CPU is no
// better (BenchmarkHandshake and the same measure of the fork: about 1 ms
// per TLS 1.3 handshake, both ends, for all three), and it is a 22,000-line
// copy of crypto/tls kept by one maintainer, so Go's security fixes reach it
// late or never.
//
// # Cost
//
// Handshake CPU is crypto/tls's (BenchmarkHandshake, both ends in one
// process, 2 shared cores, noisy: 1.0 to 1.3 ms per TLS 1.2 or 1.3 handshake
// against 0.8 to 1.4 ms with a plain crypto/tls server); the pool adds a
// goroutine start, a Config clone and the key derivation, and about 15 KB of
// transient allocation per handshake. Records cost one AEAD call and no
// allocation (TestRecordAllocs, BenchmarkRecordOpen and BenchmarkRecordSeal:
// a 64-byte record in 120 to 230 ns, 16 KiB records at 2.4 to 4.5 GB/s per
// core).
//
// # Buffers
//
// The inbound bytes given to Feed are borrowed (gnet's Peek): read, never
// modified or kept. Decryption writes into the caller's plain buffer, never
// into in; encryption writes into the caller's out or dst buffer in place.
// Bytes beyond the n that Feed consumed (a partial record, or whole records
// while the handshake's pipe is full) are not remembered: the caller
// presents them again, first, on the next call, and must be able to hold
// MaxRecord bytes.
//
// # Imports
//
// The standard library and golang.org/x/crypto (chacha20poly1305: crypto/tls
// has its own copy, not importable). It must not import gnet or any other
// edgegw package: the gateway drives it, with bytes.
package tlsrec
