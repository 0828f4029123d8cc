package gateway

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestQoSV311 publishes at every QoS to subscriptions at every QoS with
// paho.mqtt.golang (3.1.1); the delivered QoS is min(publish, subscription)
// [MQTT-3.8.4-8], and every client lands on some loop of 4.
func TestQoSV311(t *testing.T) {
	g := newTestGateway(t, nil)
	col := newCollector()
	sub := v3Client(t, g, "sub-311", nil)
	for sq := byte(0); sq <= 2; sq++ {
		waitTok(t, sub.Subscribe(fmt.Sprintf("q/%d/#", sq), sq, col.handler), "subscribe")
	}
	pub := v3Client(t, g, "pub-311", nil)
	for pq := byte(0); pq <= 2; pq++ {
		for sq := byte(0); sq <= 2; sq++ {
			topic := fmt.Sprintf("q/%d/p%d", sq, pq)
			payload := fmt.Sprintf("pq%d-sq%d", pq, sq)
			waitTok(t, pub.Publish(topic, pq, false, payload), "publish")
			m := col.expect(t, topic, payload)
			if want := min(pq, sq); m.Qos() != want {
				t.Errorf("%s: delivered QoS %d, want %d", topic, m.Qos(), want)
			}
		}
	}
}

// TestQoSV5 does the same with paho.golang (MQTT 5), including the
// server-advertised CONNACK properties.
func TestQoSV5(t *testing.T) {
	g := newTestGateway(t, nil)
	sub := v5Client(t, g, &paho.Connect{ClientID: "sub-5", CleanStart: true, KeepAlive: 30}, nil)
	p := sub.ack.Properties
	if p == nil || p.ReceiveMaximum == nil || *p.ReceiveMaximum != 64 || p.TopicAliasMaximum == nil || *p.TopicAliasMaximum != 16 ||
		p.MaximumPacketSize == nil || *p.MaximumPacketSize != 1<<20 {
		t.Fatalf("CONNACK properties: %+v", p)
	}
	for sq := byte(0); sq <= 2; sq++ {
		sub.sub(t, fmt.Sprintf("q/%d/#", sq), sq)
	}
	pub := v5Client(t, g, &paho.Connect{ClientID: "pub-5", CleanStart: true, KeepAlive: 30}, nil)
	for pq := byte(0); pq <= 2; pq++ {
		for sq := byte(0); sq <= 2; sq++ {
			topic := fmt.Sprintf("q/%d/p%d", sq, pq)
			payload := fmt.Sprintf("pq%d-sq%d", pq, sq)
			pub.pub(t, topic, pq, payload)
			m := sub.expect(t, topic, payload)
			if want := min(pq, sq); m.QoS != want {
				t.Errorf("%s: delivered QoS %d, want %d", topic, m.QoS, want)
			}
		}
	}
}

// TestAssignedClientID: an empty v5 client ID gets an Assigned Client
// Identifier [MQTT-3.2.2-16]; v3.1.1 with clean session 0 is refused (0x02).
func TestAssignedClientID(t *testing.T) {
	g := newTestGateway(t, nil)
	c := v5Client(t, g, &paho.Connect{CleanStart: true}, nil)
	if c.ack.Properties == nil || c.ack.Properties.AssignedClientID == "" {
		t.Fatalf("no assigned client ID: %+v", c.ack.Properties)
	}
	rc := dialRaw(t, g)
	_, _ = rc.Write(connectPacket(4, "", 0, false))
	h, body, err := rc.readPacket(5 * time.Second)
	if err != nil || h != 0x20 || len(body) != 2 || body[1] != 0x02 {
		t.Fatalf("CONNACK %x %x %v, want return code 2", h, body, err)
	}
}

// TestPingAndDisconnect: PINGREQ answered; DISCONNECT closes cleanly.
func TestPingAndDisconnect(t *testing.T) {
	g := newTestGateway(t, nil)
	rc := dialRaw(t, g)
	_, _ = rc.Write(connectPacket(4, "pinger", 0, true))
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("CONNACK: %x %v", h, err)
	}
	_, _ = rc.Write([]byte{0xC0, 0})
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0xD0 {
		t.Fatalf("PINGRESP: %x %v", h, err)
	}
	_, _ = rc.Write([]byte{0xE0, 0})
	rc.expectClosed(t)
	eventually(t, "client_disconnect counted", func() bool {
		return metric(t, g, `edgegw_connections_closed_total{reason="client_disconnect"}`) == 1
	})
}

var _ = context.Background
