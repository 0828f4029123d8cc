package config

import (
	"time"

	"edgegw/tune"
)

// Derived values: what the gateway computes from the configuration rather
// than reads from it. Every caller (engine, listeners, TLS, tune) goes
// through these, so that a derivation cannot drift between two copies.

// MaxConnections returns the cap on client connections: limits.max_connections,
// or when it is 0 what a soft open-file limit of fdSoft allows (tune.FDCap:
// fdSoft minus tune.FDReserve descriptors kept for listeners, HTTP and files,
// at least 64). Pure; safe for concurrent use.
func (c *Config) MaxConnections(fdSoft uint64) int64 {
	if c.Limits.MaxConnections > 0 {
		return int64(c.Limits.MaxConnections)
	}
	return tune.FDCap(fdSoft)
}

// KeepAliveProbes is how many unanswered keepalive probes close a connection
// (TCP_KEEPCNT).
const KeepAliveProbes = 5

// KeepAlive is the dead-peer detection engine.tcp_keepalive asks of every
// client socket, in the terms of the socket options. The zero value is off.
type KeepAlive struct {
	Idle        time.Duration // TCP_KEEPIDLE: silence before the first probe; 0 = keepalive off
	Interval    time.Duration // TCP_KEEPINTVL: Idle/5 in whole seconds, at least 1s
	Count       int           // TCP_KEEPCNT: KeepAliveProbes
	UserTimeout time.Duration // TCP_USER_TIMEOUT: 2 x Idle, so unacknowledged data cannot hold a socket longer
}

// On reports whether keepalive is enabled.
func (k KeepAlive) On() bool { return k.Idle > 0 }

// KeepAlive returns the options engine.tcp_keepalive implies. Pure; safe for
// concurrent use.
func (c *Config) KeepAlive() KeepAlive { return KeepAliveFor(c.Engine.TCPKeepAlive.D()) }

// KeepAliveFor returns the options for an engine.tcp_keepalive of idle; the
// zero KeepAlive when idle <= 0.
func KeepAliveFor(idle time.Duration) KeepAlive {
	if idle <= 0 {
		return KeepAlive{}
	}
	return KeepAlive{
		Idle:        idle,
		Interval:    max(time.Second, (idle / 5).Truncate(time.Second)),
		Count:       KeepAliveProbes,
		UserTimeout: 2 * idle,
	}
}
