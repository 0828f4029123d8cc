package config

import (
	"strings"
	"testing"
	"time"
)

// relayDoc is the issue's [[relay.upstream]] example.
const relayDoc = `
[relay]

[[relay.upstream]]
name = "core"
addresses = ["10.0.0.5:1883", "10.0.0.6:1883"]
protocol = 5
client_id = "edge-{hostname}-{n}"
username = ""
password = ""
tls = false
keepalive = "30s"
session_expiry = "1h"
pool = 4
source_addresses = []
forward = ["telemetry/#"]
import = ["commands/#"]
remote_prefix = ""
max_qos = 2
buffer_messages = 100000
buffer_bytes = 67108864
`

func TestRelayParse(t *testing.T) {
	cfg, err := Parse([]byte(relayDoc+`
[[relay.upstream]]
name = "rabbit"
addresses = ["rabbit.local:1883"]
protocol = 4
forward = ["metrics/#"]
`), "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(cfg.Relay.Upstream); n != 2 {
		t.Fatalf("%d upstreams, want 2", n)
	}
	if se := cfg.Relay.Upstream[0].SessionExpiry.D(); se != time.Hour {
		t.Fatalf("session_expiry %v, want 1h", se)
	}
	u := cfg.Relay.Upstream[1].Resolved()
	if u.Pool != DefaultRelayPool || u.KeepAlive.D() != 30*time.Second || u.QoS() != 2 || u.BufferMessages != 100000 ||
		u.BufferBytes != 64<<20 || u.ClientID != DefaultRelayClientID || u.Protocol != 4 || u.SessionExpiry != 0 {
		t.Fatalf("defaults not applied: %+v", u)
	}
}

// TestRelayValidation: each problem is an error naming its key and the line
// that sets it (or, for a key left out, its [[relay.upstream]] header).
func TestRelayValidation(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      string // "line: key: text"
	}{
		{"missing-name", "[[relay.upstream]]\naddresses = [\"a:1\"]\nforward = [\"t/#\"]\n",
			"config.toml:1: relay.upstream[0].name: required"},
		{"malformed-address", "[[relay.upstream]]\nname = \"u\"\naddresses = [\n  \"10.0.0.5\",\n]\nforward = [\"t/#\"]\n",
			"config.toml:3: relay.upstream[0].addresses[0]: want host:port"},
		{"unreachable-address", "[[relay.upstream]]\nname = \"u\"\naddresses = [\"0.0.0.0:1883\"]\nforward = [\"t/#\"]\n",
			"config.toml:3: relay.upstream[0].addresses[0]: \"0.0.0.0:1883\" cannot be dialled"},
		{"no-port", "[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:0\"]\nforward = [\"t/#\"]\n",
			"relay.upstream[0].addresses[0]: port must be 1..65535"},
		{"loop", "[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:1\"]\nforward = [\"telemetry/#\"]\nimport = [\"telemetry/+/cmd\"]\n",
			"config.toml:5: relay.upstream[0].import[0]: \"telemetry/+/cmd\" overlaps forward[0] \"telemetry/#\""},
		{"bad-prefix", "[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:1\"]\nforward = [\"t/#\"]\nremote_prefix = \"site/+/\"\n",
			"config.toml:5: relay.upstream[0].remote_prefix: must not contain wildcards"},
		{"pool-without-n", "[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:1\"]\nforward = [\"t/#\"]\nclient_id = \"edge\"\n",
			"config.toml:5: relay.upstream[0].client_id: must contain {n}"},
		{"bad-filter", "[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:1\"]\nforward = [\"t/#/x\"]\n",
			"config.toml:4: relay.upstream[0].forward[0]: want a topic filter"},
		{"max-qos", "[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:1\"]\nforward = [\"t/#\"]\nmax_qos = 3\n",
			"config.toml:5: relay.upstream[0].max_qos: must be 0, 1 or 2"},
		{"nothing-to-do", "[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:1\"]\n",
			"config.toml:1: relay.upstream[0].forward: no forward and no import rule"},
		{"duplicate-name", "[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:1\"]\nforward = [\"t/#\"]\n[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:2\"]\nforward = [\"s/#\"]\n",
			"config.toml:6: relay.upstream[1].name: \"u\" is also relay.upstream[0]'s name"},
		{"session-expiry-fraction", "[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:1\"]\nforward = [\"t/#\"]\nsession_expiry = \"1500ms\"\n",
			"config.toml:5: relay.upstream[0].session_expiry: must be whole seconds between 0s and 4294967295s, got 1.5s"},
		{"session-expiry-negative", "[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:1\"]\nforward = [\"t/#\"]\nsession_expiry = \"-1s\"\n",
			"config.toml:5: relay.upstream[0].session_expiry: must be whole seconds"},
		{"tls-keys-without-tls", "[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:1\"]\nforward = [\"t/#\"]\nca_file = \"/ca.pem\"\n",
			"config.toml:5: relay.upstream[0].ca_file: needs tls = true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), "config.toml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

// TestRelayNoOverlapAcrossPrefix: remote_prefix maps forward and import
// alike, so rules that do not overlap locally do not loop.
func TestRelayNoOverlapAcrossPrefix(t *testing.T) {
	doc := "[[relay.upstream]]\nname = \"u\"\naddresses = [\"h:1\"]\nforward = [\"telemetry/#\"]\nimport = [\"commands/#\"]\nremote_prefix = \"edge/\"\n"
	if _, err := Parse([]byte(doc), "config.toml"); err != nil {
		t.Fatal(err)
	}
}
