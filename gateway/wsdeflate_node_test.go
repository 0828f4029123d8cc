package gateway

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestWSDeflateMQTTJSNode: MQTT.js in Node.js (its ws library offers
// permessage-deflate) negotiates the extension with the gateway, publishes
// compressed JSON and receives it compressed: the answer header is asserted
// on the client, and the gateway's counters of compressed messages in and
// out prove RSV1 frames flowed both ways on this, the only, connection. It
// skips without Node.js or MQTT.js (gateway/testdata/browser: npm ci),
// except under CI.
func TestWSDeflateMQTTJSNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(browserModules + "/mqtt/package.json")
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI set but node or MQTT.js is missing: %v", err)
		}
		t.Skipf("node or MQTT.js missing (cd gateway/testdata/browser && npm ci): %v", err)
	}
	g := newTestGateway(t, func(c *Config) { c.Listeners.WS = "127.0.0.1:0" })
	const count = 20
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/node/deflate.js", "ws://"+g.Addr("ws")+"/mqtt", uniq("nodez"), "20")
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, raw)
	}
	var res struct {
		Header, Extensions, Error string
		Received                  []string
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("output %q: %v", raw, err)
	}
	if res.Error != "" {
		t.Fatalf("MQTT.js: %s", res.Error)
	}
	if res.Header != deflateAnswer || !strings.HasPrefix(res.Extensions, "permessage-deflate") {
		t.Fatalf("Sec-WebSocket-Extensions %q (ws negotiated %q), want %q", res.Header, res.Extensions, deflateAnswer)
	}
	if len(res.Received) != count || !strings.Contains(res.Received[count-1], `"seq":19`) {
		t.Fatalf("received %d messages: %q", len(res.Received), res.Received)
	}
	// In: each MQTT.js PUBLISH is a WebSocket message of its own. Out: the
	// gateway sends one message per flush, so deliveries that share a wake
	// (a loaded machine) share one compressed message: at least one, not
	// one per delivery.
	eventually(t, "compressed messages counted both ways", func() bool {
		return metric(t, g, `edgegw_ws_deflate_messages_total{dir="in"}`) >= count &&
			metric(t, g, `edgegw_ws_deflate_messages_total{dir="out"}`) >= 1
	})
}

// browserModules is where npm ci puts MQTT.js (and the ws library).
const browserModules = "testdata/browser/node_modules"
