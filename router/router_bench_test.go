package router

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks with a million subscriptions or retained topics build
// their fixture once per process (lazily, so plain `go test` never pays).

const devices = 1_000_000

var (
	exactOnce   sync.Once
	exactRouter *Router
	exactTopics [][]byte
)

func deviceTopic(i int) []byte { return fmt.Appendf(nil, "devices/%07d/cmd", i) }

func exactFixture() (*Router, [][]byte) {
	exactOnce.Do(func() {
		exactRouter = New(Config{})
		exactTopics = make([][]byte, devices)
		for i := range exactTopics {
			exactTopics[i] = deviceTopic(i)
			if _, err := exactRouter.Subscribe(Subscriber(i+1), exactTopics[i], SubOptions{QoS: 1}); err != nil {
				panic(err)
			}
		}
		runtime.GC() // do not let the fixture's garbage collection run inside the timings
	})
	return exactRouter, exactTopics
}

// BenchmarkMatchExact: one device, one exact topic, among 1,000,000
// distinct device subscriptions. Target: <= 100 ns/op, 0 allocs/op.
func BenchmarkMatchExact(b *testing.B) {
	r, topics := exactFixture()
	dst := make([]Delivery, 0, 16)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		// A stride through the topics defeats the CPU caches like real traffic.
		dst = r.Match(topics[(i*7919)%devices], 0, 0, dst[:0])
		n += len(dst)
	}
	if n != b.N {
		b.Fatalf("%d deliveries for %d matches", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "matches/s")
}

// BenchmarkMatchExactSame: one device's topic again and again among the
// 1,000,000 (everything it touches stays in L1).
func BenchmarkMatchExactSame(b *testing.B) {
	r, topics := exactFixture()
	topic := topics[123456]
	dst := make([]Delivery, 0, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = r.Match(topic, 0, 0, dst[:0])
	}
	if len(dst) != 1 {
		b.Fatalf("%d deliveries", len(dst))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "matches/s")
}

// BenchmarkMatchExactHot: the same, on a working set of 1,000 devices that
// stays in the CPU caches (busy devices among the million).
func BenchmarkMatchExactHot(b *testing.B) {
	r, topics := exactFixture()
	dst := make([]Delivery, 0, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = r.Match(topics[(i%1000)*997], 0, 0, dst[:0])
	}
	if len(dst) != 1 {
		b.Fatalf("%d deliveries", len(dst))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "matches/s")
}

// BenchmarkMatchExactParallel: the same from every core.
func BenchmarkMatchExactParallel(b *testing.B) {
	r, topics := exactFixture()
	b.ReportAllocs()
	b.ResetTimer()
	var seed atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]Delivery, 0, 16)
		i := int(seed.Add(1) * 104729)
		for pb.Next() {
			i += 7919
			dst = r.Match(topics[i%devices], 0, 0, dst[:0])
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "matches/s")
}

// BenchmarkMatchMixed: 100,000 device subscriptions of which 10% are
// wildcard filters (a device's own subtree "site<k>/dev<i>/+" or
// ".../#", and "+/dev<i>/cmd" in the wild shard), plus 10 backend
// subscribers on "site<k>/#" for 10 of the 1,000 sites; every topic is
// some device's command topic.
func BenchmarkMatchMixed(b *testing.B) {
	const n = 100_000
	r := New(Config{})
	topics := make([][]byte, n)
	for i := 0; i < n; i++ {
		topics[i] = fmt.Appendf(nil, "site%d/dev%d/cmd", i%1000, i)
		f := topics[i]
		if i%10 == 0 {
			switch i % 30 {
			case 0:
				f = fmt.Appendf(nil, "site%d/dev%d/+", i%1000, i)
			case 10:
				f = fmt.Appendf(nil, "site%d/dev%d/#", i%1000, i)
			default:
				f = fmt.Appendf(nil, "+/dev%d/cmd", i)
			}
		}
		if _, err := r.Subscribe(Subscriber(i+1), f, SubOptions{QoS: 1}); err != nil {
			b.Fatal(err)
		}
	}
	for k := 0; k < 10; k++ {
		for s := 0; s < 10; s++ {
			if _, err := r.Subscribe(Subscriber(1<<40+k*10+s), fmt.Appendf(nil, "site%d/#", k*100), SubOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	dst := make([]Delivery, 0, 256)
	b.ReportAllocs()
	b.ResetTimer()
	total := 0
	for i := 0; i < b.N; i++ {
		dst = r.Match(topics[(i*7919)%n], 0, 0, dst[:0])
		total += len(dst)
	}
	b.ReportMetric(float64(total)/float64(b.N), "deliveries/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "matches/s")
}

// BenchmarkMatchFanout10k: one topic with 10,000 subscribers.
func BenchmarkMatchFanout10k(b *testing.B) {
	const n = 10_000
	r := New(Config{})
	for i := 0; i < n; i++ {
		if _, err := r.Subscribe(Subscriber(i+1), []byte("broadcast/all"), SubOptions{QoS: 1}); err != nil {
			b.Fatal(err)
		}
	}
	topic := []byte("broadcast/all")
	dst := make([]Delivery, 0, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = r.Match(topic, 0, 0, dst[:0])
	}
	if len(dst) != n {
		b.Fatalf("%d deliveries", len(dst))
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkSubUnsub: Subscribe+Unsubscribe pairs on distinct exact device
// topics, one goroutine, nothing matching. Target: >= 1,000,000 pairs/s.
func BenchmarkSubUnsub(b *testing.B) {
	r := New(Config{})
	topics := make([][]byte, 1<<16)
	for i := range topics {
		topics[i] = deviceTopic(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := topics[i&(len(topics)-1)]
		s := Subscriber(i)
		if _, err := r.Subscribe(s, t, SubOptions{QoS: 1}); err != nil {
			b.Fatal(err)
		}
		if ok, _ := r.Unsubscribe(s, t); !ok {
			b.Fatal("lost")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}

// BenchmarkSubUnsubWhileMatching: the same while 2 goroutines match the
// churned topics without pause; pairs/s counts only the churning goroutine.
func BenchmarkSubUnsubWhileMatching(b *testing.B) {
	r := New(Config{})
	topics := make([][]byte, 1<<16)
	for i := range topics {
		topics[i] = deviceTopic(i)
		if i%2 == 0 { // half the topics keep a stable subscriber
			if _, err := r.Subscribe(Subscriber(1<<40+i), topics[i], SubOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var matched atomic.Uint64
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			dst := make([]Delivery, 0, 8)
			n := uint64(0)
			for i := g; !stop.Load(); i += 7919 {
				dst = r.Match(topics[i&(len(topics)-1)], 0, 0, dst[:0])
				n++
			}
			matched.Add(n)
		}(g)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t := topics[i&(len(topics)-1)]
		s := Subscriber(i)
		if _, err := r.Subscribe(s, t, SubOptions{QoS: 1}); err != nil {
			b.Fatal(err)
		}
		if ok, _ := r.Unsubscribe(s, t); !ok {
			b.Fatal("lost")
		}
	}
	el := time.Since(start)
	b.StopTimer()
	stop.Store(true)
	wg.Wait()
	b.ReportMetric(float64(b.N)/el.Seconds(), "pairs/s")
	b.ReportMetric(float64(matched.Load())/el.Seconds(), "matches/s")
}

// BenchmarkBytesPerSub: heap bytes per exact device subscription, from
// runtime.MemStats, over 1,000,000 subscriptions. Target: <= 200 B/sub.
// Topic bytes held by the caller are excluded; the router's own copy of
// the key is included.
func BenchmarkBytesPerSub(b *testing.B) {
	b.ReportAllocs()
	topics := make([][]byte, devices)
	for i := range topics {
		topics[i] = deviceTopic(i)
	}
	var perSub float64
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := New(Config{})
		for j, t := range topics {
			if _, err := r.Subscribe(Subscriber(j+1), t, SubOptions{QoS: 1}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perSub = float64(after.HeapAlloc-before.HeapAlloc) / devices
		runtime.KeepAlive(r)
	}
	b.ReportMetric(perSub, "B/sub")
}

var (
	retOnce   sync.Once
	retRouter *Router
)

// retainedFixture holds 1,000,000 retained topics "a/<i>/<j>" (1,000 x
// 1,000; level three is "c" for j == 0), so "a/+/c" matches 1,000 of them.
func retainedFixture() *Router {
	retOnce.Do(func() {
		retRouter = New(Config{RetainedMaxMessages: 2_000_000})
		payload := []byte("{\"v\":1}")
		for i := 0; i < 1000; i++ {
			for j := 0; j < 1000; j++ {
				var topic []byte
				if j == 0 {
					topic = fmt.Appendf(nil, "a/%d/c", i)
				} else {
					topic = fmt.Appendf(nil, "a/%d/%d", i, j)
				}
				if err := retRouter.Retain(&Retained{Topic: topic, Payload: payload}); err != nil {
					panic(err)
				}
			}
		}
		runtime.GC()
	})
	return retRouter
}

// BenchmarkRetainedLookup: "a/+/c" over 1,000,000 retained topics.
func BenchmarkRetainedLookup(b *testing.B) {
	r := retainedFixture()
	filter := []byte("a/+/c")
	var dst []*Retained
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = r.AppendRetained(dst[:0], filter, 0)
	}
	if len(dst) != 1000 {
		b.Fatalf("%d matches, want 1000", len(dst))
	}
	b.ReportMetric(float64(len(dst)), "msgs/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(dst)), "ns/msg")
}

// BenchmarkRetainedExact: a new subscription's exact filter among 1,000,000.
func BenchmarkRetainedExact(b *testing.B) {
	r := retainedFixture()
	filter := []byte("a/500/c")
	var dst []*Retained
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst = r.AppendRetained(dst[:0], filter, 0)
	}
	if len(dst) != 1 {
		b.Fatalf("%d matches", len(dst))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkMatchParallelWild: every core matches device topics while
// wildcard filters exist under the same first level ("devices/+/status")
// and in the wild shard ("+/+/alarm"), so every Match also read-locks those
// two trie shards. Compare with BenchmarkMatchExactParallel across -cpu.
func BenchmarkMatchParallelWild(b *testing.B) {
	const n = 100_000
	r := New(Config{})
	topics := make([][]byte, n)
	for i := range topics {
		topics[i] = deviceTopic(i)
		if _, err := r.Subscribe(Subscriber(i+1), topics[i], SubOptions{QoS: 1}); err != nil {
			b.Fatal(err)
		}
	}
	for _, f := range []string{"devices/+/status", "+/+/alarm"} {
		if _, err := r.Subscribe(1<<40, []byte(f), SubOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var seed atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]Delivery, 0, 16)
		i := int(seed.Add(1) * 104729)
		for pb.Next() {
			i += 7919
			dst = r.Match(topics[i%n], 0, 0, dst[:0])
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "matches/s")
}
