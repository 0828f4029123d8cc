// Package listener owns how edgegw's client-facing sockets are opened and
// configured: binding (resolving ":0" to one concrete port so that every
// SO_REUSEPORT event-loop listener shares it, and the
// `cannot open listener ":1883": address already in use` errors), and the
// options of accepted client sockets: TCP keepalive (idle, interval, probe
// count), TCP_USER_TIMEOUT and the SO_RCVBUF/SO_SNDBUF sizes, and the PROXY
// protocol (v1 and v2) header that a balancer in front may send first.
//
// # PROXY protocol
//
// ParseProxy parses the header from the borrowed prefix of a connection's
// inbound stream (gnet's Peek) on the event loop: incremental
// (ErrProxyNeedMore until the whole header is in; call again with the whole
// prefix), never reading past the header, no goroutine, no allocation. Each
// malformed header is its own pre-allocated *ProxyError with a reason label
// (ProxyErrors lists them). ProxyTrust (listeners.proxy_trusted) says which
// peers may send one; the glue closes any other connection on a listener
// with proxy_protocol on, as the spec requires (haproxy
// doc/proxy-protocol.txt 2: the receiver never guesses whether a header is
// present).
//
// The parser is ours. github.com/pires/go-proxyproto, the well-kept Go one,
// reads through a *bufio.Reader that blocks until it can Peek enough bytes
// (ReadTimeout starts a goroutine per header), and returns a *Header with
// net.IP slices: two allocations per connection and a blocking read, which
// do not fit a loop. Ours is checked against the spec's examples fed byte by
// byte, a random reference encoder and a fuzz target (proxy_fuzz_test.go).
//
// gnet opens the event-loop listeners itself from addresses. This package
// therefore gives the glue what it passes to gnet (the resolved address, the
// Options values gnet has options for) and the functions that act on an
// accepted socket's descriptor (SetUserTimeout, KeepAliveCheck). The
// listeners served by goroutines (TLS, HTTP) it opens itself (Listen,
// ListenClients).
//
// Concurrency: the functions and Options are safe for concurrent use; a
// KeepAliveCheck is owned by one event loop (Loop-only). Nothing here blocks
// except Resolve, Listen and ListenClients, which bind a socket and are
// called at start, never from an event loop.
//
// Imports: the standard library and golang.org/x/sys/unix only; neither
// gateway nor gnet.
package listener
