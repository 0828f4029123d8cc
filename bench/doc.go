// Package bench is the load generator behind `edgegw bench` and the
// `go test -bench` harness of the repository.
//
// It owns its own MQTT client side (codec.go: a minimal 3.1.1 and 5.0 encoder
// and decoder for the packets a load client needs; ws.go: MQTT over
// WebSocket framing) so that a bug in the gateway's codec or session code can
// never be hidden by sharing it. Transports: TCP and WebSocket; no TLS. Clients
// run on gnet event loops: one small client struct per connection, no
// goroutine per connection. A bounded pool of dialer goroutines opens sockets
// (optionally bound to one of several loopback source addresses) and hands
// them to the loops; one pacer goroutine per run drives publishing and
// housekeeping through EventLoop.Execute, one call per loop per tick.
//
// Concurrency contract: a client struct is touched only on the event loop
// that owns its connection, except while no connection exists (dialing and
// backoff), when the dialer goroutine owns it; hand-offs go through a
// mutex-protected queue. Counters and histograms are per loop, written by
// that loop with atomics and read by the sampler once a second.
//
// Files: config.go (flags, TOML, Validate), client.go (per-connection state
// and the gnet handler), run.go (dialers, pacer), measure.go (one run),
// procs.go (--procs workers and merging), capacity.go, hist.go, stats.go,
// result.go, report.go and svg.go (outputs), procstat.go (--pid), compare.sh.
//
// Imports: the standard library, gnet, go-toml/v2 and golang.org/x/sys/unix.
// It must not import edgegw/session, edgegw/gateway or edgegw/mqttcodec in
// non-test code. Tests use Mochi MQTT as an independent broker; the
// gateway benchmarks (gateway_bench_test.go) import edgegw/gateway.
package bench
