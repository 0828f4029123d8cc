package gateway

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// TestSubListAgainstMap: random adds and removes across the slice/map
// switch agree with a plain map.
func TestSubListAgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := 0; round < 200; round++ {
		var s *subList
		ref := map[string]bool{}
		for op := 0; op < 100; op++ {
			f := fmt.Sprintf("f/%d", r.IntN(40))
			if r.IntN(3) > 0 {
				if !ref[f] { // the gateway adds only filters new to the session
					if s == nil {
						s = &subList{}
					}
					s.add([]byte(f))
					ref[f] = true
				}
			} else if got := s.remove([]byte(f)); got != ref[f] {
				t.Fatalf("remove %s = %v, want %v", f, got, ref[f])
			} else {
				delete(ref, f)
			}
			if s.len() != len(ref) {
				t.Fatalf("len %d, want %d", s.len(), len(ref))
			}
		}
		var got, want []string
		for _, f := range s.appendTo(nil) {
			got = append(got, string(f))
		}
		for f := range ref {
			want = append(want, f)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("filters %v, want %v", got, want)
		}
	}
}

// TestSubListOneFilterMemory: a device's one subscription costs its session
// well under 100 B here (the map it replaced cost ~250 B).
func TestSubListOneFilterMemory(t *testing.T) {
	const n = 10000
	lists := make([]*subList, n)
	filters := make([][]byte, n)
	for i := range filters {
		filters[i] = fmt.Appendf(nil, "devices/%08d/cmd", i)
	}
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for i := range lists {
		lists[i] = &subList{}
		lists[i].add(filters[i])
	}
	runtime.ReadMemStats(&m1)
	if per := float64(m1.TotalAlloc-m0.TotalAlloc) / n; per > 100 {
		t.Fatalf("%.0f B per session with one filter, want <= 100", per)
	}
	runtime.KeepAlive(lists)
}
