package gateway

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestWebSocket: a paho client over ws://.../mqtt exchanges QoS 0/1/2
// messages with a TCP client, both directions.
func TestWebSocket(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Listeners.WS = "127.0.0.1:0" })
	if g.Addr("ws") == "" {
		t.Fatal("no ws address")
	}
	colWS, colTCP := newCollector(), newCollector()
	wsc := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("ws://" + g.Addr("ws") + "/mqtt").SetClientID("ws-1").
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	waitTok(t, wsc.Connect(), "ws connect")
	defer wsc.Disconnect(0)
	tcp := v3Client(t, g, "tcp-1", nil)
	waitTok(t, wsc.Subscribe("ws/in", 2, colWS.handler), "ws subscribe")
	waitTok(t, tcp.Subscribe("ws/out", 2, colTCP.handler), "tcp subscribe")
	for q := byte(0); q <= 2; q++ {
		payload := string(make([]byte, 200*int(q)+1)) + "x"
		waitTok(t, tcp.Publish("ws/in", q, false, payload), "tcp publish")
		colWS.expect(t, "ws/in", payload)
		waitTok(t, wsc.Publish("ws/out", q, false, payload), "ws publish")
		colTCP.expect(t, "ws/out", payload)
	}
	// a plain MQTT client on the ws port is refused with an HTTP error
	rc := dialRaw(t, &Gateway{addrs: map[string]string{"tcp": g.Addr("ws")}})
	_, _ = rc.Write(connectPacket(4, "confused", 0, true))
	rc.expectClosed(t)
}
