package gateway

import (
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// keepAliveCheck makes sure that every socket a loop accepts carries
// engine.tcp_keepalive's options. Loop-only: one per loop, used from OnOpen.
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
type keepAliveCheck struct {
	ok []int // local ports whose listener's options reached an accepted socket
}

// ensure checks the socket fd, accepted on local port port, against idle,
// interval and probe count ka (keepAliveSettings), and sets all four options
// when any is missing. It reports whether it had to.
func (k *keepAliveCheck) ensure(fd, port int, ka keepAliveSettings) (fixed bool) {
	if slices.Contains(k.ok, port) {
		return false
	}
	if ka.on(fd) {
		k.ok = append(k.ok, port)
		return false
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, ka.idle)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, ka.intvl)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, ka.cnt)
	return true
}

// keepAliveSettings are the keepalive options of engine.tcp_keepalive, in
// the kernel's units (seconds, probes).
type keepAliveSettings struct{ idle, intvl, cnt int }

// keepAliveFor returns the settings for engine.tcp_keepalive ka (> 0), as
// set on the listeners (see Start).
func keepAliveFor(ka time.Duration) keepAliveSettings {
	return keepAliveSettings{idle: int(ka / time.Second), intvl: int(keepAliveInterval(ka) / time.Second), cnt: keepAliveProbes}
}

// on reports whether fd carries all four options.
func (ka keepAliveSettings) on(fd int) bool {
	for _, o := range [...]struct{ level, opt, want int }{
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, ka.idle},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, ka.intvl},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, ka.cnt},
	} {
		if v, err := unix.GetsockoptInt(fd, o.level, o.opt); err != nil || v != o.want {
			return false
		}
	}
	return true
}
