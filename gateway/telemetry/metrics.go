package telemetry

import (
	"maps"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// metricHelp documents every family this package registers or writes; the
// caller's Help table for NewServer includes them (MetricHelp).
var metricHelp = map[string]Help{
	"edgegw_http_connections":               {"gauge", "HTTP connections to /metrics and /healthz open now."},
	"edgegw_http_connections_refused_total": {"counter", "HTTP connections to /metrics and /healthz closed at accept because http.max_connections were open."},
	"edgegw_log_dropped_total":              {"counter", "Log records dropped because the log writer fell behind."},
	"process_max_fds":                       {"gauge", "Soft open-file limit of the process (it caps connections)."},
	"process_resident_memory_bytes":         {"gauge", "Resident memory of the process, by kind (anon, file), from /proc/self/status."},
	"go_memory_bytes":                       {"gauge", "Memory mapped by the Go runtime, by class (heap_objects, heap_unused, heap_free, heap_released, stacks, metadata, total)."},
	"go_gc_heap_goal_bytes":                 {"gauge", "Heap size at which the next garbage collection starts."},
	"go_gc_heap_live_bytes":                 {"gauge", "Heap bytes marked live by the last garbage collection."},
	"go_gc_cycles_total":                    {"counter", "Garbage collection cycles completed."},
	"go_goroutines":                         {"gauge", "Goroutines alive."},
}

// MetricHelp returns a new map of the families this package registers (the
// endpoint's connections, the log's drops) or writes per scrape (process and
// Go runtime figures), for the caller to merge into the table it gives
// NewServer.
func MetricHelp() map[string]Help {
	return maps.Clone(metricHelp)
}

// registerServer registers the endpoint's metrics on set: the open
// connection gauge reads open.
func registerServer(set *metrics.Set, open *atomic.Int64) (refused *metrics.Counter) {
	set.NewGauge("edgegw_http_connections", func() float64 { return float64(open.Load()) })
	return set.NewCounter("edgegw_http_connections_refused_total")
}

// registerLog registers the log's drop counter on set.
func registerLog(set *metrics.Set) (dropped *metrics.Counter) {
	return set.NewCounter("edgegw_log_dropped_total")
}
