package router

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// naiveMatch is the reference matcher the router is checked against.
func naiveMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false // [MQTT-4.7.2-1]
	}
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		if f == "#" {
			return true // matches the parent level too [MQTT-4.7.1-2]
		}
		if i >= len(tl) || (f != "+" && f != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}

func TestNaiveMatch(t *testing.T) {
	yes := [][2]string{{"a/#", "a"}, {"a/#", "a/b/c"}, {"#", "a"}, {"+", ""}, {"a/+", "a/"}, {"+/+", "/a"},
		{"a//b", "a//b"}, {"$SYS/#", "$SYS/x"}, {"a/+/c", "a//c"}, {"/#", "/"}}
	no := [][2]string{{"a/+", "a"}, {"#", "$SYS/x"}, {"+/x", "$SYS/x"}, {"a/b", "a/b/c"}, {"a", "a/"}, {"+", "/a"}}
	for _, c := range yes {
		if !naiveMatch(c[0], c[1]) {
			t.Errorf("naiveMatch(%q, %q) = false", c[0], c[1])
		}
	}
	for _, c := range no {
		if naiveMatch(c[0], c[1]) {
			t.Errorf("naiveMatch(%q, %q) = true", c[0], c[1])
		}
	}
}

// refSub is one subscription in the reference model.
type refSub struct {
	s      Subscriber
	filter string // full filter, $share prefix included
	o      SubOptions
}

// refModel is the naive reference router: a flat list of subscriptions.
type refModel struct{ subs []refSub }

func (m *refModel) subscribe(s Subscriber, f string, o SubOptions) bool {
	for i := range m.subs {
		if m.subs[i].s == s && m.subs[i].filter == f {
			m.subs[i].o = o
			return true
		}
	}
	m.subs = append(m.subs, refSub{s, f, o})
	return false
}

func (m *refModel) unsubscribe(s Subscriber, f string) bool {
	for i := range m.subs {
		if m.subs[i].s == s && m.subs[i].filter == f {
			m.subs = slices.Delete(m.subs, i, i+1)
			return true
		}
	}
	return false
}

// splitShare returns the group ("" when not shared) and the inner filter.
func splitShare(f string) (string, string) {
	if rest, ok := strings.CutPrefix(f, "$share/"); ok {
		g, inner, _ := strings.Cut(rest, "/")
		return g, inner
	}
	return "", f
}

// expect returns the merged non-shared deliveries (sorted by Sub, SubIDs
// sorted) and, per matching shared group key, the set of its members.
func (m *refModel) expect(topic string, pub Subscriber) ([]Delivery, map[string][]Subscriber) {
	merged := map[Subscriber]*Delivery{}
	groups := map[string][]Subscriber{}
	for _, rs := range m.subs {
		g, inner := splitShare(rs.filter)
		if !naiveMatch(inner, topic) {
			continue
		}
		if g != "" {
			groups[rs.filter] = append(groups[rs.filter], rs.s)
			continue
		}
		if rs.o.NoLocal && rs.s == pub {
			continue
		}
		d := merged[rs.s]
		if d == nil {
			d = &Delivery{Sub: rs.s, NoLocal: true}
			merged[rs.s] = d
		}
		d.QoS = max(d.QoS, rs.o.QoS)
		d.RetainAsPublished = d.RetainAsPublished || rs.o.RetainAsPublished
		d.NoLocal = d.NoLocal && rs.o.NoLocal
		if rs.o.SubID != 0 {
			d.SubIDs = append(d.SubIDs, rs.o.SubID)
		}
	}
	var out []Delivery
	for _, d := range merged {
		slices.Sort(d.SubIDs)
		out = append(out, *d)
	}
	sortDeliveries(out)
	return out, groups
}

func sortDeliveries(ds []Delivery) {
	slices.SortFunc(ds, func(a, b Delivery) int {
		if a.Sub < b.Sub {
			return -1
		} else if a.Sub > b.Sub {
			return 1
		}
		return 0
	})
}

func sortedClone(ids []uint32) []uint32 {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

// shareKeyOf recovers the group key from a shared subscriber's handle: the
// differential test gives each shared group key its own handle range.
func shareKeyOf(s Subscriber, keys []string) string {
	i := int(s/100) - 10000
	if i < 0 || i >= len(keys) {
		return ""
	}
	return keys[i]
}

// check compares r.Match with the reference for topic and publisher.
func check(t *testing.T, r *Router, m *refModel, topic string, pub Subscriber, keys []string) {
	t.Helper()
	got := r.Match([]byte(topic), pub, uint64(pub)*7919, nil)
	var plain []Delivery
	shared := map[string]int{}
	for _, d := range got {
		if d.Shared {
			k := shareKeyOf(d.Sub, keys)
			if k == "" {
				t.Fatalf("topic %q: shared delivery to unknown handle %d", topic, d.Sub)
			}
			shared[k]++
			continue
		}
		d.SubIDs = sortedClone(d.SubIDs)
		plain = append(plain, d)
	}
	sortDeliveries(plain)
	want, groups := m.expect(topic, pub)
	if !deliveriesEqual(plain, want) {
		t.Fatalf("topic %q pub %d:\n got %+v\nwant %+v\nsubs %+v", topic, pub, plain, want, m.subs)
	}
	for k, members := range groups {
		if shared[k] != 1 {
			t.Fatalf("topic %q: group %q (members %v) got %d deliveries, want 1", topic, k, members, shared[k])
		}
		delete(shared, k)
	}
	if len(shared) != 0 {
		t.Fatalf("topic %q: deliveries for groups that do not match: %v", topic, shared)
	}
}

func deliveriesEqual(a, b []Delivery) bool {
	return slices.EqualFunc(a, b, func(x, y Delivery) bool {
		return x.Sub == y.Sub && x.QoS == y.QoS && x.RetainAsPublished == y.RetainAsPublished &&
			x.NoLocal == y.NoLocal && slices.Equal(x.SubIDs, y.SubIDs)
	})
}

var (
	topicLevels  = []string{"a", "b", "", "c", "$x"}
	firstLevels  = []string{"a", "b", "", "$SYS", "$x", "c"}
	filterLevels = []string{"a", "b", "", "c", "+", "+", "$x"}
)

func randTopic(rng *rand.Rand) string {
	n := 1 + rng.IntN(4)
	parts := make([]string, n)
	parts[0] = firstLevels[rng.IntN(len(firstLevels))]
	for i := 1; i < n; i++ {
		parts[i] = topicLevels[rng.IntN(len(topicLevels))]
	}
	if t := strings.Join(parts, "/"); t != "" {
		return t
	}
	return "/" // a topic name is never empty [MQTT-4.7.3-1]
}

func randFilter(rng *rand.Rand) string {
	n := 1 + rng.IntN(4)
	parts := make([]string, n)
	for i := range parts {
		if i == 0 && rng.IntN(4) == 0 {
			parts[i] = firstLevels[rng.IntN(len(firstLevels))]
			continue
		}
		parts[i] = filterLevels[rng.IntN(len(filterLevels))]
	}
	if rng.IntN(4) == 0 {
		parts[n-1] = "#"
	}
	if f := strings.Join(parts, "/"); f != "" {
		return f
	}
	return "/"
}

// TestMatchDifferential runs random subscribe/unsubscribe sequences and
// compares every Match with the naive reference, including $-topics, empty
// levels, overlapping subscriptions, no-local and $share groups.
func TestMatchDifferential(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	cases := 0
	for _, seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, seed*31))
		r := New(Config{Shards: 1 + rng.IntN(8)})
		m := &refModel{}
		// Shared group keys get handle ranges 1_000_000 + 100*index.
		var keys []string
		for i := 0; i < 12; i++ {
			keys = append(keys, fmt.Sprintf("$share/g%d/%s", i%3, randFilter(rng)))
		}
		for step := 0; step < 600; step++ {
			switch op := rng.IntN(10); {
			case op < 5: // subscribe, non-shared
				s := Subscriber(1 + rng.IntN(12))
				f := randFilter(rng)
				o := SubOptions{QoS: byte(rng.IntN(3)), NoLocal: rng.IntN(3) == 0, RetainAsPublished: rng.IntN(2) == 0}
				if rng.IntN(2) == 0 {
					o.SubID = uint32(1 + rng.IntN(MaxSubID))
				}
				got, err := r.Subscribe(s, []byte(f), o)
				if err != nil {
					t.Fatalf("Subscribe(%q): %v", f, err)
				}
				if want := m.subscribe(s, f, o); got != want {
					t.Fatalf("Subscribe(%d, %q) existed = %v, want %v", s, f, got, want)
				}
			case op < 7: // subscribe, shared
				k := rng.IntN(len(keys))
				s := Subscriber(1_000_000 + 100*k + rng.IntN(4))
				o := SubOptions{QoS: byte(rng.IntN(3)), SubID: uint32(rng.IntN(3))}
				got, err := r.Subscribe(s, []byte(keys[k]), o)
				if err != nil {
					t.Fatalf("Subscribe(%q): %v", keys[k], err)
				}
				if want := m.subscribe(s, keys[k], o); got != want {
					t.Fatalf("Subscribe(%d, %q) existed = %v, want %v", s, keys[k], got, want)
				}
			default: // unsubscribe something that exists, or not
				var s Subscriber
				var f string
				if len(m.subs) > 0 && rng.IntN(4) != 0 {
					rs := m.subs[rng.IntN(len(m.subs))]
					s, f = rs.s, rs.filter
				} else {
					s, f = Subscriber(1+rng.IntN(12)), randFilter(rng)
				}
				got, err := r.Unsubscribe(s, []byte(f))
				if err != nil {
					t.Fatalf("Unsubscribe(%q): %v", f, err)
				}
				if want := m.unsubscribe(s, f); got != want {
					t.Fatalf("Unsubscribe(%d, %q) existed = %v, want %v", s, f, got, want)
				}
			}
			for i := 0; i < 4; i++ {
				pub := Subscriber(rng.IntN(14))
				check(t, r, m, randTopic(rng), pub, keys)
				cases++
			}
			if st := r.Stats(); st.Subscriptions != int64(len(m.subs)) {
				t.Fatalf("Stats.Subscriptions = %d, want %d", st.Subscriptions, len(m.subs))
			}
		}
		// Remove everything: the index must end empty (no phantom nodes).
		for _, rs := range slices.Clone(m.subs) {
			if ok, _ := r.Unsubscribe(rs.s, []byte(rs.filter)); !ok {
				t.Fatalf("final Unsubscribe(%d, %q) found nothing", rs.s, rs.filter)
			}
		}
		assertEmpty(t, r)
	}
	t.Logf("%d differential match cases", cases)
}

// assertEmpty checks counters and that no trie node survived.
func assertEmpty(t *testing.T, r *Router) {
	t.Helper()
	st := r.Stats()
	if st.Subscriptions != 0 || st.Filters != 0 || st.SharedGroups != 0 {
		t.Fatalf("not empty: %+v", st)
	}
	for i := range r.exact {
		if n := len(r.exact[i].m); n != 0 {
			t.Fatalf("exact shard %d keeps %d entries", i, n)
		}
	}
	for i := range r.trie {
		if !r.trie[i].root.empty() {
			t.Fatalf("trie shard %d keeps nodes", i)
		}
	}
	if !r.wild.root.empty() {
		t.Fatal("wild shard keeps nodes")
	}
}
