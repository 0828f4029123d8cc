package gateway

import (
	"net/http"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestSlowConsumerDisconnect: with slow_consumer_policy = "disconnect", a
// v5 subscriber that stops reading is disconnected with 0x97 and counted;
// the publisher is unaffected.
func TestSlowConsumerDisconnect(t *testing.T) {
	g := newTestGateway(t, func(c *Config) {
		c.Limits.MaxOutboundBytes = 4096
		c.Limits.SlowConsumerPolicy = "disconnect"
	})
	rc := rawV5(t, g, "stuck")
	_ = rc.Conn.(interface{ SetReadBuffer(int) error }).SetReadBuffer(4096)
	_, _ = rc.Write(frame(0x82, []byte{0, 1, 0, 0, 5, 's', 't', 'u', 'c', 'k', 0}))
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x90 {
		t.Fatalf("SUBACK %x %v", h, err)
	}
	pub := v5Client(t, g, &paho.Connect{ClientID: "firehose", CleanStart: true}, nil)
	payload := string(make([]byte, 16<<10))
	deadline := time.Now().Add(10 * time.Second)
	for metric(t, g, `edgegw_connections_closed_total{reason="slow_consumer"}`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("stuck subscriber never disconnected")
		}
		pub.pub(t, "stuck", 0, payload)
	}
	if metric(t, g, `edgegw_dropped_total{reason="slow_consumer"}`) == 0 {
		t.Fatal("drop not counted")
	}
	pub.pub(t, "other", 1, "still fine") // the publisher keeps its connection
	// The subscriber's socket is closed. The DISCONNECT 0x97 is queued behind
	// the data the subscriber never read, so it arrives only when that data
	// fitted in the socket buffers at close time: best effort, as it must be for
	// a peer that does not read. When it arrives it must say 0x97; the close
	// itself is certain and counted (above).
	for {
		h, body, err := rc.readPacket(5 * time.Second)
		if err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatalf("slow consumer's socket still open: %v", err)
			}
			break // closed (EOF or reset) without the DISCONNECT reaching us
		}
		if h == 0xE0 {
			if body[0] != 0x97 {
				t.Fatalf("DISCONNECT 0x%x, want 0x97", body[0])
			}
			break
		}
	}
}

// TestSessionExpiry: a v5 session with expiry 1 s ends 1 s after its
// connection closed; reconnecting later finds no session.
func TestSessionExpiry(t *testing.T) {
	g := newTestGateway(t, nil)
	cp := func(clean bool) *paho.Connect {
		return &paho.Connect{ClientID: "exp", CleanStart: clean, Properties: &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(1))}}
	}
	c := v5Client(t, g, cp(true), nil)
	c.sub(t, "exp/#", 1)
	_ = c.Disconnect(&paho.Disconnect{})
	c2 := v5Client(t, g, cp(false), nil)
	if !c2.ack.SessionPresent {
		t.Fatal("session gone right after disconnect")
	}
	_ = c2.Disconnect(&paho.Disconnect{})
	eventually(t, "session expired", func() bool { return metric(t, g, "edgegw_sessions") == 0 })
	c3 := v5Client(t, g, cp(false), nil)
	if c3.ack.SessionPresent {
		t.Fatal("session present after expiry")
	}
}

// TestHealthz answers 200 while serving.
func TestHealthz(t *testing.T) {
	g := newTestGateway(t, nil)
	resp, err := http.Get("http://" + g.Addr("http") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
}

// TestMaxConnections: connections past limits.max_connections are closed
// at once and counted; the others are unaffected.
func TestMaxConnections(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Limits.MaxConnections = 2 })
	a := rawV5(t, g, "a")
	rawV5(t, g, "b")
	rc := dialRaw(t, g)
	if last := rc.expectClosed(t); last != nil {
		t.Fatalf("third connection got %x", last)
	}
	_, _ = a.Write([]byte{0xC0, 0})
	if h, _, err := a.readPacket(5 * time.Second); err != nil || h != 0xD0 {
		t.Fatalf("first connection: %x %v", h, err)
	}
	eventually(t, "refusal counted", func() bool {
		return metric(t, g, `edgegw_connections_closed_total{reason="connection_limit"}`) == 1
	})
}
