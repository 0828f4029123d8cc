package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net"
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
	// A reclaim that took 100 ms holds the next one off for 10 s.
	w = churnWatch{}
	w.done(t0, 100*time.Millisecond)
	total = 0
	if step(1, 50000) || step(2, 0) {
		t.Fatal("reclaimed within 100x the last reclaim's duration")
	}
	if !step(10, 0) {
		t.Fatal("no reclaim once the gap passed")
	}
}

// anonRSS reads RssAnon (bytes) from /proc/self/status: the resident
// memory the process itself holds (heap, stacks, runtime metadata), without
// the file-backed pages of its binary (10 MB of a test binary's text),
// which are shared and which the kernel may drop at will.
func anonRSS(t testing.TB) uint64 {
	t.Helper()
	anon, _, ok := residentMemory()
	if !ok {
		t.Skip("no RssAnon in /proc/self/status")
	}
	return anon
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
// ID (3,000 clients for 3 s, in a child process: the gateway's process
// holds only the gateway's memory), the idle gateway gives its memory back
// within 10 s of the storm's end. The issue asks for RSS within 2x of the
// starting figure; the test asks 1.5x, because on a small machine the storm
// itself only about doubles RssAnon, and a 2x bound would pass without any
// reclaim (which leaves it there until the runtime's forced GC, two minutes
// later).
func TestChurnGivesMemoryBack(t *testing.T) {
	if testing.Short() {
		t.Skip("storm of connections")
	}
	// Logging at info (the default level: every close is logged), written
	// nowhere: the test's own log would hold its lines in this process.
	g := newTestGatewayLog(t, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	const clients, secs = 3000, 3
	storm := func(clients, secs int) int {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("EDGEGW_CHURN_CLIENTS=%s,%d,%d", g.Addr("tcp"), clients, secs))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("client process: %v", err)
		}
		eventually(t, "storm connections closed", func() bool { return g.m.conns.Load() == 0 })
		n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		return n
	}
	// The starting figure is an idle gateway that has seen clients before
	// (a warm-up storm, then everything collected): what a running gateway
	// holds for good (connection tables, runtime metadata) is not the
	// storm's.
	storm(clients, secs)
	eventually(t, "the warm-up's reclaim", func() bool { return g.m.reclaims.Get() > 0 })
	time.Sleep(reclaimMinGap)
	debug.FreeOSMemory()
	// RssAnon, from /proc/self/status. With -race most of it is the race
	// detector's (tens of MB here, never returned): then the Go heap's share
	// of it is measured instead (heapHeld).
	what, mem := "RssAnon", func() uint64 { return anonRSS(t) }
	if raceEnabled() {
		what, mem = "Go heap held (-race)", heapHeld
	}
	start := mem()
	reclaims := g.m.reclaims.Get()

	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() { // the peak, for the log
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if r := mem(); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	connacks := storm(clients, secs)
	close(stop)
	end := time.Now()
	after := mem()
	t.Logf("storm: %d CONNACKs from %d clients in %d s; %s %.1f MB before, peak %.1f MB, %.1f MB when it ended",
		connacks, clients, secs, what, churnMB(start), churnMB(peak.Load()), churnMB(after))
	if connacks < reclaimMinChurn {
		t.Fatalf("only %d CONNACKs: no storm", connacks)
	}
	for {
		rss := mem()
		if rss <= start*3/2 {
			t.Logf("%s %.1f MB (%.1fx the start) %.1f s after the storm; reclaims %d",
				what, churnMB(rss), float64(rss)/float64(start), time.Since(end).Seconds(), g.m.reclaims.Get()-reclaims)
			break
		}
		if time.Since(end) > 10*time.Second {
			t.Fatalf("%s %.1f MB 10 s after the storm, start %.1f MB (over 1.5x); reclaims %d",
				what, churnMB(rss), churnMB(start), g.m.reclaims.Get()-reclaims)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if g.m.reclaims.Get() == reclaims {
		t.Error("edgegw_memory_reclaims_total did not move")
	}
}

func churnMB(b uint64) float64 { return float64(b) / (1 << 20) }
