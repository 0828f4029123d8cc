package telemetry

import (
	"io"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"

	vm "github.com/VictoriaMetrics/metrics"
)

// Go runtime figures for /metrics, read through runtime/metrics: unlike
// runtime.ReadMemStats (what VictoriaMetrics' WriteProcessMetrics uses) it
// does not stop the world, so a scrape never stalls the event loops.
// Memory per connection is a budget (see README "Performance"): these are
// the classes an operator needs to see where resident memory goes.
var runtimeSamples = []struct{ key, name string }{
	{"/memory/classes/heap/objects:bytes", `go_memory_bytes{class="heap_objects"}`},
	{"/memory/classes/heap/unused:bytes", `go_memory_bytes{class="heap_unused"}`},
	{"/memory/classes/heap/free:bytes", `go_memory_bytes{class="heap_free"}`},
	{"/memory/classes/heap/released:bytes", `go_memory_bytes{class="heap_released"}`},
	{"/memory/classes/heap/stacks:bytes", `go_memory_bytes{class="stacks"}`},
	{"/memory/classes/metadata/other:bytes", `go_memory_bytes{class="metadata"}`},
	{"/memory/classes/total:bytes", `go_memory_bytes{class="total"}`},
	{"/gc/heap/goal:bytes", "go_gc_heap_goal_bytes"},
	{"/gc/heap/live:bytes", "go_gc_heap_live_bytes"},
	{"/gc/cycles/total:gc-cycles", "go_gc_cycles_total"},
	{"/sched/goroutines:goroutines", "go_goroutines"},
}

// writeRuntimeMetrics writes the Go runtime figures above and the process's
// resident memory (anonymous and file-backed, from /proc/self/status below
// root).
func writeRuntimeMetrics(w io.Writer, root string) {
	s := make([]metrics.Sample, len(runtimeSamples))
	for i, r := range runtimeSamples {
		s[i].Name = r.key
	}
	metrics.Read(s)
	for i, r := range runtimeSamples {
		switch s[i].Value.Kind() {
		case metrics.KindUint64:
			vm.WriteGaugeUint64(w, r.name, s[i].Value.Uint64())
		case metrics.KindFloat64:
			vm.WriteGaugeFloat64(w, r.name, s[i].Value.Float64())
		}
	}
	if anon, file, ok := ResidentMemory(root); ok {
		vm.WriteGaugeUint64(w, `process_resident_memory_bytes{kind="anon"}`, anon)
		vm.WriteGaugeUint64(w, `process_resident_memory_bytes{kind="file"}`, file)
	}
}

// ResidentMemory reads RssAnon and RssFile (bytes) from /proc/self/status
// below root ("" or "/": the machine's own). ok is false when the file cannot
// be read or has no RssAnon. Safe for concurrent use.
func ResidentMemory(root string) (anon, file uint64, ok bool) {
	p := "/proc/self/status"
	if root != "" && root != "/" {
		p = filepath.Join(root, p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, found := strings.Cut(line, ":")
		if !found || (k != "RssAnon" && k != "RssFile") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			continue
		}
		if k == "RssAnon" {
			anon, ok = n<<10, true
		} else {
			file = n << 10
		}
	}
	return anon, file, ok
}
