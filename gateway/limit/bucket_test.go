package limit

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

// TestBucket walks a 2/s bucket with burst 2 on a fake clock.
func TestBucket(t *testing.T) {
	r := NewRate(2, 2)
	var b Bucket
	steps := []struct {
		at   int64
		n    int64
		want bool
	}{
		{0, 1, true}, {0, 1, true}, {0, 1, false}, // the burst, then empty
		{499 * ms, 1, false}, {500 * ms, 1, true}, {500 * ms, 1, false}, // one token per 500 ms
		{2000 * ms, 1, true}, {2000 * ms, 1, true}, {2000 * ms, 1, false}, // refills to the burst, not beyond
		{3000 * ms, 2, true}, {3000 * ms, 1, false}, // cost 2 takes the whole burst
		{4000 * ms, 5, true},                                               // a full bucket admits a cost above the burst ...
		{5000 * ms, 1, false}, {5499 * ms, 1, false}, {6000 * ms, 1, true}, // ... and owes the difference
	}
	for i, s := range steps {
		if got := b.Allow(s.at, s.n, r); got != s.want {
			t.Fatalf("step %d (t=%dms n=%d): %v, want %v", i, s.at/ms, s.n, got, s.want)
		}
	}
	var off Bucket
	for i := 0; i < 1000; i++ {
		if !off.Allow(0, 1<<40, Rate{}) {
			t.Fatal("off refused")
		}
	}
	if !NewRate(0, 5).Off() || !NewRate(-1, 5).Off() || NewRate(1e12, 1).step != 1 {
		t.Fatal("NewRate edge cases")
	}
	huge := NewRate(0.001, 1e30) // saturated, no overflow
	var h Bucket
	if !h.Allow(0, 1<<62, huge) || h.Allow(1, 1, huge) && h.tat < 0 {
		t.Fatal("overflow")
	}
}

// TestSharedBucketConcurrent: with the clock stopped, goroutines racing for
// a burst of 100 get exactly 100 tokens.
func TestSharedBucketConcurrent(t *testing.T) {
	r := NewRate(100, 100)
	var b SharedBucket
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for i := 0; i < 1000; i++ {
				if b.Allow(7*ms, r) {
					n++
				}
			}
			mu.Lock()
			got += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if got != 100 {
		t.Fatalf("%d tokens taken, want 100", got)
	}
	if !b.Allow(7*ms+10*ms, r) || b.Allow(7*ms+10*ms, r) {
		t.Fatal("refill after 10ms should give exactly one token")
	}
}

// TestBucketAgainstNaive compares the GCRA bucket with a naive token
// counter (tokens refilled by elapsed time, capped at the burst; a full
// bucket admits any cost) on random arrivals, in exact integer units: rate
// 4/s, burst 3, times in whole milliseconds, tokens in thousandths.
func TestBucketAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for run := 0; run < 200; run++ {
		r := NewRate(4, 3)
		var b Bucket
		tokens, now := int64(3000), int64(0) // naive: thousandths of a token
		for i := 0; i < 500; i++ {
			dt := int64(rng.IntN(400))
			n := int64(1 + rng.IntN(4)) // sometimes above the burst
			now += dt
			tokens = min(3000, tokens+dt*4)
			want := tokens == 3000 || tokens >= n*1000
			if want {
				tokens -= n * 1000
			}
			if got := b.Allow(now*ms, n, r); got != want {
				t.Fatalf("run %d step %d (t=%dms n=%d naive tokens %d/1000): got %v, want %v", run, i, now, n, tokens, got, want)
			}
		}
	}
}
