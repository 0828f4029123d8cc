package gateway_test

// Issue 18 defects 1 and 10 with real third-party clients (mosquitto_sub,
// Paho MQTT 5): the repro a user would run. The raw-socket versions, and
// the other defects, are in defects_test.go.

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestDefectInterop01MosquittoSubKilled is the repro: mosquitto_sub
// subscribed to dev/+/status with a will on dev/1/status, killed with
// SIGKILL. The gateway must survive and publish the will to another
// subscriber [MQTT-3.1.2-8]; before the fix the process died (nil
// dereference delivering the will to the dead client's own session).
func TestDefectInterop01MosquittoSubKilled(t *testing.T) {
	needMosquitto(t)
	for _, v := range mqttVersions[1:] { // 3.1.1 (mosquitto_sub's default) and 5
		t.Run("MQTT-3.1.2-8/"+v.name, func(t *testing.T) {
			gw := startGateway(t)
			watch := startSub(t, gw, v.flag, "-i", "watch", "-t", "dev/+/status", "-q", "1")
			dev := startSub(t, gw, v.flag, "-i", "dev1", "-t", "dev/+/status",
				"--will-topic", "dev/1/status", "--will-payload", "offline", "-q", "1")
			dev.kill() // SIGKILL: the socket closes without DISCONNECT
			watch.expect(t, "MSG|dev/1/status|0|0|offline")
			mosqPub(t, gw, v.flag, "-t", "dev/2/status", "-q", "1", "-m", "alive")
			watch.expect(t, "MSG|dev/2/status|1|0|alive")
		})
	}
}

// TestDefectInterop10PahoDisconnectReason: Paho MQTT 5 disconnecting with
// reason 0x80 (Unspecified error) gets its will published [MQTT-3.1.2-8];
// with 0x00 the will is discarded [MQTT-3.14.4-3]. Before the fix only 0x04
// published it.
func TestDefectInterop10PahoDisconnectReason(t *testing.T) {
	gw := startGateway(t)
	got := make(chan message, 16)
	watch, _ := pahoV5(t, gw, "watch", true, 0, func(p *paho.Publish) {
		got <- message{topic: p.Topic, qos: p.QoS, payload: string(p.Payload)}
	})
	sctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if _, err := watch.Subscribe(sctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "w10/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rc   byte
		will bool
	}{
		{name: "MQTT-3.1.2-8/0x80", rc: 0x80, will: true},
		{name: "MQTT-3.14.4-3/0x00", rc: 0x00, will: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "w10/paho" + tc.name[len(tc.name)-2:]
			conn, err := net.Dial("tcp", gw.tcp)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			c := paho.NewClient(paho.ClientConfig{Conn: conn})
			if _, err := c.Connect(ctx, &paho.Connect{ClientID: "dev" + topic[4:], CleanStart: true, KeepAlive: 30,
				WillMessage: &paho.WillMessage{Topic: topic, Payload: []byte("gone"), QoS: 1}}); err != nil {
				t.Fatalf("connect: %v", err)
			}
			if err := c.Disconnect(&paho.Disconnect{ReasonCode: tc.rc}); err != nil {
				t.Fatalf("disconnect: %v", err)
			}
			if tc.will {
				expectMessage(t, got, message{topic: topic, qos: 1, payload: "gone"})
				return
			}
			select {
			case m := <-got:
				t.Fatalf("will published after DISCONNECT 0x00: %+v", m)
			case <-time.After(500 * time.Millisecond):
			}
		})
	}
}
