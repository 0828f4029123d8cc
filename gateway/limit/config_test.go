package limit

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestConfigValidate: the zero value and the defaults are valid, and each
// bad value is refused with an error naming its key.
func TestConfigValidate(t *testing.T) {
	var zero Config
	if err := zero.Validate(); err != nil {
		t.Fatalf("zero: %v", err)
	}
	d := Defaults()
	if err := d.Validate(); err != nil || d.FlappingWindow != time.Minute || d.FlappingBan != 5*time.Minute {
		t.Fatalf("defaults: %+v %v", d, err)
	}
	cases := []struct {
		key string
		mod func(*Config)
	}{
		{"limits.connect_rate", func(c *Config) { c.ConnectRate = -1 }},
		{"limits.connect_rate_per_ip", func(c *Config) { c.ConnectRatePerIP = math.NaN() }},
		{"limits.auth_rate_per_user", func(c *Config) { c.AuthRatePerUser = math.Inf(1) }},
		{"limits.publish_rate_per_client", func(c *Config) { c.PublishRatePerClient = -0.5 }},
		{"limits.publish_bytes_per_client", func(c *Config) { c.PublishBytesPerClient = -1 }},
		{"limits.max_connections_per_user", func(c *Config) { c.MaxConnectionsPerUser = -1 }},
		{"limits.flapping_max_connects", func(c *Config) { c.FlappingMaxConnects = -3 }},
		{"limits.flapping_window", func(c *Config) { c.FlappingWindow = -time.Second }},
		{"limits.flapping_ban", func(c *Config) { c.FlappingBan = -time.Second }},
		{"limits.flapping_window", func(c *Config) { c.FlappingMaxConnects = 5; c.FlappingWindow = 0 }},
		{"limits.flapping_ban", func(c *Config) { c.FlappingMaxConnects = 5; c.FlappingBan = 0 }},
		{"limits.max_tracked_ips", func(c *Config) { c.MaxTrackedIPs = -1 }},
	}
	for _, c := range cases {
		cfg := Defaults()
		c.mod(&cfg)
		err := cfg.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != c.key || !strings.HasPrefix(err.Error(), c.key+": ") {
			t.Errorf("%s: %v", c.key, err)
		}
	}
}
