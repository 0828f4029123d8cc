package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// drainCodeLog is a log destination safe for the gateway's writer goroutine
// and the test together.
type drainCodeLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *drainCodeLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *drainCodeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDrainLogsV5CodeOnlyForV5: a drain logs the DISCONNECT reason code
// (0x8B) for the v5 client it was sent to, and none for a v3.1.1 client,
// which gets no DISCONNECT (it read code=0x8b).
func TestDrainLogsV5CodeOnlyForV5(t *testing.T) {
	out := &drainCodeLog{}
	cfg := Default()
	cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "127.0.0.1:0", "", ""
	g, err := New(cfg, slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	c5 := v5Client(t, g, &paho.Connect{ClientID: "drain-v5", CleanStart: true}, nil)
	rc := dialRaw(t, g)
	_, _ = rc.Write(connectPacket(4, "drain-v311", 0, true))
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("CONNACK %x %v", h, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-c5.discon:
		if d.ReasonCode != 0x8B {
			t.Fatalf("v5 DISCONNECT %#x, want 0x8b", d.ReasonCode)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no DISCONNECT on drain")
	}
	rc.expectClosed(t)
	closeLine := func(id string) string {
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, "closing client connection") && strings.Contains(l, "client_id="+id+" ") {
				return l
			}
		}
		return ""
	}
	eventually(t, "both closes logged", func() bool { return closeLine("drain-v5") != "" && closeLine("drain-v311") != "" })
	if l := closeLine("drain-v5"); !strings.Contains(l, "reason=shutdown") || !strings.Contains(l, "code=0x8b") {
		t.Errorf("v5 close: %s (want reason=shutdown code=0x8b)", l)
	}
	if l := closeLine("drain-v311"); !strings.Contains(l, "reason=shutdown") || strings.Contains(l, "code=") {
		t.Errorf("v3.1.1 close: %s (want reason=shutdown and no v5 code)", l)
	}
}
