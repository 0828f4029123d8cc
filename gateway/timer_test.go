package gateway

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// fakeTimed is a timed object with a list of deadlines to return in turn.
type fakeTimed struct {
	at    int64   // live entry's deadline (slotAt)
	want  []int64 // deadlines, first is armed by the test
	fired []int64 // now at each fire
}

func (f *fakeTimed) fire(_ *loop, now int64) int64 {
	f.fired = append(f.fired, now)
	if len(f.fired) < len(f.want) {
		return f.want[len(f.fired)]
	}
	return 0
}
func (f *fakeTimed) slotAt() *int64       { return &f.at }
func (f *fakeTimed) ownedBy(l *loop) bool { return true }

// countTimed counts its fires and allocates nothing.
type countTimed struct{ at, n int64 }

func (c *countTimed) fire(*loop, int64) int64 { c.n++; return 0 }
func (c *countTimed) slotAt() *int64          { return &c.at }
func (c *countTimed) ownedBy(*loop) bool      { return true }

// TestWheelFiresEachDeadlineOnce: thousands of objects, many sharing a slot
// (more than a block holds), deadlines within and beyond the horizon,
// rescheduled on fire: each fires once per deadline, never early, at most
// one tick late.
func TestWheelFiresEachDeadlineOnce(t *testing.T) {
	const tick = int64(100)
	var w wheel
	w.init(tick, 0)
	r := rand.New(rand.NewPCG(1, 2))
	objs := make([]*fakeTimed, 5000)
	for i := range objs {
		f := &fakeTimed{}
		var at int64
		switch i % 3 {
		case 0: // a burst into one slot
			at = 5_000 + r.Int64N(tick)
		case 1: // spread over the horizon
			at = 1 + r.Int64N(wheelSlots*tick)
		default: // beyond the horizon
			at = wheelSlots*tick + r.Int64N(3*wheelSlots*tick)
		}
		f.want = []int64{at, at + 1 + r.Int64N(50*tick)}
		objs[i] = f
		w.schedule(f, at)
	}
	// Re-arming at the same deadline adds no second entry.
	w.schedule(objs[1], objs[1].want[0])
	var l loop
	for now := int64(0); now <= 6*wheelSlots*tick; now += tick {
		w.advance(&l, now)
	}
	for i, f := range objs {
		if len(f.fired) != len(f.want) {
			t.Fatalf("object %d fired %d times, want %d", i, len(f.fired), len(f.want))
		}
		prev := int64(0)
		for k, now := range f.fired {
			// A deadline already past when it is armed fires at the next tick.
			if now < f.want[k] || now > max(f.want[k], prev)+tick {
				t.Fatalf("object %d (kind %d) deadline %d fired at %d; want %v fired %v", i, i%3, f.want[k], now, f.want, f.fired)
			}
			prev = now
		}
	}
	if w.inUse != 0 {
		t.Fatalf("%d blocks still in slots after everything fired", w.inUse)
	}
}

// TestWheelBurstLeavesNoGarbage: 20,000 deadlines in one slot allocate
// about what they hold (blocks), not the doubling garbage of a growing
// slice (about twice as much).
func TestWheelBurstLeavesNoGarbage(t *testing.T) {
	const n = 20000
	objs := make([]fakeTimed, n)
	var w wheel
	w.init(100, 0)
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := range objs {
		w.schedule(&objs[i], 1000)
	}
	runtime.ReadMemStats(&m1)
	held := float64(n * 24)
	if got := float64(m1.TotalAlloc - m0.TotalAlloc); got > 1.15*held {
		t.Fatalf("inserting %d deadlines into one slot allocated %.0f B, want <= %.0f (what they hold + 15%%)", n, got, 1.15*held)
	}
	// Steady state: deadlines moving from slot to slot reuse blocks.
	var l loop
	w.advance(&l, 2000)
	now := int64(2000)
	ticks := make([]countTimed, 1000)
	allocs := testing.AllocsPerRun(20, func() {
		for i := range ticks {
			w.schedule(&ticks[i], now+500)
		}
		now += 600
		w.advance(&l, now)
	})
	if ticks[0].n == 0 {
		t.Fatal("steady-state deadlines never fired")
	}
	if allocs > 0 {
		t.Fatalf("%.1f allocations per reschedule round, want 0", allocs)
	}
}

// TestConnListChunks: add and delete keep slots consistent; chunks are given
// back after a mass disconnect.
func TestConnListChunks(t *testing.T) {
	var cl connList
	conns := make([]*conn, 3*connChunk+5)
	for i := range conns {
		conns[i] = &conn{}
		cl.add(conns[i])
	}
	r := rand.New(rand.NewPCG(3, 4))
	alive := map[*conn]bool{}
	for _, c := range conns {
		alive[c] = true
	}
	for _, i := range r.Perm(len(conns))[:len(conns)-10] {
		cl.del(conns[i])
		delete(alive, conns[i])
		cl.del(conns[i]) // twice: no effect
	}
	got := cl.appendTo(nil)
	if len(got) != 10 || cl.n != 10 {
		t.Fatalf("%d connections listed (n=%d), want 10", len(got), cl.n)
	}
	for i, c := range got {
		if !alive[c] || int(c.slot.Load()) != i || cl.at(i) != c {
			t.Fatalf("slot %d holds a wrong connection", i)
		}
	}
	if len(cl.chunks) > 2 {
		t.Fatalf("%d chunks kept for 10 connections, want <= 2", len(cl.chunks))
	}
}
