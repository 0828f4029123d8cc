package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"edgegw/mqttcodec"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"
)

// coDial opens a raw MQTT 3.1.1 connection to addr and reads its CONNACK.
func coDial(t *testing.T, addr, id string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	rc := &rawConn{Conn: nc, r: bufio.NewReader(nc)}
	if _, err := rc.Write(connectPacket(4, id, 0, true)); err != nil {
		t.Fatal(err)
	}
	if h, body, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 || len(body) != 2 || body[1] != 0 {
		t.Fatalf("%s: CONNACK %x %x %v", id, h, body, err)
	}
	return rc
}

// coSubscribe subscribes rc to filter at QoS 0 and reads the SUBACK.
func coSubscribe(t *testing.T, rc *rawConn, filter string) {
	t.Helper()
	body := appendStr([]byte{0, 1}, filter)
	if _, err := rc.Write(frame(0x82, append(body, 0))); err != nil {
		t.Fatal(err)
	}
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x90 {
		t.Fatalf("SUBACK: %x %v", h, err)
	}
}

// coPublish is a QoS 0 PUBLISH (v3).
func coPublish(topic, payload string) []byte {
	return frame(0x30, append(appendStr(nil, topic), payload...))
}

// coExpect reads one PUBLISH from rc and checks its payload.
func coExpect(t *testing.T, rc *rawConn, topic, payload string, d time.Duration) {
	t.Helper()
	h, body, err := rc.readPacket(d)
	want := string(appendStr(nil, topic)) + payload
	if err != nil || h != 0x30 || string(body) != want {
		t.Fatalf("want PUBLISH %s %q, got %x %q %v", topic, payload, h, body, err)
	}
}

// flushCounts reads edgegw_flushes_total by trigger (folded at each tick).
func flushCounts(g *Gateway) (wake, delay uint64) {
	return g.m.counterValue(`edgegw_flushes_total{trigger="wake"}`), g.m.counterValue(`edgegw_flushes_total{trigger="delay"}`)
}

// TestFlushDelayCoalescesDeliveries: with engine.flush_delay 5ms, N QoS 0
// messages published in separate wakes within a few windows reach the
// subscriber, in order, in far fewer socket writes than N (counted by
// edgegw_flushes_total: the publisher gets no replies, so every flush is
// the subscriber's); with 0 every wake flushes, as before.
func TestFlushDelayCoalescesDeliveries(t *testing.T) {
	const n = 60
	for _, tc := range []struct {
		name  string
		delay time.Duration
	}{
		{"delay_0_flushes_every_wake", 0},
		{"delay_5ms_coalesces", 5 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGateway(t, func(c *Config) { c.Engine.FlushDelay = Duration(tc.delay) })
			sub := coDial(t, g.Addr("tcp"), "co-sub")
			coSubscribe(t, sub, "co/t")
			pub := coDial(t, g.Addr("tcp"), "co-pub")
			time.Sleep(50 * time.Millisecond) // every setup flush folded (tick 10ms)
			w0, d0 := flushCounts(g)
			got := make(chan error, 1)
			go func() {
				for i := range n {
					h, body, err := sub.readPacket(5 * time.Second)
					if want := string(appendStr(nil, "co/t")) + fmt.Sprint(i); err != nil || h != 0x30 || string(body) != want {
						got <- fmt.Errorf("message %d: got %x %q %v, want %q", i, h, body, err, want)
						return
					}
				}
				got <- nil
			}()
			start := time.Now()
			for i := range n {
				if _, err := pub.Write(coPublish("co/t", fmt.Sprint(i))); err != nil {
					t.Fatal(err)
				}
				time.Sleep(250 * time.Microsecond) // a wake per message
			}
			span := time.Since(start)
			if err := <-got; err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			w1, d1 := flushCounts(g)
			flushes, delayed := (w1-w0)+(d1-d0), d1-d0
			t.Logf("flush_delay %v: %d messages published over %v left in %d flushes (%d at the deadline)",
				tc.delay, n, span.Round(time.Millisecond), flushes, delayed)
			if tc.delay == 0 {
				if delayed != 0 || flushes < n/3 {
					t.Errorf("flush_delay 0: %d flushes (%d delayed), want about one per message and none delayed", flushes, delayed)
				}
				return
			}
			// One flush per window at most, plus slack for a window cut by a late wake.
			if limit := uint64(span/tc.delay) + 3; flushes > limit || delayed == 0 {
				t.Errorf("flush_delay %v: %d flushes (%d delayed) for %d messages over %v, want at most %d", tc.delay, flushes, delayed, n, span, limit)
			}
		})
	}
}

// TestFlushDelayRepliesGoAtOnce: with flush_delay at its maximum (100ms), a
// delivery waits for it, but what a client waits on does not: the
// publisher's PUBACK comes at once while its message is held for the
// subscriber, and the subscriber's PINGRESP comes at once and takes the
// held message before it (order kept).
func TestFlushDelayRepliesGoAtOnce(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Engine.FlushDelay = Duration(100 * time.Millisecond) })
	sub := coDial(t, g.Addr("tcp"), "co-sub")
	coSubscribe(t, sub, "co/r")
	pub := coDial(t, g.Addr("tcp"), "co-pub")

	// A QoS 1 PUBLISH: its PUBACK is not held, the delivery is.
	t0 := time.Now()
	body := append(appendStr(nil, "co/r"), 0, 7)
	if _, err := pub.Write(frame(0x32, append(body, "held"...))); err != nil {
		t.Fatal(err)
	}
	if h, b, err := pub.readPacket(5 * time.Second); err != nil || h != 0x40 || string(b) != "\x00\x07" {
		t.Fatalf("PUBACK: %x %x %v", h, b, err)
	}
	ackAfter := time.Since(t0)
	coExpect(t, sub, "co/r", "held", 5*time.Second)
	held := time.Since(t0)
	t.Logf("PUBACK after %v, delivery after %v", ackAfter, held)
	if held < 70*time.Millisecond {
		t.Errorf("delivery after %v: not held for flush_delay 100ms", held)
	}
	if ackAfter > held/2 {
		t.Errorf("PUBACK after %v, delivery after %v: the publisher's ack waited too", ackAfter, held)
	}

	// A PINGREQ while a delivery is held: PINGRESP at once, behind it.
	if _, err := pub.Write(coPublish("co/r", "before-ping")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	t1 := time.Now()
	if _, err := sub.Write([]byte{0xC0, 0}); err != nil {
		t.Fatal(err)
	}
	coExpect(t, sub, "co/r", "before-ping", 5*time.Second)
	if h, _, err := sub.readPacket(5 * time.Second); err != nil || h != 0xD0 {
		t.Fatalf("PINGRESP: %x %v", h, err)
	}
	if d := time.Since(t1); d > 60*time.Millisecond {
		t.Errorf("PINGRESP after %v: it waited for the held delivery's deadline", d)
	}
}

// TestFlushDelayCloseFlushesHeld: held deliveries leave before the
// connection closes, whoever closes it: a takeover of a v3 client (no
// DISCONNECT to carry them) and a drain.
func TestFlushDelayCloseFlushesHeld(t *testing.T) {
	const delay = 100 * time.Millisecond
	t.Run("takeover", func(t *testing.T) {
		g := newTestGateway(t, func(c *Config) { c.Engine.FlushDelay = Duration(delay) })
		sub := coDial(t, g.Addr("tcp"), "co-dup")
		coSubscribe(t, sub, "co/c")
		pub := coDial(t, g.Addr("tcp"), "co-pub")
		if _, err := pub.Write(coPublish("co/c", "last")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // held now
		t0 := time.Now()
		coDial(t, g.Addr("tcp"), "co-dup")
		coExpect(t, sub, "co/c", "last", 5*time.Second)
		if _, _, err := sub.readPacket(5 * time.Second); err == nil {
			t.Fatal("taken-over connection not closed")
		}
		t.Logf("held message and close after %v", time.Since(t0))
	})
	t.Run("drain", func(t *testing.T) {
		cfg := Default()
		cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "127.0.0.1:0", "", ""
		cfg.Engine.Loops = 4
		cfg.Engine.TickInterval = Duration(10 * time.Millisecond)
		cfg.Engine.FlushDelay = Duration(delay)
		g, err := New(cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Start(); err != nil {
			t.Fatal(err)
		}
		sub := coDial(t, g.Addr("tcp"), "co-sub")
		coSubscribe(t, sub, "co/d")
		pub := coDial(t, g.Addr("tcp"), "co-pub")
		for i := range 3 {
			if _, err := pub.Write(coPublish("co/d", fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(10 * time.Millisecond) // held now
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		for i := range 3 {
			coExpect(t, sub, "co/d", fmt.Sprint(i), 5*time.Second)
		}
		if _, _, err := sub.readPacket(5 * time.Second); err == nil {
			t.Fatal("connection not closed by the drain")
		}
	})
}

// TestChaosFlushDelay is TestChaos (same actors and checks: takeovers, slow
// consumers, abrupt closes, wills, no loss, no misroute, gauges back to 0)
// with engine.flush_delay between 1 and 5 ms drawn from the seed, under
// the policies that move held bytes most (backpressure parks acks on
// them, disconnect closes connections that hold them), with the clients
// over TCP, TLS and WebSocket by turns (takeovers across transports
// included). EDGEGW_CHAOS_SEED
// and EDGEGW_CHAOS_DURATION apply as there (default 2s, 1s with -short).
func TestChaosFlushDelay(t *testing.T) {
	seed, dur := chaosParams(t, 2*time.Second)
	delay := time.Duration(1+seed%5) * time.Millisecond
	fmt.Fprintf(os.Stderr, "TestChaosFlushDelay: seed %d (replay with EDGEGW_CHAOS_SEED=%d), flush_delay %v, %s per policy\n", seed, seed, delay, dur)
	transports := chaosTransports(t) // held output sealed into TLS records and framed late
	for i, policy := range []string{"backpressure", "disconnect"} {
		t.Run(policy, func(t *testing.T) {
			runChaos(t, policy, seed, uint64(i)+16, dur, transports, func(c *Config) { c.Engine.FlushDelay = Duration(delay) })
		})
	}
}

// TestFlushDelayHoldsWSAndTLS: engine.flush_delay holds deliveries on every
// transport. With 5ms, 60 messages published in separate wakes reach Paho
// subscribers over ws, wss and tls and a gorilla client with
// permessage-deflate, complete and in order, in far fewer flushes than
// deliveries; the deflate client's messages are compressed once per flush
// (fewer compressed WebSocket messages than deliveries). Without holding
// these transports, every wake flushed each of them: about 240 flushes.
func TestFlushDelayHoldsWSAndTLS(t *testing.T) {
	const n, delay = 60, 5 * time.Millisecond
	certFile, keyFile, pool := selfSigned(t)
	g := newTestGateway(t, func(c *Config) {
		c.Engine.FlushDelay = Duration(delay)
		c.Listeners.WS, c.Listeners.WSS, c.Listeners.TLS = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
		c.Listeners.TLSCert, c.Listeners.TLSKey = certFile, keyFile
	})
	tlsCfg := &tls.Config{RootCAs: pool}
	cols := map[string]*collector{}
	for _, url := range []string{"ws://" + g.Addr("ws") + "/mqtt", "wss://" + g.Addr("wss") + "/mqtt", "tls://" + g.Addr("tls")} {
		col := newCollector()
		pc := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("co-" + url[:strings.Index(url, ":")]).
			SetTLSConfig(tlsCfg).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
		waitTok(t, pc.Connect(), url+" connect")
		t.Cleanup(func() { pc.Disconnect(0) })
		waitTok(t, pc.Subscribe("co/t", 0, col.handler), url+" subscribe")
		cols[url] = col
	}
	zc := dialGorillaDeflate(t, g.Addr("ws"))
	wc := zc.Conn
	zc.connect(t, 4, "co-deflate", 0)
	zc.send(t, frame(0x82, append(appendStr([]byte{0, 1}, "co/t"), 0)))
	if pkts, _ := zc.read(t, 1); pkts[0][0] != 0x90 {
		t.Fatalf("SUBACK %x", pkts)
	}
	pub := coDial(t, g.Addr("tcp"), "co-pub")
	time.Sleep(50 * time.Millisecond) // every setup flush folded (tick 10ms)
	w0, d0 := flushCounts(g)
	z0 := metric(t, g, `edgegw_ws_deflate_messages_total{dir="out"}`)
	zdone := make(chan error, 1)
	go func() {
		var stream [][]byte
		for len(stream) < n {
			if err := wc.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				zdone <- err
				return
			}
			_, data, err := wc.ReadMessage()
			if err != nil {
				zdone <- fmt.Errorf("deflate client after %d messages: %v", len(stream), err)
				return
			}
			for len(data) > 0 {
				size, err := mqttcodec.PacketSize(data, 0)
				if err != nil || size > len(data) {
					zdone <- fmt.Errorf("deflate client: a message that is not whole MQTT packets: %x", data)
					return
				}
				stream = append(stream, data[:size])
				data = data[size:]
			}
		}
		for i, p := range stream {
			if want := publishV3(0, 0, "co/t", jsonTelemetry(i)); !bytes.Equal(p, want) {
				zdone <- fmt.Errorf("deflate client: message %d is %x, want %x", i, p, want)
				return
			}
		}
		zdone <- nil
	}()
	start := time.Now()
	for i := range n {
		if _, err := pub.Write(frame(0x30, append(appendStr(nil, "co/t"), jsonTelemetry(i)...))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Microsecond) // a wake per message
	}
	span := time.Since(start)
	for _, col := range cols {
		for i := range n {
			col.expect(t, "co/t", string(jsonTelemetry(i)))
		}
	}
	if err := <-zdone; err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	w1, d1 := flushCounts(g)
	flushes, delayed := (w1-w0)+(d1-d0), d1-d0
	zout := int(metric(t, g, `edgegw_ws_deflate_messages_total{dir="out"}`) - z0)
	t.Logf("flush_delay %v: %d messages to 4 subscribers over %v left in %d flushes (%d at the deadline); the deflate client got %d compressed messages",
		delay, n, span.Round(time.Millisecond), flushes, delayed, zout)
	if limit := 4 * (uint64(span/delay) + 3); flushes > limit || delayed == 0 {
		t.Errorf("%d flushes (%d delayed) for 4 x %d deliveries over %v, want at most %d", flushes, delayed, n, span, limit)
	}
	if zout < 1 || zout > n/2 {
		t.Errorf("%d compressed messages for %d deliveries to the deflate client, want between 1 and %d", zout, n, n/2)
	}
}

// TestFlushDelayWSCloseAfterHeld: a WebSocket client that sends a close
// frame while a message for it is held still receives the message, and
// then the echo of its close (held data goes before the echo: after a
// close frame no data frame may follow, RFC 6455 5.5.1).
func TestFlushDelayWSCloseAfterHeld(t *testing.T) {
	g := newTestGateway(t, func(c *Config) {
		c.Engine.FlushDelay = Duration(100 * time.Millisecond)
		c.Listeners.WS = "127.0.0.1:0"
	})
	c := dialWS(t, g.Addr("ws"))
	c.connect(t, 4, "co-ws-close", 0)
	c.send(t, frame(0x82, append(appendStr([]byte{0, 1}, "co/c"), 0)))
	if pkts, _ := c.read(t, 1); pkts[0][0] != 0x90 {
		t.Fatalf("SUBACK %x", pkts)
	}
	pub := coDial(t, g.Addr("tcp"), "co-ws-pub")
	if _, err := pub.Write(coPublish("co/c", "held")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // routed and held (100 ms)
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	pkts, cerr := c.read(t, 0)
	if len(pkts) != 1 || !bytes.Equal(pkts[0], coPublish("co/c", "held")) {
		t.Fatalf("before the close echo: %x, want the held PUBLISH", pkts)
	}
	if cerr == nil || cerr.Code != websocket.CloseNormalClosure {
		t.Fatalf("close echo %v, want 1000", cerr)
	}
}
