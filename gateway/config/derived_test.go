package config

import (
	"testing"
	"time"

	"edgegw/tune"
)

// TestMaxConnections: limits.max_connections when set; otherwise the open-file
// limit less tune.FDReserve, never below 64, and 1<<40 for an unlimited one.
func TestMaxConnections(t *testing.T) {
	for _, tc := range []struct {
		name       string
		configured int
		fdSoft     uint64
		want       int64
	}{
		{name: "configured wins over the fd limit", configured: 5000, fdSoft: 1024, want: 5000},
		{name: "configured above the fd limit is kept", configured: 5000, fdSoft: 100, want: 5000},
		{name: "derived: soft minus the reserve", fdSoft: 1024, want: 1024 - tune.FDReserve},
		{name: "derived: 1M", fdSoft: 1 << 20, want: 1<<20 - tune.FDReserve},
		{name: "derived: at least 64", fdSoft: 120, want: 64},
		{name: "derived: unlimited", fdSoft: ^uint64(0), want: 1 << 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			cfg.Limits.MaxConnections = tc.configured
			if got := cfg.MaxConnections(tc.fdSoft); got != tc.want {
				t.Errorf("MaxConnections(%d) with limits.max_connections = %d: %d, want %d", tc.fdSoft, tc.configured, got, tc.want)
			}
		})
	}
}

// TestKeepAlive: engine.tcp_keepalive gives the four socket options the
// listeners, the TLS terminator and the accept-time check all set: probes
// every idle/5 in whole seconds (at least 1s), 5 of them, TCP_USER_TIMEOUT
// twice the idle time; 0 turns all of them off.
func TestKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		idle time.Duration
		want KeepAlive
	}{
		{idle: 2 * time.Minute, want: KeepAlive{Idle: 2 * time.Minute, Interval: 24 * time.Second, Count: 5, UserTimeout: 4 * time.Minute}},
		{idle: 10 * time.Second, want: KeepAlive{Idle: 10 * time.Second, Interval: 2 * time.Second, Count: 5, UserTimeout: 20 * time.Second}},
		{idle: 7 * time.Second, want: KeepAlive{Idle: 7 * time.Second, Interval: time.Second, Count: 5, UserTimeout: 14 * time.Second}},
		{idle: 3 * time.Second, want: KeepAlive{Idle: 3 * time.Second, Interval: time.Second, Count: 5, UserTimeout: 6 * time.Second}},
		{idle: 0, want: KeepAlive{}},
	} {
		cfg := Default()
		cfg.Engine.TCPKeepAlive = Duration(tc.idle)
		got := cfg.KeepAlive()
		if got != tc.want {
			t.Errorf("engine.tcp_keepalive = %s: %+v, want %+v", tc.idle, got, tc.want)
		}
		if got.On() != (tc.idle > 0) {
			t.Errorf("engine.tcp_keepalive = %s: On() = %v", tc.idle, got.On())
		}
	}
	def := Default()
	if got := def.KeepAlive(); !got.On() || got.Idle != 2*time.Minute {
		t.Errorf("default keepalive %+v, want on after 2m (config.toml)", got)
	}
}
