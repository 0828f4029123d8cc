package router

import (
	"fmt"
	"sync/atomic"
	"testing"
)

func sharedCounts(t *testing.T, r *Router, topic string, n int, pub func(i int) (Subscriber, uint64)) map[Subscriber]int {
	t.Helper()
	counts := map[Subscriber]int{}
	var dst []Delivery
	for i := 0; i < n; i++ {
		p, h := pub(i)
		dst = r.Match([]byte(topic), p, h, dst[:0])
		if len(dst) != 1 || !dst[0].Shared {
			t.Fatalf("message %d: deliveries %+v, want exactly one shared", i, dst)
		}
		counts[dst[0].Sub]++
	}
	return counts
}

func subscribeGroup(t *testing.T, r *Router, filter string, k int) {
	t.Helper()
	for m := 0; m < k; m++ {
		if _, err := r.Subscribe(Subscriber(100+m), []byte(filter), SubOptions{QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestShareRoundRobinFair [MQTT-4.8.2]: N messages over k members, each
// member gets N/k ± 1 under round robin.
func TestShareRoundRobinFair(t *testing.T) {
	const n, k = 10_000, 7
	r := New(Config{SharedStrategy: StrategyRoundRobin})
	subscribeGroup(t, r, "$share/workers/jobs/+", k)
	counts := sharedCounts(t, r, "jobs/1", n, func(int) (Subscriber, uint64) { return 0, 0 })
	if len(counts) != k {
		t.Fatalf("%d members served, want %d: %v", len(counts), k, counts)
	}
	for s, c := range counts {
		if c < n/k-1 || c > n/k+1 {
			t.Errorf("member %d got %d of %d messages, want %d±1", s, c, n, n/k)
		}
	}
}

// TestShareRandomSpread: random gives each member its share within 20%.
func TestShareRandomSpread(t *testing.T) {
	const n, k = 20_000, 4
	r := New(Config{SharedStrategy: StrategyRandom})
	subscribeGroup(t, r, "$share/g/jobs", k)
	counts := sharedCounts(t, r, "jobs", n, func(int) (Subscriber, uint64) { return 0, 0 })
	for m := 0; m < k; m++ {
		if c := counts[Subscriber(100+m)]; c < n/k*8/10 || c > n/k*12/10 {
			t.Errorf("member %d got %d of %d, want %d±20%%", 100+m, c, n, n/k)
		}
	}
}

// TestShareSticky: one publisher always lands on one member; many
// publishers spread over all members; removing a member moves only the
// publishers that were on it.
func TestShareSticky(t *testing.T) {
	const k, pubs = 5, 500
	r := New(Config{SharedStrategy: StrategySticky})
	subscribeGroup(t, r, "$share/g/telemetry/#", k)
	owner := map[uint64]Subscriber{}
	for p := uint64(0); p < pubs; p++ {
		h := p * 0x9e3779b97f4a7c15
		counts := sharedCounts(t, r, fmt.Sprintf("telemetry/%d", p), 20, func(int) (Subscriber, uint64) { return Subscriber(p), h })
		if len(counts) != 1 {
			t.Fatalf("publisher %d spread over %d members: %v", p, len(counts), counts)
		}
		for s := range counts {
			owner[h] = s
		}
	}
	per := map[Subscriber]int{}
	for _, s := range owner {
		per[s]++
	}
	for m := 0; m < k; m++ {
		if c := per[Subscriber(100+m)]; c < pubs/k/2 {
			t.Errorf("member %d owns %d of %d publishers, want about %d", 100+m, c, pubs, pubs/k)
		}
	}
	gone := Subscriber(102)
	if ok, _ := r.Unsubscribe(gone, []byte("$share/g/telemetry/#")); !ok {
		t.Fatal("unsubscribe failed")
	}
	for h, was := range owner {
		got := r.Match([]byte("telemetry/x"), 0, h, nil)
		if len(got) != 1 || got[0].Sub == gone {
			t.Fatalf("after removal: %+v", got)
		}
		if was != gone && got[0].Sub != was {
			t.Fatalf("publisher %x moved from %d to %d although its member stayed", h, was, got[0].Sub)
		}
	}
}

// TestShareSkipsGone: members for which Config.Alive is false are skipped
// by every strategy; with none alive the message still goes to one member.
func TestShareSkipsGone(t *testing.T) {
	for _, strat := range []string{StrategyRoundRobin, StrategyRandom, StrategySticky} {
		t.Run(strat, func(t *testing.T) {
			var dead atomic.Uint64 // bit per member
			r := New(Config{SharedStrategy: strat, Alive: func(s Subscriber) bool {
				return dead.Load()&(1<<(uint64(s)-100)) == 0
			}})
			subscribeGroup(t, r, "$share/g/a/b", 4)
			dead.Store(1<<0 | 1<<2)
			counts := sharedCounts(t, r, "a/b", 400, func(i int) (Subscriber, uint64) { return 0, uint64(i) * 0x9e3779b97f4a7c15 })
			if counts[100] != 0 || counts[102] != 0 {
				t.Fatalf("gone members served: %v", counts)
			}
			if strat != StrategySticky && (counts[101] == 0 || counts[103] == 0) {
				t.Fatalf("live members not all served: %v", counts)
			}
			dead.Store(0xf)
			counts = sharedCounts(t, r, "a/b", 10, func(int) (Subscriber, uint64) { return 0, 0 })
			total := 0
			for _, c := range counts {
				total += c
			}
			if total != 10 {
				t.Fatalf("with no live member: %v", counts)
			}
		})
	}
}

// TestShareGroupsIndependent [MQTT-4.8.2]: each group gets one copy, and a
// member's non-shared subscription is a separate delivery.
func TestShareGroupsIndependent(t *testing.T) {
	r := New(Config{})
	for _, f := range []string{"$share/a/x/#", "$share/b/x/#", "$share/b/x/+"} {
		subscribeGroup(t, r, f, 2)
	}
	if _, err := r.Subscribe(100, []byte("x/y"), SubOptions{QoS: 2}); err != nil {
		t.Fatal(err)
	}
	got := r.Match([]byte("x/y"), 0, 0, nil)
	shared := 0
	for _, d := range got {
		if d.Shared {
			shared++
		}
	}
	if shared != 3 || len(got) != 4 {
		t.Fatalf("deliveries %+v: want 3 shared (one per group) and 1 plain", got)
	}
	if st := r.Stats(); st.SharedGroups != 3 || st.Subscriptions != 7 {
		t.Fatalf("stats %+v", st)
	}
}
