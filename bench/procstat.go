package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat; 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// procSample is one reading of a process's CPU time and resident memory.
type procSample struct {
	CPU float64 // user + system seconds
	RSS int64   // bytes
}

// readProc reads /proc/PID/stat and /proc/PID/status under root ("/proc").
func readProc(root string, pid int) (procSample, error) {
	var s procSample
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return s, fmt.Errorf("cannot read broker stats: %w", err)
	}
	// The command name may contain spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return s, fmt.Errorf("cannot parse %s/%d/stat", root, pid)
	}
	f := bytes.Fields(b[i+1:])
	// After ')': state(3) ... utime is field 14, stime 15 (1-based over the whole line).
	if len(f) < 13 {
		return s, fmt.Errorf("cannot parse %s/%d/stat: %d fields", root, pid, len(f))
	}
	ut, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	st, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("cannot parse utime/stime in %s/%d/stat", root, pid)
	}
	s.CPU = float64(ut+st) / clockTicks
	b, err = os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "status"))
	if err != nil {
		return s, fmt.Errorf("cannot read broker status: %w", err)
	}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			fs := bytes.Fields(v)
			if len(fs) >= 1 {
				kb, err := strconv.ParseInt(string(fs[0]), 10, 64)
				if err == nil {
					s.RSS = kb * 1024
				}
			}
		}
	}
	return s, nil
}

// brokerSampler samples a process once a second until stopped.
type brokerSampler struct {
	root    string
	pid     int
	mu      sync.Mutex
	samples []procSample
	base    procSample // before the clients connected
	err     error
	stop    chan struct{}
	done    chan struct{}
}

func startBrokerSampler(root string, pid int) (*brokerSampler, error) {
	first, err := readProc(root, pid)
	if err != nil {
		return nil, err
	}
	b := &brokerSampler{root: root, pid: pid, samples: []procSample{first}, stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b, nil
}

func (b *brokerSampler) run() {
	defer close(b.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			b.take()
			return
		case <-t.C:
			b.take()
		}
	}
}

func (b *brokerSampler) take() {
	s, err := readProc(b.root, b.pid)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.err = err
		return
	}
	b.samples = append(b.samples, s)
}

// finish stops sampling and writes the figures into res and its timeline.
func (b *brokerSampler) finish(res *Result) {
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	ss := b.samples
	res.BrokerRSSStart = ss[0].RSS
	if b.base.RSS > 0 {
		res.BrokerRSSStart = b.base.RSS
	}
	for i, s := range ss {
		res.BrokerRSSPeak = max(res.BrokerRSSPeak, s.RSS)
		if i > 0 && i-1 < len(res.Timeline) {
			res.Timeline[i-1].BrokerCPU = s.CPU - ss[i-1].CPU
			res.Timeline[i-1].BrokerRSS = s.RSS
		}
	}
	res.BrokerCPUSeconds = ss[len(ss)-1].CPU - ss[0].CPU
}
