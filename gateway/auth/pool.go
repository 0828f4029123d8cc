package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// pool runs verify calls on a fixed set of goroutines behind a bounded
// queue. submit never blocks; done runs exactly once per accepted job, on a
// worker goroutine.
type pool struct {
	mu       sync.RWMutex // write-held only by close, to order it after every submit
	closed   bool
	stopping atomic.Bool // workers answer CauseShutdown without verifying
	queue    chan job
	wg       sync.WaitGroup
	timeout  time.Duration
	verify   func(context.Context, *Request) Result
	st       *counters
}

type job struct {
	req      *Request
	done     func(Result)
	deadline time.Time
}

func newPool(workers, queue int, timeout time.Duration, st *counters, verify func(context.Context, *Request) Result) *pool {
	p := &pool{queue: make(chan job, queue), timeout: timeout, verify: verify, st: st}
	p.wg.Add(workers)
	for range workers {
		go p.work()
	}
	return p
}

func (p *pool) submit(req *Request, done func(Result)) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	select {
	case p.queue <- job{req: req, done: done, deadline: time.Now().Add(p.timeout)}:
		return nil
	default:
		p.st.byCause[CauseQueueFull].Add(1)
		return ErrQueueFull
	}
}

func (p *pool) work() {
	defer p.wg.Done()
	for j := range p.queue {
		j.done(p.run(j))
	}
}

func (p *pool) run(j job) (r Result) {
	switch {
	case p.stopping.Load():
		r = resultOf(CauseShutdown)
	case !time.Now().Before(j.deadline):
		r = resultOf(CauseQueueTimeout)
	default:
		ctx, cancel := context.WithDeadline(context.Background(), j.deadline)
		r = p.verify(ctx, j.req)
		cancel()
	}
	p.st.count(r)
	return r
}

// close stops accepting, answers every queued job with CauseShutdown and
// waits for the workers (a verification in progress finishes first).
func (p *pool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.stopping.Store(true)
	close(p.queue) // no submit holds the read lock now: no send can follow
	p.mu.Unlock()
	p.wg.Wait()
}
