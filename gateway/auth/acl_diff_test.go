package auth

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Differential tests: the compiled matcher against naive reference
// implementations of the same rules, on random rules, topics and filters.

var (
	aclDiffUsers   = []string{"a", "b", "x/y", "+", "", "$s"}
	aclDiffClients = []string{"a", "c", "#", "q/"}
	aclDiffLevels  = []string{"a", "b", "", "+", "#", "%u", "%c", "p%u"}
)

// randACLRule returns a random valid rule line.
func randACLRule(r *rand.Rand, levels []string) string {
	subj := [...]string{"user * ", "user a ", "user b ", "client * ", "client a ", "client c "}[r.IntN(6)]
	perm := [...]string{"allow ", "deny "}[r.IntN(2)]
	act := [...]string{"publish ", "subscribe ", "both "}[r.IntN(3)]
	return subj + perm + act + randACLFilter(r, levels)
}

// randACLFilter returns a random valid filter over levels ("$s" may start it).
func randACLFilter(r *rand.Rand, levels []string) string {
	n := 1 + r.IntN(4)
	parts := make([]string, 0, n)
	for i := 0; i < n; i++ {
		l := levels[r.IntN(len(levels))]
		if i == 0 && r.IntN(6) == 0 {
			l = "$s"
		}
		if l == "#" && i != n-1 {
			l = "+"
		}
		parts = append(parts, l)
	}
	f := strings.Join(parts, "/")
	if f == "" {
		return "a"
	}
	return f
}

// naiveMatch is MQTT topic matching on split levels [MQTT-4.7.2-1].
func naiveMatch(f, t []string) bool {
	if strings.HasPrefix(t[0], "$") && (f[0] == "+" || f[0] == "#") {
		return false
	}
	for i, l := range f {
		if l == "#" {
			return true
		}
		if i >= len(t) || l != "+" && l != t[i] {
			return false
		}
	}
	return len(f) == len(t)
}

// naiveSubst applies the documented policy: unsafe (empty, '+', '#', '/',
// or an allow rule's first level turning into a '$' level) → skip an allow,
// deny everything for a deny (all true).
func naiveSubst(r ACLRule, user, client string) (f []string, skip, all bool) {
	f = strings.Split(r.Filter, "/")
	for i, l := range f {
		for _, p := range [][2]string{{"%u", user}, {"%c", client}} {
			if strings.Contains(l, p[0]) {
				if p[1] == "" || strings.ContainsAny(p[1], "+#/") {
					return nil, r.Allow, !r.Allow
				}
				l = strings.ReplaceAll(l, p[0], p[1])
			}
		}
		if i == 0 && r.Allow && strings.HasPrefix(l, "$") && !strings.HasPrefix(f[0], "$") {
			return nil, true, false
		}
		f[i] = l
	}
	return f, false, false
}

// naivePublish is the 20-line first-match scan.
func naivePublish(rules []ACLRule, def bool, user, client, topic string) bool {
	t := strings.Split(topic, "/")
	for _, r := range rules {
		if r.Action&ACLPublish == 0 || !r.applies(user, client) {
			continue
		}
		f, skip, all := naiveSubst(r, user, client)
		if all {
			return false
		}
		if !skip && naiveMatch(f, t) {
			return r.Allow
		}
	}
	return def
}

func randACLRules(t *testing.T, r *rand.Rand, levels []string) (file, extra []ACLRule) {
	var lines []string
	for n := r.IntN(12); len(lines) < n; {
		lines = append(lines, randACLRule(r, levels))
	}
	file, err := ParseACL([]byte(strings.Join(lines, "\n")), "rand")
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(lines, "\n"))
	}
	lines = lines[:0]
	for n := r.IntN(3); len(lines) < n; {
		lines = append(lines, randACLRule(r, levels))
	}
	if extra, err = ParseACLLines(lines, "extra"); err != nil {
		t.Fatal(err)
	}
	return file, extra
}

func TestACLPublishDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 16))
	topicLevels := []string{"a", "b", "", "c", "x", "y", "pa", "$s"}
	for iter := 0; iter < 3000; iter++ {
		file, extra := randACLRules(t, r, aclDiffLevels)
		def := r.IntN(2) == 0
		set := NewACLSet(file, def)
		user, client := aclDiffUsers[r.IntN(len(aclDiffUsers))], aclDiffClients[r.IntN(len(aclDiffClients))]
		m := set.Compile(user, client, extra)
		all := append(append([]ACLRule{}, extra...), file...)
		for k := 0; k < 30; k++ {
			n := 1 + r.IntN(5)
			parts := make([]string, n)
			for i := range parts {
				parts[i] = topicLevels[r.IntN(len(topicLevels))]
			}
			topic := strings.Join(parts, "/")
			if topic == "" {
				continue
			}
			if got, want := m.CanPublish([]byte(topic)), naivePublish(all, def, user, client, topic); got != want {
				t.Fatalf("CanPublish(%q) user %q client %q default %v = %v, naive %v\nextra %v\nfile %v", topic, user, client, def, got, want, extra, file)
			}
		}
	}
}

// aclUniverse is every topic of up to 5 levels over {a, b, "", $s, z} (""
// alone is no topic). z is in no filter, so two filters of up to 4 levels
// over the other four differ in coverage or overlap iff some topic here
// tells them apart.
type aclUniverse struct {
	topics [][]string
	bits   map[string][]uint64
}

func newACLUniverse() *aclUniverse {
	u := &aclUniverse{bits: make(map[string][]uint64)}
	var gen func(prefix []string)
	gen = func(prefix []string) {
		if len(prefix) > 0 && !(len(prefix) == 1 && prefix[0] == "") {
			u.topics = append(u.topics, append([]string(nil), prefix...))
		}
		if len(prefix) == 5 {
			return
		}
		for _, l := range []string{"a", "b", "", "$s", "z"} {
			gen(append(prefix, l))
		}
	}
	gen(nil)
	return u
}

// set returns the topics f matches as a bitset.
func (u *aclUniverse) set(f []string) []uint64 {
	key := strings.Join(f, "/")
	if b, ok := u.bits[key]; ok {
		return b
	}
	b := make([]uint64, (len(u.topics)+63)/64)
	for i, t := range u.topics {
		if naiveMatch(f, t) {
			b[i/64] |= 1 << (i % 64)
		}
	}
	u.bits[key] = b
	return b
}

// naiveSubscribe: an allow whose topic set contains the request's decides
// allow, a deny whose topic set meets it decides deny; else the default.
func (u *aclUniverse) naiveSubscribe(rules []ACLRule, def bool, user, client string, filter []string) bool {
	req := u.set(filter)
	for _, r := range rules {
		if r.Action&ACLSubscribe == 0 || !r.applies(user, client) {
			continue
		}
		f, skip, all := naiveSubst(r, user, client)
		if all {
			return false
		}
		if skip {
			continue
		}
		rs, sub, meet := u.set(f), true, false
		for i := range req {
			sub = sub && req[i]&^rs[i] == 0
			meet = meet || req[i]&rs[i] != 0
		}
		if r.Allow && sub || !r.Allow && meet {
			return r.Allow
		}
	}
	return def
}

func TestACLSubscribeDifferential(t *testing.T) {
	u := newACLUniverse()
	r := rand.New(rand.NewPCG(2, 16))
	reqLevels := []string{"a", "b", "", "+", "#"}
	for iter := 0; iter < 2000; iter++ {
		// Rules, names and requests whose literal levels are all in the
		// universe's alphabet once substituted ("p%u" would make "pa").
		file, extra := randACLRules(t, r, []string{"a", "b", "", "+", "#", "%u", "%c"})
		def := r.IntN(2) == 0
		user, client := []string{"a", "b", "", "x/y", "$s"}[r.IntN(5)], []string{"a", "b", "#"}[r.IntN(3)]
		m := NewACLSet(file, def).Compile(user, client, extra)
		all := append(append([]ACLRule{}, extra...), file...)
		for k := 0; k < 20; k++ {
			f := randACLFilter(r, reqLevels)
			if got, want := m.CanSubscribe([]byte(f)), u.naiveSubscribe(all, def, user, client, strings.Split(f, "/")); got != want {
				t.Fatalf("CanSubscribe(%q) user %q client %q default %v = %v, naive %v\nextra %v\nfile %v", f, user, client, def, got, want, extra, file)
			}
		}
	}
}

// TestACLCoversDifferential checks the two filter relations alone, on every
// pair of random filters, against the topic sets.
func TestACLCoversDifferential(t *testing.T) {
	u := newACLUniverse()
	r := rand.New(rand.NewPCG(3, 16))
	ls := []string{"a", "b", "", "+", "#"}
	for iter := 0; iter < 20000; iter++ {
		rf, ff := randACLFilter(r, ls), randACLFilter(r, ls)
		rl := strings.Split(rf, "/")
		rs, fs := u.set(rl), u.set(strings.Split(ff, "/"))
		sub, meet := true, false
		for i := range rs {
			sub = sub && fs[i]&^rs[i] == 0
			meet = meet || fs[i]&rs[i] != 0
		}
		if got := aclCovers(rl, []byte(ff)); got != sub {
			t.Fatalf("covers(%q, %q) = %v, topic sets say %v", rf, ff, got, sub)
		}
		if got := aclOverlaps(rl, []byte(ff)); got != meet {
			t.Fatalf("overlaps(%q, %q) = %v, topic sets say %v", rf, ff, got, meet)
		}
	}
	for _, c := range []struct {
		r, f string
		want bool
	}{{"a/#", "a/+/c", true}, {"a/+/c", "a/#", false}, {"#", "$SYS/x", false}, {"+/#", "+/x", true}, {"a/#", "a", true}} {
		if got := aclCovers(strings.Split(c.r, "/"), []byte(c.f)); got != c.want {
			t.Errorf("covers(%q, %q) = %v", c.r, c.f, got)
		}
	}
}
