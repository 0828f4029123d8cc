package auth

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gatedPool is a pool whose verify blocks until gate is closed.
func gatedPool(workers, queue int, timeout time.Duration) (*pool, *counters, chan struct{}, *atomic.Int64) {
	st := &counters{}
	gate := make(chan struct{})
	started := &atomic.Int64{}
	p := newPool(workers, queue, timeout, st, func(ctx context.Context, r *Request) Result {
		started.Add(1)
		<-gate
		return resultOf(CausePassword)
	})
	return p, st, gate, started
}

func TestPoolManySubmittersNeverBlock(t *testing.T) {
	const workers, queue, submitters, each = 4, 64, 16, 200
	p, st, gate, started := gatedPool(workers, queue, time.Minute)
	calls := make([]atomic.Int32, submitters*each)
	var accepted, refused atomic.Int64
	var slowest atomic.Int64
	var wg sync.WaitGroup
	for s := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := s*each + i
				t0 := time.Now()
				err := p.submit(userReq("u", "p"), func(r Result) {
					if r.Cause != CausePassword {
						t.Errorf("job %d: %v", id, r.Cause)
					}
					calls[id].Add(1)
				})
				if d := int64(time.Since(t0)); d > slowest.Load() {
					slowest.Store(d)
				}
				switch {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, ErrQueueFull):
					refused.Add(1)
				default:
					t.Errorf("submit: %v", err)
				}
			}
		}()
	}
	wg.Wait() // every Submit returned while all workers were stuck
	if a := accepted.Load(); a != workers+queue && a != int64(started.Load())+queue {
		t.Fatalf("accepted %d with %d workers stuck and queue %d", a, started.Load(), queue)
	}
	if refused.Load()+accepted.Load() != submitters*each || st.byCause[CauseQueueFull].Load() != uint64(refused.Load()) {
		t.Fatalf("accepted %d refused %d counted %d", accepted.Load(), refused.Load(), st.byCause[CauseQueueFull].Load())
	}
	if d := time.Duration(slowest.Load()); d > 200*time.Millisecond {
		t.Fatalf("a Submit took %v", d)
	}
	close(gate)
	for deadline := time.Now().Add(5 * time.Second); st.byCause[CausePassword].Load() < uint64(accepted.Load()) && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	p.close()
	var once int64
	for i := range calls {
		switch calls[i].Load() {
		case 0:
		case 1:
			once++
		default:
			t.Fatalf("job %d called back %d times", i, calls[i].Load())
		}
	}
	if once != accepted.Load() || st.byCause[CausePassword].Load() != uint64(once) {
		t.Fatalf("callbacks %d, accepted %d, counted %d", once, accepted.Load(), st.byCause[CausePassword].Load())
	}
}

func TestPoolCloseAnswersQueued(t *testing.T) {
	p, st, gate, started := gatedPool(1, 8, time.Minute)
	var got [9]atomic.Int32
	var causes [9]atomic.Uint32
	for i := range 9 {
		if err := p.submit(userReq("u", "p"), func(r Result) { got[i].Add(1); causes[i].Store(uint32(r.Cause)) }); err != nil {
			t.Fatal(err)
		}
		for i == 0 && started.Load() == 0 {
			time.Sleep(time.Millisecond) // the first job holds the only worker
		}
	}
	done := make(chan struct{})
	go func() { p.close(); close(done) }()
	for {
		if err := p.submit(userReq("u", "p"), func(Result) { t.Error("callback after close") }); errors.Is(err, ErrClosed) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	<-done
	for i := range got {
		want := CauseShutdown
		if i == 0 {
			want = CausePassword
		}
		if got[i].Load() != 1 || Cause(causes[i].Load()) != want {
			t.Fatalf("job %d: %d callbacks, cause %v, want %v", i, got[i].Load(), Cause(causes[i].Load()), want)
		}
	}
	if st.byCause[CauseShutdown].Load() != 8 || CauseShutdown.Reason() != ReasonServerUnavailable {
		t.Fatalf("shutdown counted %d", st.byCause[CauseShutdown].Load())
	}
	p.close() // idempotent
}

func TestPoolQueueTimeout(t *testing.T) {
	p, st, gate, started := gatedPool(1, 4, 30*time.Millisecond)
	res := make(chan Result, 2)
	_ = p.submit(userReq("u", "p"), func(r Result) { res <- r })
	for started.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	_ = p.submit(userReq("u", "p"), func(r Result) { res <- r })
	time.Sleep(60 * time.Millisecond)
	close(gate)
	r1, r2 := <-res, <-res
	if r1.Cause != CausePassword || r2.Cause != CauseQueueTimeout || r2.Reason != ReasonServerBusy || r2.Reason.V3() != 0x03 {
		t.Fatalf("got %v %v", r1.Cause, r2.Cause)
	}
	if st.byCause[CauseQueueTimeout].Load() != 1 {
		t.Fatal("queue timeout not counted")
	}
	p.close()
}

func TestPoolSubmitRacesClose(t *testing.T) {
	for range 20 {
		st := &counters{}
		p := newPool(2, 16, time.Minute, st, func(context.Context, *Request) Result { return resultOf(CauseJWT) })
		var accepted, called atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					if p.submit(userReq("u", "p"), func(Result) { called.Add(1) }) == nil {
						accepted.Add(1)
					}
				}
			}()
		}
		p.close()
		wg.Wait()
		if accepted.Load() != called.Load() {
			t.Fatalf("accepted %d, called back %d", accepted.Load(), called.Load())
		}
	}
}
