package limit

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentHammer runs 8 goroutines (as 8 loops would) through every
// method at once, under -race. With the clock stopped the global bucket
// hands out exactly its burst, every user's count is back to 0 at the end,
// and the per-user cap was never exceeded at any moment.
func TestConcurrentHammer(t *testing.T) {
	const loops, iters, cap = 8, 2000, 3
	l := New(Config{ConnectRate: 500, ConnectRatePerIP: 1e6, MaxConnectionsPerUser: cap, AuthRatePerUser: 1e6,
		FlappingMaxConnects: 1 << 20, FlappingWindow: time.Minute, FlappingBan: time.Minute, MaxTrackedIPs: 256})
	var admitted atomic.Int64
	var held [4]atomic.Int32 // connections per user, as seen by the test
	users := [4][]byte{[]byte("u0"), []byte("u1"), []byte("u2"), []byte("u3")}
	var wg sync.WaitGroup
	for g := 0; g < loops; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			id := []byte{'c', byte(g)}
			var mine []UserSlot
			var mineU []int
			for i := 0; i < iters; i++ {
				ip := netip.AddrFrom4([4]byte{10, byte(g), byte(i >> 8), byte(i)})
				if l.Connect(5*sec, ip, id) == OK {
					admitted.Add(1)
				}
				u := (g + i) % 4
				_ = l.Auth(5*sec, users[u])
				if s, r := l.Acquire(5*sec, users[u]); r == OK {
					if held[u].Add(1) > cap {
						t.Errorf("user %d over its cap", u)
					}
					mine, mineU = append(mine, s), append(mineU, u)
				}
				if len(mine) > 0 && i%2 == 0 {
					held[mineU[0]].Add(-1)
					l.Release(mine[0])
					mine, mineU = mine[1:], mineU[1:]
				}
				if i%500 == 0 {
					_ = l.Bans(nil, 5*sec)
					_ = l.Stats()
					l.SetConfig(l.Config()) // a reload racing the checks
				}
			}
			for k, s := range mine {
				held[mineU[k]].Add(-1)
				l.Release(s)
			}
		}(g)
	}
	wg.Wait()
	if n := admitted.Load(); n != 500 {
		t.Fatalf("%d connects admitted with the clock stopped, want the burst of 500", n)
	}
	for u := range users {
		var slots []UserSlot
		for k := 0; k < cap; k++ {
			s, r := l.Acquire(5*sec, users[u])
			if r != OK {
				t.Fatalf("user %d: slot %d after all released: %v", u, k, r)
			}
			slots = append(slots, s)
		}
		if _, r := l.Acquire(5*sec, users[u]); r != UserQuota {
			t.Fatalf("user %d: %v past the cap", u, r)
		}
	}
}
