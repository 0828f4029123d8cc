package gateway

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestChurnWatch: a burst followed by quiet reclaims once; steady churn,
// a small burst, or a second burst within reclaimMinGap does not.
func TestChurnWatch(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var w churnWatch
	total := uint64(0)
	step := func(i int, d uint64) bool {
		total += d
		return w.observe(total, t0.Add(time.Duration(i)*reclaimSample))
	}
	i := 0
	for ; i < 100; i++ { // steady: 5,000 per sample for 100 samples
		if step(i, 5000) {
			t.Fatalf("sample %d: reclaimed during steady churn", i)
		}
	}
	if !step(i, 0) {
		t.Fatal("no reclaim when the churn stopped")
	}
	i++
	for ; i < 5; i++ {
		if step(i, 0) {
			t.Fatal("reclaimed twice for one burst")
		}
	}
	if step(i, reclaimMinChurn/2) || step(i+1, 0) {
		t.Fatal("reclaimed after a burst under reclaimMinChurn")
	}
	// A reclaim that took 500 ms holds the next one off for 10 s.
	w = churnWatch{}
	w.done(t0, 500*time.Millisecond)
	total = 0
	if step(1, 50000) || step(2, 0) {
		t.Fatal("reclaimed within reclaimCostRatio x the last reclaim's duration")
	}
	if !step(10, 0) {
		t.Fatal("no reclaim once the gap passed")
	}
}

// procAnonRSS reads RssAnon (bytes) from /proc/<pid>/status: the resident
// memory the process itself holds (heap, stacks, runtime metadata), without
// the file-backed pages of its binary (10 MB of a test binary's text),
// which are shared and which the kernel may drop at will.
func procAnonRSS(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no RssAnon in /proc/%d/status", pid)
}

// heapHeld is the memory the Go runtime holds from the OS for its heap
// (objects, live or not yet collected, and free spans not yet returned):
// what RssAnon measures of the heap, without the race detector's own
// memory, which is not the program's and cannot be returned.
func heapHeld() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64() + s[1].Value.Uint64() + s[2].Value.Uint64()
}

// churnServer is the gateway side of TestChurnGivesMemoryBack, run in a
// process of its own (TestMain, EDGEGW_CHURN_SERVER=1) so that the memory
// measured is the gateway's alone, whatever earlier tests left in the test's
// process. It starts a gateway as newTestGatewayLog does, logging at info
// (every close is logged) to nowhere, prints "TCPADDR HTTPADDR" on stdout,
// then answers commands read from stdin, one line each on stdout: "heap"
// with heapHeld() (what -race runs measure: an HTTP scrape would leave its
// own garbage in the heap it measures), "free" with "ok" once
// debug.FreeOSMemory returned. When stdin closes (the test ended or died)
// it shuts the gateway down and returns the exit status.
func churnServer() int {
	cfg := Default()
	cfg.Listeners.TCP = "127.0.0.1:0"
	cfg.Listeners.WS = ""
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Engine.Loops = 4
	cfg.Engine.TickInterval = Duration(10 * time.Millisecond)
	g, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		err = g.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(g.Addr("tcp"), g.Addr("http"))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "heap":
			fmt.Println(heapHeld())
		case "free":
			debug.FreeOSMemory()
			fmt.Println("ok")
		default:
			fmt.Println("unknown command")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "Shutdown:", err)
		return 1
	}
	return 0
}

// churnChild is the test's handle on a churnServer process. ask is safe
// for concurrent use; the rest is set once by startChurnServer.
type churnChild struct {
	pid       int
	tcp, http string
	mu        sync.Mutex  // one command and its answer at a time
	in        io.Writer   // the child's stdin
	lines     chan string // the child's stdout, line by line; closed at EOF
}

// startChurnServer starts churnServer in this test binary re-executed, and
// stops it (closing its stdin) when t ends.
func startChurnServer(t *testing.T) *churnChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "EDGEGW_CHURN_SERVER=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("gateway process: %v", err)
	}
	c := &churnChild{pid: cmd.Process.Pid, in: in, lines: make(chan string, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		in.Close()
		timeout := time.After(10 * time.Second)
		for open := true; open; {
			select {
			case _, open = <-c.lines:
			case <-timeout:
				t.Error("gateway process still running 10 s after its stdin closed")
				_ = cmd.Process.Kill()
				timeout = nil
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("gateway process: %v", err)
		}
	})
	line, err := c.next()
	if err != nil {
		t.Fatalf("gateway process: %v", err)
	}
	if _, err := fmt.Sscan(line, &c.tcp, &c.http); err != nil {
		t.Fatalf("gateway process printed %q: %v", line, err)
	}
	return c
}

// next is the child's next line of output.
func (c *churnChild) next() (string, error) {
	select {
	case line, ok := <-c.lines:
		if !ok {
			return "", errors.New("exited")
		}
		return line, nil
	case <-time.After(10 * time.Second):
		return "", errors.New("no answer in 10 s")
	}
}

// ask sends one command and returns the child's answer.
func (c *churnChild) ask(cmd string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := fmt.Fprintln(c.in, cmd); err != nil {
		return "", err
	}
	return c.next()
}

// heap is the child's heapHeld().
func (c *churnChild) heap() (uint64, error) {
	a, err := c.ask("heap")
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(a, 10, 64)
}

// metric reads one sample from the child's /metrics (0 when absent).
func (c *churnChild) metric(t testing.TB, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + c.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// churnClients is the client side of TestChurnGivesMemoryBack, run in a
// process of its own (TestMain, EDGEGW_CHURN_CLIENTS=addr,clients,seconds)
// so that the gateway's process holds only the gateway's memory, as in
// production. Each client connects as the same client ID, waits until the
// next one takes the session over, and connects again, until the time is
// up. It prints the number of CONNACKs.
func churnClients(spec string) int {
	parts := strings.Split(spec, ",")
	if len(parts) != 3 {
		fmt.Fprintln(os.Stderr, "EDGEGW_CHURN_CLIENTS=addr,clients,seconds")
		return 2
	}
	addr := parts[0]
	clients, _ := strconv.Atoi(parts[1])
	secs, _ := strconv.Atoi(parts[2])
	end := time.Now().Add(time.Duration(secs) * time.Second)
	connect := connectPacket(4, "churn", 0, true)
	var connacks atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				nc, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					continue
				}
				_ = nc.SetDeadline(end)
				if _, err := nc.Write(connect); err == nil {
					var ack [4]byte
					if _, err := io.ReadFull(nc, ack[:]); err == nil && ack[0] == 0x20 {
						connacks.Add(1)
						_, _ = nc.Read(ack[:1]) // held until the next client takes the ID over (EOF)
					}
				}
				nc.Close()
			}
		}()
	}
	wg.Wait()
	fmt.Println(connacks.Load())
	return 0
}

// TestChurnGivesMemoryBack: after a storm of clients taking over one client
// ID (3,000 clients for 3 s), the idle gateway gives its memory back within
// 10 s of the storm's end. The gateway runs in a child process
// (churnServer) and the clients in another (churnClients): the memory
// measured is the gateway's alone, as in production, and does not depend
// on which tests ran before in this process. The issue asks for RSS within
// 2x of the starting figure; the test asks 1.5x, because on a small machine
// the storm itself only about doubles RssAnon, and a 2x bound would pass
// without any reclaim (which leaves it there until the runtime's forced GC,
// two minutes later). edgegw_memory_reclaims_total must also have moved.
func TestChurnGivesMemoryBack(t *testing.T) {
	if testing.Short() {
		t.Skip("storm of connections")
	}
	if _, err := procAnonRSS(os.Getpid()); err != nil {
		t.Skip(err)
	}
	gw := startChurnServer(t)
	const clients, secs = 3000, 3
	// storm runs the clients and returns their CONNACKs and when they ended,
	// once the gateway has closed every connection.
	storm := func() (int, time.Time) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("EDGEGW_CHURN_CLIENTS=%s,%d,%d", gw.tcp, clients, secs))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("client process: %v", err)
		}
		end := time.Now()
		churnPoll(t, "storm connections closed", 5*time.Second, func() bool { return gw.metric(t, "edgegw_connections") == 0 })
		n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		return n, end
	}
	// The starting figure is an idle gateway that has seen clients before
	// (a warm-up storm, then everything collected): what a running gateway
	// holds for good (connection tables, runtime metadata) is not the
	// storm's.
	storm()
	churnPoll(t, "the warm-up's reclaim", 5*time.Second, func() bool { return gw.metric(t, "edgegw_memory_reclaims_total") > 0 })
	time.Sleep(reclaimMinGap)
	if _, err := gw.ask("free"); err != nil {
		t.Fatalf("gateway process: %v", err)
	}
	// RssAnon, from /proc/<pid>/status. With -race most of it is the race
	// detector's (tens of MB here, never returned): then the Go heap's share
	// of it is measured instead (heapHeld, as the child reads it).
	what, read := "RssAnon", func() (uint64, error) { return procAnonRSS(gw.pid) }
	if raceEnabled() {
		what, read = "Go heap held (-race)", gw.heap
	}
	mem := func() uint64 {
		v, err := read()
		if err != nil {
			t.Fatalf("gateway process: %v", err)
		}
		return v
	}
	start := mem()
	reclaims := gw.metric(t, "edgegw_memory_reclaims_total")

	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // the peak, for the log
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if v, err := read(); err == nil && v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	connacks, end := storm()
	close(stop)
	<-sampled
	after := mem()
	t.Logf("storm: %d CONNACKs from %d clients in %d s; gateway's %s %.1f MB before, peak %.1f MB, %.1f MB when it ended",
		connacks, clients, secs, what, churnMB(start), churnMB(max(peak.Load(), after)), churnMB(after))
	if connacks < reclaimMinChurn {
		t.Fatalf("only %d CONNACKs: no storm", connacks)
	}
	for {
		v, moved := mem(), 0.0
		if v <= start*3/2 {
			moved = gw.metric(t, "edgegw_memory_reclaims_total") - reclaims
			if moved >= 1 {
				t.Logf("%s %.1f MB (%.2fx the start) %.1f s after the storm; reclaims %.0f",
					what, churnMB(v), float64(v)/float64(start), time.Since(end).Seconds(), moved)
				return
			}
		}
		if time.Since(end) > 10*time.Second {
			t.Fatalf("%s %.1f MB 10 s after the storm, start %.1f MB (%.2fx, limit 1.5x); reclaims %.0f (want >= 1)",
				what, churnMB(v), churnMB(start), float64(v)/float64(start),
				gw.metric(t, "edgegw_memory_reclaims_total")-reclaims)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// churnPoll polls cond every 50 ms (each poll may scrape the child's
// /metrics) for up to within.
func churnPoll(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func churnMB(b uint64) float64 { return float64(b) / (1 << 20) }
