package gateway

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"edgegw/gateway/config"
	"edgegw/mqttcodec"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestRelaySessionKept: with session_expiry, a message mosquitto takes for
// the relay's upstream subscription while the link is down reaches the
// local subscriber once the link is back, over MQTT 3.1.1 (clean session 0
// after a first clean connection) and 5.0 (Session Expiry Interval); with
// sessions starting clean (session_expiry 0) it never does.
func TestRelaySessionKept(t *testing.T) {
	for _, tc := range []struct {
		name     string
		protocol int
		expiry   time.Duration
	}{{"v5-kept", 5, time.Minute}, {"v3-kept", 4, time.Minute}, {"v5-clean", 5, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			mq := startMosquitto(t, freePort(t), "")
			px := startWireProxy(t, mq.addr)
			g := newTestGateway(t, func(c *Config) {
				u := upstream("core", px.addr())
				u.Protocol, u.Import, u.Pool = tc.protocol, []string{"commands/#"}, 1
				u.SessionExpiry = Duration(tc.expiry)
				c.Relay.Upstream = []config.Upstream{u}
			})
			relayUp(t, g, 0)
			cmds := newCollector()
			dev := v3Client(t, g, "dev1", func(o *mqtt.ClientOptions) { o.SetDefaultPublishHandler(cmds.handler) })
			waitTok(t, dev.Subscribe("commands/dev1", 1, nil), "device subscribe")
			commander := mqttAt(t, mq.addr, "commander", nil)
			// The upstream subscription is on its way: probe until one arrives.
			for i := 0; cmds.n.Load() == 0; i++ {
				if i == 100 {
					t.Fatal("no probe reached the device in 5 s")
				}
				waitTok(t, commander.Publish("commands/dev1", 1, false, "probe"), "probe")
				time.Sleep(50 * time.Millisecond)
			}
			relayDownWhile(t, g, px, cmds, func() {
				waitTok(t, commander.Publish("commands/dev1", 1, false, "while-down"), "publish while the link is down")
			})
			st := g.relays[0].Stats()
			if tc.expiry == 0 {
				cmds.none(t, time.Second)
				if st.Resumed != 0 {
					t.Fatalf("%d sessions resumed with session_expiry 0", st.Resumed)
				}
				return
			}
			cmds.expect(t, "commands/dev1", "while-down")
			if st.Resumed == 0 {
				t.Fatal("edgegw_relay_sessions_resumed_total is 0")
			}
		})
	}
}

// TestRelaySessionResendsUnderSameIDs: with session_expiry, after a
// reconnect the relay finishes its flows in the resumed session
// [MQTT-4.4.0-1]. The upstream (mosquitto, 5.0) got two QoS 1 and one QoS 2
// message and answered them, but its PUBACKs and PUBCOMP never reached the
// relay (the proxy keeps them) before the link was cut. After it: the QoS 1
// messages go again with DUP under their packet identifiers, the QoS 2
// message gets its PUBREL again under its identifier and no second PUBLISH
// (resent as a new message, a subscriber would get it twice), and the
// device's three flows complete, none counted rejected (an upstream that
// answers the second PUBREL with 0x92 is gateway/relay's
// TestResumedSessionPubrel).
func TestRelaySessionResendsUnderSameIDs(t *testing.T) {
	mq := startMosquitto(t, freePort(t), "")
	px := startWireProxy(t, mq.addr)
	var mute atomic.Bool
	px.drop = func(f []byte) bool {
		typ := mqttcodec.TypeOf(f)
		return mute.Load() && (typ == mqttcodec.PUBACK || typ == mqttcodec.PUBCOMP)
	}
	g := newTestGateway(t, func(c *Config) {
		u := upstream("core", px.addr())
		u.Forward, u.Pool, u.SessionExpiry = []string{"telemetry/#"}, 1, Duration(time.Minute)
		c.Relay.Upstream = []config.Upstream{u}
	})
	relayUp(t, g, 0)
	seen := newCollector()
	obs := mqttAt(t, mq.addr, "observer", seen.handler)
	waitTok(t, obs.Subscribe("telemetry/#", 2, nil), "observer subscribe")

	mute.Store(true)
	dev := v3Client(t, g, "dev1", nil)
	toks := []mqtt.Token{
		dev.Publish("telemetry/dev1", 1, false, "q1-a"),
		dev.Publish("telemetry/dev1", 1, false, "q1-b"),
		dev.Publish("telemetry/dev1", 2, false, "q2-a"),
	}
	for _, want := range []string{"q1-a", "q1-b", "q2-a"} {
		seen.expect(t, "telemetry/dev1", want) // at the upstream, acknowledged there
	}
	eventually(t, "the QoS 2 message's PUBREL at the upstream", func() bool { _, rels := px.wire(); return len(rels) == 1 })
	for i, tok := range toks {
		if tok.WaitTimeout(200 * time.Millisecond) {
			t.Fatalf("device publish %d acknowledged before the upstream's acknowledgement reached the relay", i)
		}
	}
	mute.Store(false)
	px.cut()
	for i, tok := range toks {
		if !tok.WaitTimeout(10 * time.Second) {
			t.Fatalf("device publish %d not acknowledged after the reconnect", i)
		}
	}
	time.Sleep(300 * time.Millisecond) // a duplicate, if any, arrives
	pubs, rels := px.wire()
	ids := map[string][]uint16{}
	dups := map[string][]bool{}
	for _, p := range pubs {
		ids[p.payload] = append(ids[p.payload], p.id)
		dups[p.payload] = append(dups[p.payload], p.dup)
	}
	for _, m := range []string{"q1-a", "q1-b"} {
		if len(ids[m]) != 2 || ids[m][0] != ids[m][1] || fmt.Sprint(dups[m]) != "[false true]" {
			t.Errorf("%s on the wire: identifiers %v, DUP %v; want sent twice under one identifier, DUP on the resend", m, ids[m], dups[m])
		}
	}
	if len(ids["q2-a"]) != 1 || len(rels) != 2 || rels[0] != ids["q2-a"][0] || rels[1] != rels[0] {
		t.Errorf("q2-a: PUBLISH identifiers %v, PUBREL identifiers %v; want one PUBLISH and its PUBREL twice", ids["q2-a"], rels)
	}
	n := 0
	for len(seen.ch) > 0 {
		if m := <-seen.ch; string(m.Payload()) == "q2-a" {
			n++
		}
	}
	if n != 0 {
		t.Errorf("the upstream's subscriber got q2-a %d more times", n)
	}
	if r := metric(t, g, `edgegw_relay_dropped_total{upstream="core",reason="rejected"}`); r != 0 {
		t.Errorf("%v forwards counted rejected", r)
	}
	if st := g.relays[0].Stats(); st.Resumed == 0 || st.Resent < 2 {
		t.Errorf("resumed %d, resent %d; want a resumed session and the two QoS 1 messages resent", st.Resumed, st.Resent)
	}
}

// relayDownWhile empties cmds of the probes still arriving, takes the
// relay's only link down (px cuts it and refuses reconnects), runs publish,
// and lets the link up again.
func relayDownWhile(t *testing.T, g *Gateway, px *wireProxy, cmds *collector, publish func()) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	for len(cmds.ch) > 0 {
		<-cmds.ch
	}
	px.refuse.Store(true)
	px.cut()
	eventually(t, "the relay down", func() bool { return g.relays[0].Stats().Up == 0 })
	publish()
	px.refuse.Store(false)
	relayUp(t, g, 0)
}
