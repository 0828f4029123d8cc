package listener

import "time"

// Options are the socket options of accepted client sockets. The zero value
// leaves every option at the kernel's default (no keepalive, no user
// timeout, default buffers). The values are derived by the configuration
// package (engine.tcp_keepalive, engine.socket_recv_buffer,
// engine.socket_send_buffer), which parses and validates them; this package
// only applies them.
type Options struct {
	// KeepAliveIdle is TCP_KEEPIDLE, the silence before the kernel's first
	// probe (whole seconds); KeepAliveInterval (TCP_KEEPINTVL) the time
	// between probes; KeepAliveCount (TCP_KEEPCNT) the unanswered probes
	// that close the socket. KeepAliveIdle = 0: keepalive off.
	KeepAliveIdle, KeepAliveInterval time.Duration
	KeepAliveCount                   int
	// UserTimeout is TCP_USER_TIMEOUT: how long data sent may stay
	// unacknowledged before the kernel gives up (whole milliseconds). 0 =
	// the kernel's retransmission limit (about 15 minutes).
	UserTimeout time.Duration
	// RecvBuffer and SendBuffer are SO_RCVBUF and SO_SNDBUF in bytes (the
	// kernel doubles the value for its bookkeeping and caps it at
	// net.core.rmem_max / wmem_max). Set on the listening socket before it
	// binds, so every accepted socket inherits them, and the kernel no longer
	// autotunes them. 0 = the kernel's default (tcp_rmem/tcp_wmem, autotuned).
	RecvBuffer, SendBuffer int
}

// KeepAlive returns the keepalive options in the kernel's units.
func (o Options) KeepAlive() KeepAlive {
	return KeepAlive{Idle: int(o.KeepAliveIdle / time.Second), Interval: int(o.KeepAliveInterval / time.Second), Count: o.KeepAliveCount}
}
