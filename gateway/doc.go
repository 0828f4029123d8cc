// Package gateway runs edgegw's data path: a gnet v2 engine with one event
// loop per GOMAXPROCS (SO_REUSEPORT listeners: MQTT over TCP, over WebSocket
// via gateway/ws, and over TLS through a goroutine terminator that relays to
// an internal loopback listener), the per-connection glue
// between the socket and session.State, cross-loop delivery through a
// bounded per-loop inbox (one wakeup per target loop per batch), writev
// batching per subscriber within a wake, the session registry, per-loop
// timing wheels, the slow-consumer policy with lossless backpressure, the
// /metrics and /healthz endpoint, and graceful drain.
//
// Concurrency: a connection and the session attached to it are Loop-only:
// touched only on the event loop that owns them. Other goroutines reach a
// loop only through its inbox (loop.post + one EventLoop.Execute per batch).
// The registry (client ID -> session) is safe for concurrent use and is
// touched only at CONNECT, close and expiry, never per message. Gateway's
// exported methods are safe for concurrent use.
//
// Imports: session, router, mqttcodec, gateway/ws, gnet, VictoriaMetrics/metrics
// and the standard library. gateway is the only package that imports gnet.
package gateway
