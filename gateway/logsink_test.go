package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
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

// TestLogWriterStuckDoesNotBlockLoops: with the log destination blocked,
// clients keep connecting, exchanging messages and closing (every close
// is a log line), and what overflows the queue is counted.
func TestLogWriterStuckDoesNotBlockLoops(t *testing.T) {
	h := &stuckHandler{release: make(chan struct{})}
	// Were the gateway to wait on the log, nothing below would finish: the
	// watchdog then unsticks the writer and the test fails.
	var blocked atomic.Bool
	watchdog := time.AfterFunc(4*time.Second, func() { blocked.Store(true); close(h.release) })
	g := newTestGatewayLog(t, func(c *Config) { c.Engine.Loops = 1 }, slog.New(h))
	t.Cleanup(func() { // runs before the gateway's cleanup, which drains the log
		if watchdog.Stop() {
			close(h.release)
		}
	})
	sub := v5Client(t, g, &paho.Connect{ClientID: "sub", CleanStart: true}, nil)
	sub.sub(t, "stuck/#", 1)
	for i := 0; i < 30; i++ {
		c := rawV5(t, g, "churn")
		_, _ = c.Write([]byte{0xE0, 0}) // DISCONNECT: one close line each
		c.expectClosed(t)
	}
	pub := v5Client(t, g, &paho.Connect{ClientID: "pub", CleanStart: true}, nil)
	pub.pub(t, "stuck/x", 1, "still flowing")
	sub.expect(t, "stuck/x", "still flowing")
	if blocked.Load() {
		t.Fatal("the event loop waited on a stuck log writer")
	}
}
