package mqttcodec

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// naiveMatch is the reference matcher: split both at '/', compare level by
// level.
func naiveMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, l := range f {
		if l == "#" {
			return true
		}
		if i >= len(t) || (l != "+" && l != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}

// topicUniverse lists every topic of up to depth levels over alphabet.
func topicUniverse(alphabet []string, depth int) []string {
	out := []string{}
	cur := []string{""}
	for d := 1; d <= depth; d++ {
		var next []string
		for _, p := range cur {
			for _, l := range alphabet {
				t := l
				if d > 1 {
					t = p + "/" + l
				}
				next = append(next, t)
			}
		}
		out = append(out, next...)
		cur = next
	}
	return out
}

func randomFilter(r *rand.Rand) string {
	levels := []string{"a", "b", "$s", "", "+"}
	n := 1 + r.IntN(3)
	var parts []string
	for i := 0; i < n; i++ {
		parts = append(parts, levels[r.IntN(len(levels))])
	}
	if r.IntN(3) == 0 {
		parts = append(parts, "#")
	}
	return strings.Join(parts, "/")
}

// TestFilterAlgebra compares MatchFilter, FilterCovers and FiltersOverlap
// with their definitions over every topic of a small universe (a literal
// 'c' no filter names witnesses '+').
func TestFilterAlgebra(t *testing.T) {
	universe := topicUniverse([]string{"a", "b", "$s", "", "c"}, 5)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		a, b := randomFilter(r), randomFilter(r)
		if ValidTopicFilter([]byte(a)) != nil || ValidTopicFilter([]byte(b)) != nil {
			continue
		}
		covers, overlap := true, false
		for _, topic := range universe {
			ma, mb := naiveMatch(a, topic), naiveMatch(b, topic)
			if got := MatchFilter([]byte(a), []byte(topic)); got != ma {
				t.Fatalf("MatchFilter(%q, %q) = %v, want %v", a, topic, got, ma)
			}
			if mb && !ma {
				covers = false
			}
			if ma && mb {
				overlap = true
			}
		}
		if got := FilterCovers([]byte(a), []byte(b)); got != covers {
			t.Fatalf("FilterCovers(%q, %q) = %v, want %v", a, b, got, covers)
		}
		if got := FiltersOverlap([]byte(a), []byte(b)); got != overlap {
			t.Fatalf("FiltersOverlap(%q, %q) = %v, want %v", a, b, got, overlap)
		}
	}
}

func TestFilterAlgebraCases(t *testing.T) {
	for _, c := range []struct {
		a, b            string
		covers, overlap bool
	}{
		{"telemetry/#", "telemetry/+/temp", true, true},
		{"telemetry/+/temp", "telemetry/#", false, true},
		{"telemetry/#", "commands/#", false, false},
		{"#", "$SYS/x", false, false},         // [MQTT-4.7.2-1]
		{"+/x", "$SYS/x", false, false},       // [MQTT-4.7.2-1]
		{"a/#", "a", true, true},              // [MQTT-4.7.1-1] the parent level
		{"a", "a/#", false, true},             // "a" is in both
		{"a/+", "+/b", false, true},           // "a/b"
		{"a/b", "a/b", true, true},            // equal
		{"$share/g/a", "a", false, false},     // not for shared filters: the caller splits them
		{"sport/+", "sport", false, false},    // '+' needs a level
		{"sport/+", "sport/", true, true},     // an empty level is a level
		{"#", "+/+/#", true, true},            //
		{"+/+/#", "#", false, true},           // "#" also matches one level
		{"x/+/y/#", "x/a/y", true, true},      //
		{"x/+/y/#", "x/a/b/y", false, false},  //
		{"$SYS/#", "$SYS/broker", true, true}, // a literal '$' first level matches
	} {
		if got := FilterCovers([]byte(c.a), []byte(c.b)); got != c.covers {
			t.Errorf("FilterCovers(%q, %q) = %v, want %v", c.a, c.b, got, c.covers)
		}
		if got := FiltersOverlap([]byte(c.a), []byte(c.b)); got != c.overlap {
			t.Errorf("FiltersOverlap(%q, %q) = %v, want %v", c.a, c.b, got, c.overlap)
		}
	}
}

func TestFilterAlgebraAllocs(t *testing.T) {
	a, b, topic := []byte("telemetry/+/x/#"), []byte("telemetry/dev/x/y"), []byte("telemetry/dev/x/y")
	if n := testing.AllocsPerRun(100, func() {
		_ = MatchFilter(a, topic)
		_ = FilterCovers(a, b)
		_ = FiltersOverlap(a, b)
	}); n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}
