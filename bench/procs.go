package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// errPID: the --pid process cannot be sampled.
var errPID = errors.New("--pid")

// workerEnv carries the run's Config (JSON) to worker processes.
const workerEnv = "EDGEGW_BENCH_CONFIG"

// workerCommand builds the command line of worker w; tests may replace it.
var workerCommand = func(spec string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot find own executable for --procs: %w", err)
	}
	return exec.Command(exe, "bench", "--x-worker", spec), nil
}

// workerMsg is a line a worker writes on stdout.
type workerMsg struct {
	Type     string  `json:"type"` // "ready", "progress", "result", "error"
	Ready    int     `json:"ready,omitempty"`
	Progress *totals `json:"progress,omitempty"`
	Error    string  `json:"error,omitempty"`
	Result   *Result `json:"result,omitempty"`
}

// runOnce runs cfg once (in this process or across --procs workers) and
// returns the merged result with the broker's figures.
func runOnce(ctx context.Context, cfg *Config) (*Result, error) {
	var bs *brokerSampler
	var base procSample
	if cfg.PID != 0 {
		// RSS before any client connects: the base of bytes per connection.
		var err error
		if base, err = readProc("/proc", cfg.PID); err != nil {
			return nil, fmt.Errorf("%w %d: %w", errPID, cfg.PID, err)
		}
	}
	startSampler := func() error {
		if cfg.PID == 0 {
			return nil
		}
		var err error
		bs, err = startBrokerSampler("/proc", cfg.PID)
		if bs != nil {
			bs.base = base
		}
		return err
	}
	var res *Result
	var err error
	if cfg.Procs <= 1 {
		res, err = runLocal(ctx, cfg, func(int) error { return startSampler() }, nil)
	} else {
		res, err = runProcs(ctx, cfg, startSampler)
	}
	if bs != nil {
		if res != nil {
			bs.finish(res)
		} else {
			bs.finish(&Result{})
		}
	}
	if err != nil {
		return nil, err
	}
	res.finish()
	return res, nil
}

type workerProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan workerMsg
	errb  *strings.Builder
}

// runProcs starts cfg.Procs workers, waits until all are set up, starts them
// together and merges their results.
func runProcs(ctx context.Context, cfg *Config, onGo func() error) (*Result, error) {
	blob, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := probe(cfg); err != nil {
		return nil, err
	}
	runID := strconv.FormatInt(time.Now().UnixNano()%1e10, 36)
	var ws []*workerProc
	defer func() {
		for _, w := range ws {
			if w.cmd.ProcessState == nil && w.cmd.Process != nil {
				_ = w.cmd.Process.Kill()
				_ = w.cmd.Wait()
			}
		}
	}()
	for i := 0; i < cfg.Procs; i++ {
		cmd, err := workerCommand(fmt.Sprintf("%d/%d/%s", i, cfg.Procs, runID))
		if err != nil {
			return nil, err
		}
		cmd.Env = append(os.Environ(), workerEnv+"="+string(blob))
		w := &workerProc{cmd: cmd, lines: make(chan workerMsg, 4), errb: &strings.Builder{}}
		cmd.Stderr = &limitedWriter{b: w.errb, n: 4096}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if w.stdin, err = cmd.StdinPipe(); err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("cannot start worker %d: %w", i, err)
		}
		ws = append(ws, w)
		go func() {
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 1<<20), 256<<20)
			for sc.Scan() {
				var m workerMsg
				if json.Unmarshal(sc.Bytes(), &m) == nil {
					w.lines <- m
				}
			}
			close(w.lines)
		}()
	}
	next := func(w *workerProc, i int, deadline time.Time) (workerMsg, error) {
		select {
		case m, ok := <-w.lines:
			if !ok {
				_ = w.cmd.Wait()
				return m, fmt.Errorf("worker %d exited: %s", i, firstLine(w.errb.String()))
			}
			if m.Type == "error" {
				return m, errors.New(m.Error)
			}
			return m, nil
		case <-ctx.Done():
			return workerMsg{}, ctx.Err()
		case <-time.After(time.Until(deadline)):
			return workerMsg{}, fmt.Errorf("worker %d did not answer in time", i)
		}
	}
	setup := cfg.ConnectTimeout.D() + 30*time.Second
	if cfg.ConnectRate > 0 {
		setup += time.Duration(float64(cfg.totalClients()) / cfg.ConnectRate * float64(time.Second))
	}
	deadline := time.Now().Add(setup)
	for i, w := range ws {
		if _, err := next(w, i, deadline); err != nil {
			return nil, err
		}
	}
	if err := onGo(); err != nil {
		return nil, err
	}
	for _, w := range ws {
		_, _ = io.WriteString(w.stdin, "go\n")
	}
	deadline = time.Now().Add(cfg.Duration.D() + cfg.Drain.D() + 30*time.Second)
	results := make([]*Result, len(ws))
	if cfg.publishes() {
		// Drain across processes: one worker's subscribers receive the
		// others' publishers, so only the sum says when all has arrived.
		// Workers send progress only after publishing stopped, so sent and
		// expected are final and received only grows: a stale sum never
		// claims a drain that has not happened.
		progress := make([]totals, len(ws))
		var drainEnd time.Time
		for {
			for i, w := range ws {
				m, err := next(w, i, deadline)
				if err != nil {
					return nil, err
				}
				if m.Type == "result" {
					return nil, fmt.Errorf("worker %d ended before the drain", i)
				}
				if m.Progress != nil {
					progress[i] = *m.Progress
				}
			}
			if drainEnd.IsZero() {
				drainEnd = time.Now().Add(cfg.Drain.D())
			}
			var sum totals
			for i := range progress {
				sum.add(&progress[i])
			}
			if drained(cfg, sum) || time.Now().After(drainEnd) {
				break
			}
		}
		for _, w := range ws {
			_, _ = io.WriteString(w.stdin, "stop\n")
		}
	}
	var merged *Result
	for i, w := range ws {
		for results[i] == nil {
			m, err := next(w, i, deadline)
			if err != nil {
				return nil, err
			}
			if m.Type == "result" {
				if m.Result == nil {
					return nil, fmt.Errorf("worker %d sent no result", i)
				}
				results[i] = m.Result
			}
		}
		if merged == nil {
			merged = results[i]
		} else {
			merged.merge(results[i])
		}
		_ = w.stdin.Close()
		_ = w.cmd.Wait()
	}
	merged.Procs = cfg.Procs
	return merged, nil
}

// workerMain runs one worker: cfg comes from the environment, results go to
// stdout as JSON lines.
func workerMain(ctx context.Context, spec string, stdin io.Reader, stdout io.Writer) int {
	enc := json.NewEncoder(stdout)
	fail := func(err error) int {
		_ = enc.Encode(workerMsg{Type: "error", Error: err.Error()})
		return 1
	}
	parts := strings.Split(spec, "/")
	if len(parts) != 3 {
		return fail(fmt.Errorf("bad worker spec %q", spec))
	}
	w, err1 := strconv.Atoi(parts[0])
	k, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || k < 1 || w < 0 || w >= k {
		return fail(fmt.Errorf("bad worker spec %q", spec))
	}
	cfg := Defaults()
	if err := json.Unmarshal([]byte(os.Getenv(workerEnv)), &cfg); err != nil {
		return fail(fmt.Errorf("bad worker config: %w", err))
	}
	cfg.worker, cfg.workers, cfg.runID = w, k, parts[2]
	cfg.Procs, cfg.PID = 1, 0
	in := bufio.NewReader(stdin)
	res, err := runLocal(ctx, &cfg, func(ready int) error {
		if err := enc.Encode(workerMsg{Type: "ready", Ready: ready}); err != nil {
			return err
		}
		line, err := in.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "go" {
			return errors.New("parent went away before go")
		}
		return nil
	}, func(snap func() totals) {
		stop := make(chan struct{})
		go func() {
			_, _ = in.ReadString('\n') // "stop" (or EOF: the parent went away)
			close(stop)
		}()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				p := snap()
				if enc.Encode(workerMsg{Type: "progress", Progress: &p}) != nil {
					return
				}
			}
		}
	})
	if err != nil {
		return fail(err)
	}
	if err := enc.Encode(workerMsg{Type: "result", Result: res}); err != nil {
		return 1
	}
	return 0
}

type limitedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
	n  int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return "no output"
	}
	return s
}
