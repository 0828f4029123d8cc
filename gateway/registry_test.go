package gateway

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestRecTableAgainstMap drives recTable and a map with the same random
// inserts and removals. The hash has few distinct values so that probe runs
// are long, collide and wrap around the end of the table, which is where
// backward-shift deletion goes wrong.
func TestRecTableAgainstMap(t *testing.T) {
	home := func(rec *sessionRec) uint64 {
		n, _ := strconv.Atoi(rec.id)
		return uint64(n%7) * 0x9E3779B97F4A7C15 >> 3
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var tb recTable
	ref := map[string]*sessionRec{}
	for step := 0; step < 20000; step++ {
		id := strconv.Itoa(rng.IntN(300))
		if rec, ok := ref[id]; ok && rng.IntN(2) == 0 {
			if !tb.remove(rec, home(rec), home) {
				t.Fatalf("step %d: remove %s: not found", step, id)
			}
			delete(ref, id)
		} else if !ok {
			rec := &sessionRec{id: id}
			tb.insert(rec, home(rec), home)
			ref[id] = rec
		}
		if tb.n != len(ref) {
			t.Fatalf("step %d: %d entries, want %d", step, tb.n, len(ref))
		}
		if step%97 == 0 {
			for i := 0; i < 300; i++ {
				id := strconv.Itoa(i)
				probe := &sessionRec{id: id}
				if got := tb.get(id, home(probe)); got != ref[id] {
					t.Fatalf("step %d: get %s = %p, want %p", step, id, got, ref[id])
				}
			}
		}
	}
	if tb.remove(&sessionRec{id: "x"}, 0, home) {
		t.Fatal("removed an absent session")
	}
}
