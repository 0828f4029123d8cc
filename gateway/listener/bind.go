package listener

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Resolve checks that addr can be bound and, for port 0, picks a free port,
// so that every SO_REUSEPORT loop listens on the same concrete port. It
// returns addr's host with the concrete port; errors are *OpenError.
func Resolve(addr string) (string, error) {
	ln, err := Listen(addr)
	if err != nil {
		return "", err
	}
	bound := ln.Addr().String()
	_ = ln.Close()
	host, _, _ := net.SplitHostPort(addr)
	_, port, _ := net.SplitHostPort(bound)
	return net.JoinHostPort(host, port), nil
}

// Listen opens a TCP listener with the kernel's socket options (the HTTP
// endpoint); its error is an *OpenError that reads
// `cannot open listener ":1883": address already in use`.
func Listen(addr string) (net.Listener, error) {
	return listenConfig(net.ListenConfig{}, addr)
}

// ListenClients opens a TCP listener served by goroutines (TLS) whose
// accepted sockets carry o, as the event-loop listeners' do:
// TCP_USER_TIMEOUT and the buffer sizes set on the listening socket before
// it binds (Linux hands them on to every accepted socket), keepalive set by
// net on each accepted socket. o.KeepAliveIdle = 0 turns keepalive off (Go
// would otherwise enable its own 15 s). Errors as Listen.
func ListenClients(addr string, o Options) (net.Listener, error) {
	return listenConfig(o.listenConfig(), addr)
}

// listenConfig returns the net.ListenConfig that gives accepted sockets o.
func (o Options) listenConfig() net.ListenConfig {
	lc := net.ListenConfig{KeepAlive: -1}
	if o.KeepAliveIdle > 0 {
		lc = net.ListenConfig{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: o.KeepAliveIdle, Interval: o.KeepAliveInterval, Count: o.KeepAliveCount}}
	}
	if o.UserTimeout <= 0 && o.RecvBuffer <= 0 && o.SendBuffer <= 0 {
		return lc
	}
	lc.Control = func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if o.UserTimeout > 0 {
				serr = SetUserTimeout(int(fd), o.UserTimeout)
			}
			if serr == nil && o.RecvBuffer > 0 {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, o.RecvBuffer)
			}
			if serr == nil && o.SendBuffer > 0 {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, o.SendBuffer)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
	return lc
}

func listenConfig(lc net.ListenConfig, addr string) (net.Listener, error) {
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		var se *os.SyscallError
		if errors.As(err, &se) {
			err = se.Err
		}
		return nil, &OpenError{Addr: addr, Err: err}
	}
	return ln, nil
}
