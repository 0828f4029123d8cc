package gateway

import (
	"testing"
	"time"
)

// TestWebSocketServerCloseV3: closes decided outside the read path (keep
// alive, takeover, CONNECT timeout, drain) end with a WebSocket close frame
// for MQTT 3.1.1 clients too, which get no DISCONNECT.
func TestWebSocketServerCloseV3(t *testing.T) {
	g := newTestGateway(t, func(c *Config) {
		c.Listeners.WS = "127.0.0.1:0"
		c.Limits.ConnectTimeout = Duration(300 * time.Millisecond)
	})
	t.Run("MQTT-3.1.2-24/v3-keepalive-1000", func(t *testing.T) {
		t.Parallel()
		c := dialWS(t, g.Addr("ws"))
		c.connect(t, 4, uniq("wsv3ka"), 1)
		c.expectClose(t, 1000, 0)
	})
	t.Run("MQTT-3.1.4-3/v3-takeover-1000", func(t *testing.T) {
		t.Parallel()
		id := uniq("wsv3to")
		c := dialWS(t, g.Addr("ws"))
		c.connect(t, 4, id, 0)
		dialWS(t, g.Addr("ws")).connect(t, 4, id, 0)
		c.expectClose(t, 1000, 0)
	})
	t.Run("connect-timeout-1008", func(t *testing.T) {
		t.Parallel()
		c := dialWS(t, g.Addr("ws")) // upgraded, then silent
		c.expectClose(t, 1008, 0)
	})
}
