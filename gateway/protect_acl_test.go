package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// TestProtectACL: an ACL file with %u and %c placeholders and acl_default
// deny, end to end for both versions. PUBLISH outside the rules: v5 PUBACK
// 0x87, v3 acknowledged and dropped, QoS 0 dropped, each counted; SUBSCRIBE
// outside them: SUBACK 0x87 (v5) / 0x80 (v3) per filter [MQTT-3.9.3]; a will
// outside them refuses the CONNECT 0x87 (v3 0x05).
func TestProtectACL(t *testing.T) {
	pw := writePasswd(t, map[string]string{"alice": "a", "admin": "x"})
	acl := writeFile(t, "acl", `# rules
user alice  allow publish   devices/%u/#
client *    allow subscribe commands/%c/#
user admin  allow both      #
user *      deny  both      $SYS/#
`)
	g := newTestGateway(t, func(c *Config) {
		c.Auth.PasswordFile = pw
		c.Auth.ACLFile = acl
		c.Auth.ACLDefault = "deny"
	})
	_, admin := pahoConnect(t, g, "admin-1", "admin", "x")
	admin.sub(t, "#", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("v5", func(t *testing.T) {
		_, c := pahoConnect(t, g, "alice-5", "alice", "a")
		if r, err := c.Publish(ctx, &paho.Publish{Topic: "devices/alice/t", QoS: 1, Payload: []byte("ok5")}); err != nil || r.ReasonCode != 0 {
			t.Fatalf("allowed: %v %+v", err, r)
		}
		admin.expect(t, "devices/alice/t", "ok5")
		r, _ := c.Publish(ctx, &paho.Publish{Topic: "devices/bob/t", QoS: 1, Payload: []byte("no5")})
		if r == nil || r.ReasonCode != 0x87 {
			t.Fatalf("denied QoS 1: %+v, want PUBACK 0x87", r)
		}
		if _, err := c.Publish(ctx, &paho.Publish{Topic: "devices/bob/t", QoS: 0, Payload: []byte("no5q0")}); err != nil {
			t.Fatal(err)
		}
		sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
			{Topic: "commands/alice-5/#", QoS: 1}, {Topic: "commands/other/#", QoS: 1}, {Topic: "devices/#", QoS: 1}}})
		if err != nil && sa == nil {
			t.Fatal(err)
		}
		if want := []byte{1, 0x87, 0x87}; string(sa.Reasons) != string(want) {
			t.Fatalf("SUBACK % x, want % x", sa.Reasons, want)
		}
		if r, err := admin.Publish(ctx, &paho.Publish{Topic: "commands/alice-5/go", QoS: 1, Payload: []byte("cmd")}); err != nil || r.ReasonCode != 0 {
			t.Fatalf("admin publish: %v", err)
		}
		c.expect(t, "commands/alice-5/go", "cmd")
		admin.expect(t, "commands/alice-5/go", "cmd") // its own "#"
	})
	t.Run("v3.1.1", func(t *testing.T) {
		c := v3Client(t, g, "alice-3", func(o *mqtt.ClientOptions) { o.SetUsername("alice").SetPassword("a") })
		waitTok(t, c.Publish("devices/alice/t", 1, false, "ok3"), "allowed publish")
		admin.expect(t, "devices/alice/t", "ok3")
		waitTok(t, c.Publish("devices/bob/t", 1, false, "no3"), "denied QoS 1 publish is acknowledged")
		waitTok(t, c.Publish("devices/bob/t", 2, false, "no3q2"), "denied QoS 2 publish is acknowledged")
		waitTok(t, c.Publish("devices/bob/t", 0, false, "no3q0"), "denied QoS 0 publish")
		tok := c.SubscribeMultiple(map[string]byte{"commands/alice-3/#": 1, "devices/#": 1}, nil)
		waitTok(t, tok, "subscribe")
		res := tok.(*mqtt.SubscribeToken).Result()
		if res["commands/alice-3/#"] != 1 || res["devices/#"] != 0x80 {
			t.Fatalf("SUBACK %v, want commands 1, devices 0x80", res)
		}
	})
	// Nothing denied reached the admin's "#" subscription.
	select {
	case m := <-admin.msgs:
		t.Fatalf("denied message delivered: %s %q", m.Topic, m.Payload)
	case <-time.After(200 * time.Millisecond):
	}
	t.Run("will", func(t *testing.T) {
		if got := connackOn(t, g, connectAuth(5, "alice-w5", "alice", "a", true, true, "lwt/alice")); got != 0x87 {
			t.Errorf("v5 will outside the ACL: CONNACK %#x, want 0x87", got)
		}
		if got := connackOn(t, g, connectAuth(4, "alice-w3", "alice", "a", true, true, "lwt/alice")); got != 0x05 {
			t.Errorf("v3 will outside the ACL: CONNACK %#x, want 0x05", got)
		}
		if got := connackOn(t, g, connectAuth(4, "alice-w3ok", "alice", "a", true, true, "devices/alice/lwt")); got != 0 {
			t.Errorf("v3 will inside the ACL: CONNACK %#x, want 0", got)
		}
	})
	eventually(t, "denials counted", func() bool {
		return metric(t, g, `edgegw_acl_denied_total{action="publish"}`) >= 5 &&
			metric(t, g, `edgegw_acl_denied_total{action="subscribe"}`) >= 3 &&
			metric(t, g, `edgegw_acl_denied_total{action="will"}`) >= 2
	})
}
