package router

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func retainedTopics(r *Router, filter string, now int64) []string {
	var out []string
	r.Retained([]byte(filter), now, func(m *Retained) bool {
		out = append(out, string(m.Topic))
		return true
	})
	slices.Sort(out)
	return out
}

func retain(t *testing.T, r *Router, topic, payload string, expires int64) {
	t.Helper()
	if err := r.Retain(&Retained{Topic: []byte(topic), Payload: []byte(payload), ExpiresAt: expires}); err != nil {
		t.Fatalf("Retain(%q): %v", topic, err)
	}
}

// TestRetainedDifferential stores random topics and checks lookups for
// random filters (wildcards, $-topics, empty levels) against naiveMatch.
func TestRetainedDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	r := New(Config{Shards: 4, RetainedMaxMessages: 1 << 20})
	stored := map[string]bool{}
	for i := 0; i < 300; i++ {
		topic := randTopic(rng)
		if rng.IntN(5) == 0 {
			if err := r.Retain(&Retained{Topic: []byte(topic)}); err != nil { // clear [MQTT-3.3.1-6]
				t.Fatal(err)
			}
			delete(stored, topic)
		} else {
			retain(t, r, topic, "p", 0)
			stored[topic] = true
		}
	}
	for i := 0; i < 2000; i++ {
		f := randFilter(rng)
		if strings.HasPrefix(f, "$share/") {
			continue
		}
		var want []string
		for topic := range stored {
			if naiveMatch(f, topic) {
				want = append(want, topic)
			}
		}
		slices.Sort(want)
		if got := retainedTopics(r, f, 0); !slices.Equal(got, want) {
			t.Fatalf("Retained(%q) = %q, want %q", f, got, want)
		}
	}
	if st := r.Stats(); st.RetainedMessages != int64(len(stored)) {
		t.Fatalf("RetainedMessages = %d, want %d", st.RetainedMessages, len(stored))
	}
}

func TestRetainedBasics(t *testing.T) {
	r := New(Config{RetainedMaxMessages: 100})
	retain(t, r, "a/b/c", "1", 0)
	retain(t, r, "a", "2", 0)
	retain(t, r, "$SYS/x", "3", 0)
	retain(t, r, "a//c", "4", 0)
	tests := []struct {
		filter string
		want   []string
	}{
		{"a/+/c", []string{"a//c", "a/b/c"}},
		{"a/#", []string{"a", "a//c", "a/b/c"}}, // "a/#" matches "a"
		{"#", []string{"a", "a//c", "a/b/c"}},   // [MQTT-4.7.2-1] no $SYS
		{"+/x", nil},                            // [MQTT-4.7.2-1]
		{"$SYS/#", []string{"$SYS/x"}},
		{"$share/g/a/#", nil}, // shared subscriptions get no retained messages
		{"a/#/c", nil},        // invalid filter: nothing
	}
	for _, tc := range tests {
		if got := retainedTopics(r, tc.filter, 0); !slices.Equal(got, tc.want) {
			t.Errorf("Retained(%q) = %q, want %q", tc.filter, got, tc.want)
		}
	}
	// Replace, then clear with an empty payload.
	retain(t, r, "a", "22", 0)
	var payload string
	r.Retained([]byte("a"), 0, func(m *Retained) bool { payload = string(m.Payload); return true })
	if payload != "22" {
		t.Fatalf("replaced payload = %q", payload)
	}
	if st := r.Stats(); st.RetainedMessages != 4 || st.RetainedBytes != int64(len("a/b/c1a22$SYS/x3a//c4")) {
		t.Fatalf("stats %+v", st)
	}
	for _, topic := range []string{"a/b/c", "a", "$SYS/x", "a//c"} {
		if err := r.Retain(&Retained{Topic: []byte(topic)}); err != nil {
			t.Fatal(err)
		}
	}
	if st := r.Stats(); st.RetainedMessages != 0 || st.RetainedBytes != 0 {
		t.Fatalf("after clearing: %+v", st)
	}
	for i := range r.ret.shards {
		if len(r.ret.shards[i].root.children) != 0 {
			t.Fatalf("shard %d keeps nodes after clearing", i)
		}
	}
	if err := r.Retain(&Retained{Topic: []byte("a/+"), Payload: []byte("x")}); err != ErrInvalidTopic {
		t.Fatalf("wildcard topic: %v", err)
	}
}

// TestRetainedStopEarly: fn returning false stops the visit.
func TestRetainedStopEarly(t *testing.T) {
	r := New(Config{RetainedMaxMessages: 100})
	for i := 0; i < 10; i++ {
		retain(t, r, fmt.Sprintf("t/%d", i), "x", 0)
	}
	n := 0
	r.Retained([]byte("t/#"), 0, func(*Retained) bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("visited %d, want 3", n)
	}
}

func TestRetainedBounds(t *testing.T) {
	t.Run("count", func(t *testing.T) {
		r := New(Config{RetainedMaxMessages: 3})
		for i := 0; i < 3; i++ {
			retain(t, r, fmt.Sprintf("c/%d", i), "x", 0)
		}
		if err := r.Retain(&Retained{Topic: []byte("c/new/deep"), Payload: []byte("x")}); err != ErrRetainedFull {
			t.Fatalf("4th message: %v, want ErrRetainedFull", err)
		}
		retain(t, r, "c/1", "replaced", 0) // replacing needs no new slot
		if got := retainedTopics(r, "#", 0); !slices.Equal(got, []string{"c/0", "c/1", "c/2"}) {
			t.Fatalf("after refusal: %q (no partial nodes, no new topic)", got)
		}
		if st := r.Stats(); st.RetainedRefused != 1 || st.RetainedMessages != 3 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		r := New(Config{RetainedMaxMessages: 100, RetainedMaxBytes: 20})
		retain(t, r, "b/1", "0123456789", 0) // 13 bytes
		retain(t, r, "b/2", "0123", 0)       // 7 bytes: exactly 20
		if err := r.Retain(&Retained{Topic: []byte("b/3"), Payload: []byte("x")}); err != ErrRetainedFull {
			t.Fatalf("over the byte bound: %v, want ErrRetainedFull", err)
		}
		if err := r.Retain(&Retained{Topic: []byte("b/2"), Payload: []byte("01234")}); err != ErrRetainedFull {
			t.Fatalf("growing replacement over the bound: %v, want ErrRetainedFull", err)
		}
		retain(t, r, "b/1", "0", 0) // shrinking is always fine: 4+7 = 11
		retain(t, r, "b/3", "x", 0) // now fits: 15
		if got := retainedTopics(r, "b/+", 0); !slices.Equal(got, []string{"b/1", "b/2", "b/3"}) {
			t.Fatalf("topics %q", got)
		}
		var p2 string
		r.Retained([]byte("b/2"), 0, func(m *Retained) bool { p2 = string(m.Payload); return true })
		if p2 != "0123" {
			t.Fatalf("refused replacement changed the message: %q", p2)
		}
		if st := r.Stats(); st.RetainedBytes != 15 || st.RetainedRefused != 2 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		r := New(Config{})
		if err := r.Retain(&Retained{Topic: []byte("x"), Payload: []byte("y")}); err != ErrRetainDisabled {
			t.Fatalf("%v, want ErrRetainDisabled", err)
		}
		if r.Stats().RetainedRefused != 1 {
			t.Fatal("refusal not counted")
		}
	})
}

// TestRetainedExpiry [MQTT-3.3.2-5]: expired messages are not returned and
// PurgeExpired frees them.
func TestRetainedExpiry(t *testing.T) {
	r := New(Config{RetainedMaxMessages: 10})
	retain(t, r, "e/1", "x", 100)
	retain(t, r, "e/2", "x", 0)
	retain(t, r, "e/3/deep", "x", 200)
	if got := retainedTopics(r, "e/#", 50); len(got) != 3 {
		t.Fatalf("before expiry: %q", got)
	}
	if got := retainedTopics(r, "e/#", 150); !slices.Equal(got, []string{"e/2", "e/3/deep"}) {
		t.Fatalf("at 150: %q", got)
	}
	if n := r.PurgeExpired(250); n != 2 {
		t.Fatalf("PurgeExpired = %d, want 2", n)
	}
	if st := r.Stats(); st.RetainedMessages != 1 || st.RetainedBytes != 4 {
		t.Fatalf("after purge: %+v", st)
	}
	if got := retainedTopics(r, "#", 0); !slices.Equal(got, []string{"e/2"}) {
		t.Fatalf("after purge: %q", got)
	}
}

// TestAppendRetainedNoAlloc: lookups append into the caller's buffer.
func TestAppendRetainedNoAlloc(t *testing.T) {
	r := New(Config{RetainedMaxMessages: 100})
	retain(t, r, "a/1/c", "x", 0)
	retain(t, r, "a/2/c", "x", 0)
	dst := make([]*Retained, 0, 8)
	for _, f := range []string{"a/1/c", "a/+/c", "a/#"} {
		filter := []byte(f)
		if n := testing.AllocsPerRun(100, func() { dst = r.AppendRetained(dst[:0], filter, 0) }); n != 0 {
			t.Errorf("AppendRetained(%q): %v allocs", f, n)
		}
	}
}
