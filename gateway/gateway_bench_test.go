package gateway

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"edgegw/gateway/telemetry"
)

// Benchmarks run an in-process gateway over loopback. Clients are raw
// sockets with hand-built packets (no MQTT client library) so that client
// cost stays small; "cpu-us/..." metrics are process CPU (gateway and
// clients together) from getrusage, an upper bound for the gateway's share.

func benchGateway(b *testing.B, mutate func(*Config)) *Gateway {
	b.Helper()
	return newTestGateway(b, func(c *Config) {
		c.Engine.Loops = 0 // GOMAXPROCS
		c.Engine.TickInterval = Duration(100 * time.Millisecond)
		c.HTTP.Addr = ""
		c.Limits.ConnectTimeout = Duration(60 * time.Second)
		if mutate != nil {
			mutate(c)
		}
	})
}

// rssAnon returns this process's resident anonymous memory in bytes, or 0
// where it cannot be read.
func rssAnon() int64 {
	anon, _, _ := telemetry.ResidentMemory("")
	return int64(anon)
}

func cpuNanos() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkIdleConnections holds 9,000 connected idle clients and reports
// the gateway's user-space bytes per connection (HeapInuse+StackInuse delta
// / N) and its CPU per connect+CONNACK. The clients run in a child process
// (this test binary re-executed, see TestMain) so that neither their memory
// nor their CPU is counted; getrusage(RUSAGE_SELF) then measures the
// gateway (and kernel work done on its threads) only.
//
// dialers=1 connects one client at a time (every connect is its own wake:
// the worst case for CPU per connect); dialers=16 is a fleet reconnecting.
// rss-B/conn (RssAnon delta before any forced GC, what an operator sees) is
// reported only by the first of these in a process: later ones would reuse
// memory the earlier ones freed. Run one at a time to see both.
//
// floor=gnet is not the gateway: a bare gnet v2 engine with the same options
// that answers every CONNECT with a fixed CONNACK and keeps nothing of its
// own. Its bytes per connection are what gnet (and the Go heap under it)
// costs before any MQTT state: the floor under the gateway's number.
func BenchmarkIdleConnections(b *testing.B) {
	for _, d := range []int{1, 16} {
		b.Run("dialers="+strconv.Itoa(d), func(b *testing.B) {
			g := benchGateway(b, nil)
			benchIdle(b, d, false, g.Addr("tcp"), g.m.conns.Load)
		})
	}
	// A fleet as it usually is: every device also subscribes to its own
	// command topic (devices/<id>/cmd, QoS 1); the router's and the
	// session's per-subscription memory is included.
	b.Run("dialers=16,subscribed", func(b *testing.B) {
		g := benchGateway(b, nil)
		benchIdle(b, 16, true, g.Addr("tcp"), g.m.conns.Load)
	})
	b.Run("floor=gnet", func(b *testing.B) {
		addr, conns := startFloorServer(b)
		benchIdle(b, 16, false, addr, conns)
	})
}

// floorServer is a gnet event handler that answers CONNECT with CONNACK and
// holds no per-connection state (see BenchmarkIdleConnections).
type floorServer struct {
	gnet.BuiltinEventEngine
	conns atomic.Int64
	addr  chan string
}

func (f *floorServer) OnBoot(eng gnet.Engine) gnet.Action { return gnet.None }

func (f *floorServer) OnOpen(gnet.Conn) ([]byte, gnet.Action) {
	f.conns.Add(1)
	return nil, gnet.None
}

func (f *floorServer) OnClose(gnet.Conn, error) gnet.Action {
	f.conns.Add(-1)
	return gnet.None
}

var floorConnack = []byte{0x20, 2, 0, 0}

// OnTick ticks like the gateway (engine.tick_interval) and does nothing.
func (f *floorServer) OnTick() (time.Duration, gnet.Action) { return 100 * time.Millisecond, gnet.None }

func (f *floorServer) OnTraffic(c gnet.Conn) gnet.Action {
	_, _ = c.Discard(-1)
	_, _ = c.Write(floorConnack)
	return gnet.None
}

// floorOptions are the gateway's engine options (engine.go) at their defaults.
func floorOptions() []gnet.Option {
	return []gnet.Option{gnet.WithMulticore(true), gnet.WithReusePort(true), gnet.WithReuseAddr(true),
		gnet.WithReadBufferCap(65536), gnet.WithTicker(true), gnet.WithTCPNoDelay(gnet.TCPNoDelay)}
}

func startFloorServer(b *testing.B) (string, func() int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f := &floorServer{}
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(f, "tcp://"+addr, floorOptions()...)
	}()
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i == 100 {
			b.Fatal("floor server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Cleanup(func() { _ = gnet.Stop(context.Background(), "tcp://"+addr); <-done })
	for f.conns.Load() != 0 { // the probe above
		time.Sleep(time.Millisecond)
	}
	return addr, f.conns.Load
}

var idleRSSTaken bool

func benchIdle(b *testing.B, dialers int, subscribe bool, addr string, conns func() int64) {
	const n = 9000
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	rss0 := rssAnon()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EDGEGW_IDLE_CLIENTS="+addr+","+strconv.Itoa(n)+","+strconv.Itoa(dialers)+","+strconv.FormatBool(subscribe))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	cpu0, start := cpuNanos(), time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		b.Fatalf("client process: %q %v", line, err)
	}
	elapsed := time.Since(start)
	cpu := cpuNanos() - cpu0
	// What an operator sees from outside, before any forced GC: resident
	// anonymous memory (heap, stacks, runtime metadata) per connection.
	rss := rssAnon() - rss0
	for i := 0; i < b.N; i++ {
		runtime.GC()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c := conns(); c != n {
		b.Fatalf("server holds %d connections, want %d", c, n)
	}
	if f := os.Getenv("EDGEGW_IDLE_HEAPPROFILE"); f != "" {
		// What the gateway holds while the clients are connected (run with
		// -memprofilerate 1; -memprofile only sees the end of the run).
		if fh, err := os.Create(f); err == nil {
			_ = pprof.WriteHeapProfile(fh)
			fh.Close()
		}
	}
	delta := int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)
	b.ReportMetric(float64(delta)/n, "B/conn")
	if !idleRSSTaken {
		idleRSSTaken = true
		b.ReportMetric(float64(rss)/n, "rss-B/conn")
	}
	// Bytes allocated per connection, kept or not: what is not kept is
	// garbage that grows the RSS during a connect storm until a GC runs.
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "alloc-B/conn")
	b.ReportMetric(float64(cpu)/1e3/n, "gw-cpu-us/connect")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "connects/s")
}

// idleClients is the child process of BenchmarkIdleConnections: it opens n
// raw sockets to addr from `dialers` goroutines (a fleet reconnecting, not
// one device at a time), sends CONNECT (client ID "device-%08d", keep alive
// 60 s, like a real fleet) on each, reads every CONNACK, prints "ready" and
// holds the connections until stdin closes.
func idleClients(spec string) int {
	parts := strings.Split(spec, ",")
	n, _ := strconv.Atoi(parts[1])
	dialers, subscribe := 1, false
	if len(parts) > 2 {
		dialers, _ = strconv.Atoi(parts[2])
	}
	if len(parts) > 3 {
		subscribe, _ = strconv.ParseBool(parts[3])
	}
	ap, err := net.ResolveTCPAddr("tcp", parts[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sa := &syscall.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for d := 0; d < dialers; d++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ack := make([]byte, 4)
			var subAck [5]byte
			for i := int(next.Add(1) - 1); i < n && !failed.Load(); i = int(next.Add(1) - 1) {
				fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
				if err == nil {
					err = syscall.Connect(fd, sa)
				}
				if err == nil {
					_, err = syscall.Write(fd, connectPacket(4, fmt.Sprintf("device-%08d", i), 60, true))
				}
				if err == nil {
					var k int
					k, err = syscall.Read(fd, ack)
					if err == nil && (k != 4 || ack[0] != 0x20 || ack[3] != 0) {
						err = fmt.Errorf("bad CONNACK %x", ack[:k])
					}
				}
				if err == nil && subscribe {
					f := fmt.Sprintf("devices/%08d/cmd", i)
					sub := append([]byte{0, 1, 0, byte(len(f))}, f...)
					_, err = syscall.Write(fd, frame(0x82, append(sub, 1)))
					if err == nil {
						var k int
						k, err = syscall.Read(fd, subAck[:])
						if err == nil && (k != 5 || subAck[0] != 0x90 || subAck[4] != 1) {
							err = fmt.Errorf("bad SUBACK %x", subAck[:k])
						}
					}
				}
				if err != nil {
					fmt.Fprintf(os.Stderr, "client %d: %v\n", i, err)
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

func TestMain(m *testing.M) {
	if spec := os.Getenv("EDGEGW_IDLE_CLIENTS"); spec != "" {
		os.Exit(idleClients(spec))
	}
	if spec := os.Getenv("EDGEGW_CHURN_CLIENTS"); spec != "" {
		os.Exit(churnClients(spec)) // reclaim_test.go
	}
	if os.Getenv("EDGEGW_CHURN_SERVER") != "" {
		os.Exit(churnServer()) // reclaim_test.go
	}
	if addr := os.Getenv("EDGEGW_RELAY_CHILD"); addr != "" {
		os.Exit(relayChild(addr)) // relay_kill_test.go
	}
	if addr := os.Getenv("EDGEGW_FLOOR_ADDR"); addr != "" {
		// The floor=gnet server on its own, to measure from outside:
		// go test -c -o floor.test ./gateway/ && EDGEGW_FLOOR_ADDR=:1885 ./floor.test
		if err := gnet.Run(&floorServer{}, "tcp://"+addr, floorOptions()...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchConn is a raw MQTT 3.1.1 client.
type benchConn struct {
	net.Conn
	r *bufio.Reader
}

func benchDial(b *testing.B, g *Gateway, id string, filter string, qos byte) *benchConn {
	nc, err := net.Dial("tcp", g.Addr("tcp"))
	if err != nil {
		b.Fatal(err)
	}
	c := &benchConn{Conn: nc, r: bufio.NewReaderSize(nc, 64<<10)}
	_, _ = nc.Write(connectPacket(4, id, 0, true))
	if h, _, err := c.read(); err != nil || h != 0x20 {
		b.Fatalf("CONNACK %x %v", h, err)
	}
	if filter != "" {
		sub := []byte{0, 1, byte(len(filter) >> 8), byte(len(filter))}
		sub = append(append(sub, filter...), qos)
		_, _ = nc.Write(frame(0x82, sub))
		if h, _, err := c.read(); err != nil || h != 0x90 {
			b.Fatalf("SUBACK %x %v", h, err)
		}
	}
	b.Cleanup(func() { nc.Close() })
	return c
}

func (c *benchConn) read() (byte, []byte, error) {
	h, err := c.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for {
		x, err := c.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(x&127) * mul
		mul *= 128
		if x < 128 {
			break
		}
	}
	body := make([]byte, n)
	_, err = io.ReadFull(c.r, body)
	return h, body, err
}

// discard reads packets; for QoS 1 PUBLISH it answers PUBACK (batched).
// It counts PUBLISH packets into n.
func (c *benchConn) consume(n *atomic.Int64, ack bool) {
	out := make([]byte, 0, 4096)
	for {
		h, body, err := c.read()
		if err != nil {
			return
		}
		if h>>4 == 3 {
			n.Add(1)
			if ack && h&6 != 0 {
				tl := int(binary.BigEndian.Uint16(body))
				out = append(out, 0x40, 2, body[2+tl], body[3+tl])
			}
		}
		if len(out) > 0 && (c.r.Buffered() == 0 || len(out) >= 4000) {
			_, _ = c.Write(out)
			out = out[:0]
		}
	}
}

func v3Publish(qos byte, id uint16, topic string, payload []byte) []byte {
	body := []byte{byte(len(topic) >> 8), byte(len(topic))}
	body = append(body, topic...)
	if qos > 0 {
		body = append(body, byte(id>>8), byte(id))
	}
	return frame(0x30|qos<<1, append(body, payload...))
}

// publishN writes n PUBLISH packets in batches; for QoS 1 it keeps at most
// window unacknowledged and drains PUBACKs.
func (c *benchConn) publishN(b *testing.B, n int, qos byte, topic string, payload []byte) {
	const window = 64
	var acked int64
	credit := make(chan struct{}, window) // one token per unacknowledged message
	done := make(chan struct{})
	if qos > 0 {
		go func() {
			defer close(done)
			for acked < int64(n) {
				h, _, err := c.read()
				if err != nil {
					return
				}
				if h>>4 == 4 {
					acked++
					<-credit
				}
			}
		}()
	} else {
		close(done)
	}
	buf := make([]byte, 0, 64<<10)
	for i := 0; i < n; i++ {
		if qos > 0 {
			select {
			case credit <- struct{}{}:
			default:
				if len(buf) > 0 { // window full: send what we have, then wait
					_, _ = c.Write(buf)
					buf = buf[:0]
				}
				credit <- struct{}{}
			}
		}
		buf = append(buf, v3Publish(qos, uint16(i%65535+1), topic, payload)...)
		if len(buf) > 32<<10 {
			_, _ = c.Write(buf)
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		_, _ = c.Write(buf)
	}
	<-done
}

func waitCount(b *testing.B, n *atomic.Int64, want int64) {
	deadline := time.Now().Add(60 * time.Second)
	for n.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("received %d of %d", n.Load(), want)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

func benchP2P(b *testing.B, qos byte) {
	b.ReportAllocs()
	g := benchGateway(b, nil)
	sub := benchDial(b, g, "p2p-sub", "p2p/t", qos)
	pub := benchDial(b, g, "p2p-pub", "", 0)
	var got atomic.Int64
	go sub.consume(&got, qos > 0)
	payload := make([]byte, 64)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	cpu0, start := cpuNanos(), time.Now()
	pub.publishN(b, b.N, qos, "p2p/t", payload)
	waitCount(b, &got, int64(b.N))
	el, cpu := time.Since(start), cpuNanos()-cpu0
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu)/1e3/float64(b.N), "cpu-us/msg")
}

// BenchmarkP2PQoS0 and BenchmarkP2PQoS1: one publisher, one subscriber.
func BenchmarkP2PQoS0(b *testing.B) { benchP2P(b, 0) }
func BenchmarkP2PQoS1(b *testing.B) { benchP2P(b, 1) }

// BenchmarkFanOut1000: one QoS 0 publisher, 1,000 subscribers of the topic;
// b.N counts messages, deliveries/s counts PUBLISH packets received.
func BenchmarkFanOut1000(b *testing.B) {
	const subs = 1000
	b.ReportAllocs()
	g := benchGateway(b, nil)
	var got atomic.Int64
	for i := 0; i < subs; i++ {
		c := benchDial(b, g, "fo-"+strconv.Itoa(i), "fan/out", 0)
		go c.consume(&got, false)
	}
	pub := benchDial(b, g, "fo-pub", "", 0)
	payload := make([]byte, 64)
	b.ResetTimer()
	cpu0, start := cpuNanos(), time.Now()
	pub.publishN(b, b.N, 0, "fan/out", payload)
	// QoS 0 may be dropped under overload (slow_consumer, inbox_full): those
	// are counted, so wait for received + dropped.
	want := int64(b.N) * subs
	deadline := time.Now().Add(60 * time.Second)
	for got.Load()+droppedTotal(g) < want {
		if time.Now().After(deadline) {
			b.Fatalf("received %d + dropped %d of %d", got.Load(), droppedTotal(g), want)
		}
		time.Sleep(time.Millisecond)
	}
	el, cpu := time.Since(start), cpuNanos()-cpu0
	b.ReportMetric(float64(got.Load())/el.Seconds(), "deliveries/s")
	b.ReportMetric(float64(cpu)/1e3/float64(got.Load()), "cpu-us/delivery")
	b.ReportMetric(float64(droppedTotal(g)), "dropped")
}

// BenchmarkFanIn64QoS1: 64 QoS 1 publishers, one QoS 1 subscriber; every
// acknowledged message must arrive (lost must be 0).
func BenchmarkFanIn64QoS1(b *testing.B) {
	const pubs = 64
	b.ReportAllocs()
	g := benchGateway(b, nil)
	sub := benchDial(b, g, "fi-sub", "fan/in/#", 1)
	var got atomic.Int64
	go sub.consume(&got, true)
	per := max(b.N/pubs, 1)
	total := per * pubs
	conns := make([]*benchConn, pubs)
	for i := range conns {
		conns[i] = benchDial(b, g, "fi-"+strconv.Itoa(i), "", 0)
	}
	payload := make([]byte, 64)
	b.ResetTimer()
	cpu0, start := cpuNanos(), time.Now()
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func(i int, c *benchConn) {
			defer wg.Done()
			c.publishN(b, per, 1, "fan/in/"+strconv.Itoa(i), payload)
		}(i, c)
	}
	wg.Wait() // all acknowledged
	waitCount(b, &got, int64(total))
	el, cpu := time.Since(start), cpuNanos()-cpu0
	b.ReportMetric(float64(total)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu)/1e3/float64(total), "cpu-us/msg")
	b.ReportMetric(float64(int64(total)-got.Load()), "lost")
}

// droppedTotal sums edgegw_dropped_total over all reasons (folded per tick).
func droppedTotal(g *Gateway) int64 {
	var n int64
	for _, c := range g.m.dropped {
		n += int64(c.Get())
	}
	return n
}

// fakeGnetConn is the part of gnet.Conn that the read and CONNECT paths
// touch, for tests that drive a loop without sockets: in is the inbound
// buffer, closes counts Close calls. Methods not listed here panic through
// the nil embedded interface.
type fakeGnetConn struct {
	gnet.Conn
	addr   net.Addr
	in     []byte
	ctx    any
	closes int
}

func (f *fakeGnetConn) InboundBuffered() int            { return len(f.in) }
func (f *fakeGnetConn) Writev(bs [][]byte) (int, error) { return 0, nil }
func (f *fakeGnetConn) RemoteAddr() net.Addr            { return f.addr }
func (f *fakeGnetConn) Wake(gnet.AsyncCallback) error   { return nil }
func (f *fakeGnetConn) OutboundBuffered() int           { return 0 }
func (f *fakeGnetConn) Close() error                    { f.closes++; return nil }
func (f *fakeGnetConn) Context() any                    { return f.ctx }
func (f *fakeGnetConn) SetContext(ctx any)              { f.ctx = ctx }

func (f *fakeGnetConn) Peek(n int) ([]byte, error) {
	if n < 0 || n > len(f.in) {
		n = len(f.in)
	}
	return f.in[:n], nil
}

func (f *fakeGnetConn) Discard(n int) (int, error) {
	if n < 0 || n > len(f.in) {
		n = len(f.in)
	}
	f.in = f.in[n:]
	return n, nil
}

// TestConnectGarbage checks what a CONNECT that creates a new session
// allocates: only what the session keeps (client ID, session record and
// state). A connect storm of N clients otherwise leaves N x the garbage on
// a heap that no GC cycle collects before the storm ends, and the process
// RSS (what `edgegw bench --pid` measures) grows by it: the takeoverReq of
// each CONNECT was 96 bytes of such garbage.
func TestConnectGarbage(t *testing.T) {
	g, err := New(func() Config {
		c := Default()
		c.Listeners.TCP, c.Listeners.WS, c.HTTP.Addr = "127.0.0.1:0", "", ""
		return c
	}(), nil)
	if err != nil {
		t.Fatal(err)
	}
	l := newLoop(g, nil, 0)
	const n = 2000
	frames := make([][]byte, n)
	conns := make([]*conn, n)
	fgc := &fakeGnetConn{addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}}
	for i := range frames {
		frames[i] = connectPacket(4, fmt.Sprintf("garbage-%06d", i), 0, true)
		conns[i] = &conn{gc: fgc, l: l}
	}
	// Warm up the loop's pools, the registry's table and the wheel.
	for i := 0; i < n/2; i++ {
		l.begin()
		conns[i].onConnect(frames[i])
		l.end()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := n / 2; i < n; i++ {
		l.begin()
		conns[i].onConnect(frames[i])
		l.end()
	}
	runtime.ReadMemStats(&after)
	for _, c := range conns {
		if c.state != stConnected {
			t.Fatalf("connection in state %d, want connected", c.state)
		}
	}
	if l.req != (takeoverReq{}) {
		t.Fatal("the loop's scratch request still references a connection")
	}
	perConnect := float64(after.Mallocs-before.Mallocs) / (n / 2)
	t.Logf("%.2f allocations per CONNECT", perConnect)
	// The session record, the session state and the client ID string, plus
	// amortised growth of the registry table.
	if perConnect > 3.5 {
		t.Errorf("%.2f allocations per new-session CONNECT, want <= 3.5 (what the session keeps)", perConnect)
	}
}

// TestLogCloseAllocs checks that logging an ordinary close allocates once
// (the address text), so a disconnect storm does not grow the heap.
func TestLogCloseAllocs(t *testing.T) {
	var sb strings.Builder
	lg := slog.New(slog.NewTextHandler(&sb, nil))
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 54321}
	logClose(lg, "client-1", addr, closeNetwork, 0, nil)
	if !strings.Contains(sb.String(), "client_id=client-1 addr=127.0.0.1:54321 reason=network") {
		t.Fatalf("log line %q", sb.String())
	}
	lg = slog.New(slog.NewTextHandler(io.Discard, nil))
	want := 1.0
	if raceEnabled() {
		// With -race, sync.Pool drops a random quarter of what is put back,
		// so slog's pooled record buffer is sometimes allocated afresh.
		want = 3
	}
	if a := testing.AllocsPerRun(100, func() { logClose(lg, "client-1", addr, closeNetwork, 0, nil) }); a > want {
		t.Errorf("logClose allocates %v times, want <= %v", a, want)
	}
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{nil, ""},
		{(*net.TCPAddr)(nil), ""},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1883}, "[::1]:1883"},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1883, Zone: "eth0"}, "[fe80::1%eth0]:1883"},
		{&net.UnixAddr{Name: "/tmp/s", Net: "unix"}, "/tmp/s"},
	} {
		if got := addrText(c.addr); got != c.want {
			t.Errorf("addrText(%v) = %q, want %q", c.addr, got, c.want)
		}
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// TestGCPercent checks engine.gc_percent: validated, and applied to the
// process when the gateway starts (0 leaves the runtime's setting).
func TestGCPercent(t *testing.T) {
	for _, c := range []struct {
		v  int
		ok bool
	}{{-2, false}, {-1, true}, {0, true}, {25, true}, {400, true}} {
		cfg := Default()
		cfg.Engine.GCPercent = c.v
		if err := cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("engine.gc_percent = %d: Validate() = %v, want ok=%v", c.v, err, c.ok)
		}
	}
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	newTestGateway(t, func(c *Config) { c.Engine.GCPercent = 37 })
	if got := debug.SetGCPercent(100); got != 37 {
		t.Errorf("after Start with engine.gc_percent = 37 the GC percent is %d", got)
	}
	newTestGateway(t, nil) // 0: leaves it
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after Start with engine.gc_percent = 0 the GC percent is %d, want it left at 100", got)
	}
}
