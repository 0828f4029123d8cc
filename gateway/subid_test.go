package gateway

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestPublishSubscriptionIDFromClient: a v5 client's PUBLISH that carries a
// Subscription Identifier (property bytes 02 0B 03) is a Protocol Error: the
// gateway answers DISCONNECT 0x82 instead of PUBACK, closes, and routes
// nothing [MQTT-3.3.4-6]. A subscriber only ever sees its own subscription
// identifier, never one a publisher sent.
func TestPublishSubscriptionIDFromClient(t *testing.T) {
	g := newTestGateway(t, nil)
	mine := 5
	sub := v5Client(t, g, &paho.Connect{ClientID: uniq("subid-sub"), CleanStart: true}, nil)
	ctx := t.Context()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Properties: &paho.SubscribeProperties{SubscriptionIdentifier: &mine},
		Subscriptions: []paho.SubscribeOptions{{Topic: "subid/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}

	t.Run("MQTT-3.3.4-6 PUBLISH with a Subscription Identifier is 0x82", func(t *testing.T) {
		rc := rawV5(t, g, uniq("subid-pub"))
		body := []byte{0, 7, 's', 'u', 'b', 'i', 'd', '/', 'x', 0, 1, 2, 0x0b, 3, 'p'} // QoS 1, id 1, properties 02 0B 03
		_, _ = rc.Write(frame(0x32, body))
		h, b, err := rc.readPacket(5 * time.Second)
		if err != nil || h != 0xe0 || len(b) < 1 || b[0] != 0x82 {
			t.Fatalf("first packet after the PUBLISH: %x % x (%v), want DISCONNECT 0x82 (no PUBACK)", h, b, err)
		}
		if last := rc.expectClosed(t); last != nil {
			t.Fatalf("got % x after DISCONNECT", last)
		}
		select {
		case p := <-sub.msgs:
			t.Fatalf("subscriber got %s %q from a refused PUBLISH", p.Topic, p.Payload)
		case <-time.After(300 * time.Millisecond):
		}
	})
	t.Run("subscriber sees only its own identifier", func(t *testing.T) {
		pub := v5Client(t, g, &paho.Connect{ClientID: uniq("subid-ok"), CleanStart: true}, nil)
		pub.pub(t, "subid/y", 1, "ok")
		p := sub.expect(t, "subid/y", "ok")
		if p.Properties == nil || p.Properties.SubscriptionIdentifier == nil || *p.Properties.SubscriptionIdentifier != mine {
			t.Fatalf("subscription identifier %+v, want only %d", p.Properties, mine)
		}
	})
	eventually(t, "protocol error counted", func() bool {
		return metric(t, g, `edgegw_connections_closed_total{reason="protocol_error"}`) >= 1
	})
}
