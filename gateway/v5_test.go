package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestV5Properties covers what v5 subscribers receive: user and
// request/response properties passed on, subscription identifiers, no-local,
// remaining message expiry, and expired messages not delivered.
func TestV5Properties(t *testing.T) {
	g := newTestGateway(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub := v5Client(t, g, &paho.Connect{ClientID: "p-sub", CleanStart: true}, nil)
	_, err := sub.Subscribe(ctx, &paho.Subscribe{
		Properties:    &paho.SubscribeProperties{SubscriptionIdentifier: ptr(7)},
		Subscriptions: []paho.SubscribeOptions{{Topic: "p/#", QoS: 1, NoLocal: true}}})
	if err != nil {
		t.Fatal(err)
	}
	pub := v5Client(t, g, &paho.Connect{ClientID: "p-pub", CleanStart: true}, nil)
	_, err = pub.Publish(ctx, &paho.Publish{Topic: "p/a", QoS: 1, Payload: []byte("req"), Properties: &paho.PublishProperties{
		ResponseTopic: "reply/here", CorrelationData: []byte{1, 2, 3}, PayloadFormat: ptr(byte(1)),
		MessageExpiry: ptr(uint32(100)), User: paho.UserProperties{{Key: "a", Value: "b"}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := sub.expect(t, "p/a", "req")
	p := m.Properties
	if p == nil || p.ResponseTopic != "reply/here" || string(p.CorrelationData) != "\x01\x02\x03" ||
		p.User.Get("a") != "b" || p.PayloadFormat == nil || *p.PayloadFormat != 1 {
		t.Fatalf("properties not passed on: %+v", p)
	}
	if p.SubscriptionIdentifier == nil || *p.SubscriptionIdentifier != 7 {
		t.Fatalf("subscription identifier %v, want 7", p.SubscriptionIdentifier)
	}
	if p.MessageExpiry == nil || *p.MessageExpiry == 0 || *p.MessageExpiry > 100 {
		t.Fatalf("message expiry %v, want 1..100", p.MessageExpiry)
	}
	// no-local: the subscriber's own publish does not come back [MQTT-3.8.3-3]
	sub.pub(t, "p/self", 1, "mine")
	pub.pub(t, "p/other", 1, "theirs")
	sub.expect(t, "p/other", "theirs")
}

// TestTopicAliasInbound: a v5 publisher sets an alias, then publishes with
// an empty topic and the alias; an unknown alias is 0x94.
func TestTopicAliasInbound(t *testing.T) {
	g := newTestGateway(t, nil)
	sub := v5Client(t, g, &paho.Connect{ClientID: "ta-sub", CleanStart: true}, nil)
	sub.sub(t, "ta/#", 0)
	rc := rawV5(t, g, "ta-pub")
	withAlias := func(topic string, alias byte, payload string) []byte {
		body := []byte{byte(len(topic) >> 8), byte(len(topic))}
		body = append(body, topic...)
		body = append(body, 3, 0x23, 0, alias)
		return frame(0x30, append(body, payload...))
	}
	_, _ = rc.Write(withAlias("ta/x", 1, "one"))
	sub.expect(t, "ta/x", "one")
	_, _ = rc.Write(withAlias("", 1, "two"))
	sub.expect(t, "ta/x", "two")
	_, _ = rc.Write(withAlias("", 2, "three"))
	expectDisconnect(t, rc, 0x94)
}

// TestPayloadFormatInvalid: payload format 1 with bytes that are not UTF-8
// is refused with 0x99 (section 3.3.2.3.2).
func TestPayloadFormatInvalid(t *testing.T) {
	g := newTestGateway(t, nil)
	rc := rawV5(t, g, "pfi")
	body := []byte{0, 1, 'x', 2, 0x01, 1, 0xff, 0xfe}
	_, _ = rc.Write(frame(0x30, body))
	expectDisconnect(t, rc, 0x99)
}

// TestClientMaximumPacketSize: a message larger than the subscriber's
// Maximum Packet Size is skipped and counted [MQTT-3.1.2-25].
func TestClientMaximumPacketSize(t *testing.T) {
	g := newTestGateway(t, nil)
	sub := v5Client(t, g, &paho.Connect{ClientID: "mps", CleanStart: true,
		Properties: &paho.ConnectProperties{MaximumPacketSize: ptr(uint32(100))}}, nil)
	sub.sub(t, "mps/#", 0)
	pub := v5Client(t, g, &paho.Connect{ClientID: "mps-pub", CleanStart: true}, nil)
	pub.pub(t, "mps/big", 0, string(make([]byte, 200)))
	pub.pub(t, "mps/small", 0, "ok")
	sub.expect(t, "mps/small", "ok")
	eventually(t, "oversize delivery counted", func() bool {
		return metric(t, g, `edgegw_dropped_total{reason="packet_too_large"}`) == 1
	})
}

// TestMetricsEndpoint: /healthz answers and /metrics carries the families.
func TestMetricsEndpoint(t *testing.T) {
	g := newTestGateway(t, nil)
	c := v5Client(t, g, &paho.Connect{ClientID: "m", CleanStart: true}, nil)
	c.sub(t, "m/#", 1)
	c.pub(t, "m/x", 1, "v")
	c.expect(t, "m/x", "v")
	eventually(t, "metrics folded", func() bool {
		return metric(t, g, "edgegw_connections") == 1 && metric(t, g, "edgegw_sessions") == 1 &&
			metric(t, g, "edgegw_subscriptions") == 1 && metric(t, g, "edgegw_messages_published_total") == 1 &&
			metric(t, g, "edgegw_messages_delivered_total") == 1 &&
			metric(t, g, `edgegw_packets_received_total{type="PUBLISH"}`) == 1 &&
			metric(t, g, `edgegw_packets_sent_total{type="PUBACK"}`) == 1 &&
			metric(t, g, "edgegw_bytes_received_total") > 0 && metric(t, g, "edgegw_bytes_sent_total") > 0 &&
			metric(t, g, "edgegw_router_subscriptions") == 1
	})
	// The open-file limit that caps connections, and where memory goes.
	for _, name := range []string{"process_max_fds", `process_resident_memory_bytes{kind="anon"}`,
		`go_memory_bytes{class="heap_objects"}`, "go_gc_heap_goal_bytes", "go_goroutines"} {
		if metric(t, g, name) <= 0 {
			t.Errorf("/metrics: %s missing or zero", name)
		}
	}
}
