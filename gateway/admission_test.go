package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgegw/tune"
)

// lockedBuf is a goroutine-safe log sink.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newAdmissionGateway starts a test gateway whose admission is adm.
func newAdmissionGateway(t *testing.T, adm *tune.Admission, logs *lockedBuf) *Gateway {
	t.Helper()
	cfg := Default()
	cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "127.0.0.1:0", "", "127.0.0.1:0"
	cfg.Engine.Loops = 2
	cfg.Engine.TickInterval = Duration(10 * time.Millisecond)
	g, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	g.tn.adm = adm // before Start: no loop reads it yet
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
	})
	return g
}

// connackCode sends CONNECT (version 4 or 5) on a fresh socket and returns
// the CONNACK's code (v3 return code, v5 reason code) and whether the
// gateway then closed the connection.
func connackCode(t *testing.T, g *Gateway, version byte, id string) (code byte, closed bool, rc *rawConn) {
	t.Helper()
	rc = dialRaw(t, g)
	if _, err := rc.Write(connectPacket(version, id, 0, true)); err != nil {
		t.Fatal(err)
	}
	h, body, err := rc.readPacket(5 * time.Second)
	if err != nil || h != 0x20 || len(body) < 2 {
		t.Fatalf("%s: no CONNACK: %x %x %v", id, h, body, err)
	}
	if _, _, err := rc.readPacket(200 * time.Millisecond); err != nil && !isTimeout(err) {
		closed = true
	}
	return body[1], closed, rc
}

// TestAdmissionRefusesPastCapacity: with a capacity of 2 connections, a
// third CONNECT gets CONNACK 0x89 Server busy (v5) or 0x03 Server
// unavailable (v3) and is closed [MQTT-3.2.2-5] [MQTT-3.2.2-7]; each is
// counted as over_capacity and logged with its client ID, rate-limited.
// Once a client leaves, a new one fits again.
func TestAdmissionRefusesPastCapacity(t *testing.T) {
	var logs lockedBuf
	g := newAdmissionGateway(t, tune.NewAdmission(tune.Budget{Capacity: 2}, nil), &logs)
	if got := metric(t, g, "edgegw_capacity_connections"); got != 2 {
		t.Fatalf("edgegw_capacity_connections = %v, want 2", got)
	}
	var held []*rawConn
	for _, id := range []string{"a1", "a2"} {
		code, closed, rc := connackCode(t, g, 4, id)
		if code != 0 || closed {
			t.Fatalf("%s within capacity: code %#x closed %v", id, code, closed)
		}
		held = append(held, rc)
	}
	for _, c := range []struct {
		name    string
		version byte
		want    byte
	}{{"MQTT-3.2.2-7/v5-0x89", 5, 0x89}, {"MQTT-3.2.2-5/v3-0x03", 4, 0x03}, {"v5-again", 5, 0x89}} {
		t.Run(c.name, func(t *testing.T) {
			code, closed, _ := connackCode(t, g, c.version, "over-"+c.name)
			if code != c.want || !closed {
				t.Fatalf("CONNECT past capacity: code %#x closed %v, want %#x and closed", code, closed, c.want)
			}
		})
	}
	eventually(t, "over_capacity counted", func() bool {
		return metric(t, g, `edgegw_connections_closed_total{reason="over_capacity"}`) == 3
	})
	out := logs.String()
	if n := strings.Count(out, "connection refused: server busy"); n != 1 {
		t.Errorf("%d refusal log lines in a second, want 1 (rate-limited):\n%s", n, out)
	}
	if !strings.Contains(out, "client_id=over-MQTT-3.2.2-7/v5-0x89") || !strings.Contains(out, "reason=over_capacity") {
		t.Errorf("refusal log lacks client ID or reason:\n%s", out)
	}
	held[0].Close()
	eventually(t, "a slot freed", func() bool { return metric(t, g, "edgegw_connections") == 1 })
	if code, closed, _ := connackCode(t, g, 5, "a3"); code != 0 || closed {
		t.Fatalf("after a client left: code %#x closed %v", code, closed)
	}
}

// TestAdmissionMemoryPressure: while the sampled memory use is at or above
// the high watermark every CONNECT is refused (memory_pressure), whatever
// the capacity; below 97% of it, connections are accepted again. The
// sampling runs on the gateway's tune goroutine; the loops only read the
// flag.
func TestAdmissionMemoryPressure(t *testing.T) {
	var usage atomic.Int64
	var logs lockedBuf
	adm := tune.NewAdmission(tune.Budget{Capacity: 1000, HighWatermark: 1 << 20}, func() (tune.MemorySample, bool) { return tune.MemorySample{WorkingSet: usage.Load()}, true })
	g := newAdmissionGateway(t, adm, &logs)
	if code, _, _ := connackCode(t, g, 5, "calm"); code != 0 {
		t.Fatalf("below the watermark: code %#x", code)
	}
	usage.Store(1 << 20)
	eventually(t, "pressure sampled", adm.UnderPressure)
	if code, closed, _ := connackCode(t, g, 5, "pressed5"); code != 0x89 || !closed {
		t.Fatalf("v5 under pressure: code %#x closed %v", code, closed)
	}
	if code, closed, _ := connackCode(t, g, 4, "pressed3"); code != 0x03 || !closed {
		t.Fatalf("v3 under pressure: code %#x closed %v", code, closed)
	}
	eventually(t, "memory_pressure counted", func() bool {
		return metric(t, g, `edgegw_connections_closed_total{reason="memory_pressure"}`) == 2
	})
	if got := metric(t, g, "edgegw_memory_usage_bytes"); got != 1<<20 {
		t.Errorf("edgegw_memory_usage_bytes = %v", got)
	}
	usage.Store(1 << 19)
	eventually(t, "pressure ended", func() bool { return !adm.UnderPressure() })
	if code, _, _ := connackCode(t, g, 4, "relieved"); code != 0 {
		t.Fatalf("after pressure: code %#x", code)
	}
	if !strings.Contains(logs.String(), "memory above the high watermark") {
		t.Errorf("pressure not logged:\n%s", logs.String())
	}
}
