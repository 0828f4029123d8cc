// Package bench is the load generator behind `edgegw bench` and the
// `go test -bench` harness of the repository.
//
// It owns its own MQTT client side (codec.go: a minimal 3.1.1 and 5.0 encoder
// and decoder for the packets a load client needs; ws.go: MQTT over
// WebSocket framing) so that a bug in the gateway's codec or session code can
// never be hidden by sharing it. Transports: TCP, WebSocket, and both over
// TLS (tls, wss). Clients run on gnet event loops: one small client struct
// per connection, no goroutine per connection. A bounded pool of dialer
// goroutines opens sockets (optionally bound to one of several loopback
// source addresses) and hands them to the loops; one pacer goroutine per run
// drives publishing and housekeeping through EventLoop.Execute, one call per
// loop per tick.
//
// TLS (tls.go) is not free, and its numbers are not those of plain TCP: gnet
// has no TLS, so for each TLS client the dialer goroutine dials TCP, runs the
// crypto/tls handshake (its time counts in the connect latency), and then two
// copy goroutines relay between the tls.Conn and one end of an AF_UNIX
// socketpair whose other end the loop owns like a TCP socket. Each TLS client
// thus costs two goroutines, three descriptors (TCP socket and socketpair)
// and an extra copy through the kernel per message in each direction; the
// tool's own CPU per message is higher than over TCP. When either side
// closes, both goroutines end; stop waits for all of them.
//
// Concurrency contract: a client struct is touched only on the event loop
// that owns its connection, except while no connection exists (dialing and
// backoff), when the dialer goroutine owns it; hand-offs go through a
// mutex-protected queue. Counters and histograms are per loop, written by
// that loop with atomics and read by the sampler once a second.
//
// Files: config.go (flags, TOML, Validate), client.go (per-connection state
// and the gnet handler), run.go (dialers, pacer), tls.go (TLS relay),
// measure.go (one run),
// procs.go (--procs workers and merging), capacity.go, hist.go, stats.go,
// result.go, report.go and svg.go (outputs), procstat.go (--pid), compare.sh.
//
// Imports: the standard library, gnet, go-toml/v2 and golang.org/x/sys/unix.
// It must not import edgegw/session, edgegw/gateway or edgegw/mqttcodec in
// non-test code. Tests use Mochi MQTT as an independent broker; the
// gateway benchmarks (gateway_bench_test.go) import edgegw/gateway.
package bench
