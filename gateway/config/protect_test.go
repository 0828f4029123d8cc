package config

import (
	"strings"
	"testing"
)

// TestProtectKeys: the [auth], PROXY and storm-shaping keys parse, keep the
// open defaults, and a bad value is reported with its file, line and key.
func TestProtectKeys(t *testing.T) {
	d := Default()
	if !d.Auth.AllowAnonymous || d.Auth.On() || d.Limits.ProtectOn() || d.Listeners.ProxyProtocol {
		t.Fatalf("defaults are not open: %+v %+v", d.Auth, d.Limits)
	}
	good := `[listeners]
proxy_protocol = true
proxy_trusted = ["10.0.0.0/8", "192.0.2.7"]

[auth]
allow_anonymous = false
password_file = "/etc/edgegw/passwd"
jwt_keys = ["/etc/edgegw/jwt.pem"]
acl_default = "deny"

[limits]
connect_rate_per_ip = 2.5
flapping_max_connects = 10
flapping_ban = "10m"
`
	c, err := Parse([]byte(good), "edge.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Auth.On() || !c.Limits.ProtectOn() || c.Limits.ConnectRatePerIP != 2.5 || len(c.Listeners.ProxyTrusted) != 2 {
		t.Fatalf("parsed %+v %+v", c.Auth, c.Limits)
	}
	for _, tc := range []struct{ doc, want string }{
		{"[auth]\nacl_default = \"maybe\"\n", `edge.toml:2: auth.acl_default: must be "allow" or "deny"`},
		{"[listeners]\nproxy_protocol = true\nproxy_trusted = [\"10.0.0/8\"]\n", `edge.toml:3: listeners.proxy_trusted: entry 0 "10.0.0/8"`},
		{"[listeners]\nproxy_protocol = true\n", `edge.toml:2: listeners.proxy_protocol: needs listeners.proxy_trusted`},
		{"[limits]\nconnect_rate = -1\n", `edge.toml:2: limits.connect_rate: must be a number between 0 (off) and 1e9`},
		{"[limits]\nflapping_window = \"0s\"\n", `edge.toml:2: limits.flapping_window: must be > 0`},
		{"[auth]\nhttp_url = \"ftp://x\"\n", `edge.toml:2: auth.http_url: must start with http:// or https://`},
		{"[auth]\nhttp_concurrency = 0\n", `edge.toml:2: auth.http_concurrency: must be >= 1`},
	} {
		_, err := Parse([]byte(tc.doc), "edge.toml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.doc, err, tc.want)
		}
	}
}
