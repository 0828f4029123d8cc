// Package auth authenticates MQTT CONNECTs off the event loops: it decides
// whether a client may connect, with which MQTT reason code it is refused,
// and which per-client ACL rules (text, compiled elsewhere) a JWT or the HTTP
// backend granted.
//
// It owns:
//
//   - Request and Result: the inputs of one CONNECT (client ID, username,
//     password, remote IP, listener, TLS names) and the verdict: allowed, a
//     Reason (v5 0x86/0x87/0x88/0x89 with its v3.1.1 twin 0x04/0x05/0x03), the
//     Cause it is counted under, optional ACL rule lines, and whether it came
//     from the HTTP cache.
//   - The verifiers, tried in this order; the first that claims a request
//     decides it, and a request nobody claims is refused 0x86 (0x87 when
//     it has no user name): anonymous (Config.AllowAnonymous, only for a
//     CONNECT without user name and password; with it off, such a CONNECT
//     goes to the HTTP backend when there is one), the password file (PasswordFile, bcrypt, see passwd.go
//     for the syntax and the disabled mark), a JWT in the password field
//     (KeySet, see jwt.go for the pinned algorithms), the HTTP backend
//     (httpVerifier, see http.go for the wire format and the caches).
//   - The worker pool: Authenticator.Submit queues a Request for a bounded
//     set of goroutines and returns at once; a full queue is ErrQueueFull.
//   - Reload: the password file and the JWT keys are swapped together,
//     atomically; a broken file keeps the previous version.
//   - SetPassword, the body of `edgegw passwd FILE USER`.
//   - Stats: counters by Cause, plain atomics read as a snapshot. Metric
//     names and log lines are the gateway's job.
//
// # Concurrency
//
// Authenticator is safe for concurrent use. Submit never blocks: it takes a
// read lock that only Close ever contends, and does a non-blocking channel
// send. The done callback runs exactly once per accepted Submit, on a pool
// goroutine (never on the caller's): it must not block for long, because
// it holds a worker; the gateway's callback posts the Result to the owning
// loop's inbox and returns. Verify runs the chain on the calling goroutine
// and may block (bcrypt, HTTP): never call it from an event loop.
//
// # Secrets
//
// A Request owns a copy of the password (Secret); Secret formats as
// "[redacted]" under every fmt verb, and no error or Result built here
// contains a password, a token or a hash. Errors name files and line numbers,
// never line contents.
//
// # Imports
//
// The standard library, golang.org/x/crypto/bcrypt and
// github.com/golang-jwt/jwt/v5. It must not import gnet or any other edgegw
// package: the gateway drives it. The ACL compiler (acl*.go) shares the
// package but not this contract's files.
package auth
