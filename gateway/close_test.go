package gateway

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// closeLog records the gateway's "closing client connection" lines.
type closeLog struct {
	mu   sync.Mutex
	recs []map[string]string
}

func (h *closeLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *closeLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *closeLog) WithGroup(string) slog.Handler            { return h }
func (h *closeLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "closing client connection" {
		return nil
	}
	m := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	h.recs = append(h.recs, m)
	h.mu.Unlock()
	return nil
}

func (h *closeLog) byReason(reason string) []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]string
	for _, m := range h.recs {
		if m["reason"] == reason {
			out = append(out, m)
		}
	}
	return out
}

// TestCloseLoggedOnce: every close cause is logged exactly once with the
// client ID and the address, including the ones the client starts
// (DISCONNECT, socket close) and refusals before any state exists.
func TestCloseLoggedOnce(t *testing.T) {
	h := &closeLog{}
	g := newTestGatewayLog(t, func(c *Config) { c.Limits.MaxConnections = 2 }, slog.New(h))
	a := rawV5(t, g, "log-a")
	b := rawV5(t, g, "log-b")
	refused := dialRaw(t, g)
	refused.expectClosed(t)
	_, _ = a.Write([]byte{0xE0, 0}) // DISCONNECT
	a.expectClosed(t)
	_ = b.Close() // no DISCONNECT: a network close
	eventually(t, "three closes logged", func() bool {
		return len(h.byReason("client_disconnect"))+len(h.byReason("network"))+len(h.byReason("connection_limit")) == 3
	})
	time.Sleep(50 * time.Millisecond) // a second line per close would come now
	for _, tc := range []struct{ reason, id string }{
		{"client_disconnect", "log-a"}, {"network", "log-b"}, {"connection_limit", ""},
	} {
		recs := h.byReason(tc.reason)
		if len(recs) != 1 {
			t.Fatalf("%s logged %d times", tc.reason, len(recs))
		}
		if recs[0]["client_id"] != tc.id || recs[0]["addr"] == "" {
			t.Fatalf("%s: %v", tc.reason, recs[0])
		}
	}
	h.mu.Lock()
	n := len(h.recs)
	h.mu.Unlock()
	if n != 3 {
		t.Fatalf("%d close lines for 3 closes", n)
	}
}
