package telemetry

import (
	"bytes"
	"strings"
	"testing"
)

// TestResidentMemory reads RssAnon and RssFile from a fake /proc below a
// root, never the host's.
func TestResidentMemory(t *testing.T) {
	for _, tc := range []struct {
		root       string
		anon, file uint64
		ok         bool
	}{
		{"testdata/rss", 163840 << 10, 16384 << 10, true},
		{"testdata/noanon", 0, 1024 << 10, false}, // no RssAnon: not ok
		{"testdata/missing", 0, 0, false},
	} {
		anon, file, ok := ResidentMemory(tc.root)
		if anon != tc.anon || file != tc.file || ok != tc.ok {
			t.Errorf("ResidentMemory(%q) = %d, %d, %v; want %d, %d, %v", tc.root, anon, file, ok, tc.anon, tc.file, tc.ok)
		}
	}
}

// TestRuntimeMetrics: every Go runtime figure is written, once, and the
// resident memory lines are left out where /proc cannot be read.
func TestRuntimeMetrics(t *testing.T) {
	var b bytes.Buffer
	writeRuntimeMetrics(&b, "testdata/missing")
	out := b.String()
	for _, r := range runtimeSamples {
		if strings.Count(out, r.name+" ") != 1 {
			t.Errorf("%s written %d times, want once\n%s", r.name, strings.Count(out, r.name+" "), out)
		}
	}
	if strings.Contains(out, "process_resident_memory_bytes") {
		t.Errorf("resident memory written without a readable /proc/self/status:\n%s", out)
	}
}
