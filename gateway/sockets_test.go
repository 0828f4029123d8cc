package gateway

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSocketBuffersOnAcceptedSockets: engine.socket_recv_buffer and
// socket_send_buffer reach the sockets accepted by every client listener:
// the event-loop TCP and WebSocket listeners (gnet sets them on each loop's
// listening socket before it binds, Linux hands them on) and the TLS
// listener. The kernel reports twice the value set. Without the keys the
// sockets keep the kernel's default (tcp_rmem[1], tcp_wmem[1]), so this
// fails when the options are not wired.
func TestSocketBuffersOnAcceptedSockets(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	g := newTestGateway(t, func(c *Config) {
		c.Engine.SocketRecvBuffer, c.Engine.SocketSendBuffer = 4096, 6144
		c.Listeners.WS = "127.0.0.1:0"
		c.Listeners.TLS, c.Listeners.TLSCert, c.Listeners.TLSKey = "127.0.0.1:0", certFile, keyFile
	})
	check := func(listener string, fd int) {
		t.Helper()
		for _, o := range []struct {
			name      string
			opt, want int
		}{{"SO_RCVBUF", unix.SO_RCVBUF, 8192}, {"SO_SNDBUF", unix.SO_SNDBUF, 12288}} {
			if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, o.opt); err != nil || v != o.want {
				t.Errorf("%s: %s on the accepted socket = %d (%v), want %d", listener, o.name, v, err, o.want)
			}
		}
	}
	c := rawV5(t, g, "bufs") // CONNACK read: accepted
	check("tcp", serverSideFD(t, c.LocalAddr().String()))

	wc, err := net.Dial("tcp", g.Addr("ws"))
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	eventually(t, "ws socket accepted", func() bool { return findServerSideFD(wc.LocalAddr().String()) >= 0 })
	check("ws", serverSideFD(t, wc.LocalAddr().String()))

	tc, err := net.Dial("tcp", g.Addr("tls"))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tlc := tls.Client(tc, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	_ = tlc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tlc.Handshake(); err != nil {
		t.Fatal("TLS handshake:", err)
	}
	check("tls", serverSideFD(t, tc.LocalAddr().String()))
}
