package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// stuckHandler is a log destination that blocks until released (a full
// pipe, a stalled journal) and then records what it was given.
type stuckHandler struct {
	release chan struct{}
	mu      sync.Mutex
	msgs    []string
	attrs   []map[string]string
}

func (h *stuckHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *stuckHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *stuckHandler) WithGroup(string) slog.Handler            { return h }
func (h *stuckHandler) Handle(_ context.Context, r slog.Record) error {
	<-h.release
	m := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	h.msgs = append(h.msgs, r.Message)
	h.attrs = append(h.attrs, m)
	h.mu.Unlock()
	return nil
}

// TestAsyncLogDropsAndReports: a full queue drops (counted), Handle never
// waits, and the writer reports the whole loss, in at most two records,
// once it catches up.
func TestAsyncLogDropsAndReports(t *testing.T) {
	h := &stuckHandler{release: make(chan struct{})}
	set := metrics.NewSet()
	a := NewLog(h, 4, set)
	dropped := set.GetOrCreateCounter("edgegw_log_dropped_total") // what NewLog registered
	a.Start()
	lg := slog.New(a)
	start := time.Now()
	for i := 0; i < 10; i++ {
		lg.Info("line", "i", i)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("10 log calls took %v with the writer stuck", d)
	}
	// The writer holds one record (stuck in Handle) or none yet; 4 wait.
	if n := dropped.Get(); (n != 5 && n != 6) || a.Dropped() != n {
		t.Fatalf("dropped %d of 10 with a queue of 4 (Dropped %d), want 5 or 6", n, a.Dropped())
	}
	close(h.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.Stop(ctx)
	h.mu.Lock()
	msgs, attrs := append([]string(nil), h.msgs...), h.attrs
	h.mu.Unlock()
	// The writer reports what was lost each time it takes a record, so the
	// loss may come in two reports: drops before it took its first record
	// (that report is then what blocks it) and drops after. Each counts.
	var lines, reported, reports int
	for i, m := range msgs {
		switch m {
		case "line":
			lines++
		case "log records dropped: the log writer fell behind":
			n := int(atoiOr(attrs[i]["dropped"]))
			if n <= 0 {
				t.Fatalf("a drop report says %q records", attrs[i]["dropped"])
			}
			reported += n
			reports++
		}
	}
	if reports == 0 || reports > 2 {
		t.Fatalf("%d drop reports, want 1 or 2 (before and after the writer got stuck)", reports)
	}
	if lines+reported != 10 || uint64(reported) != dropped.Get() {
		t.Fatalf("wrote %d lines and reported %d dropped (counter %d), want 10 in all", lines, reported, dropped.Get())
	}
	// After stop the handler writes synchronously.
	lg.Info("after stop")
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.msgs[len(h.msgs)-1] != "after stop" {
		t.Fatal("log after stop was not written")
	}
}

func atoiOr(s string) int64 {
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
