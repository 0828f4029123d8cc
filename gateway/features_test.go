package gateway

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestRetained: set, delivery on subscribe with RETAIN=1, clear with an
// empty payload [MQTT-3.3.1-5..11].
func TestRetained(t *testing.T) {
	g := newTestGateway(t, nil)
	pub := v3Client(t, g, "ret-pub", nil)
	waitTok(t, pub.Publish("ret/a", 1, true, "hello"), "publish retained")
	col := newCollector()
	sub := v3Client(t, g, "ret-sub", nil)
	waitTok(t, sub.Subscribe("ret/#", 1, col.handler), "subscribe")
	m := col.expect(t, "ret/a", "hello")
	if !m.Retained() {
		t.Fatal("retained delivery without RETAIN flag [MQTT-3.3.1-9]")
	}
	// a live message to an existing subscription has RETAIN=0 in 3.1.1
	waitTok(t, pub.Publish("ret/a", 1, true, "again"), "publish retained")
	if m := col.expect(t, "ret/a", "again"); m.Retained() {
		t.Fatal("live delivery with RETAIN flag")
	}
	waitTok(t, pub.Publish("ret/a", 1, true, ""), "clear retained")
	col.expect(t, "ret/a", "")
	col2 := newCollector()
	sub2 := v3Client(t, g, "ret-sub2", nil)
	waitTok(t, sub2.Subscribe("ret/#", 1, col2.handler), "subscribe")
	col2.none(t, 200*time.Millisecond)
}

// TestRetainedV5 checks retain handling 2 (never), properties kept on
// retained messages, and retain-as-published.
func TestRetainedV5(t *testing.T) {
	g := newTestGateway(t, nil)
	pub := v5Client(t, g, &paho.Connect{ClientID: "r5-pub", CleanStart: true}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := pub.Publish(ctx, &paho.Publish{Topic: "r5/x", QoS: 1, Retain: true, Payload: []byte("v"),
		Properties: &paho.PublishProperties{ContentType: "text/plain", User: paho.UserProperties{{Key: "k", Value: "v"}}}})
	if err != nil {
		t.Fatal(err)
	}
	sub := v5Client(t, g, &paho.Connect{ClientID: "r5-sub", CleanStart: true}, nil)
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "r5/#", QoS: 1, RetainHandling: 2}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-sub.msgs:
		t.Fatalf("retain handling 2 delivered %s", m.Topic)
	case <-time.After(200 * time.Millisecond):
	}
	sub2 := v5Client(t, g, &paho.Connect{ClientID: "r5-sub2", CleanStart: true}, nil)
	if _, err := sub2.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "r5/#", QoS: 1, RetainAsPublished: true}}}); err != nil {
		t.Fatal(err)
	}
	m := sub2.expect(t, "r5/x", "v")
	if !m.Retain || m.Properties == nil || m.Properties.ContentType != "text/plain" || m.Properties.User.Get("k") != "v" {
		t.Fatalf("retained v5 message: retain=%v props=%+v", m.Retain, m.Properties)
	}
	pub.pub(t, "r5/y", 0, "live") // not retained: RAP keeps RETAIN=0
	if m := sub2.expect(t, "r5/y", "live"); m.Retain {
		t.Fatal("RETAIN set on a non-retained message")
	}
	_, _ = pub.Publish(ctx, &paho.Publish{Topic: "r5/z", QoS: 0, Retain: true, Payload: []byte("r")})
	if m := sub2.expect(t, "r5/z", "r"); !m.Retain {
		t.Fatal("retain-as-published dropped the RETAIN flag [MQTT-3.3.1-12]")
	}
}

// TestWill: published on abnormal close, not on a normal DISCONNECT
// [MQTT-3.1.2-8] [MQTT-3.14.4-3]; v5 DISCONNECT 0x04 publishes it.
func TestWill(t *testing.T) {
	g := newTestGateway(t, nil)
	col := newCollector()
	sub := v3Client(t, g, "will-sub", nil)
	waitTok(t, sub.Subscribe("will/#", 1, col.handler), "subscribe")

	t.Run("abnormal close publishes the will", func(t *testing.T) {
		rc := dialRaw(t, g)
		_, _ = rc.Write(willConnect(4, "dies", "will/dies", "gone", 0))
		if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
			t.Fatalf("CONNACK %x %v", h, err)
		}
		rc.Close()
		col.expect(t, "will/dies", "gone")
	})
	t.Run("normal DISCONNECT discards the will", func(t *testing.T) {
		c := v3Client(t, g, "polite", func(o *mqtt.ClientOptions) { o.SetWill("will/polite", "gone", 1, false) })
		c.Disconnect(100)
		col.none(t, 300*time.Millisecond)
	})
	t.Run("v5 DISCONNECT 0x04 publishes the will", func(t *testing.T) {
		rc := dialRaw(t, g)
		_, _ = rc.Write(willConnect(5, "w5", "will/w5", "bye", 0))
		if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
			t.Fatalf("CONNACK %x %v", h, err)
		}
		_, _ = rc.Write([]byte{0xE0, 1, 0x04})
		rc.expectClosed(t)
		col.expect(t, "will/w5", "bye")
	})
	t.Run("v5 will delay", func(t *testing.T) {
		rc := dialRaw(t, g)
		_, _ = rc.Write(willConnect(5, "wd", "will/wd", "late", 1))
		if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
			t.Fatalf("CONNACK %x %v", h, err)
		}
		start := time.Now()
		rc.Close()
		col.expect(t, "will/wd", "late")
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Fatalf("delayed will after %v, want >= 1s", d)
		}
	})
	t.Run("keepalive timeout publishes the will", func(t *testing.T) {
		rc := dialRaw(t, g)
		b := willConnect(4, "kaw", "will/ka", "timeout", 0)
		b[10], b[11] = 0, 1 // keep alive 1 s
		_, _ = rc.Write(b)
		if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
			t.Fatalf("CONNACK %x %v", h, err)
		}
		col.expect(t, "will/ka", "timeout")
	})
}

// willConnect builds a CONNECT with a QoS 1 will; v5 with a will delay.
func willConnect(version byte, id, topic, payload string, delay byte) []byte {
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', version, 0x02 | 0x04 | 0x08, 0, 0}
	if version == 5 {
		body = append(body, 5, 0x11, 0, 0, 0, 10) // session expiry 10 s (outlives the will delay)
	}
	body = append(body, byte(len(id)>>8), byte(len(id)))
	body = append(body, id...)
	if version == 5 {
		if delay > 0 {
			body = append(body, 5, 0x18, 0, 0, 0, delay)
		} else {
			body = append(body, 0)
		}
	}
	body = append(body, byte(len(topic)>>8), byte(len(topic)))
	body = append(body, topic...)
	body = append(body, byte(len(payload)>>8), byte(len(payload)))
	body = append(body, payload...)
	return frame(0x10, body)
}

// TestPersistentSession: QoS 1 messages published while a clean-session=0
// subscriber is away are delivered, exactly the acknowledged ones, when it
// resumes (session present).
func TestPersistentSession(t *testing.T) {
	g := newTestGateway(t, nil)
	sub := v3Client(t, g, "persist", func(o *mqtt.ClientOptions) { o.SetCleanSession(false) })
	col := newCollector()
	waitTok(t, sub.Subscribe("ps/#", 1, col.handler), "subscribe")
	sub.Disconnect(50)
	pub := v3Client(t, g, "ps-pub", nil)
	const n = 20
	for i := 0; i < n; i++ {
		waitTok(t, pub.Publish("ps/t", 1, false, []byte{byte(i)}), "publish")
	}
	eventually(t, "offline messages in edgegw_queued_messages", func() bool { return metric(t, g, "edgegw_queued_messages") == n })
	o := mqtt.NewClientOptions().AddBroker("tcp://" + g.Addr("tcp")).SetClientID("persist").SetCleanSession(false).
		SetAutoReconnect(false).SetOrderMatters(true).SetDefaultPublishHandler(col.handler)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	waitTok(t, tok, "resume")
	defer c.Disconnect(0)
	if !tok.(*mqtt.ConnectToken).SessionPresent() {
		t.Fatal("session present = 0 on resume")
	}
	for i := 0; i < n; i++ {
		col.expect(t, "ps/t", string([]byte{byte(i)}))
	}
	col.none(t, 200*time.Millisecond)
	eventually(t, "gauges back to zero", func() bool {
		return metric(t, g, "edgegw_queued_messages") == 0 && metric(t, g, "edgegw_inflight") == 0
	})
}

// TestResendDup: QoS 1 messages sent but not acknowledged are re-sent with
// DUP=1 when the session resumes [MQTT-4.4.0-1].
func TestResendDup(t *testing.T) {
	g := newTestGateway(t, nil)
	rc := dialRaw(t, g)
	_, _ = rc.Write(connectPacket(4, "dup", 0, false))
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("CONNACK %x %v", h, err)
	}
	_, _ = rc.Write(frame(0x82, []byte{0, 1, 0, 5, 'd', 'u', 'p', '/', 'a', 1}))
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x90 {
		t.Fatalf("SUBACK %x %v", h, err)
	}
	pub := v3Client(t, g, "dup-pub", nil)
	waitTok(t, pub.Publish("dup/a", 1, false, "m1"), "publish")
	h, body, err := rc.readPacket(5 * time.Second)
	if err != nil || h != 0x32 {
		t.Fatalf("PUBLISH %x %v", h, err)
	}
	rc.Close() // no PUBACK
	rc2 := dialRaw(t, g)
	_, _ = rc2.Write(connectPacket(4, "dup", 0, false))
	h, ack, err := rc2.readPacket(5 * time.Second)
	if err != nil || h != 0x20 || ack[0] != 1 {
		t.Fatalf("CONNACK %x %x %v, want session present", h, ack, err)
	}
	h2, body2, err := rc2.readPacket(5 * time.Second)
	if err != nil || h2 != 0x3A || string(body2) != string(body) {
		t.Fatalf("resent %x %q, want DUP QoS 1 %q", h2, body2, body)
	}
}

// TestTakeover: a second CONNECT with the same client ID (landing on any of
// the 4 loops) closes the first with DISCONNECT 0x8E and inherits its
// subscriptions [MQTT-3.1.4-3].
func TestTakeover(t *testing.T) {
	g := newTestGateway(t, nil)
	pub := v5Client(t, g, &paho.Connect{ClientID: "to-pub", CleanStart: true}, nil)
	var prev *v5
	for i := 0; i < 8; i++ { // 8 reconnects: several cross-loop moves
		c := v5Client(t, g, &paho.Connect{ClientID: "owner", CleanStart: i == 0,
			Properties: &paho.ConnectProperties{SessionExpiryInterval: ptr(uint32(60))}}, nil)
		if i > 0 {
			if !c.ack.SessionPresent {
				t.Fatalf("takeover %d: session present = 0", i)
			}
			select {
			case d := <-prev.discon:
				if d.ReasonCode != 0x8E {
					t.Fatalf("old connection got DISCONNECT 0x%x, want 0x8E", d.ReasonCode)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("takeover %d: old connection got no DISCONNECT", i)
			}
		} else {
			c.sub(t, "to/#", 1)
		}
		pub.pub(t, "to/x", 1, "m")
		c.expect(t, "to/x", "m")
		prev = c
	}
	eventually(t, "takeovers counted", func() bool {
		return metric(t, g, `edgegw_connections_closed_total{reason="session_taken_over"}`) == 7
	})
}

func ptr[T any](v T) *T { return &v }

// TestDrain: Shutdown sends v5 clients DISCONNECT 0x9C with the server
// reference and closes v3 clients.
func TestDrain(t *testing.T) {
	cfg := Default()
	cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "127.0.0.1:0", "", ""
	cfg.Drain.ServerReference = "other:1883"
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	c5 := v5Client(t, g, &paho.Connect{ClientID: "d5", CleanStart: true}, nil)
	rc := dialRaw(t, g)
	_, _ = rc.Write(connectPacket(4, "d3", 0, true))
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
		if d.ReasonCode != 0x9C || d.Properties == nil || d.Properties.ServerReference != "other:1883" {
			t.Fatalf("DISCONNECT %+v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no DISCONNECT on drain")
	}
	if last := rc.expectClosed(t); last != nil {
		t.Fatalf("v3 got %x", last)
	}
	if _, err := net.DialTimeout("tcp", g.Addr("tcp"), time.Second); err == nil {
		t.Fatal("still accepting after Shutdown")
	}
}

// TestListenerInUse: Start reports a taken port as the house error text.
func TestListenerInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := Default()
	cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = ln.Addr().String(), "", ""
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = g.Start()
	want := `cannot open listener "` + ln.Addr().String() + `": address already in use`
	if err == nil || err.Error() != want {
		t.Fatalf("Start: %v, want %s", err, want)
	}
}

// TestRetryInterval: with limits.retry_interval set, an unacknowledged QoS 1
// message is re-sent with DUP on a live v3 connection.
func TestRetryInterval(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Limits.RetryInterval = Duration(200 * time.Millisecond) })
	rc := dialRaw(t, g)
	_, _ = rc.Write(connectPacket(4, "retry", 0, true))
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("CONNACK %x %v", h, err)
	}
	_, _ = rc.Write(frame(0x82, []byte{0, 1, 0, 1, 'r', 1}))
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x90 {
		t.Fatalf("SUBACK %x %v", h, err)
	}
	pub := v3Client(t, g, "retry-pub", nil)
	waitTok(t, pub.Publish("r", 1, false, "again"), "publish")
	h, first, err := rc.readPacket(5 * time.Second)
	if err != nil || h != 0x32 {
		t.Fatalf("PUBLISH %x %v", h, err)
	}
	start := time.Now()
	h, again, err := rc.readPacket(5 * time.Second)
	if err != nil || h != 0x3A || string(again) != string(first) {
		t.Fatalf("resend %x %q, want DUP copy of %q", h, again, first)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("resent after %v, want >= 200ms", d)
	}
	_, _ = rc.Write([]byte{0x40, 2, first[3], first[4]}) // PUBACK stops the resends
	if _, _, err := rc.readPacket(500 * time.Millisecond); err == nil {
		t.Fatal("resent after PUBACK")
	}
}

// TestTakeoverStorm: many connections claim the same client ID at once
// from different loops while a publisher keeps sending to it; the gateway
// settles on one session, the last connection works, nothing deadlocks.
func TestTakeoverStorm(t *testing.T) {
	g := newTestGateway(t, nil)
	pub := v3Client(t, g, "storm-pub", nil)
	stop := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			pub.Publish("storm/x", 1, false, "m").WaitTimeout(time.Second)
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				nc, err := net.Dial("tcp", g.Addr("tcp"))
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = nc.Write(connectPacket(4, "storm", 0, i%3 == 0))
				_, _ = nc.Write(frame(0x82, []byte{0, 1, 0, 7, 's', 't', 'o', 'r', 'm', '/', 'x', 1}))
				time.Sleep(time.Duration(w) * time.Millisecond)
				nc.Close()
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	<-pubDone
	c := v3Client(t, g, "storm", func(o *mqtt.ClientOptions) { o.SetCleanSession(false) })
	col := newCollector()
	waitTok(t, c.Subscribe("storm/y", 1, col.handler), "subscribe")
	waitTok(t, pub.Publish("storm/y", 1, false, "final"), "publish")
	col.expect(t, "storm/y", "final")
	eventually(t, "one session left besides the publisher", func() bool { return metric(t, g, "edgegw_sessions") == 2 })
}
