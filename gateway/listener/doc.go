// Package listener owns how edgegw's client-facing sockets are opened and
// configured: binding (resolving ":0" to one concrete port so that every
// SO_REUSEPORT event-loop listener shares it, and the
// `cannot open listener ":1883": address already in use` errors), and the
// options of accepted client sockets: TCP keepalive (idle, interval, probe
// count), TCP_USER_TIMEOUT and the SO_RCVBUF/SO_SNDBUF sizes. The PROXY
// protocol header parser will live here too.
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
