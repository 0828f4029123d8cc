package router

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentChurn matches from several goroutines while others subscribe
// and unsubscribe. During the run, subscriptions that never change must be
// seen by every Match (none lost while neighbours churn), and no Match may
// report a subscriber twice. Afterwards the index must equal the model built
// from every writer's own record (no lost or phantom subscriptions), and
// must be empty once everything is unsubscribed.
func TestConcurrentChurn(t *testing.T) {
	const (
		writers  = 4
		readers  = 3
		opsEach  = 3000
		stableID = Subscriber(1 << 40)
	)
	r := New(Config{Shards: 4})
	// Stable subscriptions: exact, wildcard and a shared group on the topics
	// the readers use.
	stable := []string{"s/x/y", "s/+/y", "s/#", "#"}
	for i, f := range stable {
		if _, err := r.Subscribe(stableID+Subscriber(i), []byte(f), SubOptions{QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Subscribe(stableID+10, []byte("$share/st/s/x/+"), SubOptions{}); err != nil {
		t.Fatal(err)
	}

	models := make([]*refModel, writers)
	var stop atomic.Bool
	var wg, rg sync.WaitGroup
	errs := make(chan error, readers+writers)
	for w := 0; w < writers; w++ {
		models[w] = &refModel{}
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			m := models[w]
			for i := 0; i < opsEach; i++ {
				s := Subscriber(w*100 + rng.IntN(20)) // disjoint per writer
				var f string
				switch rng.IntN(4) {
				case 0:
					f = fmt.Sprintf("s/x/%c", 'a'+rng.IntN(4))
				case 1:
					f = fmt.Sprintf("s/%c/+", 'a'+rng.IntN(4))
				case 2:
					f = fmt.Sprintf("$share/g%d/s/x/y", rng.IntN(3))
				default:
					f = "s/x/y"
				}
				if rng.IntN(2) == 0 {
					o := SubOptions{QoS: byte(rng.IntN(3)), SubID: uint32(rng.IntN(5))}
					got, err := r.Subscribe(s, []byte(f), o)
					if err != nil {
						errs <- err
						return
					}
					if want := m.subscribe(s, f, o); got != want {
						errs <- fmt.Errorf("Subscribe(%d, %q) existed = %v, want %v", s, f, got, want)
						return
					}
				} else {
					got, _ := r.Unsubscribe(s, []byte(f))
					if want := m.unsubscribe(s, f); got != want {
						errs <- fmt.Errorf("Unsubscribe(%d, %q) existed = %v, want %v", s, f, got, want)
						return
					}
				}
			}
		}(w)
	}
	topics := []string{"s/x/y", "s/x/a", "s/b/c"}
	for g := 0; g < readers; g++ {
		rg.Add(1)
		go func(g int) {
			defer rg.Done()
			var dst []Delivery
			for i := 0; !stop.Load(); i++ {
				topic := topics[(i+g)%len(topics)]
				dst = r.Match([]byte(topic), 0, uint64(i), dst[:0])
				seen := map[Subscriber]bool{}
				stableSeen, sharedStable := 0, 0
				for _, d := range dst {
					if !d.Shared {
						if seen[d.Sub] {
							errs <- fmt.Errorf("Match(%q): subscriber %d twice", topic, d.Sub)
							return
						}
						seen[d.Sub] = true
					}
					if d.Sub >= stableID && d.Sub < stableID+4 {
						stableSeen++
					}
					if d.Sub == stableID+10 {
						sharedStable++
					}
				}
				wantStable := 2 // s/# and #
				if topic == "s/x/y" {
					wantStable = 4 // and s/x/y, s/+/y
				}
				if stableSeen != wantStable {
					errs <- fmt.Errorf("Match(%q): %d stable subscriptions, want %d: %+v", topic, stableSeen, wantStable, dst)
					return
				}
				if wantShared := topic != "s/b/c"; (sharedStable == 1) != wantShared {
					errs <- fmt.Errorf("Match(%q): stable shared group delivered %d times", topic, sharedStable)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	stop.Store(true)
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Merge the writers' models and the stable subscriptions, then compare.
	all := &refModel{}
	for i, f := range stable {
		all.subscribe(stableID+Subscriber(i), f, SubOptions{QoS: 1})
	}
	all.subscribe(stableID+10, "$share/st/s/x/+", SubOptions{})
	for _, m := range models {
		all.subs = append(all.subs, m.subs...)
	}
	if st := r.Stats(); st.Subscriptions != int64(len(all.subs)) {
		t.Fatalf("Stats.Subscriptions = %d, want %d", st.Subscriptions, len(all.subs))
	}
	for _, topic := range []string{"s/x/y", "s/x/a", "s/x/b", "s/x/c", "s/x/d", "s/a/z", "s/d/q", "s/x"} {
		got := r.Match([]byte(topic), 0, 0, nil)
		var plain []Delivery
		groups := map[string]bool{}
		for _, d := range got {
			if d.Shared {
				continue
			}
			plain = append(plain, d)
		}
		want, wantGroups := all.expect(topic, 0)
		for k := range wantGroups {
			groups[k] = true
		}
		if nShared := len(got) - len(plain); nShared != len(groups) {
			t.Fatalf("Match(%q): %d shared deliveries, want %d", topic, nShared, len(groups))
		}
		for i := range plain {
			plain[i].SubIDs = sortedClone(plain[i].SubIDs)
		}
		sortDeliveries(plain)
		if !deliveriesEqual(plain, want) {
			t.Fatalf("after churn, Match(%q):\n got %+v\nwant %+v", topic, plain, want)
		}
	}
	for _, rs := range all.subs {
		if ok, _ := r.Unsubscribe(rs.s, []byte(rs.filter)); !ok {
			t.Fatalf("Unsubscribe(%d, %q): lost subscription", rs.s, rs.filter)
		}
	}
	assertEmpty(t, r)
}
