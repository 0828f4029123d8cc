package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The real-cgroup test: the gateway binary in a child memory cgroup (v1)
// of its own with a 24 MiB limit, under more connections than that holds.
// Before admission it was OOM-killed after about 9,300 of 15,000 idle
// connections; now it must refuse those past its capacity with CONNACK
// 0x89 (v5) / 0x03 (v3), count them, never meet the OOM killer, and
// accept within 20% of the capacity it reports.

const (
	cgroupLimit   = 24 << 20
	cgroupClients = 15000
	cgroupDialers = 32
)

var (
	plainOnce sync.Once
	plainBin  string
	plainErr  error
)

// plainBinary builds edgegw without -race: the race detector's shadow
// memory alone would not fit in 24 MiB.
func plainBinary(t *testing.T) string {
	t.Helper()
	plainOnce.Do(func() {
		dir, err := os.MkdirTemp("", "edgegw-cgroup-")
		if err != nil {
			plainErr = err
			return
		}
		plainBin = filepath.Join(dir, "edgegw")
		if out, err := exec.Command("go", "build", "-o", plainBin, ".").CombinedOutput(); err != nil {
			plainErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if plainErr != nil {
		t.Fatal(plainErr)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(plainBin)) })
	return plainBin
}

// childMemoryCgroup creates /sys/fs/cgroup/memory/<unique> with limit
// bytes and removes it in Cleanup (after the processes in it are gone).
func childMemoryCgroup(t *testing.T, limit int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creating a memory cgroup and moving a process into it")
	}
	const mem = "/sys/fs/cgroup/memory"
	if _, err := os.Stat(filepath.Join(mem, "memory.limit_in_bytes")); err != nil {
		t.Skipf("no cgroup v1 memory hierarchy at %s (%v); cgroup v2 hosts are covered by the fake trees", mem, err)
	}
	dir := filepath.Join(mem, fmt.Sprintf("edgegw-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("cannot create a child memory cgroup: %v", err)
	}
	t.Cleanup(func() {
		var err error
		for i := 0; i < 50; i++ { // the killed process leaves the cgroup a moment later
			if err = os.Remove(dir); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("cannot remove %s: %v", dir, err)
	})
	if err := os.WriteFile(filepath.Join(dir, "memory.limit_in_bytes"), []byte(strconv.FormatInt(limit, 10)), 0); err != nil {
		t.Fatalf("cannot set the limit: %v", err)
	}
	return dir
}

func cgroupInt(t *testing.T, dir, file, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if key == "" && len(f) == 1 || len(f) == 2 && f[0] == key {
			v, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			return v
		}
	}
	t.Fatalf("%s: no %q in %q", file, key, b)
	return 0
}

// scrape returns the samples of /metrics by full series name.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
			m[line[:i]], _ = strconv.ParseFloat(line[i+1:], 64)
		}
	}
	return m
}

// connectOnce dials from src, sends CONNECT (MQTT 3.1.1 or 5) and returns
// the CONNACK code; an accepted connection stays open and is returned.
func connectOnce(addr string, src net.IP, v5 bool, id string) (code byte, keep net.Conn, err error) {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: src}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return 0, nil, err
	}
	level, props := byte(4), []byte(nil)
	if v5 {
		level, props = 5, []byte{0}
	}
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', level, 2, 0, 0}, props...)
	body = append(body, byte(len(id)>>8), byte(len(id)))
	body = append(body, id...)
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		c.Close()
		return 0, nil, err
	}
	var h [4]byte
	if _, err := io.ReadFull(c, h[:]); err != nil || h[0] != 0x20 {
		c.Close()
		return 0, nil, fmt.Errorf("no CONNACK: %x %v", h, err)
	}
	// v3: 20 02 flags code; v5: 20 len flags reason props...
	code = h[3]
	if code != 0 {
		// [MQTT-3.2.2-5] [MQTT-3.2.2-7]: the server closes after a refusal.
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, rerr := io.Copy(io.Discard, c)
		c.Close()
		if rerr != nil {
			return code, nil, fmt.Errorf("refused (%#x) but not closed: %v", code, rerr)
		}
		return code, nil, nil
	}
	_ = c.SetDeadline(time.Time{})
	return 0, c, nil
}

// TestCgroupAdmission runs the gateway in a 24 MiB memory cgroup and opens
// 15,000 idle connections (half MQTT 3.1.1, half 5.0, from 127.0.0.2-9).
func TestCgroupAdmission(t *testing.T) {
	cg := childMemoryCgroup(t, cgroupLimit)
	bin := plainBinary(t)
	tcpPort, httpPort := freePort(t), freePort(t)
	cfgPath := filepath.Join(t.TempDir(), "cgroup.toml")
	writeFile(t, cfgPath, fmt.Sprintf(`[listeners]
tcp = "127.0.0.1:%d"
ws = ""
[http]
addr = "127.0.0.1:%d"
[engine]
loops = 2
[log]
level = "warn"
[tune]
apply = "off" # a test must not change this machine's sysctls
`, tcpPort, httpPort))
	// The shell moves itself into the cgroup, then becomes the gateway:
	// every page the gateway touches is charged to the cgroup.
	cmd := exec.Command("sh", "-c", `echo $$ > "$1/cgroup.procs" && exec "$2" run -config "$3"`, "sh", cg, bin, cfgPath)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var kept []net.Conn
	t.Cleanup(func() {
		for _, c := range kept {
			c.Close()
		}
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("gateway stderr (last 3000 bytes):\n%s", tail(stderr.String(), 3000))
		}
	})
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
	waitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", httpPort), exited)
	before := scrape(t, metricsURL)
	capacity := int64(before["edgegw_capacity_connections"])
	if capacity <= 0 || before["edgegw_memory_limit_bytes"] != cgroupLimit {
		t.Fatalf("capacity %d, memory limit %v: the gateway did not take the cgroup's 24 MiB", capacity, before["edgegw_memory_limit_bytes"])
	}
	if capacity >= cgroupClients {
		t.Fatalf("capacity %d >= %d clients: nothing would be refused", capacity, cgroupClients)
	}

	start := time.Now()
	var (
		mu                     sync.Mutex
		next                   atomic.Int64
		accepted, busy3, busy5 atomic.Int64
		other                  = map[string]int{}
		firstErr               error
	)
	var wg sync.WaitGroup
	for d := 0; d < cgroupDialers; d++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= cgroupClients {
					return
				}
				v5 := i%2 == 1
				src := net.IPv4(127, 0, 0, byte(2+i%8))
				code, c, err := connectOnce(fmt.Sprintf("127.0.0.1:%d", tcpPort), src, v5, fmt.Sprintf("cg-%d", i))
				mu.Lock()
				switch {
				case err != nil:
					other[err.Error()]++
					if firstErr == nil {
						firstErr = err
					}
				case code == 0:
					accepted.Add(1)
					kept = append(kept, c)
				case v5 && code == 0x89:
					busy5.Add(1) // Server busy
				case !v5 && code == 0x03:
					busy3.Add(1) // Server unavailable
				default:
					other[fmt.Sprintf("v5=%v code %#x", v5, code)]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	time.Sleep(500 * time.Millisecond) // a sample of memory use, a tick of the counters
	select {
	case err := <-exited:
		exited <- err
		t.Fatalf("the gateway exited under load: %v (oom_kill %d; accepted %d before)", err, cgroupInt(t, cg, "memory.oom_control", "oom_kill"), accepted.Load())
	default:
	}
	after := scrape(t, metricsURL)

	if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the gateway is gone: %v", err)
	}
	oomKills := cgroupInt(t, cg, "memory.oom_control", "oom_kill")
	failcnt := cgroupInt(t, cg, "memory.failcnt", "")
	maxUsage := cgroupInt(t, cg, "memory.max_usage_in_bytes", "")
	acc, refused := accepted.Load(), busy3.Load()+busy5.Load()
	counted := after[`edgegw_connections_closed_total{reason="over_capacity"}`] + after[`edgegw_connections_closed_total{reason="memory_pressure"}`]
	t.Logf("capacity %d: accepted %d, refused %d (v3 0x03: %d, v5 0x89: %d; counted over_capacity %v, memory_pressure %v), other %v in %v; "+
		"cgroup max usage %.1f MiB of %.1f, failcnt %d, oom kills %d; open connections %v, memory usage %.1f MiB",
		capacity, acc, refused, busy3.Load(), busy5.Load(),
		after[`edgegw_connections_closed_total{reason="over_capacity"}`], after[`edgegw_connections_closed_total{reason="memory_pressure"}`],
		other, elapsed.Round(time.Millisecond), float64(maxUsage)/(1<<20), float64(cgroupLimit)/(1<<20), failcnt, oomKills,
		after["edgegw_connections"], after["edgegw_memory_usage_bytes"]/(1<<20))
	if len(other) > 0 {
		t.Errorf("connections neither accepted nor refused with 0x03/0x89: %v (first: %v)", other, firstErr)
	}
	if oomKills != 0 {
		t.Errorf("OOM killer ran %d times in the cgroup", oomKills)
	}
	if busy3.Load() == 0 || busy5.Load() == 0 {
		t.Errorf("refusals: v3 %d, v5 %d; want both CONNACK codes seen", busy3.Load(), busy5.Load())
	}
	if acc+refused != cgroupClients || float64(refused) != counted {
		t.Errorf("accepted %d + refused %d != %d, or refused != counted %v", acc, refused, cgroupClients, counted)
	}
	if lo, hi := float64(capacity)*0.8, float64(capacity)*1.2; float64(acc) < lo || float64(acc) > hi {
		t.Errorf("accepted %d, not within 20%% of the reported capacity %d", acc, capacity)
	}
	if int64(after["edgegw_connections"]) != acc {
		t.Errorf("edgegw_connections %v, want the %d accepted", after["edgegw_connections"], acc)
	}
	if failcnt != 0 {
		t.Errorf("the cgroup hit its limit %d times (max usage %d of %d)", failcnt, maxUsage, cgroupLimit)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
