package limit

import (
	"math"
	"strconv"
	"time"
)

// Config is the [limits] section. The zero value turns every limit off and
// is valid. Rates are per second with a burst of one second's worth.
type Config struct {
	// ConnectRate is the connections/s accepted by the whole gateway
	// (CONNECTs that pass; refused: v5 0x9F, v3 close). 0 = off.
	ConnectRate float64 `toml:"connect_rate"`
	// ConnectRatePerIP is the same per source IP (the PROXY header's when
	// there is one). 0 = off.
	ConnectRatePerIP float64 `toml:"connect_rate_per_ip"`
	// MaxConnectionsPerUser caps the connections held by one username
	// (v5 0x97 quota exceeded, v3 0x03). 0 = off. Anonymous is not counted.
	MaxConnectionsPerUser int `toml:"max_connections_per_user"`
	// AuthRatePerUser is the authentication attempts/s per username (v5
	// 0x9F, v3 close), checked before the verifier is called. 0 = off.
	AuthRatePerUser float64 `toml:"auth_rate_per_user"`
	// FlappingMaxConnects: more connects than this by one client ID or one
	// IP within FlappingWindow ban it for FlappingBan (v5 0x8A, v3 0x05).
	// 0 = off. The window slides (the previous window's count weighs in
	// proportion to its overlap).
	FlappingMaxConnects int           `toml:"flapping_max_connects"`
	FlappingWindow      time.Duration `toml:"flapping_window"` // default 1m (Defaults)
	FlappingBan         time.Duration `toml:"flapping_ban"`    // default 5m (Defaults)
	// PublishRatePerClient (messages/s) and PublishBytesPerClient (payload
	// and header bytes/s) bound one connection's PUBLISHes (v5 DISCONNECT
	// 0x96, v3 close). 0 = off.
	PublishRatePerClient  float64 `toml:"publish_rate_per_client"`
	PublishBytesPerClient float64 `toml:"publish_bytes_per_client"`

	// Table bounds, in entries (package doc); 0 = the default. Not in
	// config.toml.
	MaxTrackedIPs     int `toml:"-"` // default 65,536
	MaxTrackedClients int `toml:"-"` // default 65,536
	MaxTrackedUsers   int `toml:"-"` // default 262,144
}

// Default table bounds.
const (
	DefaultMaxTrackedIPs     = 1 << 16
	DefaultMaxTrackedClients = 1 << 16
	DefaultMaxTrackedUsers   = 1 << 18
)

// Defaults returns the documented defaults: every limit off, the flapping
// window 1m and the ban 5m, ready for when flapping_max_connects is set.
func Defaults() Config {
	return Config{FlappingWindow: time.Minute, FlappingBan: 5 * time.Minute}
}

// Validate returns the first invalid value as a *ConfigError naming its key.
func (c *Config) Validate() error {
	for _, r := range []struct {
		key string
		v   float64
	}{
		{"connect_rate", c.ConnectRate},
		{"connect_rate_per_ip", c.ConnectRatePerIP},
		{"auth_rate_per_user", c.AuthRatePerUser},
		{"publish_rate_per_client", c.PublishRatePerClient},
		{"publish_bytes_per_client", c.PublishBytesPerClient},
	} {
		if math.IsNaN(r.v) || math.IsInf(r.v, 0) || r.v < 0 {
			return &ConfigError{Key: "limits." + r.key, Msg: "must be a finite number >= 0 (got " + strconv.FormatFloat(r.v, 'g', -1, 64) + ")"}
		}
	}
	for _, r := range []struct {
		key string
		v   int
	}{
		{"max_connections_per_user", c.MaxConnectionsPerUser},
		{"flapping_max_connects", c.FlappingMaxConnects},
		{"max_tracked_ips", c.MaxTrackedIPs},
		{"max_tracked_clients", c.MaxTrackedClients},
		{"max_tracked_users", c.MaxTrackedUsers},
	} {
		if r.v < 0 || r.v > math.MaxInt32 {
			return &ConfigError{Key: "limits." + r.key, Msg: "must be an integer in 0.." + strconv.Itoa(math.MaxInt32) + " (got " + strconv.Itoa(r.v) + ")"}
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"flapping_window", c.FlappingWindow}, {"flapping_ban", c.FlappingBan}} {
		if d.v < 0 {
			return &ConfigError{Key: "limits." + d.key, Msg: "must not be negative (got " + d.v.String() + ")"}
		}
		if c.FlappingMaxConnects > 0 && d.v == 0 {
			return &ConfigError{Key: "limits." + d.key, Msg: "must be > 0 when limits.flapping_max_connects is set"}
		}
	}
	return nil
}
