package bench

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startChildBroker runs Mochi in a child process (see TestMain) and returns
// its address and PID.
func startChildBroker(tb testing.TB) (string, int) {
	tb.Helper()
	return startChild(tb, "mochi-child")
}

// startChild runs this test binary as a broker child ("mochi-child" or
// "gateway-child") and returns its address and PID.
func startChild(tb testing.TB, mode string) (string, int) {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe, mode)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = in.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error") {
		tb.Fatalf("child broker: %q %v", line, err)
	}
	return strings.TrimSpace(line), cmd.Process.Pid
}

func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

// idleConns is how many connections the idle-memory benchmarks open.
const idleConns = 5000

// BenchmarkIdleClient measures the tool's own memory per idle connection:
// everything this process holds for it (client struct, gnet conn, maps),
// not the kernel's socket buffers. Target: <= 1024 B/conn. It always opens
// idleConns connections; the timer covers the whole connect so that one
// round is enough.
func BenchmarkIdleClient(b *testing.B) {
	b.ReportAllocs()
	broker, _ := startChildBroker(b)
	n := idleConns
	c := Defaults()
	c.Broker, c.Scenario, c.Clients, c.KeepAlive, c.Loops, c.Dialers = broker, ScenarioConn, n, 0, 2, 16
	before := heapNow()
	r, err := newRunner(&c)
	if err != nil {
		b.Fatal(err)
	}
	if err := r.start(); err != nil {
		b.Fatal(err)
	}
	for _, cl := range r.clients {
		r.enqueue(cl)
	}
	_ = r.awaitSettled(context.Background(), n, time.Now().Add(30*time.Second))
	if int(r.ready.Load()) != n {
		b.Fatalf("%d of %d connected (%v)", r.ready.Load(), n, r.fails.snapshot())
	}
	after := heapNow()
	b.ReportMetric(float64(after-before)/float64(n), "B/conn")
	b.ReportMetric(float64(n), "conns")
	r.stop()
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkClientCPUPerMsg measures the tool's CPU per message (published +
// received) in a fan-in run against a broker in another process, next to
// that broker's CPU per message: the tool must cost less than the broker.
func BenchmarkClientCPUPerMsg(b *testing.B) {
	b.ReportAllocs()
	broker, pid := startChildBroker(b)
	benchCPUPerMsg(b, broker, pid)
}

// benchCPUPerMsg runs a 2 s fan-in at 20,000 msgs/s against broker (process
// pid) and reports the tool's and the broker's CPU per message.
func benchCPUPerMsg(b *testing.B, broker string, pid int) {
	c := Defaults()
	c.Broker, c.Scenario, c.Publishers, c.Subscribers = broker, ScenarioFanIn, 50, 1
	c.TotalRate = 20000
	c.QoS = 0
	c.Duration = Duration(2 * time.Second)
	c.PID = pid
	c.Loops = 2
	cpu0 := cpuNow()
	var res *Result
	var err error
	for i := 0; i < b.N; i++ {
		res, err = runOnce(context.Background(), &c)
		if err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuNow() - cpu0
	msgs := float64(res.Sent+res.Received) * float64(b.N)
	b.ReportMetric(float64(cpu.Microseconds())/msgs, "client-µs/msg")
	b.ReportMetric(res.BrokerCPUPerMsg, "broker-µs/msg")
	b.ReportMetric(res.Throughput, "msgs/s")
	b.ReportMetric(res.DeliveryRatio, "delivery")
}
