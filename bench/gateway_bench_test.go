package bench

// The `go test -bench` harness of the repository: edgegw's gateway runs in
// this process on loopback and the bench clients drive it.
//
//	go test -run '^$' -bench . ./bench/
//
// BenchmarkGatewayIdleConns keeps the clients in a child process (this test
// binary re-executed as a bench worker) so that the heap growth measured
// here is the gateway's own, per connection. The throughput benchmarks run
// the clients in-process and report delivered msgs/s and p99 latency.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"edgegw/gateway"
)

// startGateway runs edgegw's gateway on 127.0.0.1:0 and returns its MQTT address.
func startGateway(tb testing.TB) string {
	tb.Helper()
	cfg := gateway.Default()
	cfg.Listeners.TCP = "127.0.0.1:0"
	cfg.Listeners.WS = ""
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Log.Level = "error"
	g, err := gateway.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	if err := g.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
	})
	return g.Addr("tcp")
}

// gatewayChild serves edgegw's gateway on 127.0.0.1:0 in a child process
// (see TestMain), prints the MQTT address and runs until stdin closes.
func gatewayChild() int {
	cfg := gateway.Default()
	cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "127.0.0.1:0", "", "127.0.0.1:0"
	g, err := gateway.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		err = g.Start()
	}
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println(g.Addr("tcp"))
	_, _ = io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = g.Shutdown(ctx)
	return 0
}

// BenchmarkGatewayCPUPerMsg compares the tool's CPU per message with the
// gateway's (in a child process, measured from /proc): the tool must not be
// the bottleneck.
func BenchmarkGatewayCPUPerMsg(b *testing.B) {
	b.ReportAllocs()
	broker, pid := startChild(b, "gateway-child")
	benchCPUPerMsg(b, broker, pid)
}

// BenchmarkGatewayIdleConns reports the gateway's heap bytes per idle
// connection (each with one subscription), clients in a child process.
// It always opens idleConns connections (b.N only repeats the measurement),
// and the timer runs over the whole connect so that one round is enough.
func BenchmarkGatewayIdleConns(b *testing.B) {
	b.ReportAllocs()
	addr := startGateway(b)
	n := idleConns
	c := Defaults()
	c.Broker, c.Scenario, c.Publishers, c.Subscribers, c.Topics = addr, ScenarioFanOut, 1, n-1, 1
	c.Rate, c.Duration, c.Loops, c.Dialers, c.KeepAlive = 1, Duration(time.Second), 1, 16, 0
	blob, _ := json.Marshal(&c)
	cmd, err := workerCommand("0/1/gwidle")
	if err != nil {
		b.Fatal(err)
	}
	cmd.Env = append(os.Environ(), workerEnv+"="+string(blob))
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	before := heapNow()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = in.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var m workerMsg
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &m) != nil || m.Type != "ready" {
		b.Fatalf("child clients: %q %s", sc.Text(), m.Error)
	}
	after := heapNow()
	b.ReportMetric(float64(int64(after)-int64(before))/float64(n), "B/conn")
	b.ReportMetric(float64(n), "conns")
	_, _ = io.WriteString(in, "go\n")
	for sc.Scan() {
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Type == "progress" {
			_, _ = io.WriteString(in, "stop\n")
			break
		}
	}
}

// gatewayLoad is one throughput benchmark shape.
type gatewayLoad struct {
	scenario          string
	pubs, subs, total int
	rate              float64 // msgs/s over all publishers
}

func benchGateway(b *testing.B, l gatewayLoad, qos int) {
	b.ReportAllocs()
	addr := startGateway(b)
	c := Defaults()
	c.Broker, c.Scenario, c.QoS = addr, l.scenario, qos
	c.Publishers, c.Subscribers, c.Clients = l.pubs, l.subs, l.total
	c.TotalRate = l.rate
	c.Duration = Duration(2 * time.Second)
	c.Loops, c.Dialers = 2, 16
	if err := c.Validate(); err != nil {
		b.Fatal(err)
	}
	var delivered, sent, p99, ratio float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := runOnce(context.Background(), &c)
		if err != nil {
			b.Fatal(err)
		}
		delivered += res.Throughput
		sent += res.SendRate
		p99 = max(p99, float64(res.Latency.Quantile(0.99))/1e6)
		ratio += res.DeliveryRatio
	}
	b.ReportMetric(delivered/float64(b.N), "msgs/s")
	b.ReportMetric(sent/float64(b.N), "sent/s")
	b.ReportMetric(p99, "p99-ms")
	b.ReportMetric(ratio/float64(b.N), "delivery")
}

func BenchmarkGateway(b *testing.B) {
	loads := []gatewayLoad{
		{scenario: ScenarioP2P, total: 100, rate: 50000},
		{scenario: ScenarioFanIn, pubs: 100, subs: 1, rate: 50000},
		{scenario: ScenarioFanOut, pubs: 1, subs: 100, rate: 500},
	}
	for _, l := range loads {
		for _, qos := range []int{0, 1} {
			b.Run(fmt.Sprintf("%s/qos%d", strings.ToLower(l.scenario), qos), func(b *testing.B) { benchGateway(b, l, qos) })
		}
	}
}
