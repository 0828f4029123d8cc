package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// replyBoundConfig keeps the bounds small so that a flood meets them within
// milliseconds: 64 KiB of unread replies, 16 KiB packets, so at most
// 4 x 16 + 16 = 80 KiB held undecoded.
func replyBoundConfig(c *Config) {
	c.Listeners.WS = "127.0.0.1:0"
	c.Limits.MaxOutboundBytes = 64 << 10
	c.Limits.MaxPacketSize = 16 << 10
	c.Engine.ReadBufferSize = 16 << 10
}

// dialSmallRcvBuf dials addr with a 4 KiB receive buffer set before the
// connect, so the kernel holds little of what the gateway writes to a
// client that does not read and the gateway's own buffers are what fills.
func dialSmallRcvBuf(t testing.TB, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// shrinkServerSndBuf sets a 4 KiB send buffer on the gateway's end of nc
// (gateway and test share the process, so its socket is one of our file
// descriptors). Linux would otherwise grow that buffer to megabytes for a
// client that does not read, and the gateway's own buffers would take
// seconds to fill; with the kernel out of the way a flood meets the reply
// bound at once, as it would on a link with a small window.
func shrinkServerSndBuf(t testing.TB, nc net.Conn) {
	t.Helper()
	local := nc.LocalAddr().(*net.TCPAddr)
	remote := nc.RemoteAddr().(*net.TCPAddr)
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		sa, err1 := unix.Getsockname(fd)
		pa, err2 := unix.Getpeername(fd)
		s4, ok1 := sa.(*unix.SockaddrInet4)
		p4, ok2 := pa.(*unix.SockaddrInet4)
		if err1 != nil || err2 != nil || !ok1 || !ok2 || s4.Port != remote.Port || p4.Port != local.Port {
			continue
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("the gateway's end of %v is not among this process's sockets", local)
}

// heapPeak samples the live heap (collected first, so that garbage the
// rest of the suite leaves behind does not count) every 10 ms until stop is
// called, and returns its largest growth over the level at the start.
func heapPeak() (stop func() (growth uint64, rss string)) {
	live := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := live()
	rss0 := vmRSS()
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if h := live(); h > base && h-base > peak.Load() {
				peak.Store(h - base)
			}
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() (uint64, string) {
		close(done)
		<-finished
		return peak.Load(), rss0 + " -> " + vmRSS()
	}
}

// vmRSS is VmRSS from /proc/self/status, for the log.
func vmRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.TrimSpace(line[len("VmRSS:"):])
		}
	}
	return "?"
}

// flood writes unit, repeated to 16 KiB, to nc until a write fails (the
// gateway closed the connection) or for d. It returns the bytes written
// and whether the connection was closed.
func flood(nc net.Conn, unit []byte, d time.Duration) (sent int, closed bool) {
	buf := bytes.Repeat(unit, max(1, (16<<10)/len(unit)))
	deadline := time.Now().Add(d)
	off := 0 // a write cut by its deadline goes on where it stopped
	for time.Now().Before(deadline) {
		_ = nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := nc.Write(buf[off:])
		sent += n
		off = (off + n) % len(buf)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue // the gateway stopped reading: keep pushing until it closes
			}
			return sent, true
		}
	}
	return sent, false
}

// TestReplyBoundFlood: a client that never reads and floods requests whose
// answers the gateway must write (WebSocket pings before and after CONNECT,
// PINGREQ, QoS 1 PUBLISH) stops being read once its unread replies pass
// limits.max_outbound_bytes, and is closed (inbound_overflow, counted) when
// it keeps sending past the inbound bound. The gateway's heap grows by a
// few MB at most; it used to grow by hundreds of MB per second.
func TestReplyBoundFlood(t *testing.T) {
	var lg lockedLog
	g := newTestGatewayLog(t, replyBoundConfig, slog.New(slog.NewTextHandler(io.MultiWriter(&lg, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelWarn})))
	ping := maskedFrame(0x89, bytes.Repeat([]byte("p"), 125))
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, nc net.Conn) (clientID string)
		ws    bool
		unit  []byte
	}{
		{"RFC6455-5.5.2/ws-ping-before-connect", nil, true, ping},
		{"RFC6455-5.5.2/ws-ping-after-connect", func(t *testing.T, nc net.Conn) string {
			c := &rawWS{Conn: nc, r: bufio.NewReader(nc)}
			id := uniq("flood-wsping")
			c.connectWS(t, id)
			return id
		}, true, ping},
		{"MQTT-3.12.4-1/tcp-pingreq", tcpConnect, false, []byte{0xC0, 0}},
		{"MQTT-3.3.4-1/tcp-publish-qos1", tcpConnect, false, publishV3(1, 1, "flood/nobody", []byte("x"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := g.Addr("tcp")
			if tc.ws {
				addr = g.Addr("ws")
			}
			closed0 := metric(t, g, `edgegw_connections_closed_total{reason="inbound_overflow"}`)
			stalled0 := metric(t, g, "edgegw_reads_stalled_total")
			nc := dialSmallRcvBuf(t, addr)
			if tc.ws {
				upgradeRaw(t, nc)
			}
			id := ""
			if tc.setup != nil {
				id = tc.setup(t, nc)
			}
			shrinkServerSndBuf(t, nc)
			stop := heapPeak()
			sent, closed := flood(nc, tc.unit, 5*time.Second)
			growth, rss := stop()
			t.Logf("sent %d KiB; live heap grew by at most %d KiB; VmRSS %s", sent>>10, growth>>10, rss)
			if growth > 8<<20 {
				t.Errorf("live heap grew by %d KiB during the flood, want a few MB at most", growth>>10)
			}
			if !closed {
				t.Fatalf("a client flooding %d KiB without reading was not closed", sent>>10)
			}
			eventually(t, "inbound_overflow counted", func() bool {
				return metric(t, g, `edgegw_connections_closed_total{reason="inbound_overflow"}`) > closed0
			})
			if id != "" {
				want := "client_id=" + id + " addr=" + nc.LocalAddr().String() + " reason=inbound_overflow"
				eventually(t, "the close logged with "+want, func() bool { return strings.Contains(lg.String(), want) })
			}
			if s := metric(t, g, "edgegw_reads_stalled_total"); s <= stalled0 {
				t.Fatalf("edgegw_reads_stalled_total %v, want > %v", s, stalled0)
			}
		})
	}
}

// TestReplyBoundResume: a client whose unread replies stalled its reading
// gets every reply once it reads, without sending anything more: the
// loop's tick resumes it (gnet has no writable callback), and the
// connection stays usable.
func TestReplyBoundResume(t *testing.T) {
	g := newTestGateway(t, func(c *Config) {
		replyBoundConfig(c)
		// 4 x 64 + 16 = 272 KiB may wait undecoded: room for what the
		// client sends before it sees the stall in the metrics (a tick).
		c.Limits.MaxPacketSize = 64 << 10
	})
	for _, tc := range []struct {
		name string
		ws   bool
	}{{"MQTT-3.12.4-1/tcp", false}, {"RFC6455-5.5.2/ws", true}} {
		t.Run(tc.name, func(t *testing.T) {
			addr := g.Addr("tcp")
			if tc.ws {
				addr = g.Addr("ws")
			}
			nc := dialSmallRcvBuf(t, addr)
			var unit, reply []byte
			if tc.ws {
				upgradeRaw(t, nc)
				unit, reply = wsPing("0123456789"), []byte("\x8a\x0a0123456789")
			} else {
				tcpConnect(t, nc)
				unit, reply = []byte{0xC0, 0}, []byte{0xD0, 0}
			}
			shrinkServerSndBuf(t, nc)
			stalled0 := metric(t, g, "edgegw_reads_stalled_total")
			batch := bytes.Repeat(unit, (4<<10)/len(unit)) // 4 KiB: far below the inbound bound
			n := 0
			for metric(t, g, "edgegw_reads_stalled_total") == stalled0 {
				if n > 2<<20 {
					t.Fatalf("not stalled after %d MiB of requests never read", n>>20)
				}
				_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if _, err := nc.Write(batch); err != nil {
					t.Fatalf("write after %d KiB: %v", n>>10, err)
				}
				n += len(batch)
				time.Sleep(2 * time.Millisecond)
			}
			want := n / len(unit)
			// Stalled, and the client still reads nothing: the loop must
			// wait, not spin (a busy loop would burn a core).
			cpu0 := processCPU()
			time.Sleep(300 * time.Millisecond)
			cpu := processCPU() - cpu0
			t.Logf("stalled after %d requests (%d KiB); %v CPU in the 300 ms it stayed stalled", want, n>>10, cpu)
			if cpu > 100*time.Millisecond {
				t.Fatalf("%v of CPU in 300 ms while stalled: busy-looping", cpu)
			}
			// Read every reply: the last ones were decoded only after the
			// gateway resumed by itself.
			got := 0
			buf := make([]byte, 64<<10)
			var stream []byte
			_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			for got < want {
				k, err := nc.Read(buf)
				if err != nil {
					t.Fatalf("%d of %d replies: %v", got, want, err)
				}
				stream = append(stream, buf[:k]...)
				for len(stream) >= len(reply) {
					if !bytes.Equal(stream[:len(reply)], reply) {
						t.Fatalf("reply %d: %x, want %x", got, stream[:len(reply)], reply)
					}
					stream = stream[len(reply):]
					got++
				}
			}
			if _, err := nc.Write(unit); err != nil {
				t.Fatal(err)
			}
			_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			k, err := nc.Read(buf)
			if err != nil || !bytes.Equal(append(stream, buf[:k]...), reply) {
				t.Fatalf("after the backlog: %x %v, want %x", buf[:k], err, reply)
			}
		})
	}
}

// tcpConnect sends a v3.1.1 CONNECT on nc, reads the CONNACK and returns
// the client ID.
func tcpConnect(t *testing.T, nc net.Conn) string {
	t.Helper()
	rc := &rawConn{Conn: nc, r: bufio.NewReader(nc)}
	id := uniq("flood")
	if _, err := nc.Write(connectPacket(4, id, 0, true)); err != nil {
		t.Fatal(err)
	}
	if h, body, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 || len(body) != 2 || body[1] != 0 {
		t.Fatalf("CONNACK %x %x %v", h, body, err)
	}
	if rc.r.Buffered() > 0 {
		t.Fatal("unexpected bytes after the CONNACK")
	}
	return id
}

// lockedLog collects the gateway's log for assertions.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// upgradeRaw upgrades nc to WebSocket; nothing is read past the response.
func upgradeRaw(t *testing.T, nc net.Conn) {
	t.Helper()
	req := "GET /mqtt HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var resp []byte
	var b [1]byte
	for !bytes.HasSuffix(resp, []byte("\r\n\r\n")) {
		if _, err := nc.Read(b[:]); err != nil {
			t.Fatalf("upgrade: %q %v", resp, err)
		}
		resp = append(resp, b[0])
	}
	if !strings.HasPrefix(string(resp), "HTTP/1.1 101") {
		t.Fatalf("upgrade: %q", resp)
	}
}

// processCPU is the user and system CPU time this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
