package listener

import (
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// SetUserTimeout sets TCP_USER_TIMEOUT on the socket fd to d (whole
// milliseconds): how long data sent may stay unacknowledged before the
// kernel gives up. Keepalive probes only run on an idle socket; a vanished
// subscriber with messages in flight would otherwise be retransmitted to
// for about 15 minutes. gnet has no option for it, so the glue calls this
// on each accepted socket: one system call per connection.
func SetUserTimeout(fd int, d time.Duration) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d/time.Millisecond))
}

// KeepAlive are the keepalive options in the kernel's units: TCP_KEEPIDLE
// and TCP_KEEPINTVL in seconds, TCP_KEEPCNT in probes (SO_KEEPALIVE on).
type KeepAlive struct{ Idle, Interval, Count int }

// On reports whether the socket fd carries all four options.
func (ka KeepAlive) On(fd int) bool {
	for _, o := range [...]struct{ level, opt, want int }{
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, ka.Idle},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, ka.Interval},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, ka.Count},
	} {
		if v, err := unix.GetsockoptInt(fd, o.level, o.opt); err != nil || v != o.want {
			return false
		}
	}
	return true
}

// Set sets all four options on the socket fd (errors ignored: a socket the
// peer already closed has nothing left to probe).
func (ka KeepAlive) Set(fd int) {
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, ka.Idle)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, ka.Interval)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, ka.Count)
}

// KeepAliveCheck makes sure that every socket a loop accepts carries the
// keepalive options. Loop-only: one per event loop, used when it accepts;
// the zero value is ready to use.
//
// gnet sets the options on the listening sockets and Linux hands them on to
// each socket accepted from them, at no cost per connection. But gnet makes a
// listener listen before it sets them, and with SO_REUSEPORT it creates the
// listeners of loops 1..n only after OnBoot, that is after Start returned: a
// client whose handshake completes in that window gets a socket with none of
// the options (or some of them: seen with only TCP_KEEPCNT left at the
// system's 9), whose peer is then never probed. A listener's accept queue
// hands out sockets in the order they were created, so once one socket from
// a listener carries all four options, every later one does too: each
// listener costs this loop a few getsockopt calls at start, then nothing.
// (The buffer sizes have no such window: gnet sets them before it binds.)
type KeepAliveCheck struct {
	ok []int // local ports whose listener's options reached an accepted socket
}

// Ensure checks the socket fd, accepted on local port port, against ka, and
// sets all four options when any is missing. It reports whether it had to.
func (k *KeepAliveCheck) Ensure(fd, port int, ka KeepAlive) (fixed bool) {
	if slices.Contains(k.ok, port) {
		return false
	}
	if ka.On(fd) {
		k.ok = append(k.ok, port)
		return false
	}
	ka.Set(fd)
	return true
}

// Trusted reports whether the listener on local port port has been seen to
// hand its options on (Ensure checks its sockets no more).
func (k *KeepAliveCheck) Trusted(port int) bool { return slices.Contains(k.ok, port) }
