package gateway

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
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
func BenchmarkIdleConnections(b *testing.B) {
	const n = 9000
	b.ReportAllocs()
	g := benchGateway(b, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EDGEGW_IDLE_CLIENTS="+g.Addr("tcp")+","+strconv.Itoa(n))
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
	for i := 0; i < b.N; i++ {
		runtime.GC()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if c := g.m.conns.Load(); c != n {
		b.Fatalf("gateway holds %d connections, want %d", c, n)
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
	b.ReportMetric(float64(cpu)/1e3/n, "gw-cpu-us/connect")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "connects/s")
}

// idleClients is the child process of BenchmarkIdleConnections: it opens n
// raw sockets to addr, sends CONNECT on each, reads every CONNACK, prints
// "ready" and holds the connections until stdin closes.
func idleClients(spec string) int {
	parts := strings.Split(spec, ",")
	n, _ := strconv.Atoi(parts[1])
	ap, err := net.ResolveTCPAddr("tcp", parts[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sa := &syscall.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	fds := make([]int, 0, n)
	ack := make([]byte, 4)
	for i := 0; i < n; i++ {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err == nil {
			err = syscall.Connect(fd, sa)
		}
		if err == nil {
			_, err = syscall.Write(fd, connectPacket(4, "idle-"+strconv.Itoa(i), 0, true))
		}
		if err == nil {
			var k int
			k, err = syscall.Read(fd, ack)
			if err == nil && (k != 4 || ack[0] != 0x20 || ack[3] != 0) {
				err = fmt.Errorf("bad CONNACK %x", ack[:k])
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "client %d: %v\n", i, err)
			return 1
		}
		fds = append(fds, fd)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

func TestMain(m *testing.M) {
	if spec := os.Getenv("EDGEGW_IDLE_CLIENTS"); spec != "" {
		os.Exit(idleClients(spec))
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
