// Package gateway runs edgegw's data path: a gnet v2 engine with one event
// loop per GOMAXPROCS and the glue between its sockets and the MQTT state
// (session), the topic index (router) and the sub-packages below. It is the
// one place that knows how the parts fit together, and the only importer of
// gnet under gateway/.
//
// # Map
//
// A connection's bytes, in the order they travel:
//
//	handler.go    gnet callbacks: OnOpen, OnTraffic, OnClose, OnTick
//	conn.go       one connection: read, handle a packet, settle, flush, kick
//	framing.go    the one framing loop, over a byteSource (gnet's buffer,
//	              the WebSocket stream, later TLS plaintext)
//	wsconn.go     MQTT over WebSocket on the loop (frames from gateway/ws)
//	tls.go        TLS and WSS on the loop: the record layer (gateway/tlsrec)
//	              fed from gnet's buffer, its plaintext framed as MQTT or as
//	              the WebSocket stream; writes sealed into records (writev)
//	connect.go    CONNECT, refusal, the registry lookup (claim)
//	linger.go     after a DISCONNECT or refusing CONNACK: FIN, bounded discard, close
//	takeover.go   a CONNECT that claims a session: takeover and attach
//	fence.go      per-publisher order when a session moves between loops
//	offline.go    offline sessions, expiry, the end of a session
//	will.go       wills, published at the end of the wake
//	subscribe.go  SUBSCRIBE/UNSUBSCRIBE, retained messages, the expiry sweep
//	deliver.go    publish: fan-out, local delivery, the slow-consumer policy,
//	              parked publisher acks (lossless backpressure)
//	pump.go       queued messages sent as a connection's output drains
//	replybound.go a client that does not read its replies stops being read
//	inbox.go      cross-loop work: one bounded inbox per loop, one wakeup
//	              per target loop per batch
//	relay.go      the relay's glue: forward (an ackToken hold per upstream),
//	              inImport (upstream messages published on a loop), the
//	              subscription changes the aggregation counts
//	loop.go       per-loop state; begin/end of a wake (wills, acks, flush)
//	timer.go      the per-loop timing wheel (keep alive, retry, expiry)
//	registry.go   client ID -> session, router handles (concurrent use)
//	sublist.go    a session's filters
//	drain.go      graceful shutdown that delivers what it acknowledged
//	admission.go  the memory budget at CONNECT and the queue bound (tune)
//	reclaim.go    memory given back after connection storms
//	protect.go    protection set-up and the SIGHUP reload (gateway/auth, limit)
//	guard.go      a connection's protection state (loop.guards), its address
//	authwait.go   the protected CONNECT: limits, the verifier pool, user cap
//	aclcheck.go   ACL and publish-rate checks on PUBLISH and SUBSCRIBE
//	proxy.go      the PROXY protocol header, read first on every listener
//	protect_metrics.go  the protection counters
//	metrics.go    the glue's metrics, folded from loop counters per tick;
//	              close and drop reasons
//	errors.go     the gateway's own errors (codec sentinels used as they are)
//	engine.go     New, Start, wiring
//
// Sub-packages, each with its contract in doc.go; none imports gateway or
// gnet:
//
//	config     config.toml: structs, defaults, validation, the loader, and
//	           derived values (connection cap, keepalive options)
//	listener   binding and socket options of client sockets
//	telemetry  /metrics and /healthz, the Prometheus exposition, runtime
//	           metrics from a /proc root, the bounded asynchronous log
//	ws         WebSocket upgrade and framing over borrowed buffers
//	tlsrec     TLS for the loops: pooled handshakes, our record layer
//	relay      upstream brokers: pooled client connections on goroutines
//	           of their own, end-to-end acks, subscription aggregation
//
// The coming authentication and limits work lands beside them
// (gateway/auth, gateway/limit) and is wired here.
//
// # Concurrency
//
// A connection and the session attached to it are Loop-only: touched only
// on the event loop that owns them. Other goroutines reach a loop only
// through its inbox (loop.send collects, one EventLoop.Execute per target
// per wake). The registry is safe for concurrent use and is touched only at
// CONNECT, close and expiry, never per message. Gateway's exported methods
// are safe for concurrent use. Goroutines of our own: the tune sampler, the
// reclaim watcher, the retained-expiry sweep, the log writer, the HTTP
// server, the TLS handshakes in progress (tlsrec's bounded pool, which
// reaches a loop through Conn.Wake), and two per pooled upstream connection
// (gateway/relay, which reaches a loop through its inbox); none holds a lock
// a loop waits on.
//
// # Imports
//
// session, router, mqttcodec, tune, gateway/config, gateway/listener,
// gateway/telemetry, gateway/ws, gateway/tlsrec, gateway/relay, gnet,
// VictoriaMetrics/metrics and the standard library.
package gateway
