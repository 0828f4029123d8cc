package gateway

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestQueueMemoryBound (issue 14): the bytes queued by all sessions together
// are bounded by tune.queue_memory of the memory limit; past it, what would
// be queued is dropped by session.offline_policy and counted
// (reason="queue_memory"), and once the queues drain below 90% of the bound,
// messages are queued again.
func TestQueueMemoryBound(t *testing.T) {
	cfg := Default()
	cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "127.0.0.1:0", "", "127.0.0.1:0"
	cfg.Engine.Loops, cfg.Engine.TickInterval = 2, Duration(10*time.Millisecond)
	cfg.Session.MaxOfflineMessages, cfg.Session.MaxOfflineBytes = 100000, 64<<20 // the per-session bounds stay out of the way
	cfg.Tune.Apply = "off"
	g, err := New(cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	g.tn.budget.Limit = 4 << 20 // queue_memory 25%: 1 MiB for every queue together
	bound := int64(1 << 20)
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
	})
	// A persistent subscriber goes away; a publisher sends 3 MiB of QoS 1 for it.
	sub := dialRaw(t, g)
	_, _ = sub.Write(connectPacket(4, "qb-sub", 0, false))
	if h, _, err := sub.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("CONNACK %x %v", h, err)
	}
	_, _ = sub.Write(frame(0x82, []byte{0, 1, 0, 4, 'q', 'b', '/', 'x', 1}))
	if h, _, err := sub.readPacket(5 * time.Second); err != nil || h != 0x90 {
		t.Fatalf("SUBACK %x %v", h, err)
	}
	_, _ = sub.Write([]byte{0xE0, 0})
	sub.expectClosed(t)
	pub := dialRaw(t, g)
	_, _ = pub.Write(connectPacket(4, "qb-pub", 0, true))
	if h, _, err := pub.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("CONNACK %x %v", h, err)
	}
	payload := make([]byte, 1024)
	send := func(n int) {
		for i := 0; i < n; i++ {
			_, _ = pub.Write(frame(0x32, append([]byte{0, 4, 'q', 'b', '/', 'x', byte(i>>8) | 0x80, byte(i) | 1}, payload...)))
			if h, _, err := pub.readPacket(5 * time.Second); err != nil || h != 0x40 {
				t.Fatalf("PUBACK %x %v", h, err)
			}
		}
	}
	send(1500) // 1.5 MiB: the budget flips at the next sample (250 ms)
	eventually(t, "the queued bytes seen over the bound", func() bool { return g.lim.Budget.Over() })
	// The flip may come in the middle of the first batch: let the loops
	// fold what they did (a few 10 ms ticks), then compare from there.
	time.Sleep(100 * time.Millisecond)
	before := metric(t, g, "edgegw_queued_bytes")
	dropped0 := metric(t, g, `edgegw_dropped_total{reason="queue_memory"}`)
	send(1500) // all over the bound: each one dropped by drop_oldest (the oldest queued goes)
	var dropped float64
	eventually(t, "1,500 more drops for queue_memory folded into the counter", func() bool {
		dropped = metric(t, g, `edgegw_dropped_total{reason="queue_memory"}`) - dropped0
		return dropped >= 1500
	})
	after := metric(t, g, "edgegw_queued_bytes")
	t.Logf("bound %d B: queued %.0f B after the flip, %.0f B after 1,500 more; %v of them dropped for queue_memory", bound, before, after, dropped)
	if dropped != 1500 || after != before || before < float64(bound) {
		t.Fatalf("over the bound: %v dropped, queued %.0f -> %.0f B", dropped, before, after)
	}
	// The subscriber comes back and drains its queue: the bound clears.
	sub2 := dialRaw(t, g)
	_, _ = sub2.Write(connectPacket(4, "qb-sub", 0, false))
	go func() {
		for {
			h, body, err := sub2.readPacket(5 * time.Second)
			if err != nil {
				return
			}
			if h>>4 == 3 {
				tl := int(body[0])<<8 | int(body[1])
				_, _ = sub2.Write([]byte{0x40, 2, body[2+tl], body[3+tl]})
			}
		}
	}()
	eventually(t, "the bound cleared after the queue drained", func() bool {
		return !g.lim.Budget.Over() && metric(t, g, "edgegw_queued_bytes") == 0
	})
}
