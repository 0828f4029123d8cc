package gateway

import (
	"github.com/panjf2000/gnet/v2"

	"edgegw/gateway/config"
	"edgegw/gateway/listener"
)

// clientSockets returns the options of accepted client sockets (TCP,
// WebSocket, TLS) that cfg asks for: engine.tcp_keepalive as derived by
// config.KeepAliveFor, engine.socket_recv_buffer and socket_send_buffer.
func clientSockets(cfg Config) listener.Options {
	ka := config.KeepAliveFor(cfg.Engine.TCPKeepAlive.D())
	return listener.Options{
		KeepAliveIdle: ka.Idle, KeepAliveInterval: ka.Interval, KeepAliveCount: ka.Count, UserTimeout: ka.UserTimeout,
		RecvBuffer: cfg.Engine.SocketRecvBuffer, SendBuffer: cfg.Engine.SocketSendBuffer,
	}
}

// gnetSocketOptions are the gnet options that give the event-loop listeners'
// accepted sockets o. gnet sets them on each listening socket and Linux
// hands them on to every accepted one, at no cost per connection: the
// buffer sizes before the socket binds; keepalive only after it listens,
// which listener.KeepAliveCheck covers in OnOpen. TCP_USER_TIMEOUT has no
// gnet option: OnOpen sets it per socket.
func gnetSocketOptions(o listener.Options) []gnet.Option {
	opts := []gnet.Option{gnet.WithSocketRecvBuffer(o.RecvBuffer), gnet.WithSocketSendBuffer(o.SendBuffer)} // 0: not set
	if o.KeepAliveIdle > 0 {
		opts = append(opts, gnet.WithTCPKeepAlive(o.KeepAliveIdle), gnet.WithTCPKeepInterval(o.KeepAliveInterval),
			gnet.WithTCPKeepCount(o.KeepAliveCount))
	}
	return opts
}
