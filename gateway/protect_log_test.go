package gateway

import (
	"log/slog"
	"strings"
	"testing"
)

// TestProtectRefusalLogNamesClient: a refused CONNECT's log line names the
// client ID of the CONNECT (no session exists yet to name it), for an
// authentication refusal (v5 0x86, from the pool), a limit refusal with a
// CONNACK (v5 0x9F) and one without (v3 over a rate: closed), and never the
// password.
func TestProtectRefusalLogNamesClient(t *testing.T) {
	logw := &lockedLog{}
	g := newTestGatewayLog(t, func(c *Config) {
		c.Auth.AllowAnonymous = false
		c.Auth.PasswordFile = writePasswd(t, map[string]string{"alice": "right"})
		c.Limits.ConnectRatePerIP = 0.001 // the first CONNECT passes, the rest are over
	}, slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo})))

	if rc := connackOn(t, g, connectAuth(5, "bad-pass-1", "alice", "wrong-secret-xyz", true, true, "")); rc != 0x86 {
		t.Fatalf("wrong password: CONNACK %#x, want 0x86", rc)
	}
	if rc := connackOn(t, g, connectAuth(5, "over-rate-5", "alice", "right", true, true, "")); rc != 0x9F {
		t.Fatalf("over the per-IP rate (v5): CONNACK %#x, want 0x9F", rc)
	}
	if rc := connackOn(t, g, connectAuth(4, "over-rate-3", "alice", "right", true, true, "")); rc != -1 {
		t.Fatalf("over the per-IP rate (v3): %d, want a close without CONNACK", rc)
	}
	eventually(t, "three refusals logged", func() bool { return strings.Count(logw.String(), "closing client connection") >= 3 })
	out := logw.String()
	for _, id := range []string{"bad-pass-1", "over-rate-5", "over-rate-3"} {
		if !strings.Contains(out, "client_id="+id) {
			t.Errorf("no log line names %s:\n%s", id, out)
		}
	}
	if strings.Contains(out, "wrong-secret-xyz") {
		t.Errorf("a password reached the log:\n%s", out)
	}
}
