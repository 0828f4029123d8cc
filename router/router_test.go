package router

import (
	"slices"
	"testing"
)

func mustSub(t *testing.T, r *Router, s Subscriber, f string, o SubOptions) bool {
	t.Helper()
	existed, err := r.Subscribe(s, []byte(f), o)
	if err != nil {
		t.Fatalf("Subscribe(%d, %q): %v", s, f, err)
	}
	return existed
}

// TestOverlapMerged [MQTT-3.3.4-2], [MQTT-3.3.4-3]: overlapping
// subscriptions of one client give one delivery with the highest QoS, every
// subscription identifier and RetainAsPublished if any asks for it.
func TestOverlapMerged(t *testing.T) {
	r := New(Config{})
	mustSub(t, r, 1, "a/b", SubOptions{QoS: 0, SubID: 7})
	mustSub(t, r, 1, "a/+", SubOptions{QoS: 2, SubID: 9, RetainAsPublished: true})
	mustSub(t, r, 1, "#", SubOptions{QoS: 1})
	mustSub(t, r, 2, "a/#", SubOptions{QoS: 1})
	got := r.Match([]byte("a/b"), 0, 0, nil)
	sortDeliveries(got)
	if len(got) != 2 {
		t.Fatalf("deliveries %+v, want 2", got)
	}
	d := got[0]
	if d.Sub != 1 || d.QoS != 2 || !d.RetainAsPublished || !slices.Equal(sortedClone(d.SubIDs), []uint32{7, 9}) {
		t.Fatalf("merged delivery %+v", d)
	}
	if got[1].Sub != 2 || got[1].QoS != 1 || got[1].SubIDs != nil {
		t.Fatalf("second delivery %+v", got[1])
	}
}

// TestNoLocal [MQTT-3.8.3-3]: the publisher's own no-local subscriptions
// are skipped; its other subscriptions still deliver.
func TestNoLocal(t *testing.T) {
	r := New(Config{})
	mustSub(t, r, 1, "chat/room", SubOptions{NoLocal: true, QoS: 2})
	mustSub(t, r, 2, "chat/room", SubOptions{NoLocal: true})
	if got := r.Match([]byte("chat/room"), 1, 0, nil); len(got) != 1 || got[0].Sub != 2 {
		t.Fatalf("publisher 1: %+v, want only 2", got)
	}
	mustSub(t, r, 1, "chat/+", SubOptions{QoS: 1})
	got := r.Match([]byte("chat/room"), 1, 0, nil)
	sortDeliveries(got)
	if len(got) != 2 || got[0].Sub != 1 || got[0].QoS != 1 {
		t.Fatalf("publisher 1 with a local-allowed overlap: %+v, want QoS 1 from chat/+ only", got)
	}
}

// TestResubscribeReplaces [MQTT-3.8.4-3]: the same filter from the same
// client replaces the subscription and reports existed.
func TestResubscribeReplaces(t *testing.T) {
	r := New(Config{})
	for _, f := range []string{"x/y", "x/+", "$share/g/x/y"} {
		if mustSub(t, r, 1, f, SubOptions{QoS: 0}) {
			t.Fatalf("%q: first subscribe reported existed", f)
		}
		if !mustSub(t, r, 1, f, SubOptions{QoS: 2}) {
			t.Fatalf("%q: second subscribe did not report existed", f)
		}
	}
	got := r.Match([]byte("x/y"), 0, 0, nil)
	if len(got) != 2 {
		t.Fatalf("%+v", got)
	}
	for _, d := range got {
		if d.QoS != 2 {
			t.Fatalf("options not replaced: %+v", got)
		}
	}
	if st := r.Stats(); st.Subscriptions != 3 || st.Filters != 2 || st.SharedGroups != 1 {
		t.Fatalf("stats %+v", st)
	}
	if n := r.UnsubscribeAll(1, [][]byte{[]byte("x/y"), []byte("x/+"), []byte("$share/g/x/y"), []byte("nope"), []byte("a/#/b")}); n != 3 {
		t.Fatalf("UnsubscribeAll removed %d, want 3", n)
	}
	assertEmpty(t, r)
}

// TestSubIDsImmutable: SubIDs handed out stay valid after the subscription
// changes (they point into copy-on-write storage).
func TestSubIDsImmutable(t *testing.T) {
	r := New(Config{})
	mustSub(t, r, 1, "k", SubOptions{SubID: 5})
	got := r.Match([]byte("k"), 0, 0, nil)
	mustSub(t, r, 1, "k", SubOptions{SubID: 6})
	if _, err := r.Unsubscribe(1, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if got[0].SubIDs[0] != 5 {
		t.Fatalf("SubIDs changed under the caller: %v", got[0].SubIDs)
	}
}

// TestMatchExactNoAlloc: the exact-topic path allocates nothing when dst
// has capacity, with and without unrelated wildcard filters present.
func TestMatchExactNoAlloc(t *testing.T) {
	r := New(Config{})
	mustSub(t, r, 1, "devices/1/cmd", SubOptions{QoS: 1, SubID: 3})
	dst := make([]Delivery, 0, 8)
	topic := []byte("devices/1/cmd")
	if n := testing.AllocsPerRun(200, func() { dst = r.Match(topic, 0, 0, dst[:0]) }); n != 0 {
		t.Fatalf("exact Match: %v allocs, want 0", n)
	}
	mustSub(t, r, 2, "devices/+/status", SubOptions{})
	mustSub(t, r, 3, "+/9/cmd", SubOptions{})
	mustSub(t, r, 4, "$share/g/devices/+/cmd", SubOptions{})
	if n := testing.AllocsPerRun(200, func() { dst = r.Match(topic, 0, 0, dst[:0]) }); n != 0 {
		t.Fatalf("Match with wildcards around: %v allocs, want 0", n)
	}
	if len(dst) != 2 {
		t.Fatalf("deliveries %+v", dst)
	}
}

func TestStatsMatches(t *testing.T) {
	r := New(Config{})
	for i := 0; i < 5; i++ {
		r.Match([]byte("t"), 0, 0, nil)
	}
	if st := r.Stats(); st.Matches != 5 {
		t.Fatalf("Matches = %d, want 5", st.Matches)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	for _, c := range []Config{{SharedStrategy: "nope"}, {Shards: -1}, {RetainedMaxMessages: -1}, {RetainedMaxBytes: -1}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	for in, want := range map[int]int{0: DefaultShards, 1: 1, 3: 4, 64: 64, 65: 128} {
		if got := (Config{Shards: in}).shards(); got != want {
			t.Errorf("shards(%d) = %d, want %d", in, got, want)
		}
	}
}

// TestOverlapMergedLarge exercises merge's sorting path (more than
// mergeSortAbove deliveries) next to its pairwise path.
func TestOverlapMergedLarge(t *testing.T) {
	for _, n := range []int{10, 200} {
		r := New(Config{})
		for s := 1; s <= n; s++ {
			mustSub(t, r, Subscriber(s), "big/topic", SubOptions{QoS: 0, SubID: uint32(s)})
			mustSub(t, r, Subscriber(s), "big/+", SubOptions{QoS: byte(s % 3), SubID: uint32(1000 + s)})
			mustSub(t, r, Subscriber(s), "$share/g/big/#", SubOptions{})
		}
		got := r.Match([]byte("big/topic"), 0, 0, nil)
		sortDeliveries(got)
		if len(got) != n+1 {
			t.Fatalf("n=%d: %d deliveries, want %d", n, len(got), n+1)
		}
		shared := 0
		for _, d := range got {
			if d.Shared {
				shared++
				continue
			}
			s := uint32(d.Sub)
			if d.QoS != byte(s%3) || !slices.Equal(sortedClone(d.SubIDs), []uint32{s, 1000 + s}) {
				t.Fatalf("n=%d: delivery %+v", n, d)
			}
		}
		if shared != 1 {
			t.Fatalf("n=%d: %d shared deliveries", n, shared)
		}
	}
}
