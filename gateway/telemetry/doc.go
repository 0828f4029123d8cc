// Package telemetry is edgegw's observability side: what an operator, a
// scraper or a health checker reads, none of it on the data path.
//
// It owns four things and nothing else:
//
//   - Server: the HTTP endpoint serving /metrics and /healthz on net/http,
//     one goroutine per HTTP connection, bounded by Config (a deadline on every
//     phase of a request, an idle timeout, a connection cap past which a new
//     connection is closed at accept and counted). It answers GET and HEAD
//     only: anything else gets 405 and the connection is closed unread.
//   - The exposition: a scrape writes the samples of the metrics.Set it was
//     given, the process's open-file limit and the Go runtime figures, then
//     groups them by family under one "# HELP" and one "# TYPE" line each,
//     taken from the Help table the caller passes (the caller owns its own
//     metric definitions and their texts; MetricHelp lists this package's).
//   - The runtime reading: Go runtime figures through runtime/metrics (no
//     stop-the-world, unlike runtime.ReadMemStats) and the resident memory
//     from /proc/self/status below a root path (Config.Root, ResidentMemory),
//     so that tests read a fake tree from testdata/.
//   - Log: a slog.Handler that hands records to one writer goroutine through
//     a bounded queue, so that an event loop never blocks on a slow stderr,
//     pipe or journal; a full queue drops the record and counts it.
//
// # Metrics
//
// Nothing here registers on a global set. NewServer registers
// edgegw_http_connections and edgegw_http_connections_refused_total, NewLog
// registers edgegw_log_dropped_total, each on the *metrics.Set it is given
// (metrics.go): one Server and one Log per set.
//
// # Concurrency
//
// Server and Log are safe for concurrent use. Log.Handle never blocks and
// may be called from an event loop; Log.Stop and Server.Close wait (at most
// their deadline) and are for shutdown. The Help table given to NewServer is
// read by every scrape and must not change while the server runs. The only
// goroutines are the server's (its accept loop and one per HTTP connection,
// at most Config.MaxConnections) and the log writer, all ending at Close and
// Stop.
//
// # Imports
//
// The standard library and github.com/VictoriaMetrics/metrics. It must not
// import gnet or any other edgegw package: the gateway wires it in.
package telemetry
