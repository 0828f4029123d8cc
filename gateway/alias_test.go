package gateway

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestOutboundTopicAliasPaho: a Paho v5 client that announces Topic Alias
// Maximum 3 gets the first 3 topics aliased (topic + alias once, then only
// the alias) and the rest in full; Paho's router resolves every aliased
// PUBLISH to the topic it was published on (compared end to end), and no
// alias exceeds the announced maximum [MQTT-3.3.2-11].
func TestOutboundTopicAliasPaho(t *testing.T) {
	g := newTestGateway(t, nil)
	var mu sync.Mutex
	got := map[string][]string{} // resolved topic -> payloads, via Paho's router
	var raw []*paho.Publish      // as on the wire
	router := paho.NewStandardRouter()
	topics := make([]string, 5)
	for i := range topics {
		topics[i] = fmt.Sprintf("factory/plant-7/line-%d/station-42/sensor/temperature", i)
		tp := topics[i]
		router.RegisterHandler(tp, func(p *paho.Publish) {
			mu.Lock()
			got[tp] = append(got[tp], string(p.Payload))
			mu.Unlock()
		})
	}
	max := uint16(3)
	sub := v5Client(t, g, &paho.Connect{ClientID: uniq("alias-sub"), CleanStart: true, KeepAlive: 30,
		Properties: &paho.ConnectProperties{TopicAliasMaximum: &max}}, func(cfg *paho.ClientConfig) {
		cfg.Router = router
		cfg.OnPublishReceived = append(cfg.OnPublishReceived, func(pr paho.PublishReceived) (bool, error) {
			mu.Lock()
			raw = append(raw, pr.Packet)
			mu.Unlock()
			return true, nil
		})
	})
	sub.sub(t, "factory/#", 1)
	pub := v5Client(t, g, &paho.Connect{ClientID: uniq("alias-pub"), CleanStart: true, KeepAlive: 30}, nil)
	const rounds = 3
	for r := 0; r < rounds; r++ {
		for i, tp := range topics {
			pub.pub(t, tp, byte(r%2), fmt.Sprintf("%d/%d", i, r))
		}
	}
	eventually(t, "all messages routed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, v := range got {
			n += len(v)
		}
		return n == rounds*len(topics)
	})
	mu.Lock()
	defer mu.Unlock()
	for i, tp := range topics {
		for r := 0; r < rounds; r++ {
			if want := fmt.Sprintf("%d/%d", i, r); len(got[tp]) != rounds || got[tp][r] != want {
				t.Fatalf("%s resolved payloads %q, want %d in order", tp, got[tp], rounds)
			}
		}
	}
	if len(raw) != rounds*len(topics) {
		t.Fatalf("%d raw PUBLISH, want %d", len(raw), rounds*len(topics))
	}
	seen := map[uint16]string{}
	aliasOnly := 0
	for k, p := range raw {
		var a uint16
		if p.Properties != nil && p.Properties.TopicAlias != nil {
			a = *p.Properties.TopicAlias
		}
		i, r := k%len(topics), k/len(topics)
		switch {
		case a > max || (a == 0 && i < int(max)):
			t.Fatalf("PUBLISH %d (%s): alias %d, want 1..%d for the first %d topics", k, topics[i], a, max, max)
		case i >= int(max) && (a != 0 || p.Topic != topics[i]):
			t.Fatalf("PUBLISH %d: topic %q alias %d, want the full topic past the alias maximum", k, p.Topic, a)
		case a != 0 && r == 0 && p.Topic != topics[i]:
			t.Fatalf("first use of alias %d carries topic %q", a, p.Topic)
		case a != 0 && r > 0 && (p.Topic != "" || seen[a] != topics[i]):
			t.Fatalf("PUBLISH %d: topic %q alias %d, want an empty topic and alias of %s", k, p.Topic, a, topics[i])
		}
		if a != 0 && p.Topic != "" {
			seen[a] = p.Topic
		}
		if a != 0 && p.Topic == "" {
			aliasOnly++
		}
	}
	if aliasOnly != int(max)*(rounds-1) {
		t.Fatalf("%d alias-only PUBLISH, want %d", aliasOnly, int(max)*(rounds-1))
	}
}

// TestOutboundTopicAliasNone: a v5 client that announces no Topic Alias
// Maximum gets full topics and no alias.
func TestOutboundTopicAliasNone(t *testing.T) {
	g := newTestGateway(t, nil)
	sub := v5Client(t, g, &paho.Connect{ClientID: uniq("noalias-sub"), CleanStart: true, KeepAlive: 30}, nil)
	sub.sub(t, "plain/#", 0)
	pub := v5Client(t, g, &paho.Connect{ClientID: uniq("noalias-pub"), CleanStart: true, KeepAlive: 30}, nil)
	for i := 0; i < 3; i++ {
		pub.pub(t, "plain/long/topic/name", 0, "x")
		p := sub.expect(t, "plain/long/topic/name", "x")
		if p.Properties != nil && p.Properties.TopicAlias != nil {
			t.Fatalf("alias %d sent to a client that announced none", *p.Properties.TopicAlias)
		}
	}
}

// TestOutboundTopicAliasRaw: the bytes on the wire. A raw v5 subscriber with
// Topic Alias Maximum 2 receives the first PUBLISH of a topic with the
// topic and property 0x23 (Topic Alias) = 1, the second with a zero-length
// topic and the same alias, 70 bytes shorter.
func TestOutboundTopicAliasRaw(t *testing.T) {
	g := newTestGateway(t, nil)
	rc := dialRaw(t, g)
	_, _ = rc.Write(connectV5(uniq("raw-alias"), 2))
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("CONNACK %x %v", h, err)
	}
	_, _ = rc.Write(frame(0x82, append([]byte{0, 1, 0, 0, 5}, "raw/#\x00"...)))
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x90 {
		t.Fatalf("SUBACK %x %v", h, err)
	}
	topic := "raw/" + strings.Repeat("long-topic-level/", 4) + "end"
	pub := dialRaw(t, g)
	_, _ = pub.Write(connectPacket(4, uniq("raw-pub"), 0, true))
	if h, _, err := pub.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("publisher CONNACK %x %v", h, err)
	}
	_, _ = pub.Write(append(v3Publish(0, 0, topic, []byte("one")), v3Publish(0, 0, topic, []byte("two"))...))
	var sizes [2]int
	for i, payload := range []string{"one", "two"} {
		h, body, err := rc.readPacket(5 * time.Second)
		if err != nil || h != 0x30 {
			t.Fatalf("PUBLISH %d: %x %v", i, h, err)
		}
		tl := int(body[0])<<8 | int(body[1])
		wantTopic := topic
		if i == 1 {
			wantTopic = "" // the alias is known on this connection: alias only (section 3.3.2.3.4)
		}
		rest := body[2+tl:]
		// properties: length 3, Topic Alias (0x23) = 1; then the payload
		if string(body[2:2+tl]) != wantTopic || len(rest) < 4 || rest[0] != 3 || rest[1] != 0x23 || rest[2] != 0 || rest[3] != 1 ||
			string(rest[4:]) != payload {
			t.Fatalf("PUBLISH %d on the wire: %x, want topic %q, Topic Alias 1, payload %q", i, body, wantTopic, payload)
		}
		sizes[i] = 1 + 1 + len(body)
	}
	if sizes[0]-sizes[1] != len(topic) {
		t.Fatalf("aliased PUBLISH is %d bytes, the first %d: want %d saved", sizes[1], sizes[0], len(topic))
	}
}

// TestPublishAllocsAliased: TestPublishAllocs for a v5 subscriber with
// outbound topic aliases: once the alias is assigned, a delivery still
// allocates only the message copy, and sends the alias, not the topic.
func TestPublishAllocsAliased(t *testing.T) {
	_, ls := testLoops(t, 1, nil)
	l := ls[0]
	fc := &fakeConn{}
	l.begin()
	sub := &conn{gc: fc, l: l, lastActive: l.now}
	l.addConn(sub)
	sub.handle(connectV5("sub-v5", 4))
	l.end()
	l.begin()
	sub.handle(frame(0x82, append([]byte{0, 1, 0, 0, 5}, "a/bcd\x00"...)))
	l.end()
	if sub.state != stConnected {
		t.Fatalf("state %d after CONNECT", sub.state)
	}
	pub, _ := testClient(t, l, "pub", "", 0)
	pkt := v3Publish(0, 0, "a/bcd", make([]byte, 64))
	step := func() {
		l.begin()
		pub.handle(pkt)
		l.end()
	}
	step() // assigns alias 1: topic + alias
	before := fc.written
	step()
	// v3 PUBLISH: header 2 + topic 2+5; aliased v5: header 2 + empty
	// topic 2 + properties 1+3 (unaliased v5 would be len(pkt)+1).
	if got := fc.written - before; got != len(pkt)-1 {
		t.Fatalf("aliased PUBLISH is %d bytes, want %d", got, len(pkt)-1)
	}
	if n := testing.AllocsPerRun(200, step); n != 1 {
		t.Fatalf("QoS 0 publish to an aliased subscriber: %v allocs per message, want 1 (the message copy)", n)
	}
}
